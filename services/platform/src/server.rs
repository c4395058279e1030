//! Server bootstrap shared by every target: explicit HTTP/2 and concurrency limits, load
//! shedding, deadlines, per-RPC spans, gRPC health checking, server reflection and graceful
//! shutdown.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::service::RoutesBuilder;
use tonic::transport::Server;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower::layer::util::{Identity, Stack};

use crate::config::ConfigError;

/// Longest an RPC may run on the server side before it answers.
pub const SERVER_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest an RPC that answers only after reading the client's whole stream (an import) may
/// run. Which RPCs do is read from their contracts (client streaming, unary reply).
/// Server-streaming RPCs answer at once and stream after; their streams are not bounded by
/// these limits.
pub const LONG_RPC_TIMEOUT: Duration = Duration::from_secs(3600);
/// HTTP/2 streams one connection may have open (tonic's default is unbounded).
pub const MAX_CONCURRENT_STREAMS: u32 = 1024;
/// Largest request or response message a service accepts (tonic answers `OUT_OF_RANGE` above
/// it). Bulk transfers use streaming RPCs of many smaller messages.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// Largest header block a service accepts on the internal hop. The forwarded principal lists
/// every member a team manager reaches (about 55 bytes each), so hyper's 16 KiB default would
/// refuse managers of more than about 300 people; 1 MiB allows some 19,000.
pub const MAX_HEADER_LIST_BYTES: u32 = 1 << 20;
/// Largest header block the public listener accepts before anyone is authenticated: a client
/// sends a token or key and a few metadata entries, never a principal.
pub const MAX_PUBLIC_HEADER_LIST_BYTES: u32 = 64 << 10;
/// Requests one connection may have in service; beyond it, load shedding answers at once.
pub const CONCURRENCY_PER_CONNECTION: usize = 512;

/// Which side of the suite a listener faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// The gateway's, open to every client.
    Public,
    /// A service's, reached only through the gateway.
    Internal,
}

/// Returns a server builder with the suite's limits. A client's `grpc-timeout` shortens an
/// RPC's limit further (tonic applies it). Serve it on [`crate::idle::incoming`], which
/// closes silent connections.
pub fn builder(listener: Listener) -> Server<Stack<DeadlineLayer, Identity>> {
    let header_limit = match listener {
        Listener::Public => MAX_PUBLIC_HEADER_LIST_BYTES,
        Listener::Internal => MAX_HEADER_LIST_BYTES,
    };
    Server::builder()
        .tcp_nodelay(true)
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .concurrency_limit_per_connection(CONCURRENCY_PER_CONNECTION)
        .load_shed(true)
        .http2_max_header_list_size(header_limit)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .trace_fn(crate::telemetry::rpc_span)
        .layer(DeadlineLayer)
}

/// The time an RPC at `path` may take to answer.
pub fn limit_for(path: &str) -> Duration {
    if crm_proto::access::reads_whole_stream(path) {
        LONG_RPC_TIMEOUT
    } else {
        SERVER_TIMEOUT
    }
}

/// Ends an RPC that has not answered within its limit ([`limit_for`]) with
/// `DEADLINE_EXCEEDED`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeadlineLayer;

impl<S> tower::Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline { inner }
    }
}

/// The service [`DeadlineLayer`] makes.
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
}

impl<S, B, RB> tower::Service<http::Request<B>> for Deadline<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    RB: Default + Send + 'static,
{
    type Response = http::Response<RB>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let limit = limit_for(request.uri().path());
        let answer = self.inner.call(request);
        Box::pin(async move {
            match tokio::time::timeout(limit, answer).await {
                Ok(answered) => answered,
                Err(_) => Ok(tonic::Status::deadline_exceeded(format!(
                    "no answer within {} s",
                    limit.as_secs()
                ))
                .into_http()),
            }
        })
    }
}

/// Binds a listener, turning "address in use" into an actionable message.
pub async fn bind(addr: SocketAddr, setting: &str) -> Result<TcpListener, ConfigError> {
    TcpListener::bind(addr).await.map_err(|e| {
        ConfigError(format!(
            "cannot listen on {addr} ({setting}): {e}; choose another address or stop the process using it"
        ))
    })
}

/// Adds gRPC health checking (reporting `services` as serving) and reflection (v1 and
/// v1alpha) to `routes`.
pub async fn add_health_and_reflection(
    routes: &mut RoutesBuilder,
    services: &[&str],
) -> Result<HealthReporter, ConfigError> {
    let (reporter, health) = tonic_health::server::health_reporter();
    for service in services {
        reporter
            .set_service_status(*service, ServingStatus::Serving)
            .await;
    }
    reporter
        .set_service_status("", ServingStatus::Serving)
        .await;
    let descriptors = crate::reflection::Descriptors::new(&[
        crm_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ])
    .map_err(|e| ConfigError(format!("reflection descriptors are invalid: {e}")))?;
    let descriptors = std::sync::Arc::new(descriptors);
    routes
        .add_service(health)
        .add_service(crate::reflection::v1::server(std::sync::Arc::clone(
            &descriptors,
        )))
        .add_service(crate::reflection::v1alpha::server(descriptors));
    Ok(reporter)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutdown requested; draining");
}

/// Marks every service not serving so load balancers stop sending before the drain.
pub async fn mark_not_serving(reporter: &HealthReporter, services: &[&str]) {
    for service in services.iter().copied().chain([""]) {
        reporter
            .set_service_status(service, ServingStatus::NotServing)
            .await;
    }
}

#[cfg(test)]
mod deadline_tests {
    use super::*;

    #[test]
    fn imports_may_run_longer_than_other_rpcs() {
        assert_eq!(
            limit_for("/crm.contacts.v1.ContactsService/ImportRecords"),
            LONG_RPC_TIMEOUT
        );
        assert_eq!(
            limit_for("/crm.contacts.v1.ContactsService/GetContact"),
            SERVER_TIMEOUT
        );
    }
}
