//! Queues, and the ticket columns assignment fills.

use sea_orm_migration::prelude::*;

use crm_records::schema::record_table;

pub(super) struct CreateQueues;

impl MigrationName for CreateQueues {
    fn name(&self) -> &str {
        "m20261205_000002_create_queues"
    }
}

/// Keyset pages of the tenant's queues, and the open tickets of an agent that LEAST_OPEN
/// counts.
const INDEXES: &[crm_records::schema::IndexSpec] = &[
    (
        "queues_by_tenant_created",
        "queues",
        &["tenant_id", "create_time", "id"],
    ),
    ("queues_by_position", "queues", &["tenant_id", "position"]),
];

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateQueues {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut table = record_table(
            "queues",
            &[],
            &["rule", "position"],
            &[
                "ticket_types",
                "categories",
                "members",
                "tags",
                "custom_fields",
            ],
        );
        table.col(ColumnDef::new("assigned").big_integer().not_null());
        manager.create_table(table).await?;
        crm_records::schema::create_indexes(manager, INDEXES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crm_records::schema::drop_tables(manager, &["queues"]).await
    }
}
