//! A tenant: one customer organisation.

use sea_orm::entity::prelude::*;

/// One row of `tenants`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Name.
    pub display_name: String,
    /// Microseconds since the epoch.
    pub create_time: i64,
    /// CLDR region code that reads phone numbers written without a country code.
    pub phone_region: String,
    /// Bumped on every change; the etag.
    pub version: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
