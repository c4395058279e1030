//! A tenant's lead scoring and assignment rules; a tenant without a row has none.

use sea_orm::entity::prelude::*;

/// One tenant's rules.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lead_rules")]
pub struct Model {
    /// Tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The rules, a JSON object (see `lead_rules::StoredRules`).
    pub rules: String,
    /// Captures assigned so far: round robin takes the next user from it, and bumping it
    /// first locks the row, which serialises concurrent captures of the tenant.
    pub assigned: i64,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Microseconds since the epoch.
    pub update_time: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
