//! Entitlements.

use sea_orm_migration::prelude::*;

use crm_records::schema::record_table;

pub(super) struct CreateEntitlements;

impl MigrationName for CreateEntitlements {
    fn name(&self) -> &str {
        "m20261205_000001_create_entitlements"
    }
}

/// Keyset pages of the tenant's entitlements, and an account's in force.
const INDEXES: &[crm_records::schema::IndexSpec] = &[
    (
        "entitlements_by_tenant_created",
        "entitlements",
        &["tenant_id", "create_time", "id"],
    ),
    (
        "entitlements_by_account",
        "entitlements",
        &["tenant_id", "account_id", "start_day"],
    ),
];

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateEntitlements {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let table = record_table(
            "entitlements",
            &["account_id", "contract_id"],
            &["start_day", "end_day"],
            &["tags", "custom_fields"],
        );
        manager.create_table(table).await?;
        crm_records::schema::create_indexes(manager, INDEXES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crm_records::schema::drop_tables(manager, &["entitlements"]).await
    }
}
