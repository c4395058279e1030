//! An account: a company or organisation.

use sea_orm::entity::prelude::*;

/// One account row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Tenant; every query filters on it.
    pub tenant_id: String,
    /// Owning user; data scope filters on it.
    pub owner_id: String,
    /// Company name.
    pub display_name: String,
    /// Industry.
    pub industry: String,
    /// Website URL.
    pub website: String,
    /// Main phone.
    pub phone: String,
    /// Main email.
    pub email: String,
    /// Address: ISO country code.
    pub region_code: String,
    /// Address: province or state.
    pub administrative_area: String,
    /// Address: city.
    pub locality: String,
    /// Address: district.
    pub sublocality: String,
    /// Address: postal code.
    pub postal_code: String,
    /// Address: street lines joined by newlines.
    pub address_lines: String,
    /// `AccountType` number.
    pub account_type: i32,
    /// `AccountSize` number.
    pub size: i32,
    /// `AccountTier` number.
    pub tier: i32,
    /// Where the account came from.
    pub source: String,
    /// Parent account id, empty at the top of a group.
    pub parent_id: String,
    /// Tags, a JSON array of strings.
    pub tags: String,
    /// Group ids, a JSON array of strings.
    pub group_ids: String,
    /// Free notes.
    pub notes: String,
    /// The surviving account after a merge, empty otherwise.
    pub merged_into_id: String,
    /// Since when the current owner holds it (or it is in the pool), microseconds.
    pub owner_since: i64,
    /// Custom values, a JSON object by field name (see `custom_values`).
    pub custom_fields: String,
    /// The id an ERP knows the account by; empty if none. Unique in the tenant.
    pub external_id: String,
    /// Optimistic-concurrency version; the etag is derived from it.
    pub version: i64,
    /// Microseconds since the epoch.
    pub create_time: i64,
    /// Microseconds since the epoch.
    pub update_time: i64,
    /// Set while soft-deleted.
    pub delete_time: Option<i64>,
}

/// No relations are navigated through sea-orm; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
