//! Satisfaction surveys.

use sea_orm_migration::prelude::*;

pub(super) struct CreateSurveys;

impl MigrationName for CreateSurveys {
    fn name(&self) -> &str {
        "m20261206_000002_create_surveys"
    }
}

/// The surveys sent in a period, for the CSAT figures.
const INDEXES: &[crm_records::schema::IndexSpec] = &[(
    "ticket_surveys_by_sent",
    "ticket_surveys",
    &["tenant_id", "send_time"],
)];

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateSurveys {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let table = Table::create()
            .table("ticket_surveys")
            .if_not_exists()
            .col(ColumnDef::new("tenant_id").string().not_null())
            .col(ColumnDef::new("ticket_id").string().not_null())
            .col(ColumnDef::new("agent_id").string().not_null())
            .col(ColumnDef::new("queue_id").string().not_null())
            .col(ColumnDef::new("score").integer().not_null())
            .col(ColumnDef::new("comment").text().not_null())
            .col(ColumnDef::new("send_time").big_integer().not_null())
            .col(ColumnDef::new("expire_time").big_integer().not_null())
            .col(ColumnDef::new("answer_time").big_integer().null())
            .primary_key(Index::create().col("tenant_id").col("ticket_id"))
            .to_owned();
        manager.create_table(table).await?;
        crm_records::schema::create_indexes(manager, INDEXES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crm_records::schema::drop_tables(manager, &["ticket_surveys"]).await
    }
}
