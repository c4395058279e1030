//! Engagement: interactions, follow-ups, the shared pool's rules, and when each record's
//! owner took it (the pool's return rule counts from there).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Adds interactions, follow-ups, pool rules and `owner_since`.
pub(super) struct AddEngagement;

impl MigrationName for AddEngagement {
    fn name(&self) -> &str {
        "m20261123_000004_add_engagement"
    }
}

const INDEXES: &[crm_records::schema::IndexSpec] = &[
    (
        "interactions_by_subject",
        "interactions",
        &[
            "tenant_id",
            "subject_kind",
            "subject_id",
            "occur_time",
            "id",
        ],
    ),
    (
        "follow_ups_by_owner",
        "follow_ups",
        &["tenant_id", "owner_id", "state", "due_time", "id"],
    ),
    (
        "follow_ups_by_subject",
        "follow_ups",
        &["tenant_id", "subject_kind", "subject_id", "state"],
    ),
    (
        "follow_ups_due",
        "follow_ups",
        &["state", "due_notified", "due_time"],
    ),
    (
        "accounts_by_owner_since",
        "accounts",
        &["tenant_id", "owner_id", "owner_since"],
    ),
    (
        "contacts_by_owner_since",
        "contacts",
        &["tenant_id", "owner_id", "owner_since"],
    ),
];

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddEngagement {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["accounts", "contacts"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(big_integer("owner_since").default(0))
                        .to_owned(),
                )
                .await?;
            manager
                .get_connection()
                .execute_unprepared(&format!("UPDATE {table} SET owner_since = create_time"))
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("interactions")
                    .if_not_exists()
                    .col(string("id").primary_key())
                    .col(string("tenant_id"))
                    .col(string("subject_kind"))
                    .col(string("subject_id"))
                    .col(integer("kind"))
                    .col(big_integer("occur_time"))
                    .col(text("participant_contact_ids"))
                    .col(text("participant_user_ids"))
                    .col(text("summary"))
                    .col(text("outcome"))
                    .col(string("owner_id"))
                    .col(string("follow_up_id"))
                    .col(big_integer("create_time"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("follow_ups")
                    .if_not_exists()
                    .col(string("id").primary_key())
                    .col(string("tenant_id"))
                    .col(string("subject_kind"))
                    .col(string("subject_id"))
                    .col(string("interaction_id"))
                    .col(string("owner_id"))
                    .col(big_integer("due_time"))
                    .col(text("note"))
                    .col(integer("state"))
                    .col(big_integer_null("close_time"))
                    .col(boolean("due_notified"))
                    .col(big_integer("version"))
                    .col(big_integer("create_time"))
                    .col(big_integer("update_time"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("pool_rules")
                    .if_not_exists()
                    .col(string("tenant_id"))
                    .col(string("resource_kind"))
                    .col(integer("return_after_days"))
                    .col(integer("max_owned_per_rep"))
                    .col(big_integer("update_time"))
                    .primary_key(Index::create().col("tenant_id").col("resource_kind"))
                    .to_owned(),
            )
            .await?;
        crm_records::schema::create_indexes(manager, INDEXES).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crm_records::schema::drop_tables(manager, &["pool_rules", "follow_ups", "interactions"])
            .await
    }
}
