//! The people and competitors of an opportunity, and when its next step is due.

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

pub(super) struct AddNextStepDue;

impl MigrationName for AddNextStepDue {
    fn name(&self) -> &str {
        "m20261202_000007_add_opportunity_next_step_due"
    }
}

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddNextStepDue {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["next_step_due_time", "next_step_reminded"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("opportunities")
                        .add_column(ColumnDef::new(column).big_integer().null())
                        .to_owned(),
                )
                .await?;
        }
        // The reminder sweep reads open deals by due time.
        crm_records::schema::create_indexes(
            manager,
            &[(
                "opportunities_by_next_step_due",
                "opportunities",
                &["status", "next_step_due_time"],
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["next_step_due_time", "next_step_reminded"] {
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
