//! A domain service as the suite runs it. Each service crate registers one [`ServiceModule`]:
//! its name, its gRPC services, its migrations and how it starts (routes and background
//! tasks). `crm up`, `crm serve --target`, `crm migrate --target`, the gateway's routing
//! (`CRM_<NAME>_URL`) and the test harness all read the same registration, so the embedded
//! and the distributed suite cannot drift apart, and a new service joins all of them at once.

use std::future::Future;
use std::pin::Pin;

use sea_orm::DatabaseConnection;
use tokio::sync::watch;
use tonic::service::{Routes, RoutesBuilder};

use crate::config::{ConfigError, Infra};
use crate::error::Error;

/// A future a registration returns (the trait stays object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A signal every task of a process waits on to stop.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Starts listening for Ctrl-C and SIGTERM.
    pub fn on_signal() -> Self {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            crate::server::shutdown_signal().await;
            let _ = tx.send(true);
        });
        Shutdown(rx)
    }

    /// Resolves once the process is asked to stop.
    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// What a service is given to start.
#[derive(Debug)]
pub struct StartContext<'a> {
    /// Its own database, migrated.
    pub db: DatabaseConnection,
    /// Cache, bus and secrets.
    pub infra: &'a Infra,
    /// Ends its background tasks.
    pub shutdown: Shutdown,
    /// The way to each service it calls as the caller ([`ServiceModule::peers`]) that this
    /// deployment runs, by name.
    pub peers: std::collections::BTreeMap<&'static str, crate::client::ServiceChannel>,
}

/// A started service.
#[derive(Debug)]
pub struct Running {
    /// Its gRPC services without a socket, for other parts of this process that call it
    /// (see [`crate::client::ServiceChannel::in_process`]).
    pub in_process: Routes,
}

/// One domain service of the suite.
pub trait ServiceModule: Send + Sync {
    /// Its name: the `--target`, the embedded database's file name, the `CRM_<NAME>_URL` the
    /// gateway reads, and the audience its principals are signed for.
    fn name(&self) -> &'static str;

    /// The full names of the gRPC services it serves (`crm.contacts.v1.ContactsService`):
    /// what the gateway routes to it and what its health service reports.
    fn grpc_services(&self) -> &'static [&'static str];

    /// Where `crm serve --target <name>` listens unless `CRM_LISTEN_ADDR` says otherwise.
    fn default_listen_addr(&self) -> &'static str;

    /// The services it calls as the caller (sales asks contacts whether an account is one the
    /// caller may see), by name; the gateway signs the caller's principal for each of them
    /// on every call to this one. They start before it under `crm up`.
    fn peers(&self) -> &'static [&'static str] {
        &[]
    }

    /// Brings its database to the release's schema.
    fn migrate<'a>(&'a self, db: &'a DatabaseConnection) -> BoxFuture<'a, Result<(), Error>>;

    /// Adds its gRPC services to `routes` and spawns its background tasks (outbox relay,
    /// jobs, consumers), which stop on the context's shutdown signal.
    fn start(
        &self,
        routes: &mut RoutesBuilder,
        context: StartContext<'_>,
    ) -> Result<Running, ConfigError>;
}

/// `CRM_<NAME>_URL`, where the gateway finds a service run on its own.
pub fn url_variable(module: &dyn ServiceModule) -> String {
    format!("CRM_{}_URL", module.name().to_ascii_uppercase())
}

/// Adds a service's gRPC server to `routes` behind the check of the principals the gateway
/// signs for `audience`, and returns the same server as the service's in-process routes
/// (what other parts of this process call without a socket, through the same check). The
/// RPCs a contract declares public (a customer's survey answer) pass without a principal,
/// and never see one.
pub fn add_verified<S>(
    routes: &mut RoutesBuilder,
    server: S,
    infra: &Infra,
    audience: &str,
) -> Result<Routes, ConfigError>
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let codec = infra.secrets.principal_codec(audience)?;
    let verified = Verified {
        public: server.clone(),
        checked: tonic::service::interceptor::InterceptedService::new(server, codec.interceptor()),
    };
    routes.add_service(verified.clone());
    let mut in_process = RoutesBuilder::default();
    in_process.add_service(verified);
    Ok(in_process.routes())
}

/// A service's server behind the principal check, but for its public RPCs.
#[derive(Clone)]
struct Verified<S, C> {
    public: S,
    checked: C,
}

impl<S: tonic::server::NamedService, C> tonic::server::NamedService for Verified<S, C> {
    const NAME: &'static str = S::NAME;
}

impl<S, C, B> tower::Service<http::Request<tonic::body::Body>> for Verified<S, C>
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    C: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<B>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    C::Future: Send + 'static,
    B: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        // Both are tonic servers, always ready; which one serves is known only per request.
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: http::Request<tonic::body::Body>) -> Self::Future {
        let public =
            crm_proto::access::of(request.uri().path()) == Some(crm_proto::access::Access::Public);
        if public {
            request.headers_mut().remove(crate::auth::PRINCIPAL_HEADER);
            let mut server = self.public.clone();
            Box::pin(async move { server.call(request).await })
        } else {
            let mut server = self.checked.clone();
            Box::pin(async move {
                let response = server.call(request).await?;
                Ok(response.map(tonic::body::Body::new))
            })
        }
    }
}
