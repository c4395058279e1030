//! Settings read from the environment (`CRM_` prefix), with their defaults. The README's
//! configuration table lists the same names.

use std::net::SocketAddr;
use std::path::PathBuf;

use crm_platform::config::{self, ConfigError, env, number, required};

/// Where `crm up` listens unless `CRM_LISTEN_ADDR` says otherwise.
pub(crate) const DEFAULT_UP_ADDR: &str = "127.0.0.1:50051";
/// Default admin email on an empty store.
pub(crate) const DEFAULT_ADMIN_EMAIL: &str = "admin@example.com";

/// The data directory of the embedded mode.
pub(crate) fn data_dir() -> PathBuf {
    PathBuf::from(env("CRM_DATA_DIR").unwrap_or_else(|| "./data".to_owned()))
}

/// The listen address, with a default per target.
pub(crate) fn listen_addr(default: &str) -> Result<SocketAddr, ConfigError> {
    config::socket_addr("CRM_LISTEN_ADDR", default)
}

/// The target's database URL (production).
pub(crate) fn database_url() -> Result<String, ConfigError> {
    required(
        "CRM_DATABASE_URL",
        "set it to the PostgreSQL URL of this target's own database",
    )
}

/// The Redis URL (production).
pub(crate) fn redis_url() -> Result<String, ConfigError> {
    required("CRM_REDIS_URL", "set it to a redis:// URL")
}

/// The first admin's email and, if configured, password.
pub(crate) fn bootstrap_admin() -> (String, Option<String>) {
    (
        env("CRM_BOOTSTRAP_ADMIN_EMAIL").unwrap_or_else(|| DEFAULT_ADMIN_EMAIL.to_owned()),
        env("CRM_BOOTSTRAP_ADMIN_PASSWORD"),
    )
}

/// Gateway options.
pub(crate) fn gateway_options() -> Result<crm_gateway::Options, ConfigError> {
    let defaults = crm_gateway::Options::default();
    let rate = number("CRM_RATE_LIMIT_RPS", defaults.rate_per_principal)?;
    Ok(crm_gateway::Options {
        access_token_ttl_secs: number("CRM_ACCESS_TOKEN_TTL_SECS", defaults.access_token_ttl_secs)?,
        rate_per_principal: rate,
        burst_per_principal: number("CRM_RATE_LIMIT_BURST", rate * 2)?,
        rate_per_tenant: number("CRM_TENANT_RATE_LIMIT_RPS", defaults.rate_per_tenant)?,
        sign_in_per_minute: number("CRM_SIGN_IN_LIMIT_PER_MIN", defaults.sign_in_per_minute)?,
        public_rate_per_address: number(
            "CRM_PUBLIC_RATE_LIMIT_RPS",
            defaults.public_rate_per_address,
        )?,
        trusted_proxies: crm_gateway::sign_in::TrustedProxies::parse(
            &env("CRM_TRUSTED_PROXIES").unwrap_or_default(),
        )
        .map_err(|e| ConfigError(format!("CRM_TRUSTED_PROXIES: {e}")))?,
        password_workers: number("CRM_PASSWORD_WORKERS", defaults.password_workers as u64)?
            as usize,
        // Zero ends every session at sign-in: refresh is then refused.
        session_max_secs: config::count(
            "CRM_SESSION_MAX_DAYS",
            defaults.session_max_secs / 86_400,
        )? * 86_400,
        // Filled from the registry by the target that starts the gateway.
        peers: defaults.peers,
    })
}

/// Connections the gateway keeps to each upstream service.
pub(crate) fn upstream_connections() -> Result<usize, ConfigError> {
    Ok(number("CRM_UPSTREAM_CONNECTIONS", 4)? as usize)
}

/// Whether `serve` applies migrations before listening.
pub(crate) fn migrate_on_start() -> bool {
    env("CRM_MIGRATE_ON_START").is_some_and(|v| v == "true" || v == "1")
}
