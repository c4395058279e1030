//! Custom fields: the tenant's definitions, and each account's and contact's values.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Adds `custom_fields` definitions and the records' `custom_fields` column.
pub(super) struct AddCustomFields;

impl MigrationName for AddCustomFields {
    fn name(&self) -> &str {
        "m20261123_000006_add_custom_fields"
    }
}

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddCustomFields {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["accounts", "contacts"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(text("custom_fields").default("{}"))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(crm_records::schema::custom_fields())
            .await?;
        manager
            .create_index(crm_records::schema::custom_fields_by_name())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("custom_fields").to_owned())
            .await?;
        for table in ["accounts", "contacts"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .drop_column("custom_fields")
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
