//! Child processes under a shell watchdog, free ports and scratch directories.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A child process that stops when this handle is dropped or the test process exits.
pub struct Watched {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Watched {
    /// Spawns `cmd` under a watchdog shell: when our end of its stdin closes, the shell
    /// terminates the program and waits for it.
    pub fn spawn(cmd: Command, name: &str) -> Watched {
        Self::spawn_inner(cmd, name, Stdio::null(), None)
    }

    /// Like [`Watched::spawn`], logging to `dir/<name>.log` and removing `dir` once the
    /// program has stopped.
    pub fn spawn_cleaning(cmd: Command, name: &str, dir: &Path) -> Watched {
        let mut watched = Self::spawn_inner(cmd, name, Stdio::null(), Some(dir));
        watched.name = format!("{name} (log in {})", dir.display());
        watched
    }

    fn spawn_inner(cmd: Command, name: &str, stdout: Stdio, cleanup: Option<&Path>) -> Watched {
        let program = cmd.get_program().to_owned();
        let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(r#""$@" <&- & pid=$!; read _ignored; kill -TERM $pid 2>/dev/null; wait $pid; [ -n "$WATCHDOG_CLEANUP" ] && rm -rf "$WATCHDOG_CLEANUP"; true"#)
            .arg("watchdog")
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(Stdio::inherit());
        if let Some(dir) = cmd.get_current_dir() {
            shell.current_dir(dir);
        }
        for (key, value) in cmd.get_envs() {
            match value {
                Some(value) => shell.env(key, value),
                None => shell.env_remove(key),
            };
        }
        if let Some(dir) = cleanup {
            shell.env("WATCHDOG_CLEANUP", dir);
            // A server's own log goes to a file beside its data, not into the test output.
            let log =
                std::fs::File::create(dir.join(format!("{name}.log"))).expect("create log file");
            if let Some((uid, gid)) = owner_of(&cmd) {
                chown(&dir.join(format!("{name}.log")), uid, gid);
            }
            shell.stderr(log);
        }
        if let Some(uid) = owner_of(&cmd) {
            shell.uid(uid.0).gid(uid.1);
        }
        let mut child = shell
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdin = child.stdin.take();
        Watched {
            name: name.to_owned(),
            child,
            stdin,
        }
    }

    /// Spawns a `crm` process and waits for its "listening on" line; returns the address.
    pub fn spawn_crm(cmd: Command, role: &str) -> (Watched, String) {
        let mut watched = Self::spawn_inner(cmd, role, Stdio::piped(), None);
        let stdout = watched.child.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        let marker = format!("crm: {role} listening on ");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix(&marker) {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{role} did not start listening"));
        (watched, addr)
    }

    /// The pids of the program (the watchdog shell's children).
    pub fn program_pids(&self) -> Vec<u32> {
        let shell = self.child.id();
        std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|pid| pid.parse().ok())
            .collect()
    }

    /// Stops the process and waits for it.
    pub fn stop(mut self) {
        self.stdin.take();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("{} did not stop in time; killing", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.stdin.take();
    }
}

/// Commands built by [`command`] for another user carry it in this env marker.
const RUN_AS: &str = "CRM_TEST_RUN_AS";

fn owner_of(cmd: &Command) -> Option<(u32, u32)> {
    cmd.get_envs()
        .find(|(k, _)| *k == RUN_AS)
        .and_then(|(_, v)| {
            let v = v?.to_str()?.to_owned();
            let (uid, gid) = v.split_once(':')?;
            Some((uid.parse().ok()?, gid.parse().ok()?))
        })
}

/// A command that runs as `user` (uid, gid) when given; PostgreSQL refuses to run as root.
pub fn command(program: &Path, user: Option<(u32, u32)>) -> Command {
    let mut cmd = Command::new(program);
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid).env(RUN_AS, format!("{uid}:{gid}"));
    }
    cmd
}

pub fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// The uid and gid of the `postgres` system user.
pub fn postgres_user() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&"postgres"))
                .then(|| (fields[2].parse().unwrap(), fields[3].parse().unwrap()))
        })
        .expect("a postgres system user exists (install postgresql)")
}

pub fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown scratch dir");
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on `port`.
pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on port {port}");
}

static DIRS: AtomicU32 = AtomicU32::new(0);

/// A fresh directory under the system temp dir, named for this test process.
pub fn scratch_dir(kind: &str) -> PathBuf {
    let n = DIRS.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("crm-e2e-{}-{kind}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}
