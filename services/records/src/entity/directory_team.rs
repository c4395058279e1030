//! A team as the directory's followers keep it (see `crate::directory`).

use sea_orm::entity::prelude::*;

/// One team of a tenant; a deleted team stays as a tombstone so that a late event of it
/// cannot bring it back.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "directory_teams")]
pub struct Model {
    /// The team's id in identity.
    #[sea_orm(primary_key, auto_increment = false)]
    pub team_id: String,
    /// Its tenant.
    pub tenant_id: String,
    /// Its name.
    pub display_name: String,
    /// Its parent, empty at the top.
    pub parent_team_id: String,
    /// Its manager, empty when it has none.
    pub manager_user_id: String,
    /// Whether it was deleted.
    pub deleted: bool,
    /// The highest version of it applied.
    pub version: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
