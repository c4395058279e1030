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

#[path = "../shared/mod.rs"]
mod common;
#[path = "../../tests/support/mod.rs"]
mod support;

mod import;
mod seed;

use std::time::Instant;

use common::{Latency, Rng};
use crm_proto::contacts::{GetContactRequest, SearchCustomersRequest};
use seed::Seeded;
use support::clients::Session;
use support::{Mode, Suite, org};

fn queries_per_kind() -> usize {
    if common::smoke() { 5 } else { 100 }
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
        latency.record(started);
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
        latency.record(started);
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
    let total = common::scale("CRM_BENCH_CONTACTS", 1_000_000, 2_000);
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

    let rows = common::scale("CRM_BENCH_IMPORT_ROWS", 100_000, 1_000);
    println!("import of {rows} rows (CSV, 64 KiB messages):");
    let through_gateway = import::through_gateway(&admin, rows).await;
    let bulk = import::bulk_insert(&suite, rows).await;
    println!(
        "  ImportRecords through the gateway        {through_gateway:>9.0} rows/s  {:>5.1}% of bulk insert",
        100.0 * through_gateway / bulk
    );
    println!("  plain bulk INSERT of the same records    {bulk:>9.0} rows/s  (baseline)");
}
