//! A ticket's thread: public replies and internal notes, with files by reference. A message
//! is visible to whoever sees its ticket and is never changed; adding one is a change of the
//! ticket (audited on it, announced), and the first public reply stamps its first response.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
};
use sea_orm::{QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use crate::entity::ticket::Model as TicketModel;
pub(crate) use crate::entity::ticket_message::Model;
use crate::entity::ticket_message::{Column, Entity};
use crate::ticket::Tickets;
use crm_platform::audit::{self, Change};
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::idempotency::{RequestKey, mutate};
use crm_platform::time::to_timestamp;
use crm_platform::validate::Violations;
use crm_proto::servicedesk::{
    AddTicketMessageRequest, AddTicketMessageResponse, Attachment, ServicedeskEvent,
    ServicedeskEventType, TicketMessage, TicketMessageKind, TicketStatus,
    servicedesk_event::Subject,
};
use crm_records::handlers::{self, Records, announce};
use crm_records::json;
use crm_records::resource::{Action, Resource};
use crm_records::store;

/// Most attachments on one message.
const MAX_ATTACHMENTS: usize = 10;
/// Largest attachment: 25 MiB.
const MAX_ATTACHMENT_BYTES: i64 = 25 * 1024 * 1024;
/// Largest page of a thread.
const MAX_PAGE: u64 = 1000;
/// The media types a ticket takes: photos of the fault, documents, a short video, archives.
const CONTENT_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "video/mp4",
    "application/zip",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
];

/// An attachment as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredAttachment {
    url: String,
    file_name: String,
    content_type: String,
    size_bytes: i64,
    sha256: String,
}

fn check_attachment(v: &mut Violations, field: &str, a: &Attachment) -> StoredAttachment {
    let url = a.url.trim().to_owned();
    if !url.starts_with("https://") {
        v.add(&format!("{field}.url"), "must be an https:// URL");
    } else {
        v.url(&format!("{field}.url"), &url);
    }
    v.max_chars(&format!("{field}.url"), &url, 2000);
    let file_name = a.file_name.trim().to_owned();
    v.required(&format!("{field}.file_name"), &file_name);
    v.max_chars(&format!("{field}.file_name"), &file_name, 255);
    let content_type = a.content_type.trim().to_ascii_lowercase();
    if !CONTENT_TYPES.contains(&content_type.as_str()) {
        v.add(
            &format!("{field}.content_type"),
            format!("`{content_type}` is not a type tickets take"),
        );
    }
    if !(1..=MAX_ATTACHMENT_BYTES).contains(&a.size_bytes) {
        v.add(
            &format!("{field}.size_bytes"),
            format!("must be from 1 to {MAX_ATTACHMENT_BYTES} (25 MiB)"),
        );
    }
    let sha256 = a.sha256.trim().to_owned();
    let hex = sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !hex {
        v.add(
            &format!("{field}.sha256"),
            "must be 64 lowercase hex digits",
        );
    }
    StoredAttachment {
        url,
        file_name,
        content_type,
        size_bytes: a.size_bytes,
        sha256,
    }
}

pub(crate) fn to_proto(m: &Model) -> TicketMessage {
    let attachments: Vec<StoredAttachment> = json::from_json(&m.attachments);
    TicketMessage {
        id: m.id.clone(),
        ticket_id: m.ticket_id.clone(),
        kind: m.kind,
        body: m.body.clone(),
        attachments: attachments
            .into_iter()
            .map(|a| Attachment {
                url: a.url,
                file_name: a.file_name,
                content_type: a.content_type,
                size_bytes: a.size_bytes,
                sha256: a.sha256,
            })
            .collect(),
        author_id: m.author_id.clone(),
        create_time: Some(to_timestamp(m.create_time)),
    }
}

/// Adds the message `request` carries to its ticket.
pub(crate) async fn add(
    records: &Records,
    principal: &Principal,
    (method, request): (&'static str, &AddTicketMessageRequest),
) -> Result<TicketMessage, Error> {
    principal.require(Tickets::WRITE)?;
    let input = request.message.clone().unwrap_or_default();
    let mut v = Violations::new();
    let ticket_id = input.ticket_id.trim().to_owned();
    v.required("message.ticket_id", &ticket_id);
    let kind = v.required_enumeration::<TicketMessageKind>("message.kind", input.kind);
    if kind == TicketMessageKind::CustomerMessage as i32 {
        v.add(
            "message.kind",
            "is the server's: a customer's email comes in by IngestEmail",
        );
    }
    let body = input.body.trim().to_owned();
    v.max_chars("message.body", &body, 20_000);
    if body.is_empty() && input.attachments.is_empty() {
        v.add("message.body", "is required unless files are attached");
    }
    v.at_most(
        "message.attachments",
        input.attachments.len(),
        MAX_ATTACHMENTS,
    );
    let attachments: Vec<StoredAttachment> = input
        .attachments
        .iter()
        .enumerate()
        .map(|(i, a)| check_attachment(&mut v, &format!("message.attachments[{i}]"), a))
        .collect();
    v.finish()?;
    let key = RequestKey::new(principal, method, &request.request_id, request)?;
    let answer = mutate(&records.db, key.as_ref(), |txn| async move {
        let ticket = store::find::<Tickets, _>(&txn, principal, &ticket_id).await?;
        handlers::refuse_deleted::<Tickets>(&Tickets::stamps(&ticket))?;
        if ticket.status == TicketStatus::Closed as i32 {
            return Err(Error::wrong_state(
                "TICKET_CLOSED",
                "ticket.status",
                format!(
                    "ticket {} is closed and takes no more messages",
                    ticket.number
                ),
            ));
        }
        let message = Model {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: principal.tenant_id.clone(),
            ticket_id: ticket_id.clone(),
            kind,
            body,
            attachments: json::to_json(&attachments),
            author_id: principal.user_id.clone(),
            mail_message_id: String::new(),
            create_time: clock::now_micros(),
        };
        let proto = append(records, &txn, principal, &ticket, message).await?;
        Ok((
            txn,
            AddTicketMessageResponse {
                message: Some(proto),
            },
        ))
    })
    .await?;
    let message = answer
        .message
        .ok_or_else(|| Error::internal("adding a message answered none"))?;
    records
        .after_write::<Tickets>(principal, &message.ticket_id)
        .await;
    Ok(message)
}

/// Adds `message` to `ticket`'s thread in `txn`: the row, the first response when it is the
/// first public reply, the ticket's audit entry and the event.
pub(crate) async fn append(
    records: &Records,
    txn: &DatabaseTransaction,
    principal: &Principal,
    ticket: &TicketModel,
    message: Model,
) -> Result<TicketMessage, Error> {
    message.clone().into_active_model().insert(txn).await?;
    let reply = message.kind == TicketMessageKind::PublicReply as i32;
    if reply && ticket.first_response_time.is_none() {
        let mut next = ticket.clone();
        next.first_response_time = Some(message.create_time);
        Tickets::before_write(txn, principal, Some(ticket), &mut next).await?;
        records
            .save_change::<Tickets>(txn, principal, ticket, next, Action::Update, &[])
            .await?;
    }
    let action = match TicketMessageKind::try_from(message.kind) {
        Ok(TicketMessageKind::PublicReply) => "reply",
        Ok(TicketMessageKind::CustomerMessage) => "customer_message",
        _ => "note",
    };
    let change = Change {
        field: "message".to_owned(),
        before: String::new(),
        after: message.id.clone(),
    };
    audit::record(txn, principal, Tickets::KIND, &ticket.id, action, &[change]).await?;
    let proto = to_proto(&message);
    let event = ServicedeskEvent {
        r#type: ServicedeskEventType::TicketMessageAdded as i32,
        subject: Some(Subject::TicketMessage(proto.clone())),
        ..Default::default()
    };
    announce(
        txn,
        &principal.tenant_id,
        &principal.user_id,
        event,
        &ticket.id,
    )
    .await?;
    Ok(proto)
}

/// One page of the thread of a ticket the caller sees, oldest first, and the next token (the
/// last message's id; ids sort by time).
pub(crate) async fn list(
    records: &Records,
    principal: &Principal,
    (ticket_id, page_size, page_token, public_only): (&str, i32, &str, bool),
) -> Result<(Vec<TicketMessage>, String), Error> {
    let mut v = Violations::new();
    v.required("ticket_id", ticket_id.trim());
    if page_size < 0 {
        v.add("page_size", "must not be negative");
    }
    v.finish()?;
    let ticket = records.get::<Tickets>(principal, ticket_id.trim()).await?;
    let limit = match page_size {
        0 => 100,
        n => u64::try_from(n).unwrap_or(MAX_PAGE).min(MAX_PAGE),
    };
    let mut query = Entity::find()
        .filter(Column::TenantId.eq(principal.tenant_id.as_str()))
        .filter(Column::TicketId.eq(ticket.id.as_str()));
    if !page_token.is_empty() {
        query = query.filter(Column::Id.gt(page_token));
    }
    if public_only {
        query = query.filter(Column::Kind.eq(TicketMessageKind::PublicReply as i32));
    }
    let rows = query
        .order_by_asc(Column::Id)
        .limit(limit + 1)
        .all(&records.db)
        .await?;
    let more = rows.len() as u64 > limit;
    let page: Vec<TicketMessage> = rows.iter().take(limit as usize).map(to_proto).collect();
    let next = if more {
        page.last().map(|m| m.id.clone()).unwrap_or_default()
    } else {
        String::new()
    };
    Ok((page, next))
}
