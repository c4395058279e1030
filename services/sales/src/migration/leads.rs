//! Leads and the tenant's lead rules.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crm_records::schema::record_table;

pub(super) struct CreateLeads;

impl MigrationName for CreateLeads {
    fn name(&self) -> &str {
        "m20261202_000004_create_leads"
    }
}

/// Keyset pages by creation and by owner, the hottest leads first, and the open leads of
/// an owner (least-open assignment counts them).
const INDEXES: &[crm_records::schema::IndexSpec] = &[
    (
        "leads_by_tenant_created",
        "leads",
        &["tenant_id", "create_time", "id"],
    ),
    (
        "leads_by_owner_created",
        "leads",
        &["tenant_id", "owner_id", "create_time", "id"],
    ),
    ("leads_by_score", "leads", &["tenant_id", "score", "id"]),
    (
        "leads_by_owner_status",
        "leads",
        &["tenant_id", "owner_id", "status"],
    ),
];

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateLeads {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(record_table(
                "leads",
                &[
                    "company_name",
                    "title",
                    "email",
                    "phone",
                    "campaign_id",
                    "region_code",
                    "disqualify_reason",
                    "matched_contact_id",
                ],
                &["source", "status", "score", "interaction_count"],
                &["description", "conversion", "tags", "custom_fields"],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("lead_rules")
                    .if_not_exists()
                    .col(string("tenant_id").primary_key())
                    .col(text("rules"))
                    .col(big_integer("assigned"))
                    .col(big_integer("version"))
                    .col(big_integer("update_time"))
                    .to_owned(),
            )
            .await?;
        crm_records::schema::create_indexes(manager, INDEXES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crm_records::schema::drop_tables(manager, &["lead_rules", "leads"]).await
    }
}
