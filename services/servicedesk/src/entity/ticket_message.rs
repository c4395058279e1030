//! A message on a ticket's thread.

use sea_orm::entity::prelude::*;

/// One message row; never updated.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ticket_messages")]
pub struct Model {
    /// UUIDv7, so ids sort by time.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Tenant; every query filters on it.
    pub tenant_id: String,
    /// The ticket.
    pub ticket_id: String,
    /// `TicketMessageKind` number.
    pub kind: i32,
    /// The text.
    pub body: String,
    /// Attachments by reference, a JSON array.
    pub attachments: String,
    /// Who wrote it.
    pub author_id: String,
    /// The Message-ID of the email it came in as; empty otherwise.
    pub mail_message_id: String,
    /// Microseconds since the epoch.
    pub create_time: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
