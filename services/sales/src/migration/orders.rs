//! Orders.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crm_records::schema::record_table;

pub(super) struct CreateOrders;

impl MigrationName for CreateOrders {
    fn name(&self) -> &str {
        "m20261204_000002_create_orders"
    }
}

/// Keyset pages; a deal's and a quote's orders; the ERP's number.
const INDEXES: &[crm_records::schema::IndexSpec] = &[
    (
        "orders_by_tenant_created",
        "orders",
        &["tenant_id", "create_time", "id"],
    ),
    ("orders_by_quote", "orders", &["tenant_id", "quote_id"]),
    (
        "orders_by_opportunity",
        "orders",
        &["tenant_id", "opportunity_id"],
    ),
    (
        "orders_by_external_id",
        "orders",
        &["tenant_id", "external_id"],
    ),
];

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateOrders {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut orders = record_table(
            "orders",
            &[
                "number",
                "quote_id",
                "opportunity_id",
                "account_id",
                "contact_id",
                "currency_code",
                "price_list_id",
                "external_id",
                "approval_request_id",
            ],
            &["status", "approval_level"],
            &[
                "lines",
                "shipping_address",
                "billing_address",
                "approval_reasons",
                "shipments",
                "invoices",
                "payments",
                "note",
                "cancel_reason",
                "tags",
                "custom_fields",
            ],
        );
        orders
            .col(big_integer("total"))
            .col(big_integer_null("confirm_time"))
            .col(big_integer_null("close_time"));
        manager.create_table(orders).await?;
        crm_records::schema::create_indexes(manager, INDEXES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crm_records::schema::drop_tables(manager, &["orders"]).await
    }
}
