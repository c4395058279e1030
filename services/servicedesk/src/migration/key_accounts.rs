//! Key accounts to their owners: the owner a ticket's key account had when it was filed, and
//! the queues that give such tickets to them.

use sea_orm_migration::prelude::*;

pub(super) struct AddKeyAccounts;

impl MigrationName for AddKeyAccounts {
    fn name(&self) -> &str {
        "m20261206_000003_add_key_accounts"
    }
}

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddKeyAccounts {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table("tickets")
                    .add_column(
                        ColumnDef::new("key_account_owner_id")
                            .string()
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("queues")
                    .add_column(
                        ColumnDef::new("key_account_owner_first")
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("queues")
                    .drop_column("key_account_owner_first")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("tickets")
                    .drop_column("key_account_owner_id")
                    .to_owned(),
            )
            .await
    }
}
