//! Quotes, approval requests and the tenants' approval policies.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crm_records::schema::record_table;

pub(super) struct CreateQuotes;

impl MigrationName for CreateQuotes {
    fn name(&self) -> &str {
        "m20261204_000001_create_quotes"
    }
}

/// Keyset pages; a deal's quotes; a number's revisions; the approver's inbox; the expiry sweep.
const INDEXES: &[crm_records::schema::IndexSpec] = &[
    (
        "quotes_by_tenant_created",
        "quotes",
        &["tenant_id", "create_time", "id"],
    ),
    (
        "quotes_by_opportunity",
        "quotes",
        &["tenant_id", "opportunity_id"],
    ),
    ("quotes_by_number", "quotes", &["tenant_id", "number"]),
    (
        "quotes_by_status_valid",
        "quotes",
        &["status", "valid_until"],
    ),
    (
        "approval_requests_by_tenant_created",
        "approval_requests",
        &["tenant_id", "create_time", "id"],
    ),
    (
        "approval_requests_by_approver",
        "approval_requests",
        &["tenant_id", "approver_id", "status", "create_time"],
    ),
    (
        "approval_requests_by_subject",
        "approval_requests",
        &["tenant_id", "subject_id"],
    ),
];

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateQuotes {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut quotes = record_table(
            "quotes",
            &[
                "number",
                "previous_revision_id",
                "superseded_by_id",
                "opportunity_id",
                "account_id",
                "contact_id",
                "currency_code",
                "price_list_id",
                "approval_request_id",
            ],
            &["revision", "valid_until", "status", "approval_level"],
            &[
                "lines",
                "terms",
                "note",
                "approval_reasons",
                "rejection_reason",
                "tags",
                "custom_fields",
            ],
        );
        quotes
            .col(big_integer("total"))
            .col(big_integer_null("send_time"))
            .col(big_integer_null("close_time"));
        manager.create_table(quotes).await?;
        let mut requests = record_table(
            "approval_requests",
            &["subject_id", "amount_currency", "amount", "approver_id"],
            &["subject_kind", "status"],
            &["reasons", "steps", "tags", "custom_fields"],
        );
        requests.col(big_integer("subject_version"));
        manager.create_table(requests).await?;
        manager
            .create_table(
                Table::create()
                    .table("approval_policies")
                    .if_not_exists()
                    .col(string("tenant_id").primary_key())
                    .col(text("rules"))
                    .col(big_integer("version"))
                    .col(big_integer("update_time"))
                    .to_owned(),
            )
            .await?;
        crm_records::schema::create_indexes(manager, INDEXES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crm_records::schema::drop_tables(
            manager,
            &["approval_policies", "approval_requests", "quotes"],
        )
        .await
    }
}
