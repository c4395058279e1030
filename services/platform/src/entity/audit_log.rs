//! Who changed what, when and from which client.

use sea_orm::entity::prelude::*;

/// One audit entry.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    /// Time-ordered id (UUIDv7), so ordering by id is ordering by time.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Tenant.
    pub tenant_id: String,
    /// Resource type, for example `contact`.
    pub resource_type: String,
    /// Resource id.
    pub resource_id: String,
    /// `create`, `update`, `delete` or `undelete`.
    pub action: String,
    /// The user who acted.
    pub actor_id: String,
    /// `user` or `api_key:<id>`.
    pub client: String,
    /// JSON array of `{field, before, after}`.
    pub changes: String,
    /// Commit time, microseconds since the epoch.
    pub create_time: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
