//! Calls from one part of the suite to a service of it, by the same code whether that service
//! runs in this process (`crm up`) or across the network (`crm serve`). Every call acts for a
//! principal, signed for the service it reaches so that the service checks permissions and
//! data scope as for a call through the gateway; it carries the current trace context and a
//! deadline the callee sees as `grpc-timeout`.

use std::task::{Context, Poll};
use std::time::Duration;

use tonic::body::Body;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::service::Routes;
use tonic::transport::Channel;
use tower::util::BoxCloneSyncService;
use tower::{BoxError, Service, ServiceExt};

use crate::auth::{PRINCIPAL_HEADER, Principal, PrincipalCodec};
use crate::error::Error;
use crate::telemetry;

/// The way to a service: a pool of connections, or its routes in this process. Generated
/// tonic clients take it as their transport.
#[derive(Clone)]
pub struct ServiceChannel(BoxCloneSyncService<http::Request<Body>, http::Response<Body>, BoxError>);

impl std::fmt::Debug for ServiceChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceChannel(..)")
    }
}

impl ServiceChannel {
    /// A service across the network.
    pub fn remote(channel: Channel) -> Self {
        Self(BoxCloneSyncService::new(channel.map_err(BoxError::from)))
    }

    /// A service in this process, reached without a socket.
    pub fn in_process(routes: Routes) -> Self {
        let routes = ServiceExt::<http::Request<Body>>::map_err(routes, |never| match never {});
        Self(BoxCloneSyncService::new(routes))
    }
}

impl Service<http::Request<Body>> for ServiceChannel {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future =
        <BoxCloneSyncService<http::Request<Body>, http::Response<Body>, BoxError> as Service<
            http::Request<Body>,
        >>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        self.0.call(request)
    }
}

/// One service as a caller inside the suite reaches it.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    channel: ServiceChannel,
    /// Signs principals for this service's audience.
    codec: PrincipalCodec,
}

impl ServiceClient {
    /// A client of the service behind `channel` whose principals `codec` signs.
    pub fn new(channel: ServiceChannel, codec: PrincipalCodec) -> Self {
        Self { channel, codec }
    }

    /// The transport for a generated client (`ContactsServiceClient::new(client.channel())`).
    pub fn channel(&self) -> ServiceChannel {
        self.channel.clone()
    }

    /// `message` as a request acting for `principal`, to be answered within `deadline`.
    pub fn request<T>(
        &self,
        principal: &Principal,
        message: T,
        deadline: Duration,
    ) -> Result<tonic::Request<T>, Error> {
        let mut headers = http::HeaderMap::new();
        telemetry::inject_current(&mut headers);
        let mut request = tonic::Request::from_parts(
            MetadataMap::from_headers(headers),
            Default::default(),
            message,
        );
        let signed =
            MetadataValue::try_from(self.codec.sign(principal)).map_err(Error::internal)?;
        request.metadata_mut().insert(PRINCIPAL_HEADER, signed);
        request.set_timeout(deadline);
        Ok(request)
    }
}
