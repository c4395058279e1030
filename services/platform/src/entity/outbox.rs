//! A domain event waiting to be published (or already published) to the bus.

use sea_orm::entity::prelude::*;

/// One outbox row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    /// Commit order; the relay publishes in this order.
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// Event id; consumers deduplicate on it.
    #[sea_orm(unique)]
    pub id: String,
    /// Tenant of the event's subject.
    pub tenant_id: String,
    /// Stream name, for example `crm.contacts.v1`.
    pub stream: String,
    /// Id of the changed resource; events of one aggregate keep their order.
    pub aggregate_id: String,
    /// Event type name.
    pub event_type: String,
    /// Protobuf-encoded event.
    pub payload: Vec<u8>,
    /// Commit time, microseconds since the epoch.
    pub create_time: i64,
    /// When the relay handed the event to the bus; `None` while pending.
    pub publish_time: Option<i64>,
    /// The writer's W3C `traceparent`, when the write was traced.
    pub trace_context: Option<String>,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
