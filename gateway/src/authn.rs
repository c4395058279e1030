//! The gateway's front door, as one tower layer: authenticate (bearer JWT or API key),
//! authorise the RPC by permission, rate-limit per principal and per tenant, then forward
//! with a signed principal. A principal header sent by a client is always discarded.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::HeaderMap;
use sea_orm::{DatabaseConnection, EntityTrait};
use tonic::Status;
use tonic::transport::server::TcpConnectInfo;
use tower::{Layer, Service};

use crate::credentials::{AccessTokens, same_hash, secret_hash, split_api_key};
use crate::directory::{self, PrincipalCache};
use crate::entity::{api_key, split};
use crate::permissions;
use crate::rate_limit::RateLimiter;
use crate::sign_in::{self, PasswordWorkers, SignInThrottle, TrustedProxies};
use crm_platform::auth::{DELEGATED_PREFIX, PRINCIPAL_HEADER, Principal, delegated_header};
use crm_platform::error::Error;
use crm_platform::events::Relay;
use crm_platform::secrets::PrincipalSigner;
use crm_proto::access::Access;

/// Everything the front door needs.
#[derive(Debug)]
pub struct Gatekeeper {
    /// Identity store.
    pub db: DatabaseConnection,
    /// Access-token codec.
    pub tokens: AccessTokens,
    /// Signs forwarded principals, for the service each call goes to.
    pub signer: PrincipalSigner,
    /// The services each service calls as the caller, by audience: a call to one carries the
    /// caller's principal signed for each of them too.
    pub peers: std::collections::BTreeMap<&'static str, &'static [&'static str]>,
    /// Recently resolved principals.
    pub principals: PrincipalCache,
    /// Per-principal limiter.
    pub per_principal: RateLimiter,
    /// Per-tenant limiter.
    pub per_tenant: RateLimiter,
    /// Sign-in attempts per account and client, checked before the password.
    pub sign_in: SignInThrottle,
    /// Calls to the public auth RPCs per client address.
    pub public_per_address: RateLimiter,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub proxies: TrustedProxies,
    /// Where password hashes are computed.
    pub passwords: PasswordWorkers,
    /// How long a sign-in's session lasts however often it refreshes, in seconds.
    pub session_max_secs: u64,
    /// Publishes identity's events from its outbox (`crate::announcements`).
    pub relay: Relay,
}

/// Drops every delegated principal a client sent: only the gateway adds them.
fn strip_delegations(headers: &mut http::HeaderMap) {
    let forged: Vec<http::HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with(DELEGATED_PREFIX))
        .cloned()
        .collect();
    for key in forged {
        headers.remove(key);
    }
}

impl Gatekeeper {
    /// After a change of users, teams, roles or keys: every caller's next call resolves its
    /// principal anew, and what the change announced leaves at once.
    pub fn directory_changed(&self) {
        self.principals.clear();
        self.relay.wake();
    }

    /// Adds the principal signed for the service behind `path`, and one signed for each
    /// service that service calls as the caller.
    fn sign_into(
        &self,
        path: &str,
        principal: &Principal,
        headers: &mut http::HeaderMap,
    ) -> Result<(), Error> {
        sign_for(&self.signer, &self.peers, (path, principal), headers)
    }
}

/// [`Gatekeeper::sign_into`] with its keys and peers spelled out.
fn sign_for(
    signer: &PrincipalSigner,
    peers: &std::collections::BTreeMap<&'static str, &'static [&'static str]>,
    (path, principal): (&str, &Principal),
    headers: &mut http::HeaderMap,
) -> Result<(), Error> {
    let value = |token: String| http::HeaderValue::from_str(&token).map_err(Error::internal);
    headers.insert(
        PRINCIPAL_HEADER,
        value(signer.codec_for(path).sign(principal))?,
    );
    let audience = PrincipalSigner::audience(path);
    for peer in peers.get(audience).copied().unwrap_or_default() {
        let name = http::HeaderName::from_bytes(delegated_header(peer).as_bytes())
            .map_err(Error::internal)?;
        headers.insert(
            name,
            value(signer.codec_for_audience(peer).sign(principal))?,
        );
    }
    Ok(())
}

/// The client a call came from, as [`sign_in::client_key`] groups addresses; the auth layer
/// attaches it to every public call.
#[derive(Debug, Clone, Default)]
pub struct ClientKey(pub String);

impl Gatekeeper {
    /// Authenticates the caller and checks the RPC's requirement.
    pub async fn admit(&self, path: &str, headers: &HeaderMap) -> Result<Principal, Error> {
        let principal = self.authenticate(headers).await?;
        match permissions::required(path) {
            None | Some(Access::Public) => {
                // Public RPCs never reach this check; anything else unknown is refused.
                return Err(Error::PermissionDenied {
                    permission: format!("unknown rpc {path}"),
                });
            }
            Some(Access::Authenticated) => {}
            Some(Access::Permission(permission)) => principal.require(permission)?,
            Some(Access::AnyOf(permissions)) => {
                if !permissions.iter().any(|p| principal.require(p).is_ok()) {
                    principal.require(permissions[0])?;
                }
            }
        }
        if let Err(retry_after) = self
            .per_principal
            .check(&format!("{}/{}", principal.user_id, principal.client))
            .and_then(|()| self.per_tenant.check(&principal.tenant_id))
        {
            return Err(Error::RateLimited { retry_after });
        }
        Ok(principal)
    }

    async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, Error> {
        if let Some(key) = single(headers, "x-api-key")? {
            return self.authenticate_api_key(key).await;
        }
        let Some(authorization) = single(headers, "authorization")? else {
            return Err(Error::Unauthenticated(
                "missing credentials: send authorization: Bearer <token> or x-api-key",
            ));
        };
        let token = authorization
            .strip_prefix("Bearer ")
            .ok_or(Error::Unauthenticated(
                "authorization must be Bearer <token>",
            ))?;
        let claims = self.tokens.verify(token.trim())?;
        if let Some(principal) = self.principals.get(&claims.sub, "user") {
            return Ok(principal);
        }
        let user = directory::user_in_tenant(&self.db, &claims.tid, &claims.sub)
            .await
            .map_err(|e| match e {
                Error::NotFound { .. } => Error::Unauthenticated("unknown user"),
                other => other,
            })?;
        if user.disabled {
            return Err(Error::Unauthenticated("user is disabled"));
        }
        let principal = directory::resolve(&self.db, &user, "user", None).await?;
        self.principals.put(&principal);
        Ok(principal)
    }

    async fn authenticate_api_key(&self, full: &str) -> Result<Principal, Error> {
        const BAD: Error = Error::Unauthenticated("invalid or revoked api key");
        let (id, _) = split_api_key(full).ok_or(BAD)?;
        let client = format!("api_key:{id}");
        let key = api_key::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or(BAD)?;
        if key.revoked || !same_hash(&key.secret_hash, &secret_hash(full)) {
            return Err(BAD);
        }
        if let Some(principal) = self.principals.get(&key.user_id, &client) {
            return Ok(principal);
        }
        let user = directory::user_in_tenant(&self.db, &key.tenant_id, &key.user_id)
            .await
            .map_err(|_| BAD)?;
        if user.disabled {
            return Err(BAD);
        }
        let principal =
            directory::resolve(&self.db, &user, &client, Some(split(&key.permissions))).await?;
        self.principals.put(&principal);
        Ok(principal)
    }
}

/// Reads a header that must appear at most once (a duplicated credential is refused).
fn single<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, Error> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Error::Unauthenticated(
            "credential header sent more than once",
        ));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| Error::Unauthenticated("credential header is not text"))
}

/// The tower layer that puts a [`Gatekeeper`] in front of every route.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    gatekeeper: Arc<Gatekeeper>,
}

impl AuthLayer {
    /// Creates the layer.
    pub fn new(gatekeeper: Arc<Gatekeeper>) -> Self {
        Self { gatekeeper }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth {
            inner,
            gatekeeper: Arc::clone(&self.gatekeeper),
        }
    }
}

/// The service [`AuthLayer`] produces.
#[derive(Debug, Clone)]
pub struct Auth<S> {
    inner: S,
    gatekeeper: Arc<Gatekeeper>,
}

// === impl Auth ===

impl<S, B, RB> Service<http::Request<B>> for Auth<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    RB: Default + Send + 'static,
{
    type Response = http::Response<RB>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // See: https://docs.rs/tower/latest/tower/trait.Service.html#be-careful-when-cloning-inner-services
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let gatekeeper = Arc::clone(&self.gatekeeper);
        Box::pin(async move {
            request.headers_mut().remove(PRINCIPAL_HEADER);
            strip_delegations(request.headers_mut());
            let path = request.uri().path().to_owned();
            if permissions::is_public(&path) {
                if permissions::is_sign_in(&path) {
                    let peer = request
                        .extensions()
                        .get::<TcpConnectInfo>()
                        .and_then(TcpConnectInfo::remote_addr)
                        .map(|a| a.ip());
                    let address = gatekeeper.proxies.client_address(peer, request.headers());
                    let client = sign_in::client_key(address);
                    if let Err(retry_after) = gatekeeper.public_per_address.check(&client) {
                        tracing::info!(rpc = %path, %client, "sign-in rate limit reached");
                        return Ok(Status::from(Error::RateLimited { retry_after }).into_http());
                    }
                    request.extensions_mut().insert(ClientKey(client));
                }
                return inner.call(request).await;
            }
            match gatekeeper.admit(&path, request.headers()).await {
                Ok(principal) => {
                    if let Err(e) = gatekeeper.sign_into(&path, &principal, request.headers_mut()) {
                        return Ok(Status::from(e).into_http());
                    }
                    request.extensions_mut().insert(principal);
                    inner.call(request).await
                }
                Err(error) => {
                    if matches!(error, Error::Unauthenticated(_)) {
                        tracing::info!(rpc = %path, reason = %error, "request refused: unauthenticated");
                    }
                    Ok(Status::from(error).into_http())
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal() -> Principal {
        Principal {
            tenant_id: "t1".into(),
            user_id: "u1".into(),
            client: "user".into(),
            permissions: vec!["sales.products.read".into()],
            scope: crm_platform::auth::DataScope::Own,
            team_member_ids: vec![],
            phone_region: String::new(),
            expires_at: 0,
            delegations: Vec::new(),
        }
    }

    #[test]
    fn a_call_carries_principals_for_the_callee_and_its_peers_only() {
        let secrets = crm_platform::config::Secrets::derive(b"a master secret of enough length!!");
        let signer = secrets.principal_signer().unwrap();
        let peers = [("sales", &["contacts"][..])].into_iter().collect();
        let mut headers = http::HeaderMap::new();
        let path = "/crm.sales.v1.SalesService/GetProduct";
        sign_for(&signer, &peers, (path, &principal()), &mut headers).unwrap();
        let token = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_owned();
        let sales = secrets.principal_codec("sales").unwrap();
        let contacts = secrets.principal_codec("contacts").unwrap();
        assert_eq!(
            sales.verify(&token(PRINCIPAL_HEADER)).unwrap().user_id,
            "u1"
        );
        let delegated = token(&delegated_header("contacts"));
        assert_eq!(contacts.verify(&delegated).unwrap().user_id, "u1");
        assert!(
            sales.verify(&delegated).is_err(),
            "a delegation is good for its peer only"
        );
        // A service that declares no peers gets no delegation.
        let mut plain = http::HeaderMap::new();
        let contacts_path = "/crm.contacts.v1.ContactsService/GetContact";
        sign_for(&signer, &peers, (contacts_path, &principal()), &mut plain).unwrap();
        assert_eq!(plain.len(), 1);
    }

    #[test]
    fn delegations_a_client_sends_are_dropped() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-crm-principal-for-contacts", "forged".parse().unwrap());
        headers.insert("x-crm-principal-for-sales", "forged".parse().unwrap());
        headers.insert("authorization", "Bearer t".parse().unwrap());
        strip_delegations(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("authorization"));
    }
}
