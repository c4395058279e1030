//! Configuration shared by every target, in three layers: compiled defaults, then an
//! optional file named by `CRM_CONFIG_FILE` (`KEY=VALUE` lines, `#` comments), then the
//! environment (`CRM_` prefix), which wins. Values are validated at start: a bad one stops the
//! process with one actionable line (exit code 64), never a panic later.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::cache::Cache;
use crate::events::Bus;

/// Exit code for bad configuration (sysexits `EX_USAGE`).
pub const EXIT_CONFIG: i32 = 64;
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

pub use crate::secrets::Secrets;

/// The infrastructure a target runs on: cache, bus and keys.
#[derive(Debug, Clone)]
pub struct Infra {
    /// Hot-lookup cache.
    pub cache: Arc<Cache>,
    /// Event bus.
    pub bus: Bus,
    /// Keys.
    pub secrets: Secrets,
    /// The Redis server behind the bus, from which consumers open connections of their own;
    /// `None` for the in-process bus.
    pub redis: Option<redis::Client>,
}

impl Infra {
    /// In-process cache and bus, for the all-in-one binary.
    pub fn embedded(secrets: Secrets) -> Result<Self, ConfigError> {
        Ok(Self {
            cache: Arc::new(Cache::memory(cache_ttl()?)),
            bus: Bus::memory(),
            secrets,
            redis: None,
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
        let conn = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(|e| ConfigError(format!("cannot connect to redis at {url}: {e}")))?;
        Ok(Self {
            cache: Arc::new(Cache::redis(conn.clone(), cache_ttl()?)),
            bus: Bus::Redis(conn),
            secrets,
            redis: Some(client),
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
