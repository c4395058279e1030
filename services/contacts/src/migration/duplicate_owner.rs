//! The ownership rule that says whether a duplicate outside a rep's reach names its owner.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Adds `pool_rules.disclose_duplicate_owner` (false: the owner is not named).
pub(super) struct AddDuplicateOwnerRule;

impl MigrationName for AddDuplicateOwnerRule {
    fn name(&self) -> &str {
        "m20261201_000002_add_duplicate_owner_rule"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddDuplicateOwnerRule {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("pool_rules")
                    .add_column(boolean("disclose_duplicate_owner").default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("pool_rules")
                    .drop_column("disclose_duplicate_owner")
                    .to_owned(),
            )
            .await
    }
}
