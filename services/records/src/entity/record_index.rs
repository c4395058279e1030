//! The lookup index of a record's normalised values: phones, emails and company names for
//! duplicate detection, tags and groups for filters. Rewritten in the transaction of every
//! write from the record itself, so it never disagrees with it.

use sea_orm::entity::prelude::*;

/// One (record, value) pair.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "record_index")]
pub struct Model {
    /// Tenant; every lookup filters on it.
    pub tenant_id: String,
    /// "account" or "contact".
    #[sea_orm(primary_key, auto_increment = false)]
    pub record_kind: String,
    /// The record.
    #[sea_orm(primary_key, auto_increment = false)]
    pub record_id: String,
    /// "phone", "email", "name", "tag" or "group".
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_kind: String,
    /// The normalised value.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_value: String,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
