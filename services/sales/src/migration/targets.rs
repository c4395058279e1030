//! Targets.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crm_records::schema::record_table;

pub(super) struct CreateTargets;

impl MigrationName for CreateTargets {
    fn name(&self) -> &str {
        "m20261202_000005_create_targets"
    }
}

/// Keyset pages, and the targets of a period (the forecast reads them).
const INDEXES: &[crm_records::schema::IndexSpec] = &[
    (
        "targets_by_tenant_created",
        "targets",
        &["tenant_id", "create_time", "id"],
    ),
    (
        "targets_by_period",
        "targets",
        &["tenant_id", "period_kind", "period_start", "owner_id"],
    ),
    (
        "opportunities_by_status_close",
        "opportunities",
        &["tenant_id", "status", "close_time"],
    ),
];

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateTargets {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut targets = record_table(
            "targets",
            &["amount_currency"],
            &["period_kind", "period_start", "period_end", "deal_count"],
            &["tags", "custom_fields"],
        );
        targets.col(big_integer_null("amount"));
        manager.create_table(targets).await?;
        crm_records::schema::create_indexes(manager, INDEXES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crm_records::schema::drop_tables(manager, &["targets"]).await
    }
}

/// Team targets: a target names its team (empty for a rep's).
pub(super) struct AddTeamTargets;

impl MigrationName for AddTeamTargets {
    fn name(&self) -> &str {
        "m20261203_000002_add_team_targets"
    }
}

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddTeamTargets {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("targets")
                    .add_column(ColumnDef::new("team_id").string().not_null().default(""))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("targets")
                    .drop_column("team_id")
                    .to_owned(),
            )
            .await
    }
}
