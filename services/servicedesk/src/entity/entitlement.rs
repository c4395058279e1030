//! An entitlement: an account's support level over a period.

use sea_orm::entity::prelude::*;

/// One entitlement row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "entitlements")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Tenant; every query filters on it.
    pub tenant_id: String,
    /// Who created it (entitlements are the tenant's, not scoped by owner).
    pub owner_id: String,
    /// Since when, microseconds.
    pub owner_since: i64,
    /// The support level (the shared machinery's name column).
    pub display_name: String,
    /// The account.
    pub account_id: String,
    /// The sales contract it comes with.
    pub contract_id: String,
    /// First day in force, `yyyymmdd`.
    pub start_day: i32,
    /// Last day in force, `yyyymmdd`; 0 for open-ended.
    pub end_day: i32,
    /// Tags, a JSON array (unused; the shared columns).
    pub tags: String,
    /// Custom values, a JSON object (unused; the shared columns).
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
