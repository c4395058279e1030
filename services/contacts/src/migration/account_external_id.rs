//! The id an ERP knows an account by, so its customer master can be upserted.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Adds `accounts.external_id` (empty for accounts no other system knows), indexed for
/// upserts and `external_id = "..."` lookups.
pub(super) struct AddAccountExternalId;

impl MigrationName for AddAccountExternalId {
    fn name(&self) -> &str {
        "m20261203_000001_add_account_external_id"
    }
}

const INDEXES: &[crm_records::schema::IndexSpec] = &[(
    "accounts_by_external_id",
    "accounts",
    &["tenant_id", "external_id"],
)];

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddAccountExternalId {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("accounts")
                    .add_column(string("external_id").default(""))
                    .to_owned(),
            )
            .await?;
        crm_records::schema::create_indexes(manager, INDEXES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("accounts_by_external_id")
                    .table("accounts")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("accounts")
                    .drop_column("external_id")
                    .to_owned(),
            )
            .await
    }
}
