//! Tickets: a customer's request to the after-sales team, owned by the agent it is assigned
//! to. Its customer is checked with contacts before the write (see `grpc`); its status moves
//! only through `ticket_flow`; a closed ticket no longer changes.

use chrono::Datelike;
use sea_orm::DatabaseTransaction;

use crate::entity::ticket::{Column, Entity, Model};
use crm_platform::audit::enum_name;
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::field_mask::{self, Field};
use crm_platform::time::{to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::servicedesk::{
    ServicedeskEvent, ServicedeskEventType, Ticket, TicketChannel, TicketPriority, TicketStatus,
    TicketType, servicedesk_event::Subject,
};
use crm_records::json;
use crm_records::resource::{Action, FieldKind, Resource, WriteContext};

/// The ticket resource.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tickets;

/// Ticket numbers: "T-000042".
const NUMBER_PREFIX: &str = "T";

/// The fields a ticket update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TicketField {
    Type,
    Category,
    Channel,
    Priority,
    Subject,
    Description,
    ContactId,
    AccountId,
    OrderId,
    ProductId,
    OwnerId,
    Tags,
}

impl Field for TicketField {
    const ALL: &'static [Self] = &[
        TicketField::Type,
        TicketField::Category,
        TicketField::Channel,
        TicketField::Priority,
        TicketField::Subject,
        TicketField::Description,
        TicketField::ContactId,
        TicketField::AccountId,
        TicketField::OrderId,
        TicketField::ProductId,
        TicketField::OwnerId,
        TicketField::Tags,
    ];

    fn name(self) -> &'static str {
        match self {
            TicketField::Type => "type",
            TicketField::Category => "category",
            TicketField::Channel => "channel",
            TicketField::Priority => "priority",
            TicketField::Subject => "subject",
            TicketField::Description => "description",
            TicketField::ContactId => "contact_id",
            TicketField::AccountId => "account_id",
            TicketField::OrderId => "order_id",
            TicketField::ProductId => "product_id",
            TicketField::OwnerId => "owner_id",
            TicketField::Tags => "tags",
        }
    }
}

const OUTPUT_ONLY: &[&str] = &[
    "id",
    "etag",
    "number",
    "status",
    "resolution",
    "status_comment",
    "reopen_count",
    "sla",
    "queue_id",
    "assignment_reason",
    "key_account_owner_id",
    "first_response_time",
    "resolve_time",
    "close_time",
    "create_time",
    "update_time",
    "delete_time",
];

/// An id another service holds (a contact, an order): trimmed, at most 100 characters.
fn reference(v: &mut Violations, field: &str, value: &str) -> String {
    let value = value.trim();
    v.max_chars(field, value, 100);
    value.to_owned()
}

/// Checks every field and writes the normalised values into `model`.
fn apply(model: &mut Model, input: &Ticket, fields: &[TicketField]) -> Result<(), Error> {
    let mut v = Violations::new();
    for field in fields {
        match field {
            TicketField::Type => {
                model.ticket_type =
                    v.required_enumeration::<TicketType>("ticket.type", input.r#type);
            }
            TicketField::Category => {
                model.category = input.category.trim().to_owned();
                v.max_chars("ticket.category", &model.category, 100);
            }
            TicketField::Channel => {
                model.channel =
                    v.required_enumeration::<TicketChannel>("ticket.channel", input.channel);
            }
            TicketField::Priority => {
                model.priority = if input.priority == 0 {
                    TicketPriority::Normal as i32
                } else {
                    v.enumeration::<TicketPriority>("ticket.priority", input.priority)
                };
            }
            TicketField::Subject => {
                model.display_name = input.subject.trim().to_owned();
                v.required("ticket.subject", &model.display_name);
                v.max_chars("ticket.subject", &model.display_name, 200);
            }
            TicketField::Description => {
                model.description = input.description.trim().to_owned();
                v.max_chars("ticket.description", &model.description, 20_000);
            }
            TicketField::ContactId => {
                model.contact_id = reference(&mut v, "ticket.contact_id", &input.contact_id);
            }
            TicketField::AccountId => {
                model.account_id = reference(&mut v, "ticket.account_id", &input.account_id);
            }
            TicketField::OrderId => {
                model.order_id = reference(&mut v, "ticket.order_id", &input.order_id);
            }
            TicketField::ProductId => {
                model.product_id = reference(&mut v, "ticket.product_id", &input.product_id);
            }
            // The owner is checked against the caller's scope by the shared handler.
            TicketField::OwnerId => model.owner_id = input.owner_id.clone(),
            TicketField::Tags => {
                model.tags = json::to_json(&crm_records::labels::tags(
                    &mut v,
                    "ticket.tags",
                    &input.tags,
                ));
            }
        }
    }
    if model.contact_id.is_empty() && model.account_id.is_empty() {
        v.add(
            "ticket.contact_id",
            "or account_id is required: whose request is it?",
        );
    }
    v.finish()
}

impl Resource for Tickets {
    type Event = ServicedeskEvent;
    type Entity = Entity;
    type Model = Model;
    type Active = crate::entity::ticket::ActiveModel;
    type Proto = Ticket;

    const KIND: &'static str = "ticket";
    const DUPLICATE_KINDS: &'static [&'static str] = &[];
    const SORTABLE: &'static [&'static str] = &["priority"];
    const READ: &'static str = "servicedesk.tickets.read";
    const WRITE: &'static str = "servicedesk.tickets.write";
    const MERGE: &'static str = "servicedesk.tickets.write";

    crm_records::shared_columns!(tags);

    fn filter_field(name: &str) -> Option<(Column, FieldKind)> {
        Some(match name {
            "status" => (
                Column::Status,
                FieldKind::Enum(|s| TicketStatus::from_str_name(s).map(|e| e as i32)),
            ),
            "type" => (
                Column::TicketType,
                FieldKind::Enum(|s| TicketType::from_str_name(s).map(|e| e as i32)),
            ),
            "channel" => (
                Column::Channel,
                FieldKind::Enum(|s| TicketChannel::from_str_name(s).map(|e| e as i32)),
            ),
            "priority" => (
                Column::Priority,
                FieldKind::Enum(|s| TicketPriority::from_str_name(s).map(|e| e as i32)),
            ),
            "owner_id" => (Column::OwnerId, FieldKind::Id),
            "contact_id" => (Column::ContactId, FieldKind::Id),
            "account_id" => (Column::AccountId, FieldKind::Id),
            "order_id" => (Column::OrderId, FieldKind::Id),
            "product_id" => (Column::ProductId, FieldKind::Id),
            "queue_id" => (Column::QueueId, FieldKind::Id),
            "number" => (Column::Number, FieldKind::Text),
            "category" => (Column::Category, FieldKind::Text),
            "tags" => (Column::Id, FieldKind::Label("tag")),
            "create_time" => (Column::CreateTime, FieldKind::Time),
            "update_time" => (Column::UpdateTime, FieldKind::Time),
            _ => return None,
        })
    }

    fn sort_value(m: &Model, _field: &str) -> i64 {
        i64::from(m.priority)
    }

    fn to_proto(m: &Model) -> Ticket {
        Ticket {
            id: m.id.clone(),
            etag: crm_platform::etag::format(m.version),
            number: m.number.clone(),
            r#type: m.ticket_type,
            category: m.category.clone(),
            channel: m.channel,
            priority: m.priority,
            subject: m.display_name.clone(),
            description: m.description.clone(),
            contact_id: m.contact_id.clone(),
            account_id: m.account_id.clone(),
            order_id: m.order_id.clone(),
            product_id: m.product_id.clone(),
            owner_id: m.owner_id.clone(),
            status: m.status,
            resolution: m.resolution.clone(),
            status_comment: m.status_comment.clone(),
            sla: Some(crate::sla_clock::to_proto(m)),
            queue_id: m.queue_id.clone(),
            assignment_reason: m.assignment_reason.clone(),
            key_account_owner_id: m.key_account_owner_id.clone(),
            reopen_count: m.reopen_count,
            tags: json::from_json(&m.tags),
            first_response_time: to_timestamp_opt(m.first_response_time),
            resolve_time: to_timestamp_opt(m.resolve_time),
            close_time: to_timestamp_opt(m.close_time),
            create_time: Some(to_timestamp(m.create_time)),
            update_time: Some(to_timestamp(m.update_time)),
            delete_time: to_timestamp_opt(m.delete_time),
        }
    }

    fn audit_fields(m: &Model) -> Vec<(&'static str, String)> {
        vec![
            ("type", enum_name::<TicketType>(m.ticket_type)),
            ("category", m.category.clone()),
            ("channel", enum_name::<TicketChannel>(m.channel)),
            ("priority", enum_name::<TicketPriority>(m.priority)),
            ("subject", m.display_name.clone()),
            ("description", m.description.clone()),
            ("contact_id", m.contact_id.clone()),
            ("account_id", m.account_id.clone()),
            ("order_id", m.order_id.clone()),
            ("product_id", m.product_id.clone()),
            ("owner_id", m.owner_id.clone()),
            ("queue_id", m.queue_id.clone()),
            ("assignment_reason", m.assignment_reason.clone()),
            ("status", enum_name::<TicketStatus>(m.status)),
            ("resolution", m.resolution.clone()),
            ("status_comment", m.status_comment.clone()),
            ("reopen_count", m.reopen_count.to_string()),
            ("first_response_breached", m.response_breached.to_string()),
            ("resolution_breached", m.resolution_breached.to_string()),
            ("tags", m.tags.clone()),
        ]
    }

    fn event(action: Action, proto: Ticket, _merged_ids: &[String]) -> ServicedeskEvent {
        let types = [
            ServicedeskEventType::TicketCreated,
            ServicedeskEventType::TicketUpdated,
            ServicedeskEventType::TicketDeleted,
            ServicedeskEventType::TicketUndeleted,
        ];
        crate::events::of_write(action, types, Subject::Ticket(proto))
    }

    fn create(
        tenant_id: &str,
        owner_id: String,
        (id, now): (String, i64),
        input: Ticket,
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let mut model = Model {
            id,
            tenant_id: tenant_id.to_owned(),
            owner_id: owner_id.clone(),
            owner_since: now,
            display_name: String::new(),
            number: String::new(),
            ticket_type: 0,
            category: String::new(),
            channel: 0,
            priority: TicketPriority::Normal as i32,
            description: String::new(),
            contact_id: String::new(),
            account_id: String::new(),
            order_id: String::new(),
            product_id: String::new(),
            mail_message_id: String::new(),
            status: TicketStatus::New as i32,
            resolution: String::new(),
            status_comment: String::new(),
            reopen_count: 0,
            queue_id: String::new(),
            assignment_reason: String::new(),
            // Set by the adapter from contacts (never the caller's word): see `grpc`.
            key_account_owner_id: input.key_account_owner_id.clone(),
            support_level: String::new(),
            response_due: None,
            response_warn_at: None,
            response_warned: false,
            response_breached: false,
            resolution_target: 0,
            resolution_used: 0,
            resolution_since: None,
            resolution_due: None,
            resolution_warn_at: None,
            resolution_warned: false,
            resolution_breached: false,
            first_response_time: None,
            resolve_time: None,
            close_time: None,
            tags: "[]".to_owned(),
            custom_fields: "{}".to_owned(),
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
        };
        apply(&mut model, &input, TicketField::ALL)?;
        // Named or not: a ticket naming no agent is assigned by its queue (`before_write`).
        model.owner_id = if input.owner_id.trim().is_empty() {
            String::new()
        } else {
            owner_id
        };
        Ok(model)
    }

    fn update(
        current: &Model,
        input: Ticket,
        mask: &[String],
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let fields = field_mask::resolve_fields(mask, OUTPUT_ONLY, |f| match f {
            TicketField::Type => input.r#type != 0,
            TicketField::Category => !input.category.is_empty(),
            TicketField::Channel => input.channel != 0,
            TicketField::Priority => input.priority != 0,
            TicketField::Subject => !input.subject.is_empty(),
            TicketField::Description => !input.description.is_empty(),
            TicketField::ContactId => !input.contact_id.is_empty(),
            TicketField::AccountId => !input.account_id.is_empty(),
            TicketField::OrderId => !input.order_id.is_empty(),
            TicketField::ProductId => !input.product_id.is_empty(),
            TicketField::OwnerId => !input.owner_id.is_empty(),
            TicketField::Tags => !input.tags.is_empty(),
        })?;
        if fields.contains(&TicketField::OwnerId) && input.owner_id != current.owner_id {
            return Err(Error::invalid(
                "ticket.owner_id",
                "changes through ReassignTicket, with a reason",
            ));
        }
        if current.status == TicketStatus::Closed as i32 {
            return Err(Error::wrong_state(
                "TICKET_CLOSED",
                "ticket.status",
                format!("ticket {} is closed and no longer changes", current.number),
            ));
        }
        let mut next = current.clone();
        apply(&mut next, &input, &fields)?;
        Ok(next)
    }

    fn keys(input: &Ticket) -> (&str, &str, &str) {
        (&input.id, &input.owner_id, &input.etag)
    }

    /// A new ticket takes the tenant's next number; every write recomputes its service-level
    /// clocks. Every path that writes a ticket runs this.
    async fn before_write(
        txn: &DatabaseTransaction,
        principal: &Principal,
        current: Option<&Model>,
        next: &mut Model,
    ) -> Result<(), Error> {
        if current.is_none() && next.owner_id.is_empty() {
            let creator = principal.user_id.as_str();
            crate::assignment::assign(txn, &principal.tenant_id, next, creator).await?;
        }
        if next.number.is_empty() {
            let number = crm_records::numbers::next(txn, &principal.tenant_id, Self::KIND).await?;
            next.number = crm_records::numbers::format(NUMBER_PREFIX, number);
        }
        let now = clock::now_micros();
        let rules = crate::sla_clock::rules(txn, &principal.tenant_id).await?;
        if current.is_none_or(|c| c.account_id != next.account_id) {
            let today = rules.calendar.local_day(now);
            let today = today.year() * 10_000 + today.month() as i32 * 100 + today.day() as i32;
            let account = (principal.tenant_id.as_str(), next.account_id.as_str());
            next.support_level = crate::entitlement::level_on(txn, account, today).await?;
        }
        crate::sla_clock::recompute(current, next, &rules, now);
        Ok(())
    }
}
