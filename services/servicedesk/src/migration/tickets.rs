//! Tickets.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crm_records::schema::record_table;

pub(super) struct CreateTickets;

impl MigrationName for CreateTickets {
    fn name(&self) -> &str {
        "m20261203_000001_create_tickets"
    }
}

/// Keyset pages of the tenant's and of an agent's tickets, an agent's queue by status, a
/// customer's tickets, and a ticket's thread.
const INDEXES: &[crm_records::schema::IndexSpec] = &[
    (
        "tickets_by_tenant_created",
        "tickets",
        &["tenant_id", "create_time", "id"],
    ),
    (
        "tickets_by_owner_created",
        "tickets",
        &["tenant_id", "owner_id", "create_time", "id"],
    ),
    (
        "tickets_by_status",
        "tickets",
        &["tenant_id", "status", "owner_id"],
    ),
    (
        "tickets_by_contact",
        "tickets",
        &["tenant_id", "contact_id"],
    ),
    (
        "tickets_by_account",
        "tickets",
        &["tenant_id", "account_id"],
    ),
    (
        "tickets_by_mail",
        "tickets",
        &["tenant_id", "mail_message_id"],
    ),
    (
        "ticket_messages_by_mail",
        "ticket_messages",
        &["tenant_id", "mail_message_id"],
    ),
    ("tickets_by_number", "tickets", &["tenant_id", "number"]),
    // The SLA sweep's four questions: whose warning or breach is due, across tenants.
    ("tickets_by_response_warn", "tickets", &["response_warn_at"]),
    ("tickets_by_response_due", "tickets", &["response_due"]),
    (
        "tickets_by_resolution_warn",
        "tickets",
        &["resolution_warn_at"],
    ),
    ("tickets_by_resolution_due", "tickets", &["resolution_due"]),
    (
        "ticket_messages_by_ticket",
        "ticket_messages",
        &["tenant_id", "ticket_id", "id"],
    ),
];

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateTickets {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut tickets = record_table(
            "tickets",
            &[
                "number",
                "category",
                "contact_id",
                "account_id",
                "order_id",
                "product_id",
                "mail_message_id",
            ],
            &[
                "ticket_type",
                "channel",
                "priority",
                "status",
                "reopen_count",
            ],
            &[
                "description",
                "resolution",
                "status_comment",
                "tags",
                "custom_fields",
            ],
        );
        for column in ["support_level", "queue_id"] {
            tickets.col(string(column));
        }
        tickets.col(text("assignment_reason"));
        for column in [
            "first_response_time",
            "resolve_time",
            "close_time",
            "response_due",
            "response_warn_at",
            "resolution_since",
            "resolution_due",
            "resolution_warn_at",
        ] {
            tickets.col(big_integer_null(column));
        }
        for column in ["resolution_target", "resolution_used"] {
            tickets.col(big_integer(column));
        }
        for column in [
            "response_warned",
            "response_breached",
            "resolution_warned",
            "resolution_breached",
        ] {
            tickets.col(boolean(column));
        }
        manager.create_table(tickets).await?;
        let mut messages = Table::create();
        messages
            .table("ticket_messages")
            .if_not_exists()
            .col(string("id").primary_key());
        for column in ["tenant_id", "ticket_id", "author_id", "mail_message_id"] {
            messages.col(string(column));
        }
        messages
            .col(integer("kind"))
            .col(text("body"))
            .col(text("attachments"))
            .col(big_integer("create_time"));
        manager.create_table(messages).await?;
        crm_records::schema::create_indexes(manager, INDEXES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crm_records::schema::drop_tables(manager, &["ticket_messages", "tickets"]).await
    }
}
