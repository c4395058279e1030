//! A pipeline: a tenant's ordered sales stages.

use sea_orm::entity::prelude::*;

/// One pipeline row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pipelines")]
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
    /// The stages in order, a JSON array (see `pipeline::StoredStage`).
    pub stages: String,
    /// Description.
    pub description: String,
    /// Tags, a JSON array (unused by pipelines; kept so the shared columns are whole).
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
