//! An approval request on a document.

use sea_orm::entity::prelude::*;

/// One approval request row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "approval_requests")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Tenant; every query filters on it.
    pub tenant_id: String,
    /// The document's owner; data scope filters on it, so the owner's managers see it.
    pub owner_id: String,
    /// Since when the owner holds it, microseconds.
    pub owner_since: i64,
    /// The document's name for people.
    pub display_name: String,
    /// `ApprovalSubjectKind` number.
    pub subject_kind: i32,
    /// The document's id.
    pub subject_id: String,
    /// The document's version when it was submitted.
    pub subject_version: i64,
    /// Currency of the amount.
    pub amount_currency: String,
    /// The document's total, a decimal as text.
    pub amount: String,
    /// Why approval is needed, a JSON array of strings.
    pub reasons: String,
    /// The steps, a JSON array (see `approval::StoredStep`).
    pub steps: String,
    /// Who decides now, empty once decided.
    pub approver_id: String,
    /// `ApprovalStatus` number.
    pub status: i32,
    /// Unused labels column the shared machinery reads.
    pub tags: String,
    /// Unused custom values column the shared machinery reads.
    pub custom_fields: String,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Microseconds since the epoch.
    pub create_time: i64,
    /// Microseconds since the epoch.
    pub update_time: i64,
    /// Never set: requests are not deleted.
    pub delete_time: Option<i64>,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
