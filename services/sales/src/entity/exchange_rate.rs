//! A tenant's rate of one currency into its base currency, from a day on.

use sea_orm::entity::prelude::*;

/// One rate row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "exchange_rates")]
pub struct Model {
    /// Tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// ISO 4217 code converted from.
    #[sea_orm(primary_key, auto_increment = false)]
    pub currency_code: String,
    /// First day it applies (`yyyymmdd`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub effective_date: i32,
    /// Units of the base currency per unit, a decimal as text.
    pub rate: String,
    /// Microseconds since the epoch.
    pub update_time: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
