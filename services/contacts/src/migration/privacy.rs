//! Sensitive fields (sealed, hashed for lookups, masked) and erasure of personal data.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Adds the sensitive-field and erasure columns of contacts.
pub(super) struct AddPrivacy;

impl MigrationName for AddPrivacy {
    fn name(&self) -> &str {
        "m20261123_000008_add_privacy"
    }
}

const TEXT_COLUMNS: &[&str] = &[
    "id_document_sealed",
    "id_document_hash",
    "id_document_masked",
    "bank_card_sealed",
    "bank_card_hash",
    "bank_card_masked",
];

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddPrivacy {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        let mut columns = vec![integer("id_document_type").default(0).to_owned()];
        for name in TEXT_COLUMNS {
            columns.push(text(*name).default("").to_owned());
        }
        columns.push(big_integer_null("erase_time").to_owned());
        for column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table("contacts")
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for (name, column) in [
            ("contacts_by_id_document", "id_document_hash"),
            ("contacts_by_bank_card", "bank_card_hash"),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table("contacts")
                        .col("tenant_id")
                        .col(column)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("contacts_deleted_unerased")
                    .table("contacts")
                    .col("delete_time")
                    .col("erase_time")
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut names = vec!["id_document_type", "erase_time"];
        names.extend(TEXT_COLUMNS);
        for name in names {
            manager
                .alter_table(
                    Table::alter()
                        .table("contacts")
                        .drop_column(name)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
