//! A price list: a currency's prices for a customer tier and a period.

use sea_orm::entity::prelude::*;

/// One price list row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "price_lists")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Tenant; every query filters on it.
    pub tenant_id: String,
    /// Who created it.
    pub owner_id: String,
    /// Since when `owner_id` holds it, microseconds.
    pub owner_since: i64,
    /// Name.
    pub display_name: String,
    /// ISO 4217 code of every price in it.
    pub currency_code: String,
    /// `AccountTier` number; 0 for every tier.
    pub account_tier: i32,
    /// First day it applies (`yyyymmdd`), 0 for always.
    pub valid_from: i32,
    /// Last day it applies (`yyyymmdd`), 0 for no end.
    pub valid_until: i32,
    /// The prices, a JSON array (see `price_list::StoredEntry`).
    pub entries: String,
    /// Id in another system, empty for none.
    pub external_id: String,
    /// Description.
    pub description: String,
    /// Tags, a JSON array of strings.
    pub tags: String,
    /// Custom values, a JSON object by field name.
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
