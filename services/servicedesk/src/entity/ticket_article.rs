//! An article linked to the ticket it solved; never updated.

use sea_orm::entity::prelude::*;

/// One link row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ticket_articles")]
pub struct Model {
    /// Tenant; every query filters on it.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The ticket.
    #[sea_orm(primary_key, auto_increment = false)]
    pub ticket_id: String,
    /// The article.
    #[sea_orm(primary_key, auto_increment = false)]
    pub article_id: String,
    /// Who linked it.
    pub linked_by: String,
    /// Microseconds since the epoch.
    pub create_time: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
