//! How a contract or an order is to be paid, and what was received.

use sea_orm::entity::prelude::*;

/// One plan row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payment_plans")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Tenant; every query filters on it.
    pub tenant_id: String,
    /// The contract's or order's owner; data scope filters on it.
    pub owner_id: String,
    /// Since when the owner holds it, microseconds.
    pub owner_since: i64,
    /// Name shown to people.
    pub display_name: String,
    /// The contract, empty for an order's plan.
    pub contract_id: String,
    /// The order, empty for a contract's plan.
    pub order_id: String,
    /// The account in contacts.
    pub account_id: String,
    /// ISO 4217 code of every amount.
    pub currency_code: String,
    /// What is to be paid, a decimal as text.
    pub total: String,
    /// The instalments, a JSON array (see `receivables::StoredInstalment`).
    pub instalments: String,
    /// The receipts, a JSON array (see `receivables::StoredReceipt`).
    pub receipts: String,
    /// The earliest due day of an instalment not paid in full and not yet announced overdue,
    /// 0 for none (the sweep's index).
    pub next_due: i32,
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
