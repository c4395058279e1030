//! A queue of agents.

use sea_orm::entity::prelude::*;

/// One queue row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "queues")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Tenant; every query filters on it.
    pub tenant_id: String,
    /// Who created it (queues are the tenant's, not scoped by owner).
    pub owner_id: String,
    /// Since when, microseconds.
    pub owner_since: i64,
    /// The queue's name.
    pub display_name: String,
    /// `TicketType` numbers it takes, a JSON array; empty for any.
    pub ticket_types: String,
    /// Categories it takes, lower case, a JSON array; empty for any.
    pub categories: String,
    /// `AssignmentRule` number.
    pub rule: i32,
    /// Its agents and their skills, a JSON array (see `queue::StoredMember`).
    pub members: String,
    /// Lower first.
    pub position: i32,
    /// Tickets assigned so far: round robin takes the next agent from it, and bumping it
    /// first locks the row, which serialises concurrent assignments of the queue.
    pub assigned: i64,
    /// Tags, a JSON array (the shared columns).
    pub tags: String,
    /// Custom values, a JSON object (the shared columns).
    pub custom_fields: String,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Microseconds since the epoch.
    pub create_time: i64,
    /// Microseconds since the epoch.
    pub update_time: i64,
    /// Set while soft-deleted.
    pub delete_time: Option<i64>,
    /// Whether a key account's ticket goes to the account's owner first.
    pub key_account_owner_first: bool,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
