//! A custom field a tenant defines for its accounts or contacts.

use sea_orm::entity::prelude::*;

/// One definition row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "custom_fields")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Tenant.
    pub tenant_id: String,
    /// "account" or "contact".
    pub resource_kind: String,
    /// Key in records and filters; unique per tenant and resource kind.
    pub name: String,
    /// Label shown to people.
    pub display_name: String,
    /// `CustomFieldType` number.
    pub field_type: i32,
    /// Whether writes must give a value.
    pub required: bool,
    /// Choice options, a JSON array of strings.
    pub options: String,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Microseconds since the epoch.
    pub create_time: i64,
    /// Microseconds since the epoch.
    pub update_time: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
