//! The principal: who is calling, for which tenant, with which permissions and data scope.
//!
//! The gateway authenticates the caller and forwards a principal signed with the suite's
//! internal key; services verify it on every call and never trust a bare header. Services
//! enforce permissions and data scope again in their own queries (defense in depth).

use crate::clock;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};

use crate::normalize::PhoneRegion;
use sha2::Sha256;
use tonic::{Request, Status};

use crate::error::Error;

/// Metadata key that carries the signed principal from the gateway to services.
pub const PRINCIPAL_HEADER: &str = "x-crm-principal";

/// The prefix of the metadata keys carrying the caller's principal signed for another
/// service (`x-crm-principal-for-contacts`): the gateway adds one for each service the
/// called service declares it calls as the caller (`ServiceModule::peers`), so that service
/// can act for the caller there and nowhere else.
pub const DELEGATED_PREFIX: &str = "x-crm-principal-for-";

/// The metadata key of the principal delegated for `audience`.
pub fn delegated_header(audience: &str) -> String {
    format!("{DELEGATED_PREFIX}{audience}")
}

/// How long a forwarded principal stays valid; it only has to survive one hop.
const PRINCIPAL_TTL_MICROS: i64 = 60_000_000;

/// Whose records a principal reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataScope {
    /// Only records the principal owns.
    Own,
    /// Records owned by members of the principal's teams and their sub-teams.
    Team,
    /// Every record of the tenant.
    All,
}

impl DataScope {
    fn rank(self) -> u8 {
        match self {
            DataScope::Own => 0,
            DataScope::Team => 1,
            DataScope::All => 2,
        }
    }

    /// Tells whether this scope reaches more records than `other`.
    pub fn is_wider_than(self, other: DataScope) -> bool {
        self.rank() > other.rank()
    }
}

/// An authenticated caller as services see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The caller's tenant; every query is scoped to it.
    pub tenant_id: String,
    /// The caller's user id.
    pub user_id: String,
    /// "user" for interactive sign-in, or "api_key:<id>".
    pub client: String,
    /// Granted permissions, for example `contacts.contacts.read`.
    pub permissions: Vec<String>,
    /// The widest scope among the caller's roles.
    pub scope: DataScope,
    /// Owners whose records the caller reaches under `DataScope::Team` (always includes the
    /// caller); empty for other scopes.
    pub team_member_ids: Vec<String>,
    /// The tenant's region for phone numbers written without their country code (a CLDR
    /// code); empty reads as mainland China.
    #[serde(default)]
    pub phone_region: String,
    /// Expiry of this signed copy, microseconds since the epoch.
    pub expires_at: i64,
    /// The caller's principal signed for other services this one calls as the caller, by
    /// audience (from the [`DELEGATED_PREFIX`] headers; not part of the signed payload).
    #[serde(skip)]
    pub delegations: Vec<(String, String)>,
}

/// Which owners a query may return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerFilter {
    /// No restriction inside the tenant.
    Any,
    /// Only these owners.
    OneOf(Vec<String>),
}

impl Principal {
    /// The caller's principal signed for `audience`, if the gateway delegated one.
    pub fn delegation(&self, audience: &str) -> Option<&str> {
        self.delegations
            .iter()
            .find(|(a, _)| a == audience)
            .map(|(_, token)| token.as_str())
    }

    /// The numbering plan that reads the caller's tenant's numbers.
    pub fn phone_region(&self) -> PhoneRegion {
        PhoneRegion::from_code(&self.phone_region)
    }

    /// Returns `PermissionDenied` unless the principal holds `permission`.
    pub fn require(&self, permission: &str) -> Result<(), Error> {
        if self.has(permission) {
            Ok(())
        } else {
            Err(Error::PermissionDenied {
                permission: permission.to_owned(),
            })
        }
    }

    /// Tells whether the principal holds `permission` (or the `*` wildcard).
    pub fn has(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission || p == "*")
    }

    /// Returns the owners this principal's queries are restricted to.
    pub fn owner_filter(&self) -> OwnerFilter {
        match self.scope {
            DataScope::All => OwnerFilter::Any,
            DataScope::Team => {
                let mut owners = self.team_member_ids.clone();
                if !owners.contains(&self.user_id) {
                    owners.push(self.user_id.clone());
                }
                OwnerFilter::OneOf(owners)
            }
            DataScope::Own => OwnerFilter::OneOf(vec![self.user_id.clone()]),
        }
    }

    /// Tells whether a record owned by `owner_id` is within the principal's scope.
    pub fn reaches(&self, owner_id: &str) -> bool {
        match self.owner_filter() {
            OwnerFilter::Any => true,
            OwnerFilter::OneOf(owners) => owners.iter().any(|o| o == owner_id),
        }
    }
}

/// Signs and verifies principals with the suite's internal key (HMAC-SHA256).
#[derive(Clone)]
pub struct PrincipalCodec {
    key: Vec<u8>,
}

impl std::fmt::Debug for PrincipalCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrincipalCodec(..)")
    }
}

impl PrincipalCodec {
    /// Creates a codec over the shared internal key.
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!())
    }

    /// Encodes `principal` with a fresh expiry as `payload.signature`.
    pub fn sign(&self, principal: &Principal) -> String {
        let mut principal = principal.clone();
        principal.expires_at = clock::now_micros() + PRINCIPAL_TTL_MICROS;
        // A struct of strings and vectors always serialises.
        let payload = serde_json::to_vec(&principal).unwrap_or_default();
        let mut mac = self.mac();
        mac.update(&payload);
        let signature = mac.finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    /// Verifies a token from `sign` and returns the principal it carries.
    pub fn verify(&self, token: &str) -> Result<Principal, Error> {
        const BAD: Error = Error::Unauthenticated("invalid principal");
        let (payload, signature) = token.split_once('.').ok_or(BAD)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| BAD)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| BAD)?;
        let mut mac = self.mac();
        mac.update(&payload);
        mac.verify_slice(&signature).map_err(|_| BAD)?;
        let principal: Principal = serde_json::from_slice(&payload).map_err(|_| BAD)?;
        let now = clock::now_micros();
        if principal.expires_at < now {
            return Err(Error::Unauthenticated("principal expired"));
        }
        // The gateway never signs a longer life (a little slack for clock steps).
        if principal.expires_at > now + 2 * PRINCIPAL_TTL_MICROS {
            return Err(BAD);
        }
        Ok(principal)
    }

    /// Returns a tonic interceptor that verifies the forwarded principal and stores it in the
    /// request's extensions, refusing calls without one.
    pub fn interceptor(
        &self,
    ) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone + use<> {
        let codec = self.clone();
        move |mut request: Request<()>| {
            let token = request
                .metadata()
                .get(PRINCIPAL_HEADER)
                .and_then(|v| v.to_str().ok())
                .ok_or(Error::Unauthenticated("missing principal"))?;
            let mut principal = codec.verify(token)?;
            principal.delegations = request
                .metadata()
                .iter()
                .filter_map(|entry| match entry {
                    tonic::metadata::KeyAndValueRef::Ascii(key, value) => {
                        let audience = key.as_str().strip_prefix(DELEGATED_PREFIX)?;
                        Some((audience.to_owned(), value.to_str().ok()?.to_owned()))
                    }
                    tonic::metadata::KeyAndValueRef::Binary(..) => None,
                })
                .collect();
            request.extensions_mut().insert(principal);
            Ok(request)
        }
    }
}

/// Returns the verified principal of a request that passed the interceptor.
pub fn principal<T>(request: &Request<T>) -> Result<&Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .ok_or_else(|| Error::Unauthenticated("missing principal").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep() -> Principal {
        Principal {
            tenant_id: "t1".into(),
            user_id: "u1".into(),
            client: "user".into(),
            permissions: vec!["contacts.contacts.read".into()],
            scope: DataScope::Own,
            team_member_ids: vec![],
            phone_region: String::new(),
            expires_at: 0,
            delegations: Vec::new(),
        }
    }

    #[test]
    fn the_check_keeps_the_delegations_beside_the_principal() {
        let codec = PrincipalCodec::new(b"k");
        let mut request = Request::new(());
        let token = codec.sign(&rep());
        request
            .metadata_mut()
            .insert(PRINCIPAL_HEADER, token.parse().unwrap());
        request
            .metadata_mut()
            .insert("x-crm-principal-for-contacts", "delegated".parse().unwrap());
        let mut check = codec.interceptor();
        let checked = check(request).unwrap();
        let principal = checked.extensions().get::<Principal>().unwrap();
        assert_eq!(principal.delegation("contacts"), Some("delegated"));
        assert_eq!(principal.delegation("sales"), None);
    }

    #[test]
    fn signed_principal_round_trips() {
        let codec = PrincipalCodec::new(b"k");
        let token = codec.sign(&rep());
        let back = codec.verify(&token).unwrap();
        assert_eq!(back.user_id, "u1");
    }

    #[test]
    fn tampered_or_foreign_signatures_are_refused() {
        let codec = PrincipalCodec::new(b"k");
        let token = codec.sign(&rep());
        let (payload, sig) = token.split_once('.').unwrap();
        let mut forged: Principal =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        forged.scope = DataScope::All;
        let forged = format!(
            "{}.{sig}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap())
        );
        assert!(codec.verify(&forged).is_err());
        assert!(PrincipalCodec::new(b"other").verify(&token).is_err());
    }

    #[test]
    fn scopes_restrict_owners() {
        let mut p = rep();
        assert!(p.reaches("u1"));
        assert!(!p.reaches("u2"));
        p.scope = DataScope::Team;
        p.team_member_ids = vec!["u2".into()];
        assert!(p.reaches("u2"));
        assert!(!p.reaches("u3"));
        p.scope = DataScope::All;
        assert!(p.reaches("u3"));
    }
}
