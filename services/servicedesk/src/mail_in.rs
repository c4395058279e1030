//! Email to ticket: a raw RFC 5322 message, parsed with `mail-parser`, becomes a reply on the
//! ticket it answers or a new ticket. The thread is found from `In-Reply-To` and `References`
//! (the Message-IDs of the emails already filed) or a ticket number in the subject; the
//! sender is matched to a contact by normalised email, or filed as one. The Message-ID is the
//! email's idempotency key: the same email again changes nothing.

use mail_parser::{HeaderValue, MessageParser};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use tonic::Status;

use crate::entity::{ticket, ticket_message};
use crate::ticket::Tickets;
use crate::ticket_message as thread;
use crm_platform::auth::Principal;
use crm_platform::client::ServiceClient;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::normalize;
use crm_proto::contacts::Contact;
use crm_proto::servicedesk::{
    EmailOutcome, IngestEmailRequest, IngestEmailResponse, Ticket, TicketChannel,
    TicketMessageKind, TicketStatus, TicketType,
};
use crm_records::customers;
use crm_records::handlers::Records;
use crm_records::resource::{Action, Resource};

/// Permission of a mail gateway's key.
pub(crate) const INGEST: &str = "servicedesk.mail.ingest";
/// Largest email taken.
const MAX_RAW_BYTES: usize = 10 * 1024 * 1024;
/// Longest subject kept (a ticket's subject).
const MAX_SUBJECT_CHARS: usize = 200;
/// Longest body kept.
const MAX_BODY_CHARS: usize = 20_000;

/// What the suite keeps of an email.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mail {
    message_id: String,
    /// The normalised sender address.
    from_email: String,
    from_name: String,
    subject: String,
    body: String,
    /// `In-Reply-To` then `References`, as sent.
    answers: Vec<String>,
}

fn ids_of(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => vec![id.to_string()],
        HeaderValue::TextList(ids) => ids.iter().map(|id| id.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn cut(text: &str, chars: usize) -> String {
    text.trim().chars().take(chars).collect()
}

/// Parses `raw`, refusing what is not an email the desk can file, in field `raw`.
fn parse(raw: &[u8]) -> Result<Mail, Error> {
    let bad = |why: &str| Error::invalid("raw", why);
    if raw.is_empty() {
        return Err(bad("is required"));
    }
    if raw.len() > MAX_RAW_BYTES {
        return Err(bad("is larger than 10 MiB"));
    }
    let message = MessageParser::default()
        .parse(raw)
        .filter(|m| m.headers().iter().next().is_some())
        .ok_or_else(|| bad("is not an RFC 5322 message"))?;
    let sender = message.from().and_then(|from| from.first());
    let from_email = sender
        .and_then(|s| s.address())
        .and_then(|address| normalize::email(address).ok())
        .ok_or_else(|| bad("has no valid From address"))?;
    let message_id = message
        .message_id()
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| bad("has no Message-ID"))?
        .to_owned();
    let mut answers = ids_of(message.in_reply_to());
    answers.extend(ids_of(message.references()));
    let subject = cut(message.subject().unwrap_or_default(), MAX_SUBJECT_CHARS);
    Ok(Mail {
        message_id,
        from_name: cut(sender.and_then(|s| s.name()).unwrap_or_default(), 100),
        from_email,
        subject: if subject.is_empty() {
            "(no subject)".to_owned()
        } else {
            subject
        },
        body: cut(&message.body_text(0).unwrap_or_default(), MAX_BODY_CHARS),
        answers,
    })
}

/// A ticket number ("T-000042") in brackets in a subject, as the desk's own mails carry it.
fn number_in(subject: &str) -> Option<&str> {
    let start = subject.find("[T-")? + 1;
    let end = start + subject[start..].find(']')?;
    let number = &subject[start..end];
    number[2..]
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then_some(number)
}

/// The ticket an email with this Message-ID was filed as, or on, if any.
async fn filed(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    message_id: &str,
) -> Result<Option<(ticket::Model, Option<ticket_message::Model>)>, Error> {
    let opened = ticket::Entity::find()
        .filter(ticket::Column::TenantId.eq(tenant_id))
        .filter(ticket::Column::MailMessageId.eq(message_id))
        .one(txn)
        .await?;
    if let Some(t) = opened {
        return Ok(Some((t, None)));
    }
    let Some(m) = ticket_message::Entity::find()
        .filter(ticket_message::Column::TenantId.eq(tenant_id))
        .filter(ticket_message::Column::MailMessageId.eq(message_id))
        .one(txn)
        .await?
    else {
        return Ok(None);
    };
    let t = ticket::Entity::find_by_id(m.ticket_id.as_str())
        .filter(ticket::Column::TenantId.eq(tenant_id))
        .one(txn)
        .await?
        .ok_or_else(|| Error::internal("a filed email's ticket is gone"))?;
    Ok(Some((t, Some(m))))
}

/// The live ticket the email answers: one its `In-Reply-To` or `References` name, else the
/// one whose number its subject carries. A closed ticket, or one resolved longer ago than the
/// reopen window, takes no more: the email opens a new one.
async fn answered(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    mail: &Mail,
    now: i64,
) -> Result<Option<ticket::Model>, Error> {
    let mut found = None;
    for id in &mail.answers {
        if let Some((t, _)) = filed(txn, tenant_id, id).await? {
            found = Some(t);
            break;
        }
    }
    if found.is_none()
        && let Some(number) = number_in(&mail.subject)
    {
        found = ticket::Entity::find()
            .filter(ticket::Column::TenantId.eq(tenant_id))
            .filter(ticket::Column::Number.eq(number))
            .one(txn)
            .await?;
    }
    Ok(found.filter(|t| {
        t.delete_time.is_none()
            && t.status != TicketStatus::Closed as i32
            && crate::ticket_flow::reopens(t, now)
    }))
}

/// Files the email `request` carries.
pub(crate) async fn ingest(
    records: &Records,
    contacts: Option<&ServiceClient>,
    principal: &Principal,
    request: &IngestEmailRequest,
) -> Result<IngestEmailResponse, Status> {
    principal.require(INGEST)?;
    let mail = parse(&request.raw)?;
    let kind = match request.r#type {
        0 => TicketType::Question as i32,
        t if TicketType::try_from(t).is_ok() => t,
        t => return Err(Error::invalid("type", format!("{t} is not a defined value")).into()),
    };
    // The sender, asked of contacts before the transaction (a remote call never holds one).
    let mut contact_id =
        customers::matching_contact(contacts, principal, (&mail.from_email, "")).await;
    if contact_id.is_empty() {
        let person = Contact {
            display_name: if mail.from_name.is_empty() {
                mail.from_email.clone()
            } else {
                mail.from_name.clone()
            },
            email: mail.from_email.clone(),
            ..Default::default()
        };
        let step = format!("mail-sender:{}", mail.message_id);
        contact_id = customers::contact_for(contacts, principal, person, step)
            .await?
            .id;
    }
    let response = file(records, principal, (&mail, kind), contact_id).await?;
    if let Some(ticket) = &response.ticket {
        records.after_write::<Tickets>(principal, &ticket.id).await;
    }
    Ok(response)
}

/// Files `mail` from `contact_id` in one transaction, under a lock on its Message-ID.
async fn file(
    records: &Records,
    principal: &Principal,
    (mail, kind): (&Mail, i32),
    contact_id: String,
) -> Result<IngestEmailResponse, Error> {
    let txn = crm_platform::db::begin_write(&records.db).await?;
    let tenant_id = principal.tenant_id.as_str();
    let lock = format!("{tenant_id}/mail/{}", mail.message_id);
    crm_platform::db::lock_keys(&txn, &[lock]).await?;
    if let Some((t, m)) = filed(&txn, tenant_id, &mail.message_id).await? {
        return Ok(IngestEmailResponse {
            ticket: Some(Tickets::to_proto(&t)),
            message: m.as_ref().map(thread::to_proto),
            outcome: EmailOutcome::Unchanged as i32,
        });
    }
    let now = clock::now_micros();
    let response = match answered(&txn, tenant_id, mail, now).await? {
        Some(current) => {
            let message = thread::Model {
                id: uuid::Uuid::now_v7().to_string(),
                tenant_id: tenant_id.to_owned(),
                ticket_id: current.id.clone(),
                kind: TicketMessageKind::CustomerMessage as i32,
                body: if mail.body.is_empty() {
                    mail.subject.clone()
                } else {
                    mail.body.clone()
                },
                attachments: "[]".to_owned(),
                author_id: principal.user_id.clone(),
                mail_message_id: mail.message_id.clone(),
                create_time: now,
            };
            let message = thread::append(records, &txn, principal, &current, message).await?;
            // The customer answered: a ticket waiting on them, or resolved, is open again.
            let saved = match crate::ticket_flow::answered_by_customer(&current, now) {
                Some(mut next) => {
                    Tickets::before_write(&txn, principal, Some(&current), &mut next).await?;
                    records
                        .save_change::<Tickets>(
                            &txn,
                            principal,
                            &current,
                            next,
                            Action::Update,
                            &[],
                        )
                        .await?
                }
                None => Tickets::to_proto(&current),
            };
            IngestEmailResponse {
                ticket: Some(saved),
                message: Some(message),
                outcome: EmailOutcome::Reply as i32,
            }
        }
        None => {
            let input = Ticket {
                r#type: kind,
                channel: TicketChannel::Email as i32,
                subject: mail.subject.clone(),
                description: mail.body.clone(),
                contact_id,
                ..Default::default()
            };
            let id = uuid::Uuid::now_v7().to_string();
            let cx = records.write_context(principal);
            let mut model =
                Tickets::create(tenant_id, principal.user_id.clone(), (id, now), input, &cx)?;
            model.mail_message_id = mail.message_id.clone();
            let saved = records
                .insert_checked::<Tickets>(&txn, principal, model, false)
                .await?;
            IngestEmailResponse {
                ticket: Some(saved),
                message: None,
                outcome: EmailOutcome::NewTicket as i32,
            }
        }
    };
    txn.commit().await?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIL: &str = "From: =?UTF-8?B?546L5bCP5piO?= <Wang.XM@Example.CN>\r\n\
To: service@desk.example\r\n\
Subject: Re: [T-000042] =?UTF-8?B?5rC05rO15ryP5rC0?=\r\n\
Message-ID: <reply-2@example.cn>\r\n\
In-Reply-To: <first@example.cn>\r\n\
References: <first@example.cn> <agent-1@desk.example>\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Still leaking.\r\n";

    #[test]
    fn an_email_is_read_with_its_thread() {
        let mail = parse(MAIL.as_bytes()).unwrap();
        assert_eq!(mail.message_id, "reply-2@example.cn");
        assert_eq!(mail.from_email, "wang.xm@example.cn");
        assert_eq!(mail.from_name, "王小明");
        assert_eq!(mail.subject, "Re: [T-000042] 水泵漏水");
        assert_eq!(mail.body, "Still leaking.");
        assert_eq!(
            mail.answers,
            [
                "first@example.cn",
                "first@example.cn",
                "agent-1@desk.example"
            ]
        );
        assert_eq!(number_in(&mail.subject), Some("T-000042"));
    }

    #[test]
    fn what_is_not_an_email_is_refused() {
        for raw in [
            &b""[..],
            b"not a mail at all",
            b"Subject: no sender\r\n\r\nbody",
        ] {
            assert!(parse(raw).is_err(), "{raw:?}");
        }
        let no_id = "From: a@b.example\r\nSubject: x\r\n\r\nbody";
        assert!(parse(no_id.as_bytes()).is_err());
        assert_eq!(number_in("[T-12a]"), None);
        assert_eq!(number_in("no number"), None);
    }
}
