//! The contacts service: accounts (companies) and contacts (people), owner-scoped,
//! soft-deletable, versioned, audited and announced as events.

pub mod account;
pub mod birthdays;
pub use crm_records::bulk;
pub mod contact;
pub mod custom_fields;
pub use crm_records::custom_values;
pub use crm_records::duplicates;
pub mod entity;
pub use crm_records::export;
pub mod fields;
pub mod groups;
pub mod grpc;
pub mod handlers;
pub mod hierarchy;
pub use crm_records::import;
pub use crm_records::index;
pub mod interactions;
pub mod jobs;
pub mod merge;
pub mod migration;
pub mod module;
pub mod pool;
pub mod privacy;
pub mod resource;
pub mod search;
pub use crm_records::store;
pub mod sensitive;
pub mod tabular;

use sea_orm::DatabaseConnection;
use tonic::service::{Routes, RoutesBuilder};

use crm_platform::config::ConfigError;
use crm_platform::config::Infra;
use crm_platform::events::Relay;
use crm_platform::paging::PageTokens;
use crm_platform::server::MAX_MESSAGE_BYTES;
use crm_proto::contacts::contacts_service_server::ContactsServiceServer;

/// The gRPC service name, for health checks.
pub const SERVICE_NAME: &str = "crm.contacts.v1.ContactsService";

/// The target name principals are addressed to.
pub const AUDIENCE: &str = "contacts";

/// Adds the contacts service to `routes`, behind principal verification, and returns its
/// handlers and its in-process routes: the caller runs their outbox relay and
/// [`jobs::run`]. Fails when the target's keys are not the contacts service's.
pub fn add_to(
    routes: &mut RoutesBuilder,
    db: DatabaseConnection,
    infra: &Infra,
) -> Result<(handlers::Handlers, Routes), ConfigError> {
    let relay = Relay::new(db.clone(), infra.bus.clone());
    let handlers = handlers::Handlers(handlers::Records {
        cache_prefix: "contacts:v1",
        db,
        cache: infra.cache.clone(),
        relay: relay.clone(),
        pages: PageTokens::new(&infra.secrets.page_key),
        keys: infra.secrets.data_keys()?,
    });
    let server = ContactsServiceServer::new(grpc::ContactsGrpc::new(handlers.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let in_process = crm_platform::service::add_verified(routes, server, infra, AUDIENCE)?;
    Ok((handlers, in_process))
}
