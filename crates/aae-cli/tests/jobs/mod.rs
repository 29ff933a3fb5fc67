//! `aae jobs …` and `aae worker`, run as processes: the operator commands, and the crash test —
//! a worker killed with SIGKILL (or frozen with SIGSTOP, a zombie) mid-job, another worker
//! finishing the job exactly once after the lease expires — on SQLite and on PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use aae_testkit::{Engine, TestDatabase};
use serde_json::Value;

/// Runs `aae` against `db` with a 2 s lease and 1 s heartbeats.
fn command(db: &TestDatabase, args: &[&str]) -> Command {
    let mut command = crate::aae_command(db.data_dir(), args, &[]);
    for (key, value) in db.env() {
        command.env(key, value);
    }
    command
        .env("AAE__JOBS__LEASE_SECS", "2")
        .env("AAE__JOBS__HEARTBEAT_SECS", "1")
        .env("AAE__JOBS__POLL_INTERVAL_MS", "100")
        .env("AAE__LOG__LEVEL", "info")
        .env("NO_COLOR", "1");
    command
}

fn run(db: &TestDatabase, args: &[&str]) -> Output {
    let out = command(db, args).output().expect("run aae");
    assert!(
        out.status.success(),
        "aae {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn show(db: &TestDatabase, id: &str) -> Value {
    serde_json::from_slice(&run(db, &["jobs", "show", id, "--json"]).stdout).expect("job json")
}

/// An `aae worker` process, killed when dropped; its log goes to a file.
struct WorkerProcess {
    child: Child,
    log: PathBuf,
}

impl WorkerProcess {
    fn start(db: &TestDatabase, name: &str) -> Self {
        let log = db.data_dir().join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let child = command(db, &["worker", "--concurrency", "1", "--grace-secs", "5"])
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn aae worker");
        Self { child, log }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([signal, &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success(), "kill {signal}");
    }

    /// Log lines that mention both `needle` and `job`.
    fn lines(&self, needle: &str, job: &str) -> usize {
        read(&self.log).lines().filter(|l| l.contains(needle) && l.contains(job)).count()
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Polls `check` every 100 ms for up to `secs` seconds.
fn wait_for(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out after {secs} s waiting for {what}");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Crash {
    /// SIGKILL: the process is gone.
    Kill,
    /// SIGSTOP until the job is taken over, then SIGCONT: a zombie that must not complete it.
    Freeze,
}

fn crashed_worker_job_completes_exactly_once(engine: Engine, crash: Crash) {
    let db = runtime().block_on(TestDatabase::new(engine)).expect("test database");
    run(&db, &["db", "migrate"]);
    let out = run(&db, &["jobs", "enqueue", "noop", "--topic", "crash", "--configuration", r#"{"sleep_ms": 4000}"#]);
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();

    let first = WorkerProcess::start(&db, "first");
    let first_owner = format!(":{}:", first.child.id());
    wait_for(30, "the first worker to lease the job", || {
        show(&db, &id)["lease_owner"].as_str().is_some_and(|o| o.contains(&first_owner))
    });
    std::thread::sleep(Duration::from_millis(500));
    match crash {
        Crash::Kill => first.signal("-KILL"),
        Crash::Freeze => first.signal("-STOP"),
    }
    let job = show(&db, &id);
    assert_eq!((job["status"].as_str(), job["attempts"].as_i64()), (Some("running"), Some(1)), "{job}");

    let second = WorkerProcess::start(&db, "second");
    let second_owner = format!(":{}:", second.child.id());
    wait_for(30, "the second worker to take the job over", || {
        show(&db, &id)["lease_owner"].as_str().is_some_and(|o| o.contains(&second_owner))
    });
    if crash == Crash::Freeze {
        first.signal("-CONT");
        wait_for(30, "the zombie to notice its lost lease", || first.lines("lease lost", &id) == 1);
    }
    wait_for(60, "the job to complete", || show(&db, &id)["status"] == "completed");

    let job = show(&db, &id);
    assert_eq!(job["attempts"], 2, "{job}");
    assert!(job["metrics"]["slept_ms"].as_u64() >= Some(4000), "the second run slept in full: {job}");
    assert_eq!(first.lines("job started", &id), 1, "{}", read(&first.log));
    assert_eq!(second.lines("job started", &id), 1, "{}", read(&second.log));
    assert_eq!(second.lines("Completed", &id), 1, "{}", read(&second.log));
    assert_eq!(first.lines("Completed", &id), 0, "the first worker never completed it: {}", read(&first.log));
    if crash == Crash::Freeze {
        // The zombie runs on and stops gracefully; it never records anything for the job.
        first.signal("-TERM");
    }
    second.signal("-TERM");
    let mut second = second;
    let status = second.child.wait().expect("wait for the second worker");
    assert!(status.success(), "graceful exit after SIGTERM: {status:?}\n{}", read(&second.log));
    assert_eq!(show(&db, &id)["status"], "completed");
}

#[test]
fn sqlite_sigkilled_worker_job_completes_exactly_once() {
    crashed_worker_job_completes_exactly_once(Engine::Sqlite, Crash::Kill);
}

#[test]
fn postgres_sigkilled_worker_job_completes_exactly_once() {
    crashed_worker_job_completes_exactly_once(Engine::Postgres, Crash::Kill);
}

#[test]
fn sqlite_frozen_zombie_worker_never_completes_the_job() {
    crashed_worker_job_completes_exactly_once(Engine::Sqlite, Crash::Freeze);
}

#[test]
fn postgres_frozen_zombie_worker_never_completes_the_job() {
    crashed_worker_job_completes_exactly_once(Engine::Postgres, Crash::Freeze);
}

#[test]
fn jobs_commands_enqueue_list_show_cancel_retry() {
    let db = runtime().block_on(TestDatabase::new(Engine::Sqlite)).expect("test database");
    let out = run(
        &db,
        &["jobs", "enqueue", "noop", "--topic", "ping", "--priority", "high", "--configuration", r#"{"a":1}"#],
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let job = show(&db, &id);
    assert_eq!(
        (job["kind"].as_str(), job["priority"].as_str(), job["max_attempts"].as_i64()),
        (Some("noop"), Some("high"), Some(3))
    );
    assert_eq!(job["configuration"], serde_json::json!({"a": 1}));
    let bulk = run(&db, &["jobs", "enqueue", "noop", "--topic", "bulk", "--count", "5", "--json"]);
    let bulk: Value = serde_json::from_slice(&bulk.stdout).unwrap();
    assert_eq!(bulk["enqueued"], 5);

    let list = run(&db, &["jobs", "list", "--status", "queued", "--kind", "noop", "--json"]);
    let list: Vec<Value> = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list.len(), 6);
    let text = String::from_utf8_lossy(&run(&db, &["jobs", "list", "--limit", "2"]).stdout).into_owned();
    assert_eq!(text.lines().count(), 3, "header and two jobs: {text}");
    assert!(String::from_utf8_lossy(&run(&db, &["jobs", "show", &id]).stdout).contains("priority       high"));

    assert!(String::from_utf8_lossy(&run(&db, &["jobs", "cancel", &id]).stdout).contains("cancelled"));
    let again = command(&db, &["jobs", "cancel", &id]).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("only queued or running jobs can be cancelled"));
    assert!(String::from_utf8_lossy(&run(&db, &["jobs", "retry", &id]).stdout).contains("queued"));
    let bad = command(&db, &["jobs", "list", "--status", "done"]).output().unwrap();
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("queued, running"));
    let missing = command(&db, &["jobs", "show", "00000000-0000-0000-0000-000000000000"]).output().unwrap();
    assert!(!missing.status.success() && String::from_utf8_lossy(&missing.stderr).contains("not found"));
}
