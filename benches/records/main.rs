//! Customer-data benchmark: `cargo bench --bench records`. On PostgreSQL and Redis started on
//! loopback, through the gateway over real sockets, it prints:
//!
//! - search latency (p50/p95/p99) at `CRM_BENCH_CONTACTS` contacts (default 1,000,000) for the
//!   whole tenant (an admin) and for one rep's own customers, over queries drawn from the data
//!   (Chinese name parts, phone digits, email parts, whole Latin names), next to GetContact of
//!   random ids in the same run, the point read search is compared with;
//! - import throughput of `CRM_BENCH_IMPORT_ROWS` rows (default 100,000) streamed as CSV
//!   through the gateway, next to a plain bulk INSERT of the same records in the same run.
//!
//! Contacts are seeded straight into the service's database with `COPY`, their search grams
//! computed by the service's own code. Figures are printed, never asserted: machines are
//! noisy, ratios less so. Without `--bench` (under `cargo test`) it runs on 2,000 contacts
//! only to check that every step still works.

// A benchmark panics on a broken setup: there is nothing to measure then.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/support/mod.rs"]
mod support;

mod import;
mod seed;

use std::time::Instant;

use hdrhistogram::Histogram;

use crm_proto::contacts::{GetContactRequest, SearchCustomersRequest};
use seed::{Rng, Seeded};
use support::clients::Session;
use support::{Mode, Suite, org};

fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

fn contacts_to_seed() -> u64 {
    let default = if smoke() { 2_000 } else { 1_000_000 };
    std::env::var("CRM_BENCH_CONTACTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn rows_to_import() -> u64 {
    let default = if smoke() { 1_000 } else { 100_000 };
    std::env::var("CRM_BENCH_IMPORT_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn queries_per_kind() -> usize {
    if smoke() { 5 } else { 100 }
}

struct Latency {
    name: String,
    histogram: Histogram<u64>,
    found: u64,
}

impl Latency {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            histogram: Histogram::new_with_bounds(1, 60_000_000, 3).unwrap(),
            found: 0,
        }
    }

    fn ms(&self, quantile: f64) -> f64 {
        self.histogram.value_at_quantile(quantile) as f64 / 1000.0
    }

    fn print(&self, baseline: Option<&Latency>) {
        let ratio = baseline
            .map(|b| format!("  p95 {:>5.1}x GetContact", self.ms(0.95) / b.ms(0.95)))
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

async fn time_searches(session: &Session, name: &str, queries: &[String]) -> Latency {
    let mut latency = Latency::new(name);
    let mut client = session.contacts();
    for query in queries {
        let started = Instant::now();
        let found = client
            .search_customers(SearchCustomersRequest {
                query: query.clone(),
                resource_type: "contact".into(),
                page_size: 20,
                page_token: String::new(),
            })
            .await
            .unwrap_or_else(|e| panic!("search {query:?}: {e}"))
            .into_inner()
            .results
            .len();
        latency
            .histogram
            .record(started.elapsed().as_micros() as u64)
            .unwrap();
        latency.found += found as u64;
        assert!(
            found > 0,
            "{query:?} was drawn from the data and must be found"
        );
    }
    latency
}

async fn time_gets(session: &Session, ids: &[String]) -> Latency {
    let mut latency = Latency::new("GetContact, random ids (baseline)");
    let mut client = session.contacts();
    for id in ids {
        let started = Instant::now();
        client
            .get_contact(GetContactRequest { id: id.clone() })
            .await
            .unwrap();
        latency
            .histogram
            .record(started.elapsed().as_micros() as u64)
            .unwrap();
        latency.found += 1;
    }
    latency
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    // Seeding a million contacts outlasts the default 15-minute access token, and one
    // caller measuring latency should not meet the per-principal rate limit.
    let env = [
        ("CRM_ACCESS_TOKEN_TTL_SECS", "7200"),
        ("CRM_RATE_LIMIT_RPS", "100000"),
        ("CRM_TENANT_RATE_LIMIT_RPS", "100000"),
    ];
    let suite = Suite::start_with(Mode::Distributed, &env).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "bench").await;
    let total = contacts_to_seed();
    println!("records bench: seeding {total} contacts");
    let started = Instant::now();
    let seeded: Seeded = seed::contacts(
        &suite,
        &admin.tenant_id,
        &o.rep1.user_id,
        total,
        &mut Rng(0x5eed),
    );
    println!(
        "  seeded {} contacts and {} search grams in {:.1} s",
        seeded.contacts,
        seeded.grams,
        started.elapsed().as_secs_f64()
    );

    let per_kind = queries_per_kind();
    let mut rng = Rng(42);
    let whole = seeded.queries(&mut rng, per_kind, None);
    let own = seeded.queries(&mut rng, per_kind, Some(&o.rep1.user_id));
    let ids = seeded.sample_ids(&mut rng, per_kind * 4);

    // Warm the connections and the database's cache the same way for both.
    time_gets(&admin, &ids[..ids.len().min(20)]).await;
    time_searches(&admin, "warm-up", &whole[..whole.len().min(20)]).await;

    println!("search at {} contacts, one caller:", seeded.contacts);
    let baseline = time_gets(&admin, &ids).await;
    baseline.print(None);
    let tenant = time_searches(&admin, "SearchCustomers, admin (whole tenant)", &whole).await;
    tenant.print(Some(&baseline));
    let rep = time_searches(&o.rep1, "SearchCustomers, rep (own customers)", &own).await;
    rep.print(Some(&baseline));
    for (kind, queries) in seed::QUERY_KINDS.iter().zip(whole.chunks(per_kind)) {
        time_searches(&admin, &format!("  admin, {kind}"), queries)
            .await
            .print(Some(&baseline));
    }

    let rows = rows_to_import();
    println!("import of {rows} rows (CSV, 64 KiB messages):");
    let through_gateway = import::through_gateway(&admin, rows).await;
    let bulk = import::bulk_insert(&suite, rows).await;
    println!(
        "  ImportRecords through the gateway        {through_gateway:>9.0} rows/s  {:>5.1}% of bulk insert",
        100.0 * through_gateway / bulk
    );
    println!("  plain bulk INSERT of the same records    {bulk:>9.0} rows/s  (baseline)");
}
