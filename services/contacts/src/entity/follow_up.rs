//! A follow-up: a customer to get back to by a time.

use sea_orm::entity::prelude::*;

/// One follow-up row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "follow_ups")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Tenant.
    pub tenant_id: String,
    /// "account" or "contact".
    pub subject_kind: String,
    /// The customer.
    pub subject_id: String,
    /// The interaction that scheduled it, or empty.
    pub interaction_id: String,
    /// Who is to follow up.
    pub owner_id: String,
    /// When it is due, microseconds.
    pub due_time: i64,
    /// What to do.
    pub note: String,
    /// `FollowUpState` number.
    pub state: i32,
    /// When it was done or cancelled.
    pub close_time: Option<i64>,
    /// The due event was sent.
    pub due_notified: bool,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Microseconds.
    pub create_time: i64,
    /// Microseconds.
    pub update_time: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
