//! An API key for a machine client; only a hash of its secret is stored.

use sea_orm::entity::prelude::*;

/// One row of `api_keys`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    /// Key id, the visible part of the key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Tenant.
    pub tenant_id: String,
    /// The user the key acts as.
    pub user_id: String,
    /// Name.
    pub display_name: String,
    /// SHA-256 of the secret, hex.
    pub secret_hash: String,
    /// Comma-separated permissions the key carries.
    pub permissions: String,
    /// Revoked keys authenticate nothing.
    pub revoked: bool,
    /// Microseconds since the epoch.
    pub create_time: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
