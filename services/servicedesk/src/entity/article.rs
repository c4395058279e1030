//! A knowledge-base article.

use sea_orm::entity::prelude::*;

/// One article row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "articles")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Tenant; every query filters on it.
    pub tenant_id: String,
    /// Its author (articles are the tenant's, not scoped by owner).
    pub owner_id: String,
    /// Since when, microseconds.
    pub owner_since: i64,
    /// The title (the shared machinery's name column).
    pub display_name: String,
    /// The category.
    pub category: String,
    /// `ArticleStatus` number.
    pub status: i32,
    /// `ArticleVisibility` number.
    pub visibility: i32,
    /// The revision of its content, from 1.
    pub revision: i32,
    /// The body.
    pub body: String,
    /// Tags, a JSON array.
    pub tags: String,
    /// Custom values, a JSON object (unused; the shared columns).
    pub custom_fields: String,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Microseconds since the epoch.
    pub create_time: i64,
    /// Microseconds since the epoch.
    pub update_time: i64,
    /// Set while soft-deleted.
    pub delete_time: Option<i64>,
    /// Tickets it solved (see `article_link`).
    pub use_count: i64,
    /// When it was first published.
    pub publish_time: Option<i64>,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
