//! Pipelines and opportunities.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crm_records::schema::record_table;

pub(super) struct CreatePipelines;

impl MigrationName for CreatePipelines {
    fn name(&self) -> &str {
        "m20261202_000003_create_pipelines"
    }
}

/// Keyset pages by creation and by name, scoped pages by owner, and the filters a sales
/// board uses: a stage's deals, and deals closing in a period.
const INDEXES: &[crm_records::schema::IndexSpec] = &[
    (
        "pipelines_by_tenant_created",
        "pipelines",
        &["tenant_id", "create_time", "id"],
    ),
    (
        "opportunities_by_tenant_created",
        "opportunities",
        &["tenant_id", "create_time", "id"],
    ),
    (
        "opportunities_by_owner_created",
        "opportunities",
        &["tenant_id", "owner_id", "create_time", "id"],
    ),
    (
        "opportunities_by_stage",
        "opportunities",
        &["tenant_id", "pipeline_id", "stage_id"],
    ),
    (
        "opportunities_by_close_date",
        "opportunities",
        &["tenant_id", "expected_close_date"],
    ),
    (
        "opportunities_by_account",
        "opportunities",
        &["tenant_id", "account_id"],
    ),
];

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreatePipelines {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(record_table(
                "pipelines",
                &[],
                &[],
                &["stages", "description", "tags", "custom_fields"],
            ))
            .await?;
        let mut opportunities = record_table(
            "opportunities",
            &[
                "account_id",
                "pipeline_id",
                "stage_id",
                "amount_currency",
                "next_step",
                "close_reason",
            ],
            &["status", "expected_close_date", "probability"],
            &["description", "stage_history", "tags", "custom_fields"],
        );
        opportunities
            .col(big_integer_null("amount"))
            .col(big_integer_null("close_time"));
        manager.create_table(opportunities).await?;
        crm_records::schema::create_indexes(manager, INDEXES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crm_records::schema::drop_tables(manager, &["opportunities", "pipelines"]).await
    }
}
