//! The sales service: the catalogue (products, price lists with volume breaks, the tenant's
//! exchange rates into its base currency), leads with their scoring and assignment rules,
//! pipelines with their opportunities, targets with the forecast, quotes with their
//! approvals, orders with the ERP's reports, contracts, and receivables (payment plans). Built on the shared record machinery
//! ([`crm_records`]); this crate holds the sales domain only.

pub(crate) mod approval;
pub(crate) mod approval_policy;
pub(crate) mod consumers;
pub(crate) mod contract;
pub(crate) mod contract_flow;
pub(crate) mod custom_fields;
pub(crate) mod customers;
pub mod entity;
pub(crate) mod events;
pub(crate) mod exchange;
pub(crate) mod forecast;
pub(crate) mod grpc;
pub(crate) mod jobs;
pub(crate) mod lead;
pub(crate) mod lead_capture;
pub(crate) mod lead_conversion;
pub(crate) mod lead_rules;
pub mod migration;
pub mod module;
pub(crate) mod opportunity;
pub(crate) mod order;
pub(crate) mod order_flow;
pub(crate) mod pipeline;
pub(crate) mod price_list;
pub(crate) mod priced_lines;
pub(crate) mod pricing;
pub(crate) mod product;
pub(crate) mod quote;
pub(crate) mod quote_flow;
pub(crate) mod receivables;
pub(crate) mod tabular;
pub(crate) mod target;
pub(crate) mod task;

use sea_orm::DatabaseConnection;
use tonic::service::{Routes, RoutesBuilder};

use crm_platform::client::ServiceClient;
use crm_platform::config::{ConfigError, Infra};
use crm_platform::events::Relay;
use crm_platform::paging::PageTokens;
use crm_platform::server::MAX_MESSAGE_BYTES;
use crm_proto::sales::sales_service_server::SalesServiceServer;
use crm_records::handlers::Records;

/// The gRPC service name, for health checks.
pub const SERVICE_NAME: &str = "crm.sales.v1.SalesService";

/// The target name principals are addressed to.
pub const AUDIENCE: &str = "sales";

/// Adds the sales service to `routes`, behind principal verification, and returns its
/// handlers (the caller runs their outbox relay) and its in-process routes. Fails when the
/// target's keys are not the sales service's.
pub fn add_to(
    routes: &mut RoutesBuilder,
    db: DatabaseConnection,
    infra: &Infra,
    contacts: Option<ServiceClient>,
) -> Result<(Records, Routes), ConfigError> {
    let records = Records {
        cache_prefix: "sales:v1",
        relay: Relay::new(db.clone(), infra.bus.clone()),
        db,
        cache: infra.cache.clone(),
        pages: PageTokens::new(&infra.secrets.page_key),
        keys: infra.secrets.data_keys()?,
    };
    let server = SalesServiceServer::new(grpc::SalesGrpc::new(records.clone(), contacts))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let in_process = crm_platform::service::add_verified(routes, server, infra, AUDIENCE)?;
    Ok((records, in_process))
}
