//! Load benchmark: `cargo bench --bench load`. Drives real gRPC over loopback with the
//! project's own load generator and prints, for each workload, requests per second, p50/p99
//! latency and server CPU time per request, next to a limit measured in the same run:
//!
//! - a bare tonic server (health check, no middleware): the framework's limit;
//! - `pgbench -M prepared` running the service's own query: the database's limit.
//!
//! Goals are printed beside the ratios, never asserted: machines are noisy, ratios less so.
//! `CRM_BENCH_SECONDS` (default 5) and `CRM_BENCH_CONCURRENCY` (default 32) tune the runs.

// A benchmark panics on a broken setup: there is nothing to measure then.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/support/mod.rs"]
mod support;

mod generator;

use std::process::Command;
use std::time::Duration;

use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crm_proto::contacts::{Contact, CreateContactRequest, GetContactRequest};
use generator::{Report, closed_loop, open_loop};
use support::clients::Session;
use support::process::Watched;
use support::{Mode, Suite};

/// `cargo test` runs this target too, unoptimised and without `--bench`: then it only checks
/// that every workload still runs, briefly, and its figures mean nothing.
fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

fn seconds() -> Duration {
    let default = if smoke() { 1 } else { 5 };
    Duration::from_secs(
        std::env::var("CRM_BENCH_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default),
    )
}

fn concurrency() -> usize {
    std::env::var("CRM_BENCH_CONCURRENCY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32)
}

/// Rows seeded for database reads.
const SEEDED: u64 = 20_000;
/// Records read repeatedly for cache hits.
const HOT: u64 = 500;

fn main() {
    if std::env::var("CRM_BENCH_ROLE").as_deref() == Ok("echo") {
        return echo_server();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

/// The framework limit: tonic with the health service and nothing else, in its own process.
fn echo_server() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (_reporter, health) = tonic_health::server::health_reporter();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("crm: echo listening on {}", listener.local_addr().unwrap());
        tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .add_service(health)
            // Same socket options as the product's listeners: without TCP_NODELAY small
            // responses wait for delayed ACKs (~40 ms).
            .serve_with_incoming(
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            )
            .await
            .unwrap();
    });
}

/// Clock ticks of CPU (user + system) the processes have used.
fn cpu_ticks(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .map(|stat| {
            // Fields after the parenthesised command name; utime and stime are 14th and 15th.
            let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or_default();
            let fields: Vec<&str> = rest.split_whitespace().collect();
            fields
                .get(11)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
                + fields
                    .get(12)
                    .and_then(|f| f.parse::<u64>().ok())
                    .unwrap_or(0)
        })
        .sum()
}

fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// One printed result.
struct Row {
    name: String,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_us: Option<f64>,
    errors: u64,
    /// (baseline name, baseline rps, goal as a fraction of it)
    versus: Option<(String, f64, f64)>,
}

struct Bench {
    rows: Vec<Row>,
    tick_us: f64,
    /// The bare server's rate, measured at the start and at the end of the run; ratios to it
    /// use the mean, so a drift of the machine during the run counts half.
    echo_mean: Option<f64>,
}

impl Bench {
    /// Measures `report` against the servers' CPU time and records a row.
    fn record(
        &mut self,
        name: &str,
        report: &Report,
        cpu_ticks: u64,
        versus: Option<(&str, f64, f64)>,
    ) -> f64 {
        // A workload that errs measured something else than it names: in the test run that
        // fails it, and in a real run its figures are printed without a ratio.
        if smoke() && report.errors > 0 {
            panic!(
                "{name}: {} errors; a bench workload must run clean",
                report.errors
            );
        }
        let cpu_us = (report.ok > 0).then(|| cpu_ticks as f64 * self.tick_us / report.ok as f64);
        let row = Row {
            name: name.to_owned(),
            rps: report.rps(),
            p50_ms: report.p50_ms(),
            p99_ms: report.p99_ms(),
            cpu_us,
            errors: report.errors,
            versus: versus.map(|(n, rps, goal)| (n.to_owned(), rps, goal)),
        };
        println!(
            "  {:<46} {:>9.0} rps  p50 {:>6.2} ms  p99 {:>6.2} ms  cpu {:>7} us/req  errors {}",
            row.name,
            row.rps,
            row.p50_ms,
            row.p99_ms,
            row.cpu_us.map_or("-".to_owned(), |c| format!("{c:.0}")),
            row.errors
        );
        let rps = row.rps;
        self.rows.push(row);
        rps
    }

    /// Runs a closed-loop workload against servers `pids`.
    async fn closed<F, Fut, E>(
        &mut self,
        name: &str,
        pids: &[u32],
        versus: Option<(&str, f64, f64)>,
        call: F,
    ) -> f64
    where
        F: Fn(u64) -> Fut + Clone + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), E>> + Send,
        E: std::fmt::Debug,
    {
        // Warm up connections, caches and thread pools before measuring.
        let warm_up = if smoke() {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(1)
        };
        closed_loop(concurrency(), warm_up, call.clone()).await;
        let before = cpu_ticks(pids);
        let report = closed_loop(concurrency(), seconds(), call).await;
        let used = cpu_ticks(pids) - before;
        self.record(name, &report, used, versus)
    }

    fn print_summary(&self) {
        println!(
            "\nsummary (ratios are to a limit measured in this run; goals are aims, not assertions)"
        );
        println!(
            "  {:<46} {:>9} {:>9} {:>9} {:>11} {:>7}  vs",
            "workload", "rps", "p50 ms", "p99 ms", "cpu us/req", "errors"
        );
        for row in &self.rows {
            let versus = row.versus.as_ref().filter(|_| row.errors == 0).map_or(
                String::new(),
                |(name, rps, goal)| {
                    let rps = match (name.as_str(), self.echo_mean) {
                        ("echo", Some(mean)) => mean,
                        _ => *rps,
                    };
                    format!(
                        "{:>5.1}% of {name} (goal >= {:.0}%)",
                        100.0 * row.rps / rps,
                        goal * 100.0
                    )
                },
            );
            let versus = if row.errors > 0 {
                "no ratio: the workload had errors".to_owned()
            } else {
                versus
            };
            println!(
                "  {:<46} {:>9.0} {:>9.2} {:>9.2} {:>11} {:>7}  {versus}",
                row.name,
                row.rps,
                row.p50_ms,
                row.p99_ms,
                row.cpu_us.map_or("-".to_owned(), |c| format!("{c:.0}")),
                row.errors
            );
        }
    }
}

/// Runs pgbench with `script` on the suite's contacts database; returns (tps, average ms).
fn pgbench(database: &str, script: &str, clients: usize) -> (f64, f64) {
    let path = support::process::scratch_dir("pgbench").join("script.sql");
    std::fs::write(&path, script).unwrap();
    let pg = support::postgres();
    let out = Command::new(support::find_pg_bin("pgbench"))
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &seconds().as_secs().to_string(),
        ])
        .args([
            "-f",
            path.to_str().unwrap(),
            "-h",
            "127.0.0.1",
            "-p",
            &pg.port.to_string(),
            "-U",
            "postgres",
            database,
        ])
        .output()
        .expect("pgbench runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let find = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| {
                panic!(
                    "pgbench printed no `{prefix}`: {text}{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
    };
    (find("tps = "), find("latency average = "))
}

/// A call that asks a server's health service: the cheapest RPC there is.
async fn health_check(
    addr: &str,
) -> impl Fn(
    u64,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), tonic::Status>> + Send>>
+ Clone
+ Send
+ Sync
+ 'static {
    let client = health(addr).await;
    move |_| {
        let mut client = client.clone();
        Box::pin(async move {
            client
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .map(|_| ())
        })
    }
}

async fn health(addr: &str) -> HealthClient<Channel> {
    HealthClient::new(
        Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap(),
    )
}

fn contact_id(n: u64) -> String {
    format!("bench-{n:07}")
}

/// Inserts contacts `bench-0000001…` owned by the session's user, straight into the database
/// (seeding is not what is measured).
fn seed(suite: &Suite, owner: &Session, count: u64) {
    let database = &suite.database_name("contacts").unwrap();
    let sql = format!(
        "insert into contacts (id, tenant_id, owner_id, given_name, family_name, display_name, email, phone, title, account_id, version, create_time, update_time, delete_time) \
         select 'bench-' || lpad(n::text, 7, '0'), '{t}', '{o}', 'Given', 'Family', 'Bench ' || n, 'bench' || n || '@example.com', '+86 138 0013 8000', '', '', 1, 0, 0, null \
         from generate_series(1, {count}) as n; analyze contacts;",
        t = owner.tenant_id,
        o = owner.user_id,
    );
    let status = Command::new(support::find_pg_bin("psql"))
        .args([
            "-q",
            "-h",
            "127.0.0.1",
            "-p",
            &support::postgres().port.to_string(),
            "-U",
            "postgres",
            "-d",
            database,
            "-c",
            &sql,
        ])
        .status()
        .unwrap();
    assert!(status.success(), "seeding failed");
}

fn get_contact(
    session: &Session,
    space: u64,
) -> impl Fn(
    u64,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), tonic::Status>> + Send>>
+ Clone
+ Send
+ Sync
+ 'static {
    let client = session.contacts();
    move |i| {
        let mut client = client.clone();
        // A multiplicative hash spreads consecutive requests over the id space.
        let n = (i.wrapping_mul(2_654_435_761) % space) + 1;
        Box::pin(async move {
            client
                .get_contact(GetContactRequest { id: contact_id(n) })
                .await
                .map(|_| ())
        })
    }
}

/// The same primary-key read in this process, through the service's sea-orm store and through
/// a bare sqlx prepared query on the same pool: what the ORM costs per read (CPU here is this
/// process's, i.e. the client side of the query).
async fn store_level(bench: &mut Bench, database: &str, owner: &Session) {
    use crm_contacts::contact::Contacts;
    use crm_platform::auth::{DataScope, Principal};

    let url = format!(
        "postgres://postgres@127.0.0.1:{}/{database}",
        support::postgres().port
    );
    let db = crm_platform::db::connect(&url).await.unwrap();
    let principal = std::sync::Arc::new(Principal {
        tenant_id: owner.tenant_id.clone(),
        user_id: owner.user_id.clone(),
        client: "user".into(),
        permissions: vec!["*".into()],
        scope: DataScope::All,
        team_member_ids: vec![],
        phone_region: String::new(),
        expires_at: 0,
        delegations: Vec::new(),
    });
    let me = [std::process::id()];
    let pool = db.get_postgres_connection_pool().clone();
    let tenant = owner.tenant_id.clone();
    let raw = move |i: u64| {
        let (pool, tenant) = (pool.clone(), tenant.clone());
        async move {
            let id = contact_id((i.wrapping_mul(2_654_435_761) % SEEDED) + 1);
            sea_orm::sqlx::query(
                "select id, tenant_id, owner_id, given_name, family_name, display_name, email, phone, title, account_id, version, create_time, update_time, delete_time from contacts where tenant_id = $1 and id = $2 limit 1",
            )
            .bind(tenant)
            .bind(id)
            .fetch_optional(&pool)
            .await
            .map(|_| ())
        }
    };
    let sqlx_rps = bench
        .closed(
            "store: bare sqlx prepared select (in process)",
            &me,
            None,
            raw,
        )
        .await;

    let orm = {
        let (db, principal) = (db.clone(), principal.clone());
        move |i: u64| {
            let (db, principal) = (db.clone(), principal.clone());
            async move {
                let id = contact_id((i.wrapping_mul(2_654_435_761) % SEEDED) + 1);
                crm_contacts::store::find::<Contacts, _>(&db, &principal, &id)
                    .await
                    .map(|_| ())
            }
        }
    };
    // Goal from the performance notes: the ORM within 1.15x of sqlx, i.e. >= 87% of its rate.
    bench
        .closed(
            "store: sea-orm find by id (in process)",
            &me,
            Some(("sqlx select", sqlx_rps, 0.87)),
            orm,
        )
        .await;
}

fn env_fast() -> Vec<(&'static str, &'static str)> {
    vec![
        ("CRM_RATE_LIMIT_RPS", "10000000"),
        ("CRM_TENANT_RATE_LIMIT_RPS", "10000000"),
        ("CRM_LOG", "error"),
        // The sign-in flood comes from many clients behind the loopback "proxy", and no
        // throttle stops it before the password is hashed.
        ("CRM_TRUSTED_PROXIES", "127.0.0.0/8"),
        ("CRM_SIGN_IN_LIMIT_PER_MIN", "100000000"),
        ("CRM_PUBLIC_RATE_LIMIT_RPS", "10000000"),
    ]
}

/// Wrong-password sign-ins from ever new client addresses, as fast as `callers` can send
/// them, until `stop`; returns how many were answered UNAUTHENTICATED and how many otherwise.
async fn sign_in_flood(
    gateway: String,
    callers: usize,
    stop: tokio::sync::watch::Receiver<bool>,
) -> (u64, u64) {
    use crm_proto::identity::LoginRequest;
    use crm_proto::identity::auth_service_client::AuthServiceClient;
    let channel = Channel::from_shared(format!("http://{gateway}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for caller in 0..callers {
        let mut client = AuthServiceClient::new(channel.clone());
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let (mut refused, mut other) = (0u64, 0u64);
            let mut n = 0u32;
            while !*stop.borrow() {
                n += 1;
                let mut request = tonic::Request::new(LoginRequest {
                    email: support::ADMIN_EMAIL.into(),
                    password: "a wrong password".into(),
                });
                let client_address = format!("10.{caller}.{}.{}", (n >> 8) & 255, n & 255);
                request
                    .metadata_mut()
                    .insert("x-forwarded-for", client_address.parse().unwrap());
                match client.login(request).await {
                    Err(s) if s.code() == tonic::Code::Unauthenticated => refused += 1,
                    _ => other += 1,
                }
            }
            (refused, other)
        }));
    }
    let mut total = (0, 0);
    for task in tasks {
        let (refused, other) = task.await.unwrap();
        total = (total.0 + refused, total.1 + other);
    }
    total
}

async fn run() {
    println!(
        "crm load benchmark: {} s per workload, {} concurrent callers, {} cores",
        seconds().as_secs(),
        concurrency(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut bench = Bench {
        echo_mean: None,
        rows: Vec::new(),
        tick_us: 1_000_000.0 / ticks_per_second(),
    };

    // The framework limit.
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env("CRM_BENCH_ROLE", "echo");
    let (echo, echo_addr) = Watched::spawn_crm(cmd, "echo");
    let echo_check = health_check(&echo_addr).await;
    let echo_rps = bench
        .closed(
            "echo: bare tonic server",
            &echo.program_pids(),
            None,
            echo_check.clone(),
        )
        .await;

    // Distributed: gateway and contacts on PostgreSQL and Redis, cache on.
    let suite = Suite::start_with(Mode::Distributed, &env_fast()).await;
    let admin = suite.admin().await;
    let pids = suite.server_pids();
    let check = health_check(&suite.service_addr("contacts").unwrap()).await;
    bench
        .closed(
            "service: contacts, full middleware",
            &pids,
            Some(("echo", echo_rps, 0.85)),
            check,
        )
        .await;
    let check = health_check(&suite.gateway).await;
    let quiet_health = bench
        .closed(
            "gateway health (gateway stack, no hop)",
            &pids,
            Some(("echo", echo_rps, 0.5)),
            check.clone(),
        )
        .await;
    // Password hashing runs on a bounded blocking pool, so a flood of sign-ins slows the
    // other calls by the CPU it takes, and never stalls them behind the hashes.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let flood = tokio::spawn(sign_in_flood(suite.gateway.clone(), 16, stopped));
    let started = std::time::Instant::now();
    bench
        .closed(
            "  gateway health during a sign-in flood",
            &pids,
            Some(("gateway health", quiet_health, 0.25)),
            check,
        )
        .await;
    let _ = stop.send(true);
    let (refused, other) = flood.await.unwrap();
    assert!(
        !smoke() || other == 0,
        "the sign-in flood got {other} answers that were not UNAUTHENTICATED"
    );
    println!(
        "  {:<46} {:>9.0} /s  ({refused} refused as wrong, errors {other})",
        "  the flood's sign-ins",
        refused as f64 / started.elapsed().as_secs_f64()
    );
    // A full hop that does no work: authenticated, authorised, signed, forwarded, verified by
    // the service, and refused there before any database or cache access.
    let client = admin.contacts();
    let ping = move |_| {
        let mut client = client.clone();
        async move {
            match client
                .get_contact(GetContactRequest { id: String::new() })
                .await
            {
                Err(status) if status.code() == tonic::Code::InvalidArgument => Ok(()),
                Err(status) => Err(status),
                Ok(_) => Err(tonic::Status::internal("an empty id was accepted")),
            }
        }
    };
    let ping_rps = bench
        .closed(
            "gateway ping: auth + hop to contacts",
            &pids,
            Some(("echo", echo_rps, 0.5)),
            ping,
        )
        .await;
    // A create with 60,000 tags (600 KB) is refused on its length before any tag is read; it
    // once cost 47 s of CPU.
    let client = admin.contacts();
    let tags: Vec<String> = (0..60_000).map(|i| format!("t{i}")).collect();
    let oversized = move |_| {
        let mut client = client.clone();
        let tags = tags.clone();
        async move {
            let request = CreateContactRequest {
                contact: Some(Contact {
                    display_name: "Huge".into(),
                    tags,
                    ..Default::default()
                }),
                allow_duplicates: true,
                request_id: String::new(),
            };
            match client.create_contact(request).await {
                Err(status) if status.code() == tonic::Code::InvalidArgument => Ok(()),
                Err(status) => Err(status),
                Ok(_) => Err(tonic::Status::internal("60,000 tags were accepted")),
            }
        }
    };
    bench
        .closed(
            "  CreateContact with 60,000 tags, refused",
            &pids,
            Some(("gateway ping", ping_rps, 0.05)),
            oversized,
        )
        .await;
    seed(&suite, &admin, HOT);
    let warm = get_contact(&admin, HOT);
    for i in 0..HOT {
        warm(i).await.unwrap();
    }
    let redis_hit = bench
        .closed(
            "GetContact, Redis cache hit, via gateway",
            &pids,
            Some(("gateway ping", ping_rps, 0.75)),
            get_contact(&admin, HOT),
        )
        .await;
    let report = open_loop(redis_hit * 0.5, seconds(), get_contact(&admin, HOT)).await;
    bench.record("  same, open loop at 50% of max", &report, 0, None);
    drop(suite);

    // Distributed with the cache off: reads and writes reach PostgreSQL.
    let suite = Suite::start_with(
        Mode::Distributed,
        &[env_fast(), vec![("CRM_CACHE_TTL_SECS", "0")]].concat(),
    )
    .await;
    let admin = suite.admin().await;
    let pids = suite.server_pids();
    seed(&suite, &admin, SEEDED);
    let database = suite.database_name("contacts").unwrap();
    let read_sql = format!(
        "\\set n random(1, {SEEDED})\nselect id, tenant_id, owner_id, given_name, family_name, display_name, email, phone, title, account_id, version, create_time, update_time, delete_time from contacts where tenant_id = '{}' and id = 'bench-' || lpad(:n::text, 7, '0') limit 1;\n",
        admin.tenant_id
    );
    let (pg_read_tps, pg_read_ms) = pgbench(&database, &read_sql, 16);
    println!(
        "  {:<46} {:>9.0} tps  avg {:>6.2} ms",
        "pgbench -M prepared: the same select", pg_read_tps, pg_read_ms
    );
    bench
        .closed(
            "GetContact from PostgreSQL, via gateway",
            &pids,
            Some(("pgbench select", pg_read_tps, 0.45)),
            get_contact(&admin, SEEDED),
        )
        .await;
    store_level(&mut bench, &database, &admin).await;
    let insert_sql = format!(
        "insert into contacts (id, tenant_id, owner_id, given_name, family_name, display_name, email, phone, title, account_id, version, create_time, update_time, delete_time) values (gen_random_uuid()::text, '{}', '{}', 'Ada', 'Lovelace', 'Ada Lovelace', 'ada@example.com', '', '', '', 1, 0, 0, null);\n",
        admin.tenant_id, admin.user_id
    );
    let (pg_insert_tps, pg_insert_ms) = pgbench(&database, &insert_sql, 16);
    println!(
        "  {:<46} {:>9.0} tps  avg {:>6.2} ms",
        "pgbench -M prepared: single-row insert", pg_insert_tps, pg_insert_ms
    );
    let client = admin.contacts();
    // One counter across the warm-up and the measured run (each restarts its own call
    // numbers), so no two creates share an e-mail address and none fails as a duplicate.
    let created = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let create = move |_| {
        let mut client = client.clone();
        let n = created.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        async move {
            let contact = Contact {
                given_name: "Ada".into(),
                family_name: "Lovelace".into(),
                email: format!("ada{n}@example.com"),
                ..Default::default()
            };
            client
                .create_contact(CreateContactRequest {
                    allow_duplicates: false,
                    contact: Some(contact),
                    request_id: String::new(),
                })
                .await
                .map(|_| ())
        }
    };
    bench
        .closed(
            "CreateContact (row, audit, outbox), via gateway",
            &pids,
            Some(("pgbench insert", pg_insert_tps, 0.5)),
            create,
        )
        .await;
    drop(suite);

    // Embedded: one process, SQLite, in-process cache.
    let suite = Suite::start_with(Mode::Embedded, &env_fast()).await;
    let admin = suite.admin().await;
    let mut ids = Vec::new();
    for i in 0..HOT {
        let created = admin
            .contacts()
            .create_contact(CreateContactRequest {
                allow_duplicates: false,
                contact: Some(Contact {
                    display_name: format!("Hot {i}"),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap();
        ids.push(created.into_inner().contact.unwrap().id);
    }
    let ids = std::sync::Arc::new(ids);
    let client = admin.contacts();
    let get = move |i: u64| {
        let mut client = client.clone();
        let id = ids[(i % HOT) as usize].clone();
        async move {
            client
                .get_contact(GetContactRequest { id })
                .await
                .map(|_| ())
        }
    };
    for i in 0..HOT {
        get(i).await.unwrap();
    }
    let pids = suite.server_pids();
    bench
        .closed(
            "GetContact, in-process cache hit (crm up)",
            &pids,
            Some(("gateway ping", ping_rps, 0.75)),
            get,
        )
        .await;
    drop(suite);

    let echo_again = bench
        .closed(
            "echo again, end of run",
            &echo.program_pids(),
            None,
            echo_check,
        )
        .await;
    echo.stop();
    bench.echo_mean = Some((echo_rps + echo_again) / 2.0);
    println!(
        "  bare server limit: {echo_rps:.0} rps at the start, {echo_again:.0} at the end; ratios use the mean"
    );
    bench.print_summary();
}
