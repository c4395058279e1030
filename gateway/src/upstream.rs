//! Routing to services in other processes: the gateway forwards the gRPC request as it came
//! (frames are not decoded or re-encoded) over a pool of HTTP/2 connections.

use std::convert::Infallible;
use std::time::Duration;

use tonic::Status;
use tonic::service::Routes;
use tonic::transport::{Channel, Endpoint};
use tower::ServiceExt as _;

use crm_platform::config::ConfigError;

/// Opens a balanced pool of `connections` HTTP/2 connections to `url`. One connection
/// serialises on its own flow control, so several spread the load.
pub fn channel(url: &str, connections: usize) -> Result<Channel, ConfigError> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|e| {
            ConfigError(format!(
                "{url} is not a service URL such as http://contacts:50052: {e}"
            ))
        })?
        .connect_timeout(Duration::from_secs(2))
        // No request timeout here: the gateway's own server bounds each RPC by its method
        // (`crm_platform::server::limit_for`), and an import may rightly run for minutes.
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    Ok(Channel::balance_list(
        (0..connections.max(1)).map(|_| endpoint.clone()),
    ))
}

/// Routes every method of `service` (a full gRPC service name) to `channel`.
pub fn forward(routes: Routes, service: &str, channel: Channel) -> Routes {
    let proxy = tower::service_fn(move |request: http::Request<axum::body::Body>| {
        let channel = channel.clone();
        async move {
            let mut request = request.map(tonic::body::Body::new);
            crm_platform::telemetry::inject_current(request.headers_mut());
            let response = match channel.oneshot(request).await {
                Ok(response) => response.map(axum::body::Body::new),
                Err(error) => {
                    tracing::warn!(error = %error, "upstream call failed");
                    Status::unavailable("service temporarily unavailable").into_http()
                }
            };
            Ok::<_, Infallible>(response)
        }
    });
    let router = routes
        .into_axum_router()
        .route_service(&format!("/{service}/{{*method}}"), proxy);
    Routes::from(router)
}
