//! Cache-aside for hot lookups: Redis in production, an in-process map embedded.
//!
//! Redis trouble makes the cache slower, never wrong and never failing: every Redis call has a
//! short timeout and an error is treated as a miss. An invalidation that could not reach Redis
//! is remembered, and those keys bypass the cache until the delete succeeds, so a write is never
//! followed by a stale read from this process.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use rand::Rng as _;
use redis::AsyncCommands as _;
use redis::aio::ConnectionManager;

/// Longest a cache call may take before it counts as a miss.
const REDIS_TIMEOUT: Duration = Duration::from_millis(100);
/// Most entries the in-process cache holds; it is emptied when full (a simple, safe bound).
const MEMORY_CAPACITY: usize = 100_000;

enum Backend {
    Memory(Mutex<HashMap<String, (Vec<u8>, Instant)>>),
    Redis(ConnectionManager),
}

/// A byte cache with hit/miss counters.
pub struct Cache {
    backend: Backend,
    ttl: Duration,
    failed_invalidations: Mutex<HashSet<String>>,
    flights: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("redis", &matches!(self.backend, Backend::Redis(_)))
            .field("hits", &self.hits.load(Ordering::Relaxed))
            .field("misses", &self.misses.load(Ordering::Relaxed))
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a map half-updated, so poisoning is ignored.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Cache {
    /// Creates an in-process cache.
    pub fn memory(ttl: Duration) -> Self {
        Self::with_backend(Backend::Memory(Mutex::new(HashMap::new())), ttl)
    }

    /// Creates a Redis-backed cache.
    pub fn redis(conn: ConnectionManager, ttl: Duration) -> Self {
        Self::with_backend(Backend::Redis(conn), ttl)
    }

    fn with_backend(backend: Backend, ttl: Duration) -> Self {
        Self {
            backend,
            ttl,
            failed_invalidations: Mutex::new(HashSet::new()),
            flights: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Returns (hits, misses) since start.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Looks a key up; `None` on a miss or any cache trouble.
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        if self.ttl.is_zero() {
            return None;
        }
        let found = if self.retry_failed_invalidations(key).await {
            None
        } else {
            match &self.backend {
                Backend::Memory(map) => {
                    let map = lock(map);
                    map.get(key)
                        .filter(|(_, expires)| *expires > Instant::now())
                        .map(|(value, _)| value.clone())
                }
                Backend::Redis(conn) => {
                    let mut conn = conn.clone();
                    match tokio::time::timeout(REDIS_TIMEOUT, conn.get::<_, Option<Vec<u8>>>(key))
                        .await
                    {
                        Ok(Ok(value)) => value,
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "cache get failed; reading through");
                            None
                        }
                        Err(_) => None,
                    }
                }
            }
        };
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores a value with the cache's TTL plus up to 10% jitter, so keys filled together do
    /// not expire together.
    pub async fn set(&self, key: &str, value: Vec<u8>) {
        if self.ttl.is_zero() {
            return;
        }
        let jitter = self.ttl.as_millis() as u64 / 10;
        let ttl = self.ttl + Duration::from_millis(rand::rng().random_range(0..=jitter.max(1)));
        match &self.backend {
            Backend::Memory(map) => {
                let mut map = lock(map);
                if map.len() >= MEMORY_CAPACITY {
                    map.clear();
                }
                map.insert(key.to_owned(), (value, Instant::now() + ttl));
            }
            Backend::Redis(conn) => {
                let mut conn = conn.clone();
                let set = conn.pset_ex::<_, _, ()>(key, value, ttl.as_millis() as u64);
                let _ = tokio::time::timeout(REDIS_TIMEOUT, set).await;
            }
        }
    }

    /// Serialises the loads of one key in this process: the first caller after a miss loads
    /// and fills the cache; callers arriving meanwhile wait, then look again and find it, so a
    /// hot key that expires costs one database read, not one per waiting caller. Each caller
    /// still loads under its own permissions when it does load. `None` when caching is off.
    pub async fn single_flight(&self, key: &str) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        if self.ttl.is_zero() {
            return None;
        }
        let flight = {
            let mut flights = lock(&self.flights);
            match flights.get(key).and_then(Weak::upgrade) {
                Some(flight) => flight,
                None => {
                    if flights.len() >= MEMORY_CAPACITY {
                        flights.retain(|_, f| f.strong_count() > 0);
                    }
                    let flight = Arc::new(tokio::sync::Mutex::new(()));
                    flights.insert(key.to_owned(), Arc::downgrade(&flight));
                    flight
                }
            }
        };
        Some(flight.lock_owned().await)
    }

    /// Removes a key after a write. If Redis cannot be reached the key bypasses the cache
    /// until a later delete succeeds.
    pub async fn invalidate(&self, key: &str) {
        if !self.delete(key).await {
            lock(&self.failed_invalidations).insert(key.to_owned());
        }
    }

    async fn delete(&self, key: &str) -> bool {
        match &self.backend {
            Backend::Memory(map) => {
                lock(map).remove(key);
                true
            }
            Backend::Redis(conn) => {
                let mut conn = conn.clone();
                matches!(
                    tokio::time::timeout(REDIS_TIMEOUT, conn.del::<_, ()>(key)).await,
                    Ok(Ok(()))
                )
            }
        }
    }

    /// Retries remembered invalidations; returns whether `key` must still bypass the cache.
    async fn retry_failed_invalidations(&self, key: &str) -> bool {
        let pending: Vec<String> = {
            let failed = lock(&self.failed_invalidations);
            if failed.is_empty() {
                return false;
            }
            failed.iter().cloned().collect()
        };
        for stale in pending {
            if self.delete(&stale).await {
                lock(&self.failed_invalidations).remove(&stale);
            } else {
                break;
            }
        }
        lock(&self.failed_invalidations).contains(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cold_key_is_loaded_once_however_many_callers_wait() {
        let cache = Arc::new(Cache::memory(Duration::from_secs(60)));
        let loads = Arc::new(AtomicU64::new(0));
        let mut callers = Vec::new();
        for _ in 0..50 {
            let (cache, loads) = (Arc::clone(&cache), Arc::clone(&loads));
            callers.push(tokio::spawn(async move {
                if let Some(value) = cache.get("hot").await {
                    return value;
                }
                let _flight = cache.single_flight("hot").await;
                if let Some(value) = cache.get("hot").await {
                    return value;
                }
                loads.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                cache.set("hot", b"v".to_vec()).await;
                b"v".to_vec()
            }));
        }
        for caller in callers {
            assert_eq!(caller.await.unwrap(), b"v");
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn memory_cache_serves_until_invalidated() {
        let cache = Cache::memory(Duration::from_secs(60));
        assert_eq!(cache.get("k").await, None);
        cache.set("k", b"v".to_vec()).await;
        assert_eq!(cache.get("k").await, Some(b"v".to_vec()));
        cache.invalidate("k").await;
        assert_eq!(cache.get("k").await, None);
        assert_eq!(cache.stats(), (1, 2));
    }
}
