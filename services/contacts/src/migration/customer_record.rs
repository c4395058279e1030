//! The complete customer record: the remaining account and contact fields, static groups,
//! and the lookup index of normalised values (phones, emails, company names, tags, groups)
//! that duplicate detection and label filters read.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Adds the customer-record columns and tables.
pub(super) struct AddCustomerRecord;

impl MigrationName for AddCustomerRecord {
    fn name(&self) -> &str {
        "m20261123_000003_add_customer_record"
    }
}

/// New text columns, all `NOT NULL DEFAULT ''` so existing rows stay valid.
const TEXT_COLUMNS: &[(&str, &[&str])] = &[
    (
        "accounts",
        &["source", "parent_id", "notes", "merged_into_id"],
    ),
    (
        "contacts",
        &[
            "department",
            "region_code",
            "administrative_area",
            "locality",
            "sublocality",
            "postal_code",
            "address_lines",
            "occupation",
            "notes",
            "merged_into_id",
        ],
    ),
];

/// New JSON-array columns (stored as text, `'[]'` when empty).
const LIST_COLUMNS: &[(&str, &[&str])] = &[
    ("accounts", &["tags", "group_ids"]),
    (
        "contacts",
        &[
            "phones",
            "emails",
            "related_account_ids",
            "tags",
            "group_ids",
        ],
    ),
];

/// New integer columns (enums and birthday parts), `0` when unset.
const INT_COLUMNS: &[(&str, &[&str])] = &[
    ("accounts", &["account_type", "size", "tier"]),
    (
        "contacts",
        &["gender", "birth_year", "birth_month", "birth_day"],
    ),
];

const INDEXES: &[crm_records::schema::IndexSpec] = &[
    (
        "accounts_by_parent",
        "accounts",
        &["tenant_id", "parent_id"],
    ),
    (
        "contacts_by_birthday",
        "contacts",
        &["tenant_id", "birth_month", "birth_day"],
    ),
];

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddCustomerRecord {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for (table, columns) in TEXT_COLUMNS {
            for column in *columns {
                add_column(manager, table, text(*column).default("").to_owned()).await?;
            }
        }
        for (table, columns) in LIST_COLUMNS {
            for column in *columns {
                add_column(manager, table, text(*column).default("[]").to_owned()).await?;
            }
        }
        for (table, columns) in INT_COLUMNS {
            for column in *columns {
                add_column(manager, table, integer(*column).default(0).to_owned()).await?;
            }
        }
        manager
            .create_table(crm_records::schema::record_index())
            .await?;
        manager
            .create_index(crm_records::schema::record_index_by_value())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("contact_groups")
                    .if_not_exists()
                    .col(string("id").primary_key())
                    .col(string("tenant_id"))
                    .col(string("display_name"))
                    .col(string("name_key"))
                    .col(text("description"))
                    .col(big_integer("create_time"))
                    .index(
                        Index::create()
                            .name("contact_groups_by_name")
                            .unique()
                            .col("tenant_id")
                            .col("name_key"),
                    )
                    .to_owned(),
            )
            .await?;
        crm_records::schema::create_indexes(manager, INDEXES).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["contact_groups", "record_index"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

async fn add_column(
    manager: &SchemaManager<'_>,
    table: &str,
    column: ColumnDef,
) -> Result<(), DbErr> {
    manager
        .alter_table(
            Table::alter()
                .table(table.to_owned())
                .add_column(column)
                .to_owned(),
        )
        .await
}
