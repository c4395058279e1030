//! The keys a target holds, each for one purpose, derived from the suite's one secret.
//!
//! A target may hold the master secret (`CRM_SECRET`, as `crm up` and a simple deployment
//! do), or only the keys its role needs (`CRM_TARGET_KEYS`, printed by `crm keys --target`):
//! the gateway's signing keys for access tokens and principals, or a service's key for
//! principals addressed to it, its page-token key and its data keys. A service pod that holds
//! only its own keys cannot mint access tokens, nor principals another service would accept.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha2::Sha256;

use crate::auth::PrincipalCodec;
use crate::config::{ConfigError, env, required};
use crate::sealing::DataKeys;

/// Shortest accepted `CRM_SECRET`.
const MIN_SECRET_LEN: usize = 32;
/// Version tag of the `CRM_TARGET_KEYS` format.
const TARGET_KEYS_VERSION: &str = "crm1";
/// The target name of the gateway, whose keys differ from the services'.
const GATEWAY: &str = "gateway";

fn hmac(key: &[u8], label: &str) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The key that signs principals for one audience (a service), from the master principal key.
fn audience_key(principal_master: &[u8], audience: &str) -> Vec<u8> {
    hmac(
        principal_master,
        &format!("crm principal audience v1/{audience}"),
    )
}

/// Which principals a target can sign or verify.
#[derive(Clone)]
enum PrincipalKey {
    /// The master key: any audience (the gateway, and `crm up`).
    Master(Vec<u8>),
    /// One audience's key: verifies principals addressed to that service only.
    Audience { audience: String, key: Vec<u8> },
}

/// The keys one target holds.
#[derive(Clone)]
pub struct Secrets {
    master: Option<Vec<u8>>,
    principal: PrincipalKey,
    jwt_key: Option<Vec<u8>>,
    /// MACs page tokens.
    pub page_key: Vec<u8>,
    /// The raw data key and lookup key, from which [`DataKeys`] are built.
    data: Option<(Vec<u8>, Vec<u8>)>,
    configured_data_keys: Option<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(..)")
    }
}

fn missing(what: &str) -> ConfigError {
    ConfigError(format!(
        "this target's keys do not include the {what}: give it CRM_SECRET, or the output of \
         `crm keys --target <this target>` as CRM_TARGET_KEYS"
    ))
}

impl Secrets {
    /// Derives every purpose key from a master secret.
    pub fn derive(master: &[u8]) -> Self {
        Self {
            master: Some(master.to_vec()),
            principal: PrincipalKey::Master(hmac(master, "crm principal v1")),
            jwt_key: Some(hmac(master, "crm jwt v1")),
            page_key: hmac(master, "crm page token v1"),
            data: Some((
                hmac(master, "crm data key v1"),
                hmac(master, "crm lookup hash v1"),
            )),
            configured_data_keys: None,
        }
    }

    /// Signs access tokens (JWT, HS256): the gateway's alone.
    pub fn jwt_key(&self) -> Result<&[u8], ConfigError> {
        self.jwt_key
            .as_deref()
            .ok_or_else(|| missing("access-token key"))
    }

    /// Signs principals for every audience: the gateway's.
    pub fn principal_signer(&self) -> Result<PrincipalSigner, ConfigError> {
        match &self.principal {
            PrincipalKey::Master(key) => Ok(PrincipalSigner {
                master: key.clone(),
            }),
            PrincipalKey::Audience { .. } => Err(missing("principal signing key")),
        }
    }

    /// Verifies principals addressed to `audience` (a service's target name).
    pub fn principal_codec(&self, audience: &str) -> Result<PrincipalCodec, ConfigError> {
        match &self.principal {
            PrincipalKey::Master(key) => Ok(PrincipalCodec::new(&audience_key(key, audience))),
            PrincipalKey::Audience { audience: own, key } if own == audience => {
                Ok(PrincipalCodec::new(key))
            }
            PrincipalKey::Audience { .. } => Err(missing(&format!("{audience} principal key"))),
        }
    }

    /// Checks at start that these keys serve `target`, before anything is connected.
    pub fn check_target(&self, target: &str) -> Result<(), ConfigError> {
        if target == GATEWAY {
            self.jwt_key()?;
            self.principal_signer().map(|_| ())
        } else {
            self.principal_codec(target)?;
            self.data_keys().map(|_| ())
        }
    }

    /// Encrypts sensitive fields and hashes them for lookups (`CRM_DATA_KEYS` applied).
    pub fn data_keys(&self) -> Result<DataKeys, ConfigError> {
        let (data_key, lookup_key) = self.data.clone().ok_or_else(|| missing("data keys"))?;
        let keys = DataKeys::derived(&data_key, lookup_key);
        match &self.configured_data_keys {
            Some(list) => keys.with_configured(list),
            None => Ok(keys),
        }
    }

    /// The `CRM_TARGET_KEYS` value for `target`: only the keys it needs. Needs the master.
    pub fn for_target(&self, target: &str) -> Result<String, ConfigError> {
        let master = self
            .master
            .as_deref()
            .ok_or_else(|| missing("master secret (CRM_SECRET)"))?;
        let all = Self::derive(master);
        let PrincipalKey::Master(principal_master) = &all.principal else {
            unreachable!("a derived secret holds the master principal key")
        };
        let parts: Vec<Vec<u8>> = if target == GATEWAY {
            vec![
                all.jwt_key.clone().unwrap_or_default(),
                principal_master.clone(),
                all.page_key.clone(),
            ]
        } else {
            let (data_key, lookup_key) = all.data.clone().unwrap_or_default();
            vec![
                audience_key(principal_master, target),
                all.page_key.clone(),
                data_key,
                lookup_key,
            ]
        };
        let encoded: Vec<String> = parts.iter().map(|p| URL_SAFE_NO_PAD.encode(p)).collect();
        Ok(format!(
            "{TARGET_KEYS_VERSION}:{target}:{}",
            encoded.join(":")
        ))
    }

    /// Reads a target's keys from `CRM_TARGET_KEYS`.
    fn from_target_keys(text: &str) -> Result<Self, ConfigError> {
        let bad = |why: &str| {
            ConfigError(format!(
                "CRM_TARGET_KEYS {why}; print it anew with `crm keys --target <target>`"
            ))
        };
        let mut fields = text.trim().split(':');
        if fields.next() != Some(TARGET_KEYS_VERSION) {
            return Err(bad("is not in a known format"));
        }
        let target = fields
            .next()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| bad("names no target"))?;
        let keys = fields
            .map(|f| URL_SAFE_NO_PAD.decode(f).ok().filter(|k| k.len() == 32))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("holds a damaged key"))?;
        let secrets = match (target, keys.as_slice()) {
            (GATEWAY, [jwt, principal, page]) => Self {
                master: None,
                principal: PrincipalKey::Master(principal.clone()),
                jwt_key: Some(jwt.clone()),
                page_key: page.clone(),
                data: None,
                configured_data_keys: None,
            },
            (GATEWAY, _) => return Err(bad("for the gateway needs three keys")),
            (service, [principal, page, data, lookup]) => Self {
                master: None,
                principal: PrincipalKey::Audience {
                    audience: service.to_owned(),
                    key: principal.clone(),
                },
                jwt_key: None,
                page_key: page.clone(),
                data: Some((data.clone(), lookup.clone())),
                configured_data_keys: None,
            },
            _ => return Err(bad("for a service needs four keys")),
        };
        Ok(secrets)
    }

    /// Applies `CRM_DATA_KEYS` (rotated data-encryption keys) when it is set, checking it now.
    fn with_configured_data_keys(mut self) -> Result<Self, ConfigError> {
        self.configured_data_keys = env("CRM_DATA_KEYS");
        if self.data.is_some() {
            self.data_keys()?;
        }
        Ok(self)
    }

    /// Production: `CRM_SECRET` (at least 32 characters), or a target's own `CRM_TARGET_KEYS`.
    pub fn from_env() -> Result<Self, ConfigError> {
        if env("CRM_SECRET").is_none()
            && let Some(keys) = env("CRM_TARGET_KEYS")
        {
            return Self::from_target_keys(&keys)?.with_configured_data_keys();
        }
        let secret = required(
            "CRM_SECRET",
            "set it to the same random string (32+ characters) for every target, or give each \
             target its CRM_TARGET_KEYS",
        )?;
        if secret.len() < MIN_SECRET_LEN {
            return Err(ConfigError(format!(
                "CRM_SECRET is too short: use at least {MIN_SECRET_LEN} random characters"
            )));
        }
        Self::derive(secret.as_bytes()).with_configured_data_keys()
    }

    /// Embedded mode: `CRM_SECRET` if set, else a secret kept in the data directory (created
    /// on first start, readable by this user only, so tokens survive a restart).
    pub fn load_or_create(data_dir: &Path) -> Result<Self, ConfigError> {
        if env("CRM_SECRET").is_some() {
            return Self::from_env();
        }
        let path = data_dir.join("secret.key");
        let unreadable = |e: std::io::Error| {
            ConfigError(format!("cannot use secret file {}: {e}", path.display()))
        };
        match std::fs::read(&path) {
            Ok(master) if master.len() >= MIN_SECRET_LEN => {
                // A file an older release wrote world-readable is narrowed to this user.
                crate::private_files::private_file(&path)?;
                Self::derive(&master).with_configured_data_keys()
            }
            Ok(_) => Err(ConfigError(format!(
                "secret file {} is too short: delete it to create a new one",
                path.display()
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut master = [0u8; 32];
                rand::rng().fill_bytes(&mut master);
                let hex: String = master.iter().map(|b| format!("{b:02x}")).collect();
                crate::private_files::create_private(&path, hex.as_bytes()).map_err(unreadable)?;
                Self::derive(hex.as_bytes()).with_configured_data_keys()
            }
            Err(e) => Err(unreadable(e)),
        }
    }
}

/// Signs principals for the service an RPC goes to: each service verifies with a key of its
/// own, so a principal addressed to one is worthless at another.
#[derive(Clone)]
pub struct PrincipalSigner {
    master: Vec<u8>,
}

impl std::fmt::Debug for PrincipalSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrincipalSigner(..)")
    }
}

impl PrincipalSigner {
    /// The audience of an RPC path: the service segment of its package
    /// (`/crm.contacts.v1.ContactsService/GetContact` is for `contacts`).
    pub fn audience(path: &str) -> &str {
        path.trim_start_matches('/')
            .strip_prefix("crm.")
            .and_then(|rest| rest.split('.').next())
            .unwrap_or("")
    }

    /// The codec for principals addressed to the service behind `path`.
    pub fn codec_for(&self, path: &str) -> PrincipalCodec {
        self.codec_for_audience(Self::audience(path))
    }

    /// The codec for principals addressed to the service named `audience`.
    pub fn codec_for_audience(&self, audience: &str) -> PrincipalCodec {
        PrincipalCodec::new(&audience_key(&self.master, audience))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{DataScope, Principal};

    fn principal() -> Principal {
        Principal {
            tenant_id: "t".into(),
            user_id: "u".into(),
            client: "user".into(),
            permissions: vec![],
            scope: DataScope::Own,
            team_member_ids: vec![],
            phone_region: String::new(),
            expires_at: 0,
            delegations: Vec::new(),
        }
    }

    #[test]
    fn a_service_holds_only_its_own_keys() {
        let all = Secrets::derive(b"a master secret of at least 32 bytes!");
        let contacts = Secrets::from_target_keys(&all.for_target("contacts").unwrap()).unwrap();
        assert!(
            contacts.jwt_key().is_err(),
            "no access tokens from a service"
        );
        assert!(contacts.principal_signer().is_err());
        assert!(contacts.principal_codec("sales").is_err());
        // What the gateway signs for contacts, contacts verifies; sales' key does not.
        let signer = all.principal_signer().unwrap();
        let token = signer
            .codec_for("/crm.contacts.v1.ContactsService/GetContact")
            .sign(&principal());
        assert!(
            contacts
                .principal_codec("contacts")
                .unwrap()
                .verify(&token)
                .is_ok()
        );
        assert!(
            all.principal_codec("sales")
                .unwrap()
                .verify(&token)
                .is_err()
        );
        // Its page tokens and sealed data are the same as with the master.
        assert_eq!(contacts.page_key, all.page_key);
        let sealed = all.data_keys().unwrap().seal("ctx", "11010519491231002X");
        assert_eq!(
            contacts.data_keys().unwrap().open("ctx", &sealed).unwrap(),
            "11010519491231002X"
        );
    }

    #[test]
    fn the_gateway_keys_sign_but_hold_no_data_keys() {
        let all = Secrets::derive(b"a master secret of at least 32 bytes!");
        let gateway = Secrets::from_target_keys(&all.for_target("gateway").unwrap()).unwrap();
        assert_eq!(gateway.jwt_key().unwrap(), all.jwt_key().unwrap());
        assert!(gateway.data_keys().is_err());
        assert!(
            gateway.for_target("contacts").is_err(),
            "no master, no new keys"
        );
        for damaged in ["", "crm1", "crm1:contacts:AAAA", "crm9:gateway:x:y:z"] {
            assert!(Secrets::from_target_keys(damaged).is_err(), "{damaged}");
        }
    }

    #[test]
    fn audiences_come_from_the_package() {
        assert_eq!(
            PrincipalSigner::audience("/crm.contacts.v1.ContactsService/GetContact"),
            "contacts"
        );
        assert_eq!(
            PrincipalSigner::audience("/crm.identity.v1.IdentityService/GetUser"),
            "identity"
        );
        assert_eq!(
            PrincipalSigner::audience("/grpc.health.v1.Health/Check"),
            ""
        );
    }
}
