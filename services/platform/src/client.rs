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

/// How a client's requests carry their principal.
#[derive(Debug, Clone)]
enum Signing {
    /// Signed here, for the callee's audience (the gateway holds the keys).
    Codec(PrincipalCodec),
    /// The one the gateway delegated for the callee with the caller's request (a service
    /// calling another as its caller, holding no key of the callee).
    Delegated(&'static str),
}

/// One service as a caller inside the suite reaches it.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    channel: ServiceChannel,
    signing: Signing,
}

impl ServiceClient {
    /// A client of the service behind `channel` whose principals `codec` signs.
    pub fn new(channel: ServiceChannel, codec: PrincipalCodec) -> Self {
        Self {
            channel,
            signing: Signing::Codec(codec),
        }
    }

    /// A client of the service `audience` behind `channel` that acts as the caller of the
    /// request being served, with the principal the gateway delegated for `audience`.
    pub fn delegated(channel: ServiceChannel, audience: &'static str) -> Self {
        Self {
            channel,
            signing: Signing::Delegated(audience),
        }
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
        let token = match &self.signing {
            Signing::Codec(codec) => codec.sign(principal),
            Signing::Delegated(audience) => principal
                .delegation(audience)
                .ok_or_else(|| {
                    Error::internal(format!("no principal was delegated for {audience}"))
                })?
                .to_owned(),
        };
        let signed = MetadataValue::try_from(token).map_err(Error::internal)?;
        request.metadata_mut().insert(PRINCIPAL_HEADER, signed);
        request.set_timeout(deadline);
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::DataScope;

    fn caller(delegations: Vec<(String, String)>) -> Principal {
        Principal {
            tenant_id: "t1".into(),
            user_id: "u1".into(),
            client: "user".into(),
            permissions: vec![],
            scope: DataScope::Own,
            team_member_ids: vec![],
            phone_region: String::new(),
            expires_at: 0,
            delegations,
        }
    }

    #[test]
    fn a_delegated_client_forwards_the_principal_signed_for_its_callee() {
        let channel = ServiceChannel::in_process(tonic::service::RoutesBuilder::default().routes());
        let client = ServiceClient::delegated(channel, "contacts");
        let deadline = Duration::from_secs(1);
        let delegated = caller(vec![
            ("sales".into(), "for-sales".into()),
            ("contacts".into(), "for-contacts".into()),
        ]);
        let request = client.request(&delegated, (), deadline).unwrap();
        assert_eq!(
            request.metadata().get(PRINCIPAL_HEADER).unwrap(),
            "for-contacts"
        );
        assert!(
            client.request(&caller(vec![]), (), deadline).is_err(),
            "without a delegation the call is not made as anyone"
        );
    }
}
