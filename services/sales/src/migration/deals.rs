//! What deals gained after their first table: their people and competitors, when the next
//! step is due, and their tasks.

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

pub(super) struct CreateTasks;

impl MigrationName for CreateTasks {
    fn name(&self) -> &str {
        "m20261202_000008_create_tasks"
    }
}

/// Keyset pages, a deal's tasks by due time, an owner's, and the reminder sweep's.
const TASK_INDEXES: &[crm_records::schema::IndexSpec] = &[
    (
        "tasks_by_tenant_created",
        "tasks",
        &["tenant_id", "create_time", "id"],
    ),
    (
        "tasks_by_opportunity",
        "tasks",
        &["tenant_id", "opportunity_id", "due_time"],
    ),
    (
        "tasks_by_owner_due",
        "tasks",
        &["tenant_id", "owner_id", "due_time"],
    ),
    ("tasks_by_status_due", "tasks", &["status", "due_time"]),
];

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateTasks {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut tasks = crm_records::schema::record_table(
            "tasks",
            &["opportunity_id"],
            &["status"],
            &["note", "tags", "custom_fields"],
        );
        tasks
            .col(ColumnDef::new("due_time").big_integer().not_null())
            .col(ColumnDef::new("done_time").big_integer().null())
            .col(ColumnDef::new("reminded").big_integer().null());
        manager.create_table(tasks).await?;
        crm_records::schema::create_indexes(manager, TASK_INDEXES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crm_records::schema::drop_tables(manager, &["tasks"]).await
    }
}
