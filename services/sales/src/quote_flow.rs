//! How a quote moves: submitted (approved at once, or pending on its approvers), sent, then
//! accepted or rejected by the customer; revised into a new draft; expired by the sweep; and
//! rendered as a document. Each move is one transaction with its idempotency key, checked
//! against the quote's status, audited and announced.

use sea_orm::DatabaseTransaction;
use tonic::Status;

use crate::approval::{self, Approvals};
use crate::customers;
use crate::entity::quote::Model;
use crate::quote::{self, Quotes};
use crm_platform::auth::Principal;
use crm_platform::client::ServiceClient;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::etag;
use crm_platform::idempotency::{RequestKey, mutate};
use crm_platform::time::day;
use crm_proto::sales::{
    ApprovalRequest, ApprovalSubjectKind, DocumentLine, Quote, QuoteDocument, QuoteStatus,
};
use crm_records::handlers::{self, Records};
use crm_records::resource::{Action, Resource};
use crm_records::store;

/// A move a client asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Move {
    Submit,
    Send,
    Accept,
    Reject,
}

impl Move {
    /// The status it starts from.
    fn from(self) -> QuoteStatus {
        match self {
            Move::Submit => QuoteStatus::Draft,
            Move::Send => QuoteStatus::Approved,
            Move::Accept | Move::Reject => QuoteStatus::Sent,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Move::Submit => "submitted",
            Move::Send => "sent",
            Move::Accept => "accepted",
            Move::Reject => "rejected",
        }
    }
}

/// Who asks, for which quote.
pub(crate) struct Asked<'a> {
    pub(crate) method: &'static str,
    pub(crate) id: &'a str,
    pub(crate) etag: &'a str,
    pub(crate) request_id: &'a str,
    /// The customer's reason, for a rejection.
    pub(crate) reason: &'a str,
}

/// Applies `step` to a quote; answers the quote and the approval request a submission opened.
pub(crate) async fn transition<M: prost::Message>(
    records: &Records,
    principal: &Principal,
    (asked, request): (Asked<'_>, &M),
    step: Move,
) -> Result<(Quote, Option<ApprovalRequest>), Error> {
    principal.require(Quotes::WRITE)?;
    if asked.id.is_empty() {
        return Err(Error::invalid("id", "is required"));
    }
    let reason = asked.reason.trim();
    if step == Move::Reject {
        let mut v = crm_platform::validate::Violations::new();
        v.required("reason", reason);
        v.max_chars("reason", reason, 2000);
        v.finish()?;
    }
    let expected = etag::parse("etag", asked.etag)?;
    let key = RequestKey::new(principal, asked.method, asked.request_id, request)?;
    // Every move stores its answer (for a replay) in the submission's response shape.
    let answer = mutate(&records.db, key.as_ref(), |txn| async move {
        let (current, stamps) =
            handlers::current::<Quotes>(&txn, principal, asked.id, expected).await?;
        handlers::refuse_deleted::<Quotes>(&stamps)?;
        if current.status != step.from() as i32 {
            return Err(Error::wrong_state(
                "QUOTE_STATUS",
                "quote.status",
                format!(
                    "quote {} is {}; only a {} quote is {}",
                    current.number,
                    crm_platform::audit::enum_name::<QuoteStatus>(current.status),
                    crm_platform::audit::enum_name::<QuoteStatus>(step.from() as i32),
                    step.verb()
                ),
            ));
        }
        let today = day::of_micros(clock::now_micros());
        let now = clock::now_micros();
        let mut next = current.clone();
        let mut opened = None;
        match step {
            Move::Submit => {
                if quote::lines(&current).is_empty() {
                    return Err(Error::invalid(
                        "quote.lines",
                        "needs at least one line to be submitted",
                    ));
                }
                refuse_lapsed(&current, today)?;
                // The policy as it is now decides, not as it was when the draft was written.
                quote::assess(&txn, &mut next, today).await?;
                if next.approval_level == 0 {
                    next.status = QuoteStatus::Approved as i32;
                    next.approval_request_id = String::new();
                } else {
                    let approvers = approval::approvers(
                        &txn,
                        &principal.tenant_id,
                        &next.owner_id,
                        next.approval_level,
                    )
                    .await?;
                    let subject = approval::Document {
                        kind: ApprovalSubjectKind::Quote,
                        id: next.id.clone(),
                        version: next.version,
                        display_name: format!("{} rev {}", next.number, next.revision),
                        owner_id: next.owner_id.clone(),
                        amount: quote::total(&next)?,
                        reasons: next.approval_reasons.clone(),
                    };
                    let request =
                        approval::open(records, &txn, principal, subject, approvers).await?;
                    next.status = QuoteStatus::PendingApproval as i32;
                    next.approval_request_id = request.id.clone();
                    opened = Some(request);
                }
            }
            Move::Send => {
                refuse_lapsed(&current, today)?;
                next.status = QuoteStatus::Sent as i32;
                next.send_time = Some(now);
            }
            Move::Accept => {
                refuse_lapsed(&current, today)?;
                next.status = QuoteStatus::Accepted as i32;
                next.close_time = Some(now);
            }
            Move::Reject => {
                next.status = QuoteStatus::Rejected as i32;
                next.rejection_reason = reason.to_owned();
                next.close_time = Some(now);
            }
        }
        let saved = records
            .save_change::<Quotes>(&txn, principal, &current, next, Action::Update, &[])
            .await?;
        Ok((
            txn,
            crm_proto::sales::SubmitQuoteResponse {
                quote: Some(saved),
                approval_request: opened,
            },
        ))
    })
    .await?;
    records.after_write::<Quotes>(principal, asked.id).await;
    let quote = answer
        .quote
        .ok_or_else(|| Error::internal("a transition answered no quote"))?;
    Ok((quote, answer.approval_request))
}

/// A quote past its valid-until day is not submitted, sent or accepted.
fn refuse_lapsed(m: &Model, today: i32) -> Result<(), Error> {
    if m.valid_until < today {
        return Err(Error::wrong_state(
            "QUOTE_LAPSED",
            "quote.valid_until",
            format!(
                "quote {} was valid until {}; revise it with a new date",
                m.number,
                day::format(m.valid_until)
            ),
        ));
    }
    Ok(())
}

/// Days a revision of a lapsed quote holds.
const REVISION_VALID_DAYS: i64 = 30;

/// Starts the next revision of the latest revision of a quote, as a draft with the same lines
/// repriced today; the old revision is superseded and its pending approval cancelled.
pub(crate) async fn revise<M: prost::Message>(
    records: &Records,
    principal: &Principal,
    (method, id, request_id): (&'static str, &str, &str),
    request: &M,
) -> Result<Quote, Error> {
    principal.require(Quotes::WRITE)?;
    if id.is_empty() {
        return Err(Error::invalid("id", "is required"));
    }
    let key = RequestKey::new(principal, method, request_id, request)?;
    let answer = mutate(&records.db, key.as_ref(), |txn| async move {
        let (current, stamps) = handlers::current::<Quotes>(&txn, principal, id, None).await?;
        handlers::refuse_deleted::<Quotes>(&stamps)?;
        if !current.superseded_by_id.is_empty() {
            return Err(Error::wrong_state(
                "QUOTE_SUPERSEDED",
                "quote.superseded_by_id",
                format!("revise the latest revision, {}", current.superseded_by_id),
            ));
        }
        if current.status == QuoteStatus::Accepted as i32 {
            return Err(Error::wrong_state(
                "QUOTE_STATUS",
                "quote.status",
                format!("quote {} was accepted; it is not revised", current.number),
            ));
        }
        let revision = next_revision(records, &txn, principal, &current).await?;
        approval::cancel(records, &txn, principal, &current.approval_request_id).await?;
        let mut old = current.clone();
        old.superseded_by_id = revision.id.clone();
        old.status = QuoteStatus::Superseded as i32;
        records
            .save_change::<Quotes>(&txn, principal, &current, old, Action::Update, &[])
            .await?;
        Ok((
            txn,
            crm_proto::sales::ReviseQuoteResponse {
                quote: Some(revision),
            },
        ))
    })
    .await?;
    records.after_write::<Quotes>(principal, id).await;
    answer
        .quote
        .ok_or_else(|| Error::internal("a revision answered no quote"))
}

/// The new draft revision of `current`, inserted in `txn`.
async fn next_revision(
    records: &Records,
    txn: &DatabaseTransaction,
    principal: &Principal,
    current: &Model,
) -> Result<Quote, Error> {
    let now = clock::now_micros();
    let today = day::of_micros(now);
    let valid_until = if current.valid_until >= today {
        current.valid_until
    } else {
        day::of_micros(now + REVISION_VALID_DAYS * 86_400_000_000)
    };
    let draft = Model {
        id: uuid::Uuid::now_v7().to_string(),
        revision: current.revision + 1,
        previous_revision_id: current.id.clone(),
        superseded_by_id: String::new(),
        valid_until,
        status: QuoteStatus::Draft as i32,
        approval_request_id: String::new(),
        rejection_reason: String::new(),
        send_time: None,
        close_time: None,
        owner_since: now,
        version: 1,
        create_time: now,
        update_time: now,
        delete_time: None,
        ..current.clone()
    };
    records
        .insert_checked::<Quotes>(txn, principal, draft, true)
        .await
}

/// Everything a template needs to render a quote: the quote, the customer and contact as
/// contacts holds them (asked as the caller), and the approval's decisions.
pub(crate) async fn document(
    records: &Records,
    contacts: Option<&ServiceClient>,
    principal: &Principal,
    id: &str,
) -> Result<QuoteDocument, Status> {
    principal.require(Quotes::READ)?;
    if id.is_empty() {
        return Err(Error::invalid("id", "is required").into());
    }
    let found = store::find::<Quotes, _>(&records.db, principal, id).await?;
    if found.delete_time.is_some() {
        return Err(Error::not_found(Quotes::KIND, id).into());
    }
    let hidden = |what: &str| {
        Error::wrong_state(
            "CUSTOMER_HIDDEN",
            "quote.account_id",
            format!("the quote's {what} is deleted or no longer one you can see"),
        )
    };
    let account = customers::fetch_account(contacts, principal, &found.account_id)
        .await?
        .ok_or_else(|| hidden("account"))?;
    let contact = if found.contact_id.is_empty() {
        None
    } else {
        let contact = customers::fetch_contact(contacts, principal, &found.contact_id).await?;
        Some(contact.ok_or_else(|| hidden("contact"))?)
    };
    let approvals = if found.approval_request_id.is_empty() {
        Vec::new()
    } else {
        let request =
            store::find::<Approvals, _>(&records.db, principal, &found.approval_request_id).await?;
        approval::steps(&request)
            .iter()
            .filter(|s| s.decision != 0)
            .map(approval::step_to_proto)
            .collect()
    };
    let issued = found.send_time.unwrap_or_else(clock::now_micros);
    let currency = crm_platform::money::Currency::parse(&found.currency_code);
    let lines = quote::lines(&found)
        .iter()
        .zip(1..)
        .map(|(line, position)| DocumentLine {
            position,
            product_name: line.product_name.clone(),
            line: Some(crate::priced_lines::line_to_proto(currency, line)),
        })
        .collect();
    Ok(QuoteDocument {
        quote: Some(Quotes::to_proto(&found)),
        account: Some(account),
        contact,
        issue_date: day::to_wire(day::of_micros(issued)),
        approvals,
        lines,
    })
}
