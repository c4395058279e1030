//! What protects sign-in and token refresh from guessing and from being exhausted: who the
//! client is (its address, seen through trusted proxies), throttles per account and address,
//! and a bounded pool for the deliberately slow password hash.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::HeaderMap;
use ipnet::IpNet;
use tokio::sync::Semaphore;

use crate::credentials;
use crate::rate_limit::RateLimiter;
use crm_platform::error::Error;

/// The proxies (ingress controllers, load balancers) whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses a comma-separated list of addresses and CIDR ranges (`10.0.0.0/8,::1`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = match item.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => IpNet::from(
                    item.parse::<IpAddr>()
                        .map_err(|_| format!("`{item}` is not an address or CIDR range"))?,
                ),
            };
            nets.push(net);
        }
        Ok(Self(nets))
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client's address: the TCP peer, unless the peer is a trusted proxy, in which case
    /// the right-most `X-Forwarded-For` hop that is not itself a trusted proxy. Hops left of
    /// that were written by the client and prove nothing.
    pub fn client_address(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusts(peer) {
            return Some(peer);
        }
        let hops: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
            .collect();
        Some(
            hops.into_iter()
                .rev()
                .find(|hop| !self.trusts(*hop))
                .unwrap_or(peer),
        )
    }
}

/// The key one client's calls are counted under: an IPv4 address, or an IPv6 /64 (one
/// subscriber's network; a client rotating addresses inside it stays one client).
pub fn client_key(address: Option<IpAddr>) -> String {
    match address {
        None => String::new(),
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Addresses remembered per account as having signed in.
const KNOWN_PER_ACCOUNT: usize = 8;
/// Accounts remembered; past it the oldest are forgotten.
const KNOWN_ACCOUNTS: usize = 100_000;

/// The clients each account has seen sign in, and the accounts in the order first seen (so
/// the oldest are forgotten first).
#[derive(Debug, Default)]
struct KnownClients {
    by_account: HashMap<String, Vec<String>>,
    order: VecDeque<String>,
}

/// Sign-in throttles. A guesser is held per account and address; the account as a whole has
/// a wider limit against guessing from many addresses, which clients that have signed in to
/// it before pass, so that nobody can lock a known admin out by naming their email.
#[derive(Debug)]
pub struct SignInThrottle {
    per_account_and_client: RateLimiter,
    per_account: RateLimiter,
    known: Mutex<KnownClients>,
}

impl SignInThrottle {
    /// Allows `per_minute` attempts a minute per account and client, and ten times that per
    /// account from clients it has not seen succeed.
    pub fn new(per_minute: u64) -> Self {
        Self {
            per_account_and_client: RateLimiter::per_minute(per_minute),
            per_account: RateLimiter::per_minute(per_minute.saturating_mul(10)),
            known: Mutex::default(),
        }
    }

    fn is_known(&self, account: &str, client: &str) -> bool {
        let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        known
            .by_account
            .get(account)
            .is_some_and(|clients| clients.iter().any(|c| c == client))
    }

    /// Takes one attempt for `account` from `client`, or says how long to wait.
    pub fn check(&self, account: &str, client: &str) -> Result<(), Duration> {
        self.per_account_and_client
            .check(&format!("{account}\n{client}"))?;
        if self.is_known(account, client) {
            return Ok(());
        }
        self.per_account.check(account)
    }

    /// Remembers that `client` signed in to `account` with the right password.
    pub fn succeeded(&self, account: &str, client: &str) {
        let mut guard = self.known.lock().unwrap_or_else(|p| p.into_inner());
        let KnownClients { by_account, order } = &mut *guard;
        let clients = by_account.entry(account.to_owned()).or_insert_with(|| {
            order.push_back(account.to_owned());
            Vec::new()
        });
        if !clients.iter().any(|c| c == client) {
            if clients.len() == KNOWN_PER_ACCOUNT {
                clients.remove(0);
            }
            clients.push(client.to_owned());
        }
        while order.len() > KNOWN_ACCOUNTS {
            if let Some(oldest) = order.pop_front() {
                by_account.remove(&oldest);
            }
        }
    }
}

/// How long a sign-in waits for a free password worker before it is told to come back.
const HASH_QUEUE_WAIT: Duration = Duration::from_secs(5);

/// A bounded pool for argon2: each hash takes about 19 MiB and tens of milliseconds of a core,
/// so it runs on the blocking pool, at most `workers` at once, and never on the async workers
/// that serve every other call and the health checks.
#[derive(Debug, Clone)]
pub struct PasswordWorkers {
    permits: Arc<Semaphore>,
}

impl PasswordWorkers {
    /// A pool of `workers` concurrent hashes.
    pub fn new(workers: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(workers.max(1))),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Error> {
        let busy = Error::RateLimited {
            retry_after: Duration::from_secs(1),
        };
        let permit =
            tokio::time::timeout(HASH_QUEUE_WAIT, Arc::clone(&self.permits).acquire_owned())
                .await
                .map_err(|_| busy)?
                .map_err(Error::internal)?;
        tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        })
        .await
        .map_err(Error::internal)
    }

    /// Checks a password against a stored hash.
    pub async fn verify(&self, password: &str, stored: &str) -> Result<bool, Error> {
        let (password, stored) = (password.to_owned(), stored.to_owned());
        self.run(move || credentials::verify_password(&password, &stored))
            .await
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: &str) -> Result<String, Error> {
        let password = password.to_owned();
        self.run(move || credentials::hash_password(&password))
            .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_addresses_count_only_behind_trusted_proxies() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.168.1.5").unwrap();
        let ingress: IpAddr = "10.1.2.3".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        // A client's own header is ignored when it connects directly.
        assert_eq!(
            proxies.client_address(Some(stranger), &headers("198.51.100.1")),
            Some(stranger)
        );
        // Behind the ingress, the right-most untrusted hop; what the client prepended is not.
        assert_eq!(
            proxies.client_address(Some(ingress), &headers("1.1.1.1, 198.51.100.7, 10.9.9.9")),
            Some("198.51.100.7".parse().unwrap())
        );
        assert_eq!(
            proxies.client_address(Some(ingress), &HeaderMap::new()),
            Some(ingress)
        );
        assert!(TrustedProxies::parse("10.0.0.0/99").is_err());
    }

    #[test]
    fn ipv6_clients_group_by_network() {
        let a = client_key(Some("2001:db8:1:2:aaaa::1".parse().unwrap()));
        let b = client_key(Some("2001:db8:1:2:bbbb::9".parse().unwrap()));
        let c = client_key(Some("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            client_key(Some("::ffff:1.2.3.4".parse().unwrap())),
            "1.2.3.4"
        );
    }

    #[test]
    fn known_clients_pass_an_account_locked_by_others() {
        let throttle = SignInThrottle::new(2);
        throttle.succeeded("admin", "home");
        // Many addresses guessing exhaust the account-wide limit (20 a minute) …
        for i in 0..20 {
            assert!(throttle.check("admin", &format!("bot{i}")).is_ok());
        }
        assert!(throttle.check("admin", "bot-new").is_err());
        // … but the admin's own client still gets its attempts.
        assert!(throttle.check("admin", "home").is_ok());
        assert!(throttle.check("admin", "home").is_ok());
        assert!(
            throttle.check("admin", "home").is_err(),
            "still limited per client"
        );
    }
}
