//! Contracts and payment plans.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crm_records::schema::record_table;

pub(super) struct CreateContracts;

impl MigrationName for CreateContracts {
    fn name(&self) -> &str {
        "m20261204_000003_create_contracts"
    }
}

/// Keyset pages; a deal's, an order's and a contract's documents; the sweeps' due days.
const INDEXES: &[crm_records::schema::IndexSpec] = &[
    (
        "contracts_by_tenant_created",
        "contracts",
        &["tenant_id", "create_time", "id"],
    ),
    (
        "contracts_by_order",
        "contracts",
        &["tenant_id", "order_id"],
    ),
    ("contracts_by_reminder", "contracts", &["next_reminder"]),
    (
        "payment_plans_by_tenant_created",
        "payment_plans",
        &["tenant_id", "create_time", "id"],
    ),
    ("payment_plans_by_due", "payment_plans", &["next_due"]),
];

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateContracts {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut contracts = record_table(
            "contracts",
            &[
                "number",
                "opportunity_id",
                "order_id",
                "account_id",
                "amount_currency",
                "approval_request_id",
                "previous_contract_id",
                "successor_id",
            ],
            &[
                "start_date",
                "end_date",
                "remind_days_before",
                "next_reminder",
                "status",
                "approval_level",
                "sign_date",
            ],
            &[
                "payment_terms",
                "milestones",
                "reminded",
                "approval_reasons",
                "termination_reason",
                "note",
                "tags",
                "custom_fields",
            ],
        );
        contracts.col(big_integer("amount"));
        manager.create_table(contracts).await?;
        manager
            .create_table(record_table(
                "payment_plans",
                &[
                    "contract_id",
                    "order_id",
                    "account_id",
                    "currency_code",
                    "total",
                ],
                &["next_due"],
                &["instalments", "receipts", "tags", "custom_fields"],
            ))
            .await?;
        crm_records::schema::create_indexes(manager, INDEXES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crm_records::schema::drop_tables(manager, &["payment_plans", "contracts"]).await
    }
}
