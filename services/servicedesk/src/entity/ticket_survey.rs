//! A ticket's satisfaction survey: sent when it is resolved, answered at most once.

use sea_orm::entity::prelude::*;

/// One survey row per ticket.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ticket_surveys")]
pub struct Model {
    /// Tenant; every query filters on it.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The ticket.
    #[sea_orm(primary_key, auto_increment = false)]
    pub ticket_id: String,
    /// Who resolved it (its owner then).
    pub agent_id: String,
    /// The queue it came through; empty for none.
    pub queue_id: String,
    /// 1 to 5; 0 while unanswered.
    pub score: i32,
    /// The customer's words.
    pub comment: String,
    /// When it was (last) sent, microseconds.
    pub send_time: i64,
    /// When its token expires, microseconds.
    pub expire_time: i64,
    /// When it was answered.
    pub answer_time: Option<i64>,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
