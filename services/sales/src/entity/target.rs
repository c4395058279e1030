//! A rep's or a team's target for a month, quarter or year.

use sea_orm::entity::prelude::*;

/// One target row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "targets")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Tenant; every query filters on it.
    pub tenant_id: String,
    /// The rep; data scope filters on it.
    pub owner_id: String,
    /// Since when the owner holds it, microseconds.
    pub owner_since: i64,
    /// The period's name ("2027-Q1").
    pub display_name: String,
    /// `PeriodKind` number.
    pub period_kind: i32,
    /// The period's first day, `yyyymmdd`.
    pub period_start: i32,
    /// The period's last day, `yyyymmdd`.
    pub period_end: i32,
    /// Currency of the amount (the base currency when set), empty for a count-only target.
    pub amount_currency: String,
    /// The amount in ten-thousandths (`crm_records::resource::AMOUNT_SCALE`).
    pub amount: Option<i64>,
    /// Deals to win.
    pub deal_count: i32,
    /// Unused labels column the shared machinery reads (targets have no tags).
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
    /// The team of a team's target (whose manager is the owner); empty for a rep's.
    pub team_id: String,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
