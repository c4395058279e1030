//! A refresh token; only its hash is stored, and each is used once. The tokens one sign-in
//! leads to form a family: reusing a spent token revokes the whole family, since either the
//! user or a thief holds a copy.

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
    /// The sign-in this token descends from (the hash of its first token).
    pub family_id: String,
    /// When the sign-in's session ends however often it refreshes, microseconds since the
    /// epoch.
    pub session_expires_at: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
