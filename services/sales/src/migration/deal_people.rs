//! The people and competitors of an opportunity.

use sea_orm_migration::prelude::*;

pub(super) struct AddDealPeople;

impl MigrationName for AddDealPeople {
    fn name(&self) -> &str {
        "m20261202_000006_add_opportunity_contacts_and_competitors"
    }
}

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddDealPeople {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for column in ["contacts", "competitors"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("opportunities")
                        .add_column(ColumnDef::new(column).text().not_null().default("[]"))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["contacts", "competitors"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("opportunities")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
