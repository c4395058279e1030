//! A product: goods or a service the tenant sells.

use sea_orm::entity::prelude::*;

/// One product row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "products")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Tenant; every query filters on it.
    pub tenant_id: String,
    /// Who created it (products are the tenant's; nobody's scope hangs on it).
    pub owner_id: String,
    /// Since when `owner_id` holds it, microseconds.
    pub owner_since: i64,
    /// Product code (SKU) as written.
    pub code: String,
    /// Name.
    pub display_name: String,
    /// Unit of sale.
    pub unit: String,
    /// Category.
    pub category: String,
    /// Tax rate, a decimal fraction as text ("0.13").
    pub tax_rate: String,
    /// Currency of the cost, empty when no cost is known.
    pub cost_currency: String,
    /// Cost of one unit, a decimal as text.
    pub cost_amount: String,
    /// `ProductStatus` number.
    pub status: i32,
    /// Description.
    pub description: String,
    /// Id in another system, empty for none.
    pub external_id: String,
    /// Tags, a JSON array of strings.
    pub tags: String,
    /// Custom values, a JSON object by field name.
    pub custom_fields: String,
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
