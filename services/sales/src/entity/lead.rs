//! A lead: someone who may buy, not yet qualified.

use sea_orm::entity::prelude::*;

/// One lead row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "leads")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Tenant; every query filters on it.
    pub tenant_id: String,
    /// Owning user; data scope filters on it.
    pub owner_id: String,
    /// Since when the owner holds it, microseconds.
    pub owner_since: i64,
    /// The person's name.
    pub display_name: String,
    /// Their company.
    pub company_name: String,
    /// Job title.
    pub title: String,
    /// Email, lower case; empty for none.
    pub email: String,
    /// Phone in E.164; empty for none.
    pub phone: String,
    /// `LeadSource` number.
    pub source: i32,
    /// The campaign that brought it; empty for none.
    pub campaign_id: String,
    /// Territory code.
    pub region_code: String,
    /// `LeadStatus` number.
    pub status: i32,
    /// Why it was disqualified.
    pub disqualify_reason: String,
    /// Points from the tenant's rules.
    pub score: i32,
    /// Interactions recorded.
    pub interaction_count: i32,
    /// Description.
    pub description: String,
    /// A contact with the same email or phone the creator saw; empty for none.
    pub matched_contact_id: String,
    /// What the conversion made, a JSON object (see `lead::StoredConversion`); empty before.
    pub conversion: String,
    /// Tags, a JSON array of strings.
    pub tags: String,
    /// Custom values, a JSON object by field name.
    pub custom_fields: String,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Microseconds since the epoch.
    pub create_time: i64,
    /// Microseconds since the epoch.
    pub update_time: i64,
    /// Set while soft-deleted.
    pub delete_time: Option<i64>,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
