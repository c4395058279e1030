//! A tenant's shared-pool rules for one resource type.

use sea_orm::entity::prelude::*;

/// One rules row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pool_rules")]
pub struct Model {
    /// Tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// "account" or "contact".
    #[sea_orm(primary_key, auto_increment = false)]
    pub resource_kind: String,
    /// Days without an interaction before a customer returns to the pool; 0 = never.
    pub return_after_days: i32,
    /// Most customers one rep may own; 0 = no limit.
    pub max_owned_per_rep: i32,
    /// Whether a duplicate outside the caller's reach names its owner.
    pub disclose_duplicate_owner: bool,
    /// Microseconds.
    pub update_time: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
