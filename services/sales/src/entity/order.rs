//! A customer's order.

use sea_orm::entity::prelude::*;

/// One order row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
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
    /// The tenant's order number.
    pub number: String,
    /// The accepted quote it was made from, empty for a direct order.
    pub quote_id: String,
    /// The opportunity, empty for none.
    pub opportunity_id: String,
    /// The account in contacts.
    pub account_id: String,
    /// The contact in contacts, empty for none.
    pub contact_id: String,
    /// ISO 4217 code of every amount.
    pub currency_code: String,
    /// The price list asked for, empty for the applicable one.
    pub price_list_id: String,
    /// The priced lines with their shipped quantities, a JSON array (see `order::OrderLine`).
    pub lines: String,
    /// Shipping address, a JSON object (see `order::StoredAddress`).
    pub shipping_address: String,
    /// Billing address, a JSON object.
    pub billing_address: String,
    /// The ERP's order number, empty until it has one.
    pub external_id: String,
    /// `OrderStatus` number.
    pub status: i32,
    /// The total in ten-thousandths, for filters and sorting.
    pub total: i64,
    /// Approval levels a direct order needed on confirmation.
    pub approval_level: i32,
    /// Why, a JSON array of strings.
    pub approval_reasons: String,
    /// The approval request of its confirmation, empty for none.
    pub approval_request_id: String,
    /// Shipments the ERP reported, a JSON array (see `order::StoredShipment`).
    pub shipments: String,
    /// Invoices the ERP reported, a JSON array (see `order::StoredInvoice`).
    pub invoices: String,
    /// Payments received, a JSON array (see `order::StoredPayment`).
    pub payments: String,
    /// Internal note.
    pub note: String,
    /// Why it was cancelled.
    pub cancel_reason: String,
    /// When it was confirmed, microseconds.
    pub confirm_time: Option<i64>,
    /// When it was completed or cancelled, microseconds.
    pub close_time: Option<i64>,
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
