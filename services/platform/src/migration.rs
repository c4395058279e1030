//! Tables every service database carries: outbox, inbox, idempotency keys and audit log.
//! Each service's migrator starts with [`migrations`].

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// The platform's migrations, in order; every service database applies them first.
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![Box::new(PlatformTables), Box::new(OutboxTraceContext)]
}

/// Creates the platform's tables.
#[derive(Debug)]
pub struct PlatformTables;

impl MigrationName for PlatformTables {
    fn name(&self) -> &str {
        "m20261123_000001_platform_tables"
    }
}

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for PlatformTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("outbox")
                    .if_not_exists()
                    .col(big_pk_auto("seq"))
                    .col(string_uniq("id"))
                    .col(string("tenant_id"))
                    .col(string("stream"))
                    .col(string("aggregate_id"))
                    .col(string("event_type"))
                    .col(blob("payload"))
                    .col(big_integer("create_time"))
                    .col(big_integer_null("publish_time"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("outbox_unpublished")
                    .table("outbox")
                    .col("publish_time")
                    .col("seq")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("inbox")
                    .if_not_exists()
                    .col(string("consumer"))
                    .col(string("event_id"))
                    .col(big_integer("process_time"))
                    .primary_key(Index::create().col("consumer").col("event_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("idempotency_keys")
                    .if_not_exists()
                    .col(string("tenant_id"))
                    .col(string("principal_id"))
                    .col(string("method"))
                    .col(string("request_id"))
                    .col(string("request_hash"))
                    .col(blob("response"))
                    .col(big_integer("create_time"))
                    .primary_key(
                        Index::create()
                            .col("tenant_id")
                            .col("principal_id")
                            .col("method")
                            .col("request_id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("audit_log")
                    .if_not_exists()
                    .col(string("id").primary_key())
                    .col(string("tenant_id"))
                    .col(string("resource_type"))
                    .col(string("resource_id"))
                    .col(string("action"))
                    .col(string("actor_id"))
                    .col(string("client"))
                    .col(text("changes"))
                    .col(big_integer("create_time"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_log_by_resource")
                    .table("audit_log")
                    .col("tenant_id")
                    .col("resource_type")
                    .col("resource_id")
                    .col("id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["audit_log", "idempotency_keys", "inbox", "outbox"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Adds the writer's W3C trace context to outbox rows, so consumers join the trace.
#[derive(Debug)]
pub struct OutboxTraceContext;

impl MigrationName for OutboxTraceContext {
    fn name(&self) -> &str {
        "m20261123_000003_outbox_trace_context"
    }
}

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for OutboxTraceContext {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("outbox")
                    .add_column(string_null("trace_context"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("outbox")
                    .drop_column("trace_context")
                    .to_owned(),
            )
            .await
    }
}
