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

/// A small deterministic generator (xorshift64*): the same data on every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// `COPY`s rows into one table of a service's PostgreSQL database through psql's stdin:
/// seeding at the database's own bulk speed, so a bench measures the service, not its setup.
pub struct Copy {
    child: std::process::Child,
    rows: std::io::BufWriter<std::process::ChildStdin>,
}

impl Copy {
    pub fn start(database: &str, table: &str, columns: &[&str]) -> Copy {
        use crate::support::{find_pg_bin, postgres};
        let command = format!("\\copy {table} ({}) from stdin csv", columns.join(", "));
        let mut child = std::process::Command::new(find_pg_bin("psql"))
            .args(["-h", "127.0.0.1", "-p", &postgres().port.to_string()])
            .args([
                "-U",
                "postgres",
                "-d",
                database,
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
            ])
            .args(["-c", &command])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("psql starts");
        let rows = std::io::BufWriter::new(child.stdin.take().unwrap());
        Copy { child, rows }
    }

    pub fn row(&mut self, fields: &[&str]) {
        use std::io::Write as _;
        let line: Vec<String> = fields
            .iter()
            .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
            .collect();
        writeln!(self.rows, "{}", line.join(",")).unwrap();
    }

    pub fn finish(self) {
        use std::io::Write as _;
        let Copy {
            mut child,
            mut rows,
        } = self;
        rows.flush().unwrap();
        drop(rows);
        let status = child.wait().unwrap();
        assert!(status.success(), "COPY failed");
    }
}

/// Latencies of one workload of single calls, in microseconds, with what they found.
pub struct Latency {
    pub name: String,
    pub histogram: hdrhistogram::Histogram<u64>,
    pub found: u64,
}

impl Latency {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            histogram: hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 3).unwrap(),
            found: 0,
        }
    }

    /// Times one call.
    pub fn record(&mut self, started: Instant) {
        self.histogram
            .record(started.elapsed().as_micros() as u64)
            .unwrap();
    }

    pub fn ms(&self, quantile: f64) -> f64 {
        self.histogram.value_at_quantile(quantile) as f64 / 1000.0
    }

    /// Prints p50/p95/p99 and, beside a baseline, the ratio of the p95s.
    pub fn print(&self, baseline: Option<&Latency>) {
        let ratio = baseline
            .map(|b| format!("  p95 {:>5.1}x the baseline", self.ms(0.95) / b.ms(0.95)))
            .unwrap_or_default();
        println!(
            "  {:<44} n {:>4}  p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms  hits/query {:>6.1}{ratio}",
            self.name,
            self.histogram.len(),
            self.ms(0.50),
            self.ms(0.95),
            self.ms(0.99),
            self.found as f64 / self.histogram.len().max(1) as f64,
        );
    }
}
