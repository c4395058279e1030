//! One revision of an article's content; never updated.

use sea_orm::entity::prelude::*;

/// One revision row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "article_revisions")]
pub struct Model {
    /// Tenant; every query filters on it.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The article.
    #[sea_orm(primary_key, auto_increment = false)]
    pub article_id: String,
    /// From 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub revision: i32,
    /// The title then.
    pub title: String,
    /// The body then.
    pub body: String,
    /// The category then.
    pub category: String,
    /// Who wrote it.
    pub editor_id: String,
    /// Microseconds since the epoch.
    pub create_time: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
