//! A tenant's last issued number of a kind of document (a service's quotes, orders, tickets).

use sea_orm::entity::prelude::*;

/// One tenant's counter of one kind.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "document_numbers")]
pub struct Model {
    /// Tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The kind ("quote").
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    /// The last number issued.
    pub last: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
