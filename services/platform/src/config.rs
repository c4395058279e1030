//! Configuration shared by every target, in three layers: compiled defaults, then an
//! optional file named by `CRM_CONFIG_FILE` (`KEY=VALUE` lines, `#` comments), then the
//! environment (`CRM_` prefix), which wins. Values are validated at start: a bad one stops the
//! process with one actionable line (exit code 64), never a panic later.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::RngCore as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sha2::Sha256;

use crate::cache::Cache;
use crate::events::Bus;

/// Exit code for bad configuration (sysexits `EX_USAGE`).
pub const EXIT_CONFIG: i32 = 64;
/// Shortest accepted `CRM_SECRET`.
const MIN_SECRET_LEN: usize = 32;
/// How long cached lookups live unless `CRM_CACHE_TTL_SECS` says otherwise (0 turns the
/// cache off, for measuring database reads).
const CACHE_TTL_SECS: u64 = 60;

fn cache_ttl() -> Result<Duration, ConfigError> {
    match env("CRM_CACHE_TTL_SECS") {
        None => Ok(Duration::from_secs(CACHE_TTL_SECS)),
        Some(raw) => raw.parse::<u64>().map(Duration::from_secs).map_err(|_| {
            ConfigError(format!(
                "CRM_CACHE_TTL_SECS={raw} is not a whole number of seconds"
            ))
        }),
    }
}

/// A configuration problem, phrased as what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Settings read from `CRM_CONFIG_FILE`, loaded once at start by [`load_file`].
static FILE: std::sync::OnceLock<std::collections::HashMap<String, String>> =
    std::sync::OnceLock::new();

/// Loads `CRM_CONFIG_FILE` if it is set; call once at start, before reading settings.
pub fn load_file() -> Result<(), ConfigError> {
    let Some(path) = std::env::var("CRM_CONFIG_FILE")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        return Ok(());
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| ConfigError(format!("CRM_CONFIG_FILE={path} cannot be read: {e}")))?;
    let settings = parse_file(&text).map_err(|line| {
        ConfigError(format!(
            "CRM_CONFIG_FILE={path}: line {line} is not KEY=VALUE"
        ))
    })?;
    let _ = FILE.set(settings);
    Ok(())
}

/// Parses `KEY=VALUE` lines; blank lines and `#` comments are skipped, values may be quoted.
/// Returns the number of the first bad line.
fn parse_file(text: &str) -> Result<std::collections::HashMap<String, String>, usize> {
    let mut settings = std::collections::HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').ok_or(number + 1)?;
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(number + 1);
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        settings.insert(key.to_owned(), value.to_owned());
    }
    Ok(settings)
}

/// Returns a non-empty setting: from the environment, else from the config file.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .or_else(|| FILE.get().and_then(|file| file.get(name).cloned()))
        .filter(|v| !v.trim().is_empty())
}

/// Returns a required environment variable.
pub fn required(name: &str, why: &str) -> Result<String, ConfigError> {
    env(name).ok_or_else(|| ConfigError(format!("{name} is not set: {why}")))
}

/// Parses a socket address from `name`, or `default`.
pub fn socket_addr(name: &str, default: &str) -> Result<SocketAddr, ConfigError> {
    let raw = env(name).unwrap_or_else(|| default.to_owned());
    raw.parse().map_err(|_| {
        ConfigError(format!(
            "{name}={raw} is not a socket address such as 127.0.0.1:50051"
        ))
    })
}

/// Parses a positive number from `name`, or `default`.
pub fn number(name: &str, default: u64) -> Result<u64, ConfigError> {
    match env(name) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ConfigError(format!("{name}={raw} is not a positive whole number"))),
    }
}

/// Parses a whole number (zero allowed) from `name`, or `default`.
pub fn count(name: &str, default: u64) -> Result<u64, ConfigError> {
    match env(name) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<u64>()
            .map_err(|_| ConfigError(format!("{name}={raw} is not a whole number"))),
    }
}

/// Keys derived from the one suite secret, each for one purpose.
#[derive(Clone)]
pub struct Secrets {
    /// Signs principals forwarded from the gateway to services.
    pub principal_key: Vec<u8>,
    /// Signs access tokens (JWT, HS256).
    pub jwt_key: Vec<u8>,
    /// MACs page tokens.
    pub page_key: Vec<u8>,
    /// Encrypts sensitive fields and hashes them for lookups.
    pub data_keys: crate::sealing::DataKeys,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(..)")
    }
}

impl Secrets {
    /// Derives the purpose keys from a master secret.
    pub fn derive(master: &[u8]) -> Self {
        let derive = |label: &str| {
            // HMAC accepts keys of any length, so this cannot fail.
            let mut mac =
                <Hmac<Sha256> as Mac>::new_from_slice(master).unwrap_or_else(|_| unreachable!());
            mac.update(label.as_bytes());
            mac.finalize().into_bytes().to_vec()
        };
        Self {
            principal_key: derive("crm principal v1"),
            jwt_key: derive("crm jwt v1"),
            page_key: derive("crm page token v1"),
            data_keys: crate::sealing::DataKeys::derived(
                &derive("crm data key v1"),
                derive("crm lookup hash v1"),
            ),
        }
    }

    /// Applies `CRM_DATA_KEYS` (rotated data-encryption keys) when it is set.
    fn with_configured_data_keys(mut self) -> Result<Self, ConfigError> {
        if let Some(list) = env("CRM_DATA_KEYS") {
            self.data_keys = self.data_keys.with_configured(&list)?;
        }
        Ok(self)
    }

    /// Reads `CRM_SECRET` (production: required, at least 32 characters).
    pub fn from_env() -> Result<Self, ConfigError> {
        let secret = required(
            "CRM_SECRET",
            "set it to the same random string (32+ characters) for every target",
        )?;
        if secret.len() < MIN_SECRET_LEN {
            return Err(ConfigError(format!(
                "CRM_SECRET is too short: use at least {MIN_SECRET_LEN} random characters"
            )));
        }
        Self::derive(secret.as_bytes()).with_configured_data_keys()
    }

    /// Embedded mode: `CRM_SECRET` if set, else a secret kept in the data directory (created
    /// on first start, so tokens survive a restart).
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

/// The infrastructure a target runs on: cache, bus and keys.
#[derive(Debug, Clone)]
pub struct Infra {
    /// Hot-lookup cache.
    pub cache: Arc<Cache>,
    /// Event bus.
    pub bus: Bus,
    /// Keys.
    pub secrets: Secrets,
}

impl Infra {
    /// In-process cache and bus, for the all-in-one binary.
    pub fn embedded(secrets: Secrets) -> Result<Self, ConfigError> {
        Ok(Self {
            cache: Arc::new(Cache::memory(cache_ttl()?)),
            bus: Bus::memory(),
            secrets,
        })
    }

    /// Redis cache and Redis Streams bus.
    pub async fn redis(url: &str, secrets: Secrets) -> Result<Self, ConfigError> {
        let client = redis::Client::open(url)
            .map_err(|e| ConfigError(format!("CRM_REDIS_URL={url} is not a redis URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| ConfigError(format!("cannot connect to redis at {url}: {e}")))?;
        Ok(Self {
            cache: Arc::new(Cache::redis(conn.clone(), cache_ttl()?)),
            bus: Bus::Redis(conn),
            secrets,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_files_are_key_value_lines() {
        let parsed = parse_file("# comment\n\nCRM_LOG = debug\nCRM_SECRET=\"a=b\"\n").unwrap();
        assert_eq!(parsed["CRM_LOG"], "debug");
        assert_eq!(parsed["CRM_SECRET"], "a=b");
        assert_eq!(parse_file("CRM_LOG=x\njust words\n"), Err(2));
        assert_eq!(parse_file("bad key=1"), Err(1));
    }
}
