//! How a contract moves: submitted (approved at once, or after its approvers), signed (active
//! from its start day), completed or terminated, and renewed into its successor. Each move is
//! one transaction with its idempotency key, checked against the status, audited and
//! announced.

use sea_orm::DatabaseTransaction;

use crate::approval;
use crate::approval_policy;
use crate::contract::{self, Contracts};
use crate::entity::contract::Model;
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::etag;
use crm_platform::idempotency::{RequestKey, mutate};
use crm_platform::time::day;
use crm_platform::validate::Violations;
use crm_proto::common::Date;
use crm_proto::sales::{
    ApprovalRequest, ApprovalSubjectKind, Contract, ContractStatus, RenewContractResponse,
    SubmitContractResponse,
};
use crm_records::handlers::{self, Records};
use crm_records::json;
use crm_records::resource::{Action, Resource};

/// A move a client asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Move<'a> {
    Submit,
    Sign(Option<&'a Date>),
    Complete,
    Terminate(&'a str),
}

impl Move<'_> {
    /// The statuses it starts from.
    fn from(self) -> &'static [ContractStatus] {
        match self {
            Move::Submit => &[ContractStatus::Draft],
            Move::Sign(_) => &[ContractStatus::Approved],
            Move::Complete => &[ContractStatus::Active],
            Move::Terminate(_) => &[ContractStatus::Signed, ContractStatus::Active],
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Move::Submit => "submitted",
            Move::Sign(_) => "signed",
            Move::Complete => "completed",
            Move::Terminate(_) => "terminated",
        }
    }
}

/// Who asks, for which contract.
pub(crate) struct Asked<'a> {
    pub(crate) method: &'static str,
    pub(crate) id: &'a str,
    pub(crate) etag: &'a str,
    pub(crate) request_id: &'a str,
}

/// The refusal of a move the contract's status does not allow.
fn wrong_status(m: &Model, verb: &str) -> Error {
    Error::wrong_state(
        "CONTRACT_STATUS",
        "contract.status",
        format!(
            "contract {} is {}; it cannot be {verb}",
            m.number,
            crm_platform::audit::enum_name::<ContractStatus>(m.status)
        ),
    )
}

/// The status a signed contract is in on `today`: active once its start has come.
pub(crate) fn signed_status(m: &Model, today: i32) -> ContractStatus {
    if m.start_date <= today {
        ContractStatus::Active
    } else {
        ContractStatus::Signed
    }
}

/// Applies `step`; answers the contract and the approval request a submission opened.
pub(crate) async fn transition<M: prost::Message>(
    records: &Records,
    principal: &Principal,
    (asked, request): (Asked<'_>, &M),
    step: Move<'_>,
) -> Result<(Contract, Option<ApprovalRequest>), Error> {
    principal.require(Contracts::WRITE)?;
    if asked.id.is_empty() {
        return Err(Error::invalid("id", "is required"));
    }
    let mut v = Violations::new();
    let today = day::of_micros(clock::now_micros());
    let sign_date = match step {
        Move::Sign(date) => {
            let signed = day::check(&mut v, "sign_date", date);
            if signed == 0 {
                v.add("sign_date", "is required");
            } else if signed > today {
                v.add("sign_date", "must not be after today");
            }
            signed
        }
        Move::Terminate(reason) => {
            v.required("reason", reason.trim());
            v.max_chars("reason", reason.trim(), 2000);
            0
        }
        _ => 0,
    };
    v.finish()?;
    let expected = etag::parse("etag", asked.etag)?;
    let key = RequestKey::new(principal, asked.method, asked.request_id, request)?;
    // Every move stores its answer (for a replay) in the submission's response shape.
    let answer = mutate(&records.db, key.as_ref(), |txn| async move {
        let (current, stamps) =
            handlers::current::<Contracts>(&txn, principal, asked.id, expected).await?;
        handlers::refuse_deleted::<Contracts>(&stamps)?;
        if !step.from().iter().any(|s| *s as i32 == current.status) {
            return Err(wrong_status(&current, step.verb()));
        }
        let mut next = current.clone();
        let mut opened = None;
        match step {
            Move::Submit => {
                let amount = contract::amount(&current)?;
                let kind = ApprovalSubjectKind::Contract;
                let (level, reasons) =
                    approval_policy::assess(&txn, &current.tenant_id, kind, &[], amount, today)
                        .await?;
                next.approval_level = level;
                next.approval_reasons = json::to_json(&reasons);
                if level == 0 {
                    next.status = ContractStatus::Approved as i32;
                } else {
                    let approvers =
                        approval::approvers(&txn, &principal.tenant_id, &next.owner_id, level)
                            .await?;
                    let subject = approval::Document {
                        kind,
                        id: next.id.clone(),
                        version: next.version,
                        display_name: next.number.clone(),
                        owner_id: next.owner_id.clone(),
                        amount,
                        reasons: next.approval_reasons.clone(),
                    };
                    let request =
                        approval::open(records, &txn, principal, subject, approvers).await?;
                    next.status = ContractStatus::InApproval as i32;
                    next.approval_request_id = request.id.clone();
                    opened = Some(request);
                }
            }
            Move::Sign(_) => {
                next.sign_date = sign_date;
                next.status = signed_status(&current, today) as i32;
            }
            Move::Complete => next.status = ContractStatus::Completed as i32,
            Move::Terminate(reason) => {
                next.status = ContractStatus::Terminated as i32;
                next.termination_reason = reason.trim().to_owned();
            }
        }
        let saved = records
            .save_change::<Contracts>(&txn, principal, &current, next, Action::Update, &[])
            .await?;
        Ok((
            txn,
            SubmitContractResponse {
                contract: Some(saved),
                approval_request: opened,
            },
        ))
    })
    .await?;
    records.after_write::<Contracts>(principal, asked.id).await;
    let saved = answer
        .contract
        .ok_or_else(|| Error::internal("a move answered no contract"))?;
    Ok((saved, answer.approval_request))
}

/// Finishes a contract's approval in `txn`: approved, it may be signed; rejected, it is a
/// draft again.
pub(crate) async fn decided(
    records: &Records,
    txn: &DatabaseTransaction,
    principal: &Principal,
    (document, approve): (&Model, bool),
) -> Result<(), Error> {
    let mut next = document.clone();
    next.status = if approve {
        ContractStatus::Approved
    } else {
        ContractStatus::Draft
    } as i32;
    records
        .save_change::<Contracts>(txn, principal, document, next, Action::Update, &[])
        .await?;
    Ok(())
}

/// Makes the successor of an active or completed contract: a draft with the same terms,
/// starting the day after it ends, for as long; its milestones move by as much.
pub(crate) async fn renew<M: prost::Message>(
    records: &Records,
    principal: &Principal,
    (method, id, request_id): (&'static str, &str, &str),
    request: &M,
) -> Result<Contract, Error> {
    principal.require(Contracts::WRITE)?;
    if id.is_empty() {
        return Err(Error::invalid("id", "is required"));
    }
    let key = RequestKey::new(principal, method, request_id, request)?;
    let answer = mutate(&records.db, key.as_ref(), |txn| async move {
        let (current, stamps) = handlers::current::<Contracts>(&txn, principal, id, None).await?;
        handlers::refuse_deleted::<Contracts>(&stamps)?;
        let renewable = [
            ContractStatus::Active as i32,
            ContractStatus::Completed as i32,
        ];
        if !renewable.contains(&current.status) {
            return Err(wrong_status(&current, "renewed"));
        }
        if !current.successor_id.is_empty() {
            return Err(Error::wrong_state(
                "CONTRACT_RENEWED",
                "contract.successor_id",
                format!(
                    "contract {} was renewed as {}",
                    current.number, current.successor_id
                ),
            ));
        }
        let successor = successor_of(records, &txn, principal, &current).await?;
        let mut old = current.clone();
        old.successor_id = successor.id.clone();
        records
            .save_change::<Contracts>(&txn, principal, &current, old, Action::Update, &[])
            .await?;
        Ok((
            txn,
            RenewContractResponse {
                contract: Some(successor),
            },
        ))
    })
    .await?;
    records.after_write::<Contracts>(principal, id).await;
    answer
        .contract
        .ok_or_else(|| Error::internal("a renewal answered no contract"))
}

/// The successor draft of `current`, inserted in `txn`.
async fn successor_of(
    records: &Records,
    txn: &DatabaseTransaction,
    principal: &Principal,
    current: &Model,
) -> Result<Contract, Error> {
    let now = clock::now_micros();
    let length =
        (day::to_micros(current.end_date) - day::to_micros(current.start_date)) / 86_400_000_000;
    let start = day::plus(current.end_date, 1);
    let shift = (day::to_micros(start) - day::to_micros(current.start_date)) / 86_400_000_000;
    let milestones: Vec<contract::StoredKeyDate> = json::from_json(&current.milestones)
        .into_iter()
        .map(|m: contract::StoredKeyDate| contract::StoredKeyDate {
            date: day::plus(m.date, shift),
            ..m
        })
        .collect();
    let draft = Model {
        id: uuid::Uuid::now_v7().to_string(),
        number: String::new(),
        order_id: String::new(),
        start_date: start,
        end_date: day::plus(start, length),
        milestones: json::to_json(&milestones),
        reminded: "[]".to_owned(),
        status: ContractStatus::Draft as i32,
        approval_level: 0,
        approval_reasons: "[]".to_owned(),
        approval_request_id: String::new(),
        previous_contract_id: current.id.clone(),
        successor_id: String::new(),
        sign_date: 0,
        termination_reason: String::new(),
        owner_since: now,
        version: 1,
        create_time: now,
        update_time: now,
        delete_time: None,
        ..current.clone()
    };
    records
        .insert_checked::<Contracts>(txn, principal, draft, true)
        .await
}
