//! The stored response of a mutation, keyed by who sent which request id to which method.

use sea_orm::entity::prelude::*;

/// One remembered request.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    /// Tenant of the caller.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The caller; another caller's key never replays this response.
    #[sea_orm(primary_key, auto_increment = false)]
    pub principal_id: String,
    /// Full gRPC method name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub method: String,
    /// The client's request id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub request_id: String,
    /// Hash of the request body, to refuse a reused id with another payload.
    pub request_hash: String,
    /// Protobuf-encoded response.
    pub response: Vec<u8>,
    /// When it was first answered, microseconds since the epoch.
    pub create_time: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
