//! What the service benches share: smoke runs under `cargo test`, sizes from the
//! environment, closed-loop throughput with concurrent callers (a failed call voids the
//! figure), and the plain-SQL baseline of writing a row as wide as a service writes.

// Included by each bench with `#[path]`; a bench uses what it needs, and panics on a broken
// setup (there is nothing to measure then).
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use sea_orm::{ConnectionTrait as _, DatabaseConnection, Statement};

/// Whether this is `cargo test` running the bench small, only to see every step work.
pub fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

/// A size from the environment variable `name`, else `bench` (or `smoke_size` in a smoke run).
pub fn scale(name: &str, bench: u64, smoke_size: u64) -> u64 {
    let default = if smoke() { smoke_size } else { bench };
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Concurrent callers of the write workloads.
pub const CALLERS: usize = 8;

/// Runs `work(i)` for `0..count` on `CALLERS` concurrent tasks; returns per second. Any
/// error voids the figure: the bench stops.
pub async fn throughput<F, Fut>(count: u64, work: F) -> f64
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let work = Arc::new(work);
    let started = Instant::now();
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..CALLERS {
        let (next, work) = (next.clone(), work.clone());
        callers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<(), String>(());
                }
                work(i).await?;
            }
        });
    }
    for result in callers.join_all().await {
        result.unwrap_or_else(|e| panic!("a workload failed, so its figure is void: {e}"));
    }
    count as f64 / started.elapsed().as_secs_f64()
}

/// An INSERT that copies one existing row of `table` under the id put for `{id}`: a plain
/// write of a row exactly as wide as the service writes.
pub async fn row_copy(db: &DatabaseConnection, table: &str) -> String {
    let columns: Vec<String> = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT column_name FROM information_schema.columns WHERE table_name = '{table}' \
                 AND column_name <> 'id' ORDER BY ordinal_position"
            ),
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String>("", "column_name").unwrap())
        .collect();
    let list = columns.join(", ");
    format!("INSERT INTO {table} (id, {list}) SELECT '{{id}}', {list} FROM {table} LIMIT 1")
}
