//! Approval requests: a submitted document's steps, one per level, each decided by the
//! manager found for it above the document's owner in the team directory. A request belongs
//! to the document's owner, so the owner's managers see it by their data scope; only the
//! step's approver decides, and a decision applies once: deciders queue on a lock of the
//! request, and the second finds it decided.

use sea_orm::DatabaseTransaction;
use serde::{Deserialize, Serialize};

use crate::contract::Contracts;
use crate::contract_flow;
use crate::entity::approval_request::{Column, Entity, Model};
use crate::entity::{contract, order, quote};
use crate::order::Orders;
use crate::order_flow;
use crate::quote::Quotes;
use crm_platform::auth::Principal;
use crm_platform::client::ServiceClient;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::idempotency::{RequestKey, mutate};
use crm_platform::money::{self, Currency, Money};
use crm_platform::time::{to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::contacts::{Account, Contact};
use crm_proto::sales::{
    ApprovalDecision, ApprovalRequest, ApprovalStatus, ApprovalStep, ApprovalSubjectKind,
    ContractStatus, DecideApprovalRequestRequest, OrderStatus, QuoteStatus, SalesEvent,
    SalesEventType, sales_event::Subject,
};
use crm_records::directory::Directory;
use crm_records::handlers::{self, Records};
use crm_records::json;
use crm_records::resource::{Action, FieldKind, Resource, WriteContext};
use crm_records::store;
use tonic::Status;

/// The approval request resource.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Approvals;

/// Permission to decide a step (besides being its approver).
pub(crate) const DECIDE: &str = "sales.approvals.decide";

/// One step as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredStep {
    pub(crate) level: i32,
    pub(crate) approver_id: String,
    #[serde(default)]
    pub(crate) decision: i32,
    #[serde(default)]
    pub(crate) comment: String,
    #[serde(default)]
    pub(crate) decide_time: Option<i64>,
}

/// The stored steps of a request.
pub(crate) fn steps(m: &Model) -> Vec<StoredStep> {
    json::from_json(&m.steps)
}

/// A stored step on the wire.
pub(crate) fn step_to_proto(s: &StoredStep) -> ApprovalStep {
    ApprovalStep {
        level: s.level,
        approver_id: s.approver_id.clone(),
        decision: s.decision,
        comment: s.comment.clone(),
        decide_time: to_timestamp_opt(s.decide_time),
    }
}

impl Resource for Approvals {
    type Event = SalesEvent;
    type Entity = Entity;
    type Model = Model;
    type Active = crate::entity::approval_request::ActiveModel;
    type Proto = ApprovalRequest;

    const KIND: &'static str = "approval_request";
    const DUPLICATE_KINDS: &'static [&'static str] = &[];
    const READ: &'static str = "sales.approvals.read";
    const WRITE: &'static str = DECIDE;
    const MERGE: &'static str = DECIDE;

    crm_records::shared_columns!(tags);

    fn filter_field(name: &str) -> Option<(Column, FieldKind)> {
        Some(match name {
            "subject_kind" => (
                Column::SubjectKind,
                FieldKind::Enum(|s| ApprovalSubjectKind::from_str_name(s).map(|e| e as i32)),
            ),
            "subject_id" => (Column::SubjectId, FieldKind::Id),
            "owner_id" => (Column::OwnerId, FieldKind::Id),
            "approver_id" => (Column::ApproverId, FieldKind::Id),
            "status" => (
                Column::Status,
                FieldKind::Enum(|s| ApprovalStatus::from_str_name(s).map(|e| e as i32)),
            ),
            "create_time" => (Column::CreateTime, FieldKind::Time),
            "update_time" => (Column::UpdateTime, FieldKind::Time),
            _ => return None,
        })
    }

    fn to_proto(m: &Model) -> ApprovalRequest {
        ApprovalRequest {
            id: m.id.clone(),
            etag: crm_platform::etag::format(m.version),
            subject_kind: m.subject_kind,
            subject_id: m.subject_id.clone(),
            subject_display_name: m.display_name.clone(),
            owner_id: m.owner_id.clone(),
            amount: Currency::parse(&m.amount_currency).map(|currency| {
                Money {
                    currency,
                    amount: money::stored(&m.amount),
                }
                .to_wire()
            }),
            reasons: json::from_json(&m.reasons),
            steps: steps(m).iter().map(step_to_proto).collect(),
            approver_id: m.approver_id.clone(),
            status: m.status,
            create_time: Some(to_timestamp(m.create_time)),
            update_time: Some(to_timestamp(m.update_time)),
            delete_time: to_timestamp_opt(m.delete_time),
        }
    }

    fn audit_fields(m: &Model) -> Vec<(&'static str, String)> {
        vec![
            ("subject_id", m.subject_id.clone()),
            ("display_name", m.display_name.clone()),
            ("steps", m.steps.clone()),
            ("approver_id", m.approver_id.clone()),
            (
                "status",
                crm_platform::audit::enum_name::<ApprovalStatus>(m.status),
            ),
        ]
    }

    fn event(action: Action, proto: ApprovalRequest, _merged_ids: &[String]) -> SalesEvent {
        let types = [
            SalesEventType::ApprovalRequested,
            SalesEventType::ApprovalDecided,
            SalesEventType::ApprovalDecided,
            SalesEventType::ApprovalDecided,
        ];
        crate::events::of_write(action, types, Subject::ApprovalRequest(proto))
    }

    /// Requests are opened by submissions ([`open`]), never sent by a client.
    fn create(
        _tenant_id: &str,
        _owner_id: String,
        _stamp: (String, i64),
        _input: ApprovalRequest,
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        Err(Error::internal(
            "approval requests are opened by submissions",
        ))
    }

    /// Requests change by decisions ([`decide`]), never by a client's update.
    fn update(
        _current: &Model,
        _input: ApprovalRequest,
        _mask: &[String],
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        Err(Error::internal("approval requests change by decisions"))
    }

    fn keys(input: &ApprovalRequest) -> (&str, &str, &str) {
        (&input.id, &input.owner_id, &input.etag)
    }
}

/// The approvers of `levels` levels above `owner_id`, nearest first, or why there are none.
pub(crate) async fn approvers(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    owner_id: &str,
    levels: i32,
) -> Result<Vec<String>, Error> {
    let chain = Directory::load(txn, tenant_id)
        .await?
        .managers_above(owner_id);
    let wanted = usize::try_from(levels).unwrap_or_default();
    if chain.len() < wanted {
        return Err(Error::precondition(
            "NO_APPROVER",
            format!(
                "level {} approval needs a manager above the owner in the team directory, and \
                 there is none; set the team's manager in identity",
                chain.len() + 1
            ),
        ));
    }
    Ok(chain.into_iter().take(wanted).collect())
}

/// What a request is opened for.
pub(crate) struct Document {
    pub(crate) kind: ApprovalSubjectKind,
    pub(crate) id: String,
    pub(crate) version: i64,
    pub(crate) display_name: String,
    pub(crate) owner_id: String,
    pub(crate) amount: Money,
    pub(crate) reasons: String,
}

/// Opens a request with a step for each approver, in `txn`.
pub(crate) async fn open(
    records: &Records,
    txn: &DatabaseTransaction,
    principal: &Principal,
    subject: Document,
    approvers: Vec<String>,
) -> Result<ApprovalRequest, Error> {
    let now = clock::now_micros();
    let stored: Vec<StoredStep> = approvers
        .iter()
        .zip(1..)
        .map(|(approver_id, level)| StoredStep {
            level,
            approver_id: approver_id.clone(),
            ..Default::default()
        })
        .collect();
    let model = Model {
        id: uuid::Uuid::now_v7().to_string(),
        tenant_id: principal.tenant_id.clone(),
        owner_id: subject.owner_id,
        owner_since: now,
        display_name: subject.display_name,
        subject_kind: subject.kind as i32,
        subject_id: subject.id,
        subject_version: subject.version,
        amount_currency: subject.amount.currency.code().to_owned(),
        amount: subject.amount.amount.to_string(),
        reasons: subject.reasons,
        steps: json::to_json(&stored),
        approver_id: approvers.first().cloned().unwrap_or_default(),
        status: ApprovalStatus::Pending as i32,
        tags: "[]".to_owned(),
        custom_fields: "{}".to_owned(),
        version: 1,
        create_time: now,
        update_time: now,
        delete_time: None,
    };
    records
        .insert_checked::<Approvals>(txn, principal, model, true)
        .await
}

/// Cancels a request still pending (its document was revised), in `txn`.
pub(crate) async fn cancel(
    records: &Records,
    txn: &DatabaseTransaction,
    principal: &Principal,
    id: &str,
) -> Result<(), Error> {
    if id.is_empty() {
        return Ok(());
    }
    let current = store::find::<Approvals, _>(txn, principal, id).await?;
    if current.status != ApprovalStatus::Pending as i32 {
        return Ok(());
    }
    let mut next = current.clone();
    next.status = ApprovalStatus::Cancelled as i32;
    next.approver_id = String::new();
    records
        .save_change::<Approvals>(txn, principal, &current, next, Action::Update, &[])
        .await?;
    records
        .forget(&principal.tenant_id, Approvals::KIND, id)
        .await;
    Ok(())
}

/// Checks a decision's request.
fn check(r: &DecideApprovalRequestRequest) -> Result<(), Error> {
    let mut v = Violations::new();
    v.required("id", &r.id);
    match ApprovalDecision::try_from(r.decision) {
        Ok(ApprovalDecision::Approve) => {}
        Ok(ApprovalDecision::Reject) => {
            if r.comment.trim().is_empty() {
                v.add("comment", "is required to reject");
            }
        }
        _ => v.add("decision", "must be APPROVE or REJECT"),
    }
    v.max_chars("comment", r.comment.trim(), 2000);
    v.finish()
}

/// Decides the current step of a request as its approver; the last approval approves the
/// document (an order is confirmed and handed to the ERP), a rejection sends it back to
/// draft.
pub(crate) async fn decide(
    records: &Records,
    contacts: Option<&ServiceClient>,
    principal: &Principal,
    method: &'static str,
    r: &DecideApprovalRequestRequest,
) -> Result<ApprovalRequest, Status> {
    principal.require(DECIDE)?;
    check(r)?;
    let key = RequestKey::new(principal, method, &r.request_id, r)?;
    let found = store::find::<Approvals, _>(&records.db, principal, &r.id).await?;
    // An order's confirmation hands it to the ERP with its customer, asked of contacts first.
    let customer = if found.subject_kind == ApprovalSubjectKind::Order as i32
        && found.status == ApprovalStatus::Pending as i32
    {
        Some(order_flow::customer_of(records, contacts, principal, &found.subject_id).await?)
    } else {
        None
    };
    let decided = mutate(&records.db, key.as_ref(), |txn| async move {
        let lock = format!("{}/approval_request/{}", principal.tenant_id, r.id);
        crm_platform::db::lock_keys(&txn, &[lock]).await?;
        let decided = decide_in(records, &txn, principal, r, customer).await?;
        Ok((txn, decided))
    })
    .await?;
    records.after_write::<Approvals>(principal, &r.id).await;
    let kind = match ApprovalSubjectKind::try_from(decided.subject_kind) {
        Ok(ApprovalSubjectKind::Order) => Orders::KIND,
        Ok(ApprovalSubjectKind::Contract) => Contracts::KIND,
        _ => Quotes::KIND,
    };
    records
        .forget(&principal.tenant_id, kind, &decided.subject_id)
        .await;
    Ok(decided)
}

/// The document a request is for, as it stands.
enum Pending {
    Quote(quote::Model),
    Order(order::Model),
    Contract(contract::Model),
}

impl Pending {
    async fn load(
        txn: &DatabaseTransaction,
        principal: &Principal,
        request: &Model,
    ) -> Result<Self, Error> {
        let id = &request.subject_id;
        Ok(match ApprovalSubjectKind::try_from(request.subject_kind) {
            Ok(ApprovalSubjectKind::Order) => {
                Pending::Order(store::find::<Orders, _>(txn, principal, id).await?)
            }
            Ok(ApprovalSubjectKind::Contract) => {
                Pending::Contract(store::find::<Contracts, _>(txn, principal, id).await?)
            }
            _ => Pending::Quote(store::find::<Quotes, _>(txn, principal, id).await?),
        })
    }

    /// Whether it still waits on `request_id`.
    fn waits_on(&self, request_id: &str) -> bool {
        match self {
            Pending::Quote(q) => {
                q.delete_time.is_none()
                    && q.status == QuoteStatus::PendingApproval as i32
                    && q.approval_request_id == request_id
            }
            Pending::Order(o) => {
                o.delete_time.is_none()
                    && o.status == OrderStatus::PendingApproval as i32
                    && o.approval_request_id == request_id
            }
            Pending::Contract(c) => {
                c.delete_time.is_none()
                    && c.status == ContractStatus::InApproval as i32
                    && c.approval_request_id == request_id
            }
        }
    }
}

async fn decide_in(
    records: &Records,
    txn: &DatabaseTransaction,
    principal: &Principal,
    r: &DecideApprovalRequestRequest,
    customer: Option<(Account, Option<Contact>)>,
) -> Result<ApprovalRequest, Error> {
    let (current, _) = handlers::current::<Approvals>(txn, principal, &r.id, None).await?;
    if current.status != ApprovalStatus::Pending as i32 {
        return Err(Error::wrong_state(
            "APPROVAL_DECIDED",
            "approval_request.status",
            format!(
                "the request is already {}",
                crm_platform::audit::enum_name::<ApprovalStatus>(current.status)
            ),
        ));
    }
    if current.approver_id != principal.user_id {
        return Err(Error::NotTheActor {
            reason: "NOT_THE_APPROVER",
            message: "this step waits on another approver".to_owned(),
        });
    }
    let document = Pending::load(txn, principal, &current).await?;
    if !document.waits_on(&current.id) {
        return Err(Error::wrong_state(
            "SUBJECT_CHANGED",
            "approval_request.subject_id",
            format!(
                "{} no longer waits on this request (deleted, revised or cancelled)",
                current.display_name
            ),
        ));
    }
    let approve = r.decision == ApprovalDecision::Approve as i32;
    let mut stored = steps(&current);
    let position = stored
        .iter()
        .position(|s| s.decision == 0)
        .ok_or_else(|| Error::internal("a pending request has no open step"))?;
    stored[position].decision = r.decision;
    stored[position].comment = r.comment.trim().to_owned();
    stored[position].decide_time = Some(clock::now_micros());
    let mut next = current.clone();
    let following = stored.get(position + 1).map(|s| s.approver_id.clone());
    (next.status, next.approver_id) = match (approve, following) {
        (true, Some(approver)) => (ApprovalStatus::Pending as i32, approver),
        (true, None) => (ApprovalStatus::Approved as i32, String::new()),
        (false, _) => (ApprovalStatus::Rejected as i32, String::new()),
    };
    next.steps = json::to_json(&stored);
    let still_pending = next.status == ApprovalStatus::Pending as i32;
    let proto = records
        .save_change::<Approvals>(txn, principal, &current, next, Action::Update, &[])
        .await?;
    if still_pending {
        return Ok(proto);
    }
    match document {
        Pending::Quote(quote) => {
            let mut quote_next = quote.clone();
            quote_next.status = if approve {
                QuoteStatus::Approved as i32
            } else {
                QuoteStatus::Draft as i32
            };
            records
                .save_change::<Quotes>(txn, principal, &quote, quote_next, Action::Update, &[])
                .await?;
        }
        Pending::Order(order) => {
            order_flow::decided(records, txn, principal, (&order, approve), customer).await?;
        }
        Pending::Contract(contract) => {
            contract_flow::decided(records, txn, principal, (&contract, approve)).await?;
        }
    }
    Ok(proto)
}

/// The pending requests whose current step is the caller's, oldest first.
pub(crate) async fn inbox(
    records: &Records,
    principal: &Principal,
    page_size: i32,
    page_token: &str,
) -> Result<(Vec<ApprovalRequest>, String), Error> {
    let filter = format!(
        "approver_id = \"{}\" AND status = APPROVAL_STATUS_PENDING",
        principal.user_id
    );
    records
        .list::<Approvals>(
            principal,
            page_size,
            page_token,
            &filter,
            "create_time",
            false,
        )
        .await
}
