//! A tenant's settings of one kind (a business calendar, a service-level policy).

use sea_orm::entity::prelude::*;

/// One tenant's settings of one kind.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_settings")]
pub struct Model {
    /// Tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The kind ("business_calendar").
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    /// The settings, a JSON object of the kind's stored form.
    pub body: String,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Microseconds since the epoch.
    pub update_time: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
