//! A ticket.

use sea_orm::entity::prelude::*;

/// One ticket row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tickets")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Tenant; every query filters on it.
    pub tenant_id: String,
    /// The agent it is assigned to; data scope filters on it.
    pub owner_id: String,
    /// Since when the agent holds it, microseconds.
    pub owner_since: i64,
    /// The subject line (the shared machinery's name column).
    pub display_name: String,
    /// "T-000042".
    pub number: String,
    /// `TicketType` number.
    pub ticket_type: i32,
    /// The tenant's category.
    pub category: String,
    /// `TicketChannel` number.
    pub channel: i32,
    /// `TicketPriority` number.
    pub priority: i32,
    /// The customer's words.
    pub description: String,
    /// The contact who asked.
    pub contact_id: String,
    /// The customer's account.
    pub account_id: String,
    /// The sales order it is about.
    pub order_id: String,
    /// The product it is about.
    pub product_id: String,
    /// The Message-ID of the email it was filed from; empty otherwise.
    pub mail_message_id: String,
    /// `TicketStatus` number.
    pub status: i32,
    /// How it was resolved.
    pub resolution: String,
    /// The comment of the last status change.
    pub status_comment: String,
    /// Times reopened.
    pub reopen_count: i32,
    /// When it first left NEW, microseconds.
    pub first_response_time: Option<i64>,
    /// When it was last resolved, microseconds.
    pub resolve_time: Option<i64>,
    /// When it was closed, microseconds.
    pub close_time: Option<i64>,
    /// The queue that assigned it; empty if none did.
    pub queue_id: String,
    /// Why it was last reassigned.
    pub assignment_reason: String,
    /// The customer's support level its service levels were taken for.
    pub support_level: String,
    /// When the first response is due, microseconds; `None` without a target.
    pub response_due: Option<i64>,
    /// When the first-response warning goes out.
    pub response_warn_at: Option<i64>,
    /// The first-response warning went out.
    pub response_warned: bool,
    /// The first response came, or had not come, after its due time.
    pub response_breached: bool,
    /// The resolution target in business microseconds; 0 for none.
    pub resolution_target: i64,
    /// Business microseconds counted towards it before the clock last stopped.
    pub resolution_used: i64,
    /// Since when the resolution clock runs; `None` while it is stopped.
    pub resolution_since: Option<i64>,
    /// When the resolution is due (as of the clock's last run).
    pub resolution_due: Option<i64>,
    /// When the resolution warning goes out.
    pub resolution_warn_at: Option<i64>,
    /// The resolution warning went out.
    pub resolution_warned: bool,
    /// The resolution came, or had not come, after its due time.
    pub resolution_breached: bool,
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
    /// The owner of its key account when it was filed; empty for other accounts.
    pub key_account_owner_id: String,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
