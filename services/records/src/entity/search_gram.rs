//! One gram of a record's searchable text (see `search`).

use sea_orm::entity::prelude::*;

/// One (record, gram) posting.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "search_grams")]
pub struct Model {
    /// Tenant; every lookup filters on it first.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The gram.
    #[sea_orm(primary_key, auto_increment = false)]
    pub gram: String,
    /// The record's owner, so a scoped search reads only its owners' postings.
    #[sea_orm(primary_key, auto_increment = false)]
    pub owner_id: String,
    /// "account" or "contact".
    #[sea_orm(primary_key, auto_increment = false)]
    pub record_kind: String,
    /// The record.
    #[sea_orm(primary_key, auto_increment = false)]
    pub record_id: String,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
