//! A refresh token; only its hash is stored, and each is used once.

use sea_orm::entity::prelude::*;

/// One row of `refresh_tokens`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    /// SHA-256 of the token, hex.
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    /// Tenant.
    pub tenant_id: String,
    /// User.
    pub user_id: String,
    /// Microseconds since the epoch.
    pub expires_at: i64,
    /// Used or logged out.
    pub revoked: bool,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
