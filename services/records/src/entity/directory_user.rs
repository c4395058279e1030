//! A user as the directory's followers keep them (see `crate::directory`).

use sea_orm::entity::prelude::*;

/// One user of a tenant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "directory_users")]
pub struct Model {
    /// The user's id in identity.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    /// Their tenant.
    pub tenant_id: String,
    /// The teams they belong to, a JSON array of ids.
    pub team_ids: String,
    /// Whether they may sign in.
    pub active: bool,
    /// The highest version of theirs applied.
    pub version: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
