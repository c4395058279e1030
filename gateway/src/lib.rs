//! The gateway: the one entry for people, ERP/OA systems and mobile backends. It owns the
//! identity store (tenants, users, teams, roles, API keys), signs people in, authenticates
//! and authorises every RPC, rate-limits, and routes to services in this process or in
//! others, forwarding a signed principal that services verify.

pub mod announcements;
pub mod auth_service;
pub mod authn;
pub mod credentials;
pub mod directory;
pub mod entity;
pub mod grants;
pub mod hand_over;
pub mod identity_service;
pub mod migration;
pub mod permissions;
pub mod rate_limit;
pub mod sign_in;
pub mod teams;
pub mod tenants;
pub mod upstream;

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tonic::service::{Routes, RoutesBuilder};

use crate::authn::{AuthLayer, Gatekeeper};
use crate::directory::PrincipalCache;
use crate::rate_limit::RateLimiter;
use crate::sign_in::{PasswordWorkers, SignInThrottle, TrustedProxies};
use crm_platform::client::{ServiceChannel, ServiceClient};
use crm_platform::config::{ConfigError, Infra};
use crm_platform::error::Error;
use crm_platform::events::Relay;
use crm_platform::paging::PageTokens;
use crm_platform::server::MAX_MESSAGE_BYTES;
use crm_proto::contacts::contacts_service_server::SERVICE_NAME as CONTACTS_SERVICE;
use crm_proto::identity::auth_service_server::AuthServiceServer;
use crm_proto::identity::identity_service_server::IdentityServiceServer;

/// gRPC service names the gateway itself serves, for health checks.
pub const SERVICE_NAMES: &[&str] = &[
    "crm.identity.v1.AuthService",
    "crm.identity.v1.IdentityService",
];

/// Gateway settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Access-token lifetime in seconds.
    pub access_token_ttl_secs: u64,
    /// Sustained calls per second per principal.
    pub rate_per_principal: u64,
    /// Burst per principal.
    pub burst_per_principal: u64,
    /// Sustained calls per second per tenant.
    pub rate_per_tenant: u64,
    /// Sign-in attempts per account per minute.
    pub sign_in_per_minute: u64,
    /// Calls to the public auth RPCs per client address per second.
    pub public_rate_per_address: u64,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
    /// Password hashes computed at once (each holds about 19 MiB).
    pub password_workers: usize,
    /// How long a sign-in's session lasts however often it refreshes, in seconds.
    pub session_max_secs: u64,
    /// The services each deployed service calls as the caller, by name.
    pub peers: std::collections::BTreeMap<&'static str, &'static [&'static str]>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: 900,
            rate_per_principal: 200,
            burst_per_principal: 400,
            rate_per_tenant: 2000,
            sign_in_per_minute: 10,
            public_rate_per_address: 20,
            trusted_proxies: TrustedProxies::default(),
            password_workers: 4,
            session_max_secs: 90 * 86_400,
            peers: std::collections::BTreeMap::new(),
        }
    }
}

/// Builds the front door over the identity store; refuses keys that are not the gateway's.
pub fn gatekeeper(
    db: DatabaseConnection,
    infra: &Infra,
    options: &Options,
) -> Result<Arc<Gatekeeper>, ConfigError> {
    let relay = Relay::new(db.clone(), infra.bus.clone());
    Ok(Arc::new(Gatekeeper {
        db,
        tokens: credentials::AccessTokens::new(
            infra.secrets.jwt_key()?,
            options.access_token_ttl_secs,
        ),
        signer: infra.secrets.principal_signer()?,
        principals: PrincipalCache::default(),
        per_principal: RateLimiter::new(options.rate_per_principal, options.burst_per_principal),
        per_tenant: RateLimiter::new(options.rate_per_tenant, options.rate_per_tenant * 2),
        sign_in: SignInThrottle::new(options.sign_in_per_minute),
        public_per_address: RateLimiter::new(
            options.public_rate_per_address,
            options.public_rate_per_address * 5,
        ),
        proxies: options.trusted_proxies.clone(),
        passwords: PasswordWorkers::new(options.password_workers),
        session_max_secs: options.session_max_secs,
        peers: options.peers.clone(),
        relay,
    }))
}

/// The services the gateway calls itself, beyond forwarding callers' requests to them.
#[derive(Debug, Clone, Default)]
pub struct Peers {
    /// Contacts, when deployed: deactivating a user hands their customers over.
    pub contacts: Option<ServiceClient>,
}

impl Peers {
    /// Peers reached through these channels, with principals signed for each.
    pub fn new(contacts: Option<ServiceChannel>, infra: &Infra) -> Result<Self, ConfigError> {
        let signer = infra.secrets.principal_signer()?;
        Ok(Self {
            contacts: contacts.map(|channel| {
                ServiceClient::new(channel, signer.codec_for(&format!("/{CONTACTS_SERVICE}/")))
            }),
        })
    }
}

/// Adds the identity services to `routes`.
pub fn add_identity(
    routes: &mut RoutesBuilder,
    gatekeeper: &Arc<Gatekeeper>,
    infra: &Infra,
    peers: Peers,
) {
    let auth = AuthServiceServer::new(auth_service::AuthGrpc::new(Arc::clone(gatekeeper)))
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let identity = IdentityServiceServer::new(identity_service::IdentityGrpc::new(
        Arc::clone(gatekeeper),
        PageTokens::new(&infra.secrets.page_key),
        peers,
    ))
    .max_decoding_message_size(MAX_MESSAGE_BYTES);
    routes.add_service(auth).add_service(identity);
}

/// Serves `routes` behind the front door (gRPC and gRPC-Web on one listener) until
/// `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    gatekeeper: Arc<Gatekeeper>,
    routes: Routes,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    crm_platform::server::builder(crm_platform::server::Listener::Public)
        .accept_http1(true)
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(AuthLayer::new(gatekeeper))
        .add_routes(routes)
        .serve_with_incoming_shutdown(crm_platform::idle::incoming(listener), shutdown)
        .await
}

/// The first admin, when the store was empty.
#[derive(Debug, Clone)]
pub struct Bootstrapped {
    /// Sign-in email.
    pub email: String,
    /// The generated password, when none was configured; shown once.
    pub generated_password: Option<String>,
}

/// Creates the first tenant and its admin on an empty store; on a store in use, brings the
/// built-in roles of every tenant up to this release's permissions.
pub async fn bootstrap(
    db: &DatabaseConnection,
    email: &str,
    password: Option<String>,
) -> Result<Option<Bootstrapped>, Error> {
    if !directory::is_empty(db).await? {
        tenants::sync_built_in_roles(db).await?;
        return Ok(None);
    }
    let generated = password.is_none();
    let password = password.unwrap_or_else(|| credentials::random_secret()[..24].to_owned());
    credentials::check_password("CRM_BOOTSTRAP_ADMIN_PASSWORD", &password)?;
    let txn = crm_platform::db::begin_write(db).await?;
    tenants::create(
        &txn,
        tenants::NewTenant {
            display_name: "Default",
            phone_region: crm_platform::normalize::PhoneRegion::CHINA,
            admin_email: email,
            admin_password_hash: credentials::hash_password(&password)?,
            admin_display_name: "Administrator",
            platform_admin: true,
            actor_id: "system",
        },
    )
    .await?;
    txn.commit().await?;
    Ok(Some(Bootstrapped {
        email: email.to_owned(),
        generated_password: generated.then_some(password),
    }))
}
