//! An event a consumer has already applied; the primary key makes redelivery a no-op.

use sea_orm::entity::prelude::*;

/// One processed event.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inbox")]
pub struct Model {
    /// Consumer name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub consumer: String,
    /// Event id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: String,
    /// When it was applied, microseconds since the epoch.
    pub process_time: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
