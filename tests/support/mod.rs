//! The end-to-end harness: real PostgreSQL and Redis on loopback ports of their own, real
//! `crm` processes, and gRPC clients over real sockets through the gateway.
//!
//! Every child process runs under a small shell watchdog that stops it when this test
//! process goes away (its stdin closes), so nothing outlives the test run.

// Test support panics on purpose: a failed setup is a failed test with a clear message.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

pub mod cash;
pub mod clients;
pub mod desk;
pub mod existence;
pub mod org;
pub mod process;
pub mod quoting;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use process::{Watched, free_port, scratch_dir};

/// How the suite runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `crm up`: one process, SQLite, in-process cache and bus.
    Embedded,
    /// `crm serve` targets as separate processes on PostgreSQL and Redis.
    Distributed,
}

/// The password every suite's first admin gets.
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const SECRET: &str = "test-secret-that-is-at-least-32-characters-long";

/// One PostgreSQL server shared by the test binary; each suite gets its own databases.
pub struct Postgres {
    pub port: u16,
    _server: Watched,
}

pub fn find_pg_bin(name: &str) -> PathBuf {
    if let Ok(dir) = std::env::var("CRM_TEST_PG_BIN") {
        return PathBuf::from(dir).join(name);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    versions.sort();
    versions
        .pop()
        .map(|v| v.join("bin").join(name))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Starts (once) and returns the shared PostgreSQL server.
pub fn postgres() -> &'static Postgres {
    static PG: OnceLock<Postgres> = OnceLock::new();
    PG.get_or_init(Postgres::start)
}

impl Postgres {
    /// Starts a server of its own on a free port.
    pub fn start() -> Postgres {
        let dir = scratch_dir("pg");
        let as_postgres = process::running_as_root().then(process::postgres_user);
        if let Some((uid, gid)) = as_postgres {
            process::chown(&dir, uid, gid);
        }
        let data = dir.join("data");
        let status = process::command(&find_pg_bin("initdb"), as_postgres)
            .args([
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("initdb runs (install postgresql)");
        assert!(status.success(), "initdb failed");
        let port = free_port();
        let mut cmd = process::command(&find_pg_bin("postgres"), as_postgres);
        cmd.args([
            "-D",
            data.to_str().unwrap(),
            "-p",
            &port.to_string(),
            "-k",
            dir.to_str().unwrap(),
            "-c",
            "listen_addresses=127.0.0.1",
            // Durability is not under test here; speed is welcome.
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=400",
        ]);
        let server = Watched::spawn_cleaning(cmd, "postgres", &dir);
        process::wait_for_port(port);
        // The port opens a moment before the server accepts sessions.
        for _ in 0..100 {
            if psql(port, "select 1").is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Postgres {
            port,
            _server: server,
        }
    }

    /// The URL of one of its databases.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Kills the server outright (as a crash would); the suite's databases stay unreachable.
    pub fn kill(&self) {
        // The postmaster and every backend: backends outlive a killed postmaster and would go
        // on serving pooled connections.
        let mut pids = self._server.program_pids();
        let mut i = 0;
        while i < pids.len() {
            let pid = pids[i];
            let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default();
            pids.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
            i += 1;
        }
        for pid in pids {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
        }
    }
}

/// Runs one SQL statement with psql on one database of the shared server.
pub fn psql_db(database: &str, sql: &str) -> Result<String, String> {
    let out = std::process::Command::new(find_pg_bin("psql"))
        .args(["-h", "127.0.0.1", "-p", &postgres().port.to_string()])
        .args(["-U", "postgres", "-d", database, "-tAc", sql])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Runs one SQL statement with psql.
pub fn psql(port: u16, sql: &str) -> Result<String, String> {
    let out = std::process::Command::new(find_pg_bin("psql"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-tAc",
            sql,
        ])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A Redis server owned by one suite, so a test may stop and restart it.
pub struct Redis {
    pub port: u16,
    dir: PathBuf,
    server: Option<Watched>,
}

impl Redis {
    pub fn start() -> Self {
        let mut redis = Redis {
            port: free_port(),
            dir: scratch_dir("redis"),
            server: None,
        };
        redis.restart();
        redis
    }

    /// Stops the server (a clean shutdown; its data is not saved).
    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }

    /// Starts the server again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        let mut cmd = std::process::Command::new("redis-server");
        cmd.args([
            "--port",
            &self.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self.dir.to_str().unwrap(),
        ]);
        self.server = Some(Watched::spawn(cmd, "redis"));
        process::wait_for_port(self.port);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

/// A running suite: its processes, its gateway address, and the first admin.
pub struct Suite {
    pub mode: Mode,
    pub gateway: String,
    pub redis: Option<Redis>,
    pub data_dir: PathBuf,
    processes: Vec<Watched>,
    keep_data: bool,
    /// Distributed suites: each target's PostgreSQL database, the gateway's included.
    databases: BTreeMap<String, String>,
    /// Distributed suites: each service's own address.
    addrs: BTreeMap<String, String>,
    /// Distributed suites: the server holding their databases.
    pg: Option<&'static Postgres>,
}

static SUITE_COUNTER: AtomicU32 = AtomicU32::new(0);

/// What to start: the mode, extra environment, and which services of the registry (all
/// unless named), with the gateway always.
pub struct SuiteBuilder {
    mode: Mode,
    env: Vec<(String, String)>,
    services: Vec<&'static dyn crm_platform::service::ServiceModule>,
    target_keys: bool,
    own_postgres: bool,
}

impl SuiteBuilder {
    /// A PostgreSQL server of the suite's own rather than the shared one, for a test that
    /// stops it.
    pub fn own_postgres(mut self) -> Self {
        self.own_postgres = true;
        self
    }

    /// Extra environment for every process.
    pub fn env(mut self, env: &[(&str, &str)]) -> Self {
        self.env
            .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self
    }

    /// Only these services of the registry, besides the gateway.
    pub fn services(mut self, names: &[&str]) -> Self {
        self.services = names
            .iter()
            .map(|name| crm::registry::find(name).unwrap_or_else(|| panic!("no service {name}")))
            .collect();
        self
    }

    /// Distributed targets that each hold only their own keys (`crm keys --target`), not
    /// `CRM_SECRET`.
    pub fn target_keys(mut self) -> Self {
        self.target_keys = true;
        self
    }

    pub async fn start(self) -> Suite {
        let data_dir = scratch_dir("suite");
        match self.mode {
            Mode::Embedded => self.start_embedded(data_dir),
            Mode::Distributed => self.start_distributed(data_dir),
        }
    }

    /// Every process's environment: the extra one, and which services are deployed.
    fn environment(&self) -> Vec<(String, String)> {
        let names: Vec<&str> = self.services.iter().map(|m| m.name()).collect();
        let deployed = if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(",")
        };
        let mut env = vec![("CRM_SERVICES".to_owned(), deployed)];
        env.extend(self.env.iter().cloned());
        env
    }

    fn start_embedded(self, data_dir: PathBuf) -> Suite {
        let env = self.environment();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut cmd = crm(&data_dir, &env);
        cmd.arg("up").env("CRM_LISTEN_ADDR", "127.0.0.1:0");
        let (process, gateway) = Watched::spawn_crm(cmd, "gateway");
        Suite {
            mode: Mode::Embedded,
            gateway,
            redis: None,
            data_dir,
            processes: vec![process],
            keep_data: false,
            databases: BTreeMap::new(),
            addrs: BTreeMap::new(),
            pg: None,
        }
    }

    fn start_distributed(self, data_dir: PathBuf) -> Suite {
        let env = self.environment();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        // Each target's own keys, from the master secret, or the master for all.
        let target_keys = self.target_keys;
        let keys = |cmd: &mut std::process::Command, target: &str| {
            if target_keys {
                cmd.env_remove("CRM_SECRET")
                    .env("CRM_TARGET_KEYS", target_keys_of(target));
            }
        };
        // A suite's own server lives as long as the test process, like the shared one.
        let pg: &'static Postgres = if self.own_postgres {
            Box::leak(Box::new(Postgres::start()))
        } else {
            postgres()
        };
        let redis = Redis::start();
        let n = SUITE_COUNTER.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}_{n}", std::process::id());
        let targets: Vec<&str> = self
            .services
            .iter()
            .map(|m| m.name())
            .chain(["gateway"])
            .collect();
        let mut databases = BTreeMap::new();
        for target in &targets {
            let name = format!("{target}_{tag}");
            psql(pg.port, &format!("create database {name}")).expect("create database");
            let status = crm(&data_dir, &env)
                .args(["migrate", "--target", target])
                .env("CRM_DATABASE_URL", pg.url(&name))
                .stdout(std::process::Stdio::null())
                .status()
                .expect("crm migrate runs");
            assert!(status.success(), "crm migrate --target {target} failed");
            databases.insert(target.to_string(), name);
        }
        let mut processes = Vec::new();
        let mut addrs = BTreeMap::new();
        let mut gateway = crm(&data_dir, &env);
        for module in &self.services {
            let mut cmd = crm(&data_dir, &env);
            keys(&mut cmd, module.name());
            // A service reaches the peers it calls as the caller; the registry starts them
            // before it.
            for peer in module.peers() {
                if let (Some(addr), Some(peer)) = (addrs.get(*peer), crm::registry::find(peer)) {
                    cmd.env(
                        crm_platform::service::url_variable(peer),
                        format!("http://{addr}"),
                    );
                }
            }
            cmd.args(["serve", "--target", module.name()])
                .env("CRM_DATABASE_URL", pg.url(&databases[module.name()]))
                .env("CRM_REDIS_URL", redis.url())
                .env("CRM_LISTEN_ADDR", "127.0.0.1:0");
            let (process, addr) = Watched::spawn_crm(cmd, module.name());
            gateway.env(
                crm_platform::service::url_variable(*module),
                format!("http://{addr}"),
            );
            processes.push(process);
            addrs.insert(module.name().to_owned(), addr);
        }
        keys(&mut gateway, "gateway");
        gateway
            .args(["serve", "--target", "gateway"])
            .env("CRM_DATABASE_URL", pg.url(&databases["gateway"]))
            .env("CRM_REDIS_URL", redis.url())
            .env("CRM_LISTEN_ADDR", "127.0.0.1:0");
        let (gateway_process, gateway) = Watched::spawn_crm(gateway, "gateway");
        processes.insert(0, gateway_process);
        Suite {
            mode: Mode::Distributed,
            gateway,
            redis: Some(redis),
            data_dir,
            processes,
            keep_data: false,
            databases,
            addrs,
            pg: Some(pg),
        }
    }
}

impl Suite {
    /// A suite to start: every service of the registry unless told otherwise.
    pub fn builder(mode: Mode) -> SuiteBuilder {
        SuiteBuilder {
            mode,
            env: Vec::new(),
            services: crm::registry::services().to_vec(),
            target_keys: false,
            own_postgres: false,
        }
    }

    /// The PostgreSQL server of a distributed suite.
    pub fn postgres(&self) -> &'static Postgres {
        self.pg.expect("a distributed suite has PostgreSQL")
    }

    pub async fn start(mode: Mode) -> Suite {
        Self::builder(mode).start().await
    }

    /// Starts a suite with extra environment for every process.
    pub async fn start_with(mode: Mode, env: &[(&str, &str)]) -> Suite {
        Self::builder(mode).env(env).start().await
    }

    /// Starts `crm serve` targets that each hold only their own keys (`crm keys --target`),
    /// not `CRM_SECRET`.
    pub async fn start_with_target_keys() -> Suite {
        Self::builder(Mode::Distributed).target_keys().start().await
    }

    /// Starts `crm up` on an existing data directory.
    pub fn start_embedded(data_dir: PathBuf, env: &[(&str, &str)]) -> Suite {
        Self::builder(Mode::Embedded)
            .env(env)
            .start_embedded(data_dir)
    }

    /// Distributed suites: the PostgreSQL database of a target (`contacts`, `gateway`).
    pub fn database_name(&self, target: &str) -> Option<String> {
        self.databases.get(target).cloned()
    }

    /// Distributed suites: a service's own address.
    pub fn service_addr(&self, service: &str) -> Option<String> {
        self.addrs.get(service).cloned()
    }

    /// Stops every process of the suite, keeping its data directory for a restart.
    pub fn stop(mut self) -> PathBuf {
        self.keep_data = true;
        self.data_dir.clone()
    }

    /// Distributed suites: kills one service's process (the gateway and the rest go on), as
    /// a crash or a lost node would.
    pub fn kill_service(&self, service: &str) {
        let addr = self
            .addrs
            .get(service)
            .expect("a distributed suite runs the service");
        let port = addr.rsplit(':').next().unwrap_or_default();
        for watched in &self.processes {
            for pid in watched.program_pids() {
                let listens = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                    .map(|cmd| cmd.contains("serve") && cmd.contains(service))
                    .unwrap_or(false);
                if listens {
                    let _ = std::process::Command::new("kill")
                        .args(["-9", &pid.to_string()])
                        .status();
                }
            }
        }
        // The port no longer answers once the process is gone.
        for _ in 0..100 {
            if std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("{service} still answers on {addr}");
    }

    /// The pids of the suite's server programs (for CPU accounting).
    pub fn server_pids(&self) -> Vec<u32> {
        self.processes
            .iter()
            .flat_map(Watched::program_pids)
            .collect()
    }

    /// Moves the platform clock of every process of the suite forward by `by`, and returns
    /// once each has taken the new time (see `crm_platform::clock`).
    pub async fn advance_clock(&self, by: std::time::Duration) {
        let file = clock_file(&self.data_dir);
        let offset = clock_offset(&self.data_dir) + by.as_micros() as i64;
        let staged = file.with_extension("staged");
        std::fs::write(&staged, offset.to_string()).expect("clock file written");
        std::fs::rename(&staged, &file).expect("clock file replaced");
        let pids = self.server_pids();
        assert!(!pids.is_empty(), "the suite has processes");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        for pid in pids {
            let ack = file.with_extension(pid.to_string());
            while std::fs::read_to_string(&ack).ok().as_deref() != Some(&offset.to_string()) {
                assert!(
                    std::time::Instant::now() < deadline,
                    "process {pid} did not move its clock"
                );
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }

    /// Now as the suite's processes read it, in microseconds since the epoch.
    pub fn now_micros(&self) -> i64 {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as i64;
        wall + clock_offset(&self.data_dir)
    }

    pub fn redis(&mut self) -> &mut Redis {
        self.redis.as_mut().expect("distributed suites have redis")
    }

    pub async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(format!("http://{}", self.gateway))
            .unwrap()
            .connect()
            .await
            .expect("gateway accepts connections")
    }

    /// Every event the contacts service wrote to its outbox, oldest first.
    pub async fn contacts_events(&self) -> Vec<crm_proto::contacts::ContactsEvent> {
        self.outbox("contacts").await
    }

    /// Every event a service wrote to its outbox, oldest first. The outbox is the record of
    /// what was announced, in both modes.
    pub async fn outbox<E: prost::Message + Default>(&self, service: &str) -> Vec<E> {
        use sea_orm::{EntityTrait as _, QueryOrder as _};
        let db = self.db(service).await;
        let rows = crm_platform::entity::outbox::Entity::find()
            .order_by_asc(crm_platform::entity::outbox::Column::Seq)
            .all(&db)
            .await
            .expect("outbox rows");
        rows.iter()
            .map(|row| E::decode(row.payload.as_slice()).expect("an event of the service"))
            .collect()
    }

    /// A connection to the contacts service's own database.
    pub async fn contacts_db(&self) -> sea_orm::DatabaseConnection {
        self.db("contacts").await
    }

    /// A connection to a target's own database, for arranging what no API may do and for
    /// reading the outbox.
    pub async fn db(&self, target: &str) -> sea_orm::DatabaseConnection {
        let url = match self.databases.get(target) {
            Some(name) => self.postgres().url(name),
            None => format!(
                "sqlite://{}?mode=rw",
                self.data_dir.join(format!("{target}.db")).display()
            ),
        };
        sea_orm::Database::connect(url)
            .await
            .unwrap_or_else(|e| panic!("{target} database: {e}"))
    }

    /// How many rows each table of the contacts database holds that a write would add to:
    /// the records, their index and search grams, the audit log, the outbox and the request
    /// ids. "Nothing written" means this is unchanged, not only that the API shows nothing.
    pub async fn contacts_footprint(&self) -> Vec<(&'static str, i64)> {
        use sea_orm::ConnectionTrait as _;
        let db = self.contacts_db().await;
        let mut counts = Vec::new();
        for table in [
            "accounts",
            "contacts",
            "record_index",
            "search_grams",
            "audit_log",
            "outbox",
            "idempotency_keys",
            "interactions",
            "follow_ups",
        ] {
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    format!("SELECT COUNT(*) AS n FROM {table}"),
                ))
                .await
                .expect("count rows")
                .expect("one row");
            counts.push((table, row.try_get::<i64>("", "n").expect("a count")));
        }
        counts
    }

    /// Runs one statement on the contacts database.
    pub async fn contacts_sql(&self, sql: &str) {
        use sea_orm::ConnectionTrait as _;
        self.contacts_db()
            .await
            .execute_unprepared(sql)
            .await
            .expect("statement runs");
    }

    pub async fn admin(&self) -> clients::Session {
        clients::Session::login(self, ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .expect("admin signs in")
    }
}

/// What `crm keys --target <target>` prints for the suite's secret.
pub fn target_keys_of(target: &str) -> String {
    let out = crm(&scratch_dir("keys"), &[])
        .args(["keys", "--target", target])
        .output()
        .expect("crm keys runs");
    assert!(out.status.success(), "crm keys --target {target} failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .strip_prefix("CRM_TARGET_KEYS=")
        .expect("crm keys prints CRM_TARGET_KEYS=")
        .to_owned()
}

/// A `crm` command with the suite's common environment.
/// The file through which a suite's clock is moved.
fn clock_file(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("clock-offset")
}

/// How far the suite's clock has been moved, in microseconds.
fn clock_offset(data_dir: &std::path::Path) -> i64 {
    std::fs::read_to_string(clock_file(data_dir))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

pub fn crm(data_dir: &std::path::Path, env: &[(&str, &str)]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_crm"));
    // Settings from the developer's shell must not leak into the suite.
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CRM_")) {
        cmd.env_remove(key);
    }
    cmd.env("CRM_DATA_DIR", data_dir)
        .env("CRM_TEST_CLOCK_FILE", clock_file(data_dir))
        .env("CRM_SECRET", SECRET)
        .env("CRM_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("CRM_LOG", "warn");
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Suite {
    fn drop(&mut self) {
        for process in self.processes.drain(..) {
            process.stop();
        }
        if !self.keep_data {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

/// Declares one async test per mode for a scenario `async fn(Mode)`.
#[macro_export]
macro_rules! both_modes {
    ($($scenario:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario($crate::support::Mode::Embedded).await;
                }
            )*
        }
        mod distributed {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario($crate::support::Mode::Distributed).await;
                }
            )*
        }
    };
}
