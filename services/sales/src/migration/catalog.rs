//! Products, price lists, exchange rates and the catalogue settings.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crm_records::schema::record_table;

pub(super) struct CreateCatalog;

impl MigrationName for CreateCatalog {
    fn name(&self) -> &str {
        "m20261202_000002_create_catalog"
    }
}

/// Indexes serve keyset pages by creation time and by name, and lookups by external id.
/// Codes are unique through the record index (live products only), not here.
const INDEXES: &[crm_records::schema::IndexSpec] = &[
    (
        "products_by_tenant_created",
        "products",
        &["tenant_id", "create_time", "id"],
    ),
    (
        "products_by_tenant_name",
        "products",
        &["tenant_id", "display_name", "id"],
    ),
    (
        "products_by_external_id",
        "products",
        &["tenant_id", "external_id"],
    ),
    (
        "price_lists_by_tenant_created",
        "price_lists",
        &["tenant_id", "create_time", "id"],
    ),
    (
        "price_lists_by_tenant_name",
        "price_lists",
        &["tenant_id", "display_name", "id"],
    ),
    (
        "price_lists_by_external_id",
        "price_lists",
        &["tenant_id", "external_id"],
    ),
    (
        "price_lists_by_currency",
        "price_lists",
        &["tenant_id", "currency_code", "valid_from"],
    ),
];

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateCatalog {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(record_table(
                "products",
                &[
                    "code",
                    "unit",
                    "category",
                    "tax_rate",
                    "cost_currency",
                    "cost_amount",
                    "external_id",
                ],
                &["status"],
                &["description", "tags", "custom_fields"],
            ))
            .await?;
        manager
            .create_table(record_table(
                "price_lists",
                &["currency_code", "external_id"],
                &["account_tier", "valid_from", "valid_until"],
                &["entries", "description", "tags", "custom_fields"],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("exchange_rates")
                    .if_not_exists()
                    .col(string("tenant_id"))
                    .col(string("currency_code"))
                    .col(integer("effective_date"))
                    .col(string("rate"))
                    .col(big_integer("update_time"))
                    .primary_key(
                        Index::create()
                            .col("tenant_id")
                            .col("currency_code")
                            .col("effective_date"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("catalog_settings")
                    .if_not_exists()
                    .col(string("tenant_id").primary_key())
                    .col(string("base_currency_code"))
                    .col(big_integer("version"))
                    .col(big_integer("update_time"))
                    .to_owned(),
            )
            .await?;
        crm_records::schema::create_indexes(manager, INDEXES).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crm_records::schema::drop_tables(
            manager,
            &[
                "catalog_settings",
                "exchange_rates",
                "price_lists",
                "products",
            ],
        )
        .await
    }
}
