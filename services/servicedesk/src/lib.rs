//! The service desk: tickets filed for customers (checked with contacts), assigned to
//! agents, moved through their statuses with a reopen window, with a thread of replies and
//! internal notes, each change audited and announced. Built on the shared record machinery ([`crm_records`]); this crate holds the
//! service desk's domain only.

pub(crate) mod article;
pub(crate) mod article_link;
pub(crate) mod assignment;
pub(crate) mod business_calendar;
pub(crate) mod consumers;
pub(crate) mod customer_context;
pub(crate) mod entitlement;
pub mod entity;
pub(crate) mod events;
pub(crate) mod grpc;
pub(crate) mod jobs;
pub(crate) mod knowledge;
pub(crate) mod mail_in;
pub mod migration;
pub mod module;
pub(crate) mod presence;
pub(crate) mod quality;
pub(crate) mod queue;
pub(crate) mod satisfaction;
pub(crate) mod sla_clock;
pub(crate) mod sla_policy;
pub(crate) mod ticket;
pub(crate) mod ticket_flow;
pub(crate) mod ticket_message;

use sea_orm::DatabaseConnection;
use tonic::service::{Routes, RoutesBuilder};

use crm_platform::client::ServiceClient;
use crm_platform::config::{ConfigError, Infra};
use crm_platform::events::Relay;
use crm_platform::paging::PageTokens;
use crm_platform::server::MAX_MESSAGE_BYTES;
use crm_proto::servicedesk::servicedesk_service_server::ServicedeskServiceServer;
use crm_records::handlers::Records;

/// The gRPC service name, for health checks.
pub const SERVICE_NAME: &str = "crm.servicedesk.v1.ServicedeskService";

/// The target name principals are addressed to.
pub const AUDIENCE: &str = "servicedesk";

/// Adds the service desk to `routes`, behind principal verification, and returns its
/// handlers (the caller runs their outbox relay) and its in-process routes.
pub fn add_to(
    routes: &mut RoutesBuilder,
    db: DatabaseConnection,
    infra: &Infra,
    contacts: Option<ServiceClient>,
) -> Result<(Records, Routes), ConfigError> {
    let records = Records {
        cache_prefix: "servicedesk:v1",
        relay: Relay::new(db.clone(), infra.bus.clone()),
        db,
        cache: infra.cache.clone(),
        pages: PageTokens::new(&infra.secrets.page_key),
        keys: infra.secrets.data_keys()?,
    };
    let server = ServicedeskServiceServer::new(grpc::ServicedeskGrpc::new(
        records.clone(),
        contacts,
        satisfaction::Surveys::new(&infra.secrets.page_key),
    ))
    .max_decoding_message_size(MAX_MESSAGE_BYTES)
    .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let in_process = crm_platform::service::add_verified(routes, server, infra, AUDIENCE)?;
    Ok((records, in_process))
}
