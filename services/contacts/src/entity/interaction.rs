//! An interaction: one contact with a customer, kept as it happened.

use sea_orm::entity::prelude::*;

/// One interaction row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "interactions")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Tenant.
    pub tenant_id: String,
    /// "account" or "contact".
    pub subject_kind: String,
    /// The customer.
    pub subject_id: String,
    /// `InteractionKind` number.
    pub kind: i32,
    /// When it happened, microseconds.
    pub occur_time: i64,
    /// Contact ids, a JSON array.
    pub participant_contact_ids: String,
    /// User ids, a JSON array.
    pub participant_user_ids: String,
    /// What it was about.
    pub summary: String,
    /// What came out of it.
    pub outcome: String,
    /// Who recorded it.
    pub owner_id: String,
    /// The follow-up it scheduled, or empty.
    pub follow_up_id: String,
    /// When it was recorded, microseconds.
    pub create_time: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
