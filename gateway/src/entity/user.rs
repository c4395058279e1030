//! A user who signs in.

use sea_orm::entity::prelude::*;

/// One row of `users`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Tenant.
    pub tenant_id: String,
    /// Sign-in email, lowercased, unique across tenants.
    pub email: String,
    /// Name.
    pub display_name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Comma-separated role ids.
    pub role_ids: String,
    /// Comma-separated team ids.
    pub team_ids: String,
    /// Disabled users cannot sign in and their tokens stop working.
    pub disabled: bool,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Microseconds since the epoch.
    pub create_time: i64,
    /// Microseconds since the epoch.
    pub update_time: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
