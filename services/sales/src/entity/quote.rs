//! A quote: one revision of a priced offer.

use sea_orm::entity::prelude::*;

/// One quote row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "quotes")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Tenant; every query filters on it.
    pub tenant_id: String,
    /// Owning user (the deal's owner); data scope filters on it.
    pub owner_id: String,
    /// Since when the owner holds it, microseconds.
    pub owner_since: i64,
    /// Title.
    pub display_name: String,
    /// The tenant's quote number, shared by its revisions.
    pub number: String,
    /// Revision, from 1.
    pub revision: i32,
    /// The revision this one replaces, empty for the first.
    pub previous_revision_id: String,
    /// The revision that replaced this one, empty while it is the latest.
    pub superseded_by_id: String,
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
    /// Last day the offer holds (`yyyymmdd`).
    pub valid_until: i32,
    /// The priced lines, a JSON array (see `quote::StoredLine`).
    pub lines: String,
    /// Terms printed on the quote.
    pub terms: String,
    /// Internal note.
    pub note: String,
    /// `QuoteStatus` number.
    pub status: i32,
    /// The total in ten-thousandths (`crm_records::resource::AMOUNT_SCALE`), for filters and
    /// sorting; the exact figures are the lines'.
    pub total: i64,
    /// Approval levels needed under the tenant's policy.
    pub approval_level: i32,
    /// Why, a JSON array of strings.
    pub approval_reasons: String,
    /// The approval request of the last submission, empty for none.
    pub approval_request_id: String,
    /// Why the customer rejected it.
    pub rejection_reason: String,
    /// When it was sent, microseconds.
    pub send_time: Option<i64>,
    /// When it was accepted, rejected or expired, microseconds.
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
