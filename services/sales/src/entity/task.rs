//! A task with a due time on an opportunity.

use sea_orm::entity::prelude::*;

/// One task row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Tenant; every query filters on it.
    pub tenant_id: String,
    /// Who is to do it; data scope filters on it.
    pub owner_id: String,
    /// Since when the owner holds it, microseconds.
    pub owner_since: i64,
    /// What to do.
    pub display_name: String,
    /// The opportunity.
    pub opportunity_id: String,
    /// When it is due, microseconds.
    pub due_time: i64,
    /// `TaskStatus` number.
    pub status: i32,
    /// When it was done, microseconds.
    pub done_time: Option<i64>,
    /// Notes.
    pub note: String,
    /// The due time last announced, so each is announced once.
    pub reminded: Option<i64>,
    /// Unused labels column the shared machinery reads (tasks have no tags).
    pub tags: String,
    /// Unused custom values column the shared machinery reads.
    pub custom_fields: String,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Microseconds since the epoch.
    pub create_time: i64,
    /// Microseconds since the epoch.
    pub update_time: i64,
    /// Set while soft-deleted.
    pub delete_time: Option<i64>,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
