//! A contract with a customer.

use sea_orm::entity::prelude::*;

/// One contract row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contracts")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Tenant; every query filters on it.
    pub tenant_id: String,
    /// Owning user; data scope filters on it.
    pub owner_id: String,
    /// Since when the owner holds it, microseconds.
    pub owner_since: i64,
    /// Title.
    pub display_name: String,
    /// The tenant's contract number.
    pub number: String,
    /// The opportunity, empty for none.
    pub opportunity_id: String,
    /// The order, empty for none.
    pub order_id: String,
    /// The account in contacts.
    pub account_id: String,
    /// Currency of the amount.
    pub amount_currency: String,
    /// The amount in ten-thousandths (`crm_records::resource::AMOUNT_SCALE`).
    pub amount: i64,
    /// Payment terms as agreed.
    pub payment_terms: String,
    /// First day (`yyyymmdd`).
    pub start_date: i32,
    /// Last day (`yyyymmdd`).
    pub end_date: i32,
    /// Milestones, a JSON array (see `contract::StoredKeyDate`).
    pub milestones: String,
    /// Lead time of the start and end reminders, days.
    pub remind_days_before: i32,
    /// The key dates already reminded, a JSON array of `name@yyyymmdd`.
    pub reminded: String,
    /// The earliest key day whose reminder is still to fire, 0 for none (the sweep's index).
    pub next_reminder: i32,
    /// `ContractStatus` number.
    pub status: i32,
    /// Approval levels it needed on submission.
    pub approval_level: i32,
    /// Why, a JSON array of strings.
    pub approval_reasons: String,
    /// The approval request of its submission, empty for none.
    pub approval_request_id: String,
    /// The contract it renews.
    pub previous_contract_id: String,
    /// Its renewal.
    pub successor_id: String,
    /// Signature day (`yyyymmdd`), 0 before.
    pub sign_date: i32,
    /// Why it was terminated.
    pub termination_reason: String,
    /// Internal note.
    pub note: String,
    /// Unused labels column the shared machinery reads.
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
