//! An opportunity: a deal with an account, in a stage of a pipeline.

use sea_orm::entity::prelude::*;

/// One opportunity row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "opportunities")]
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
    /// Name.
    pub display_name: String,
    /// The account in the contacts service.
    pub account_id: String,
    /// The pipeline.
    pub pipeline_id: String,
    /// The stage, one of the pipeline's.
    pub stage_id: String,
    /// `OpportunityStatus` number, from the stage's kind.
    pub status: i32,
    /// Currency of the amount, empty while unknown.
    pub amount_currency: String,
    /// The amount in ten-thousandths (`crm_records::resource::AMOUNT_SCALE`), `None` while
    /// unknown: filters compare it exactly, and an unknown amount meets none.
    pub amount: Option<i64>,
    /// Expected close day (`yyyymmdd`), 0 for none.
    pub expected_close_date: i32,
    /// Win probability in percent.
    pub probability: i32,
    /// Description.
    pub description: String,
    /// Next step.
    pub next_step: String,
    /// When the next step is due, microseconds.
    pub next_step_due_time: Option<i64>,
    /// The due time last announced, so each is announced once.
    pub next_step_reminded: Option<i64>,
    /// Why it was won or lost.
    pub close_reason: String,
    /// When it was won or lost, microseconds.
    pub close_time: Option<i64>,
    /// The stages it has been in, a JSON array (see `opportunity::Visit`).
    pub stage_history: String,
    /// The people of the deal, a JSON array (see `opportunity::StoredContact`).
    pub contacts: String,
    /// Competitors, a JSON array (see `opportunity::StoredCompetitor`).
    pub competitors: String,
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
