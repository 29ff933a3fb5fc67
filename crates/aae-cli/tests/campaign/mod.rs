//! `aae campaign` on embedded defaults: the real local model (SmolLM2-135M), local files and
//! SQLite. A brief goes in; the record, the four artifacts and the creatives come out; then
//! `list`, `show`, `resume` of a finished campaign, and `delete`. And the crash test: an
//! `aae worker` killed (SIGKILL) mid-campaign, then `aae campaign resume` finishing it without
//! redoing the completed step.

use std::path::{Path, PathBuf};

use crate::{aae, aae_command, stderr, stdout};

fn shared_models_dir() -> PathBuf {
    std::env::var_os("AAE_TEST_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
        home.join(".cache/aae-tools/models")
    })
}

/// The stored object whose path ends with `key`, under the data dir.
fn stored(data_dir: &Path, key: &str) -> PathBuf {
    let found = walk(data_dir).into_iter().find(|p| p.to_string_lossy().ends_with(key));
    found.unwrap_or_else(|| panic!("{key} is not stored under {}", data_dir.display()))
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn campaign_create_runs_a_brief_to_every_artifact_on_the_local_model() {
    let dir = tempfile::tempdir().unwrap();
    let models = shared_models_dir();
    let env = [("AAE__MODELS__DIR", models.to_str().unwrap())];
    let fetch = aae(dir.path(), &["models", "fetch", "--json"], &env);
    assert!(fetch.status.success(), "{}", stderr(&fetch));
    let brief = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/briefs/coffee_subscription.toml");

    let started = std::time::Instant::now();
    let out = aae(dir.path(), &["campaign", "create", "--brief", brief, "--json"], &env);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    eprintln!("campaign on the local model took {:.1} s", started.elapsed().as_secs_f64());
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = summary["campaign_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("campaign_") && id.len() == "campaign_20250101_120000_000000".len(), "{id}");
    assert_eq!(summary["status"], "completed");
    assert!(summary["cost"].as_f64().unwrap() >= 0.0, "{summary}");
    let creatives = summary["creatives"].as_array().unwrap();
    assert_eq!(creatives.len(), 7, "every standard size: {summary}");
    for (field, key) in [
        ("website", "website/index.html"),
        ("pdf", "pdf/campaign_report.pdf"),
        ("artifacts", "artifacts/workflow_state.json"),
        ("metadata", "metadata/campaign_metadata.json"),
    ] {
        let url = summary["urls"][field].as_str().unwrap_or_else(|| panic!("{field} in {summary}"));
        assert!(url.contains(&id), "{field}: {url}");
        let path = stored(dir.path(), &format!("campaigns/{id}/{key}"));
        assert!(std::fs::metadata(&path).unwrap().len() > 100, "{}", path.display());
    }
    let show = aae(dir.path(), &["campaign", "show", &id, "--json"], &env);
    let record: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(record["status"], "completed");
    assert!(record["execution_time"].as_f64().unwrap() > 0.0);
    let pdf = std::fs::read(stored(dir.path(), &format!("campaigns/{id}/pdf/campaign_report.pdf"))).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let html = std::fs::read_to_string(stored(dir.path(), &format!("campaigns/{id}/website/index.html"))).unwrap();
    assert!(html.to_ascii_lowercase().starts_with("<!doctype html>"), "{}", &html[..80.min(html.len())]);
    for size in ["square_1080x1080", "story_1080x1920", "landscape_1200x628", "mobile_banner_320x50"] {
        stored(dir.path(), &format!("campaigns/{id}/creatives/{size}.png"));
    }
    let interactions = record["agent_interactions"].as_array().unwrap();
    // The orchestrator ran once and each specialist once, in whatever order the small model
    // asked for them (the pipeline runs any it did not ask for).
    let mut agents: Vec<&str> = interactions.iter().map(|i| i["agent"].as_str().unwrap()).collect();
    agents.sort_unstable();
    assert_eq!(
        agents,
        ["ad_creative_agent", "campaign_automation_agent", "campaign_orchestrator", "market_insights_agent"]
    );
    assert!(interactions.iter().any(|i| i["output_tokens"].as_u64().unwrap() > 0), "the real model ran");
    let log = record["progress_log"].as_array().unwrap();
    assert_eq!(log.last().unwrap()["status"], "completed");
    assert_eq!(log.last().unwrap()["percent"], 100.0);

    let list = aae(dir.path(), &["campaign", "list", "--json"], &env);
    let items: Vec<serde_json::Value> = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["campaign_id"], id.as_str());
    let show = aae(dir.path(), &["campaign", "show", &id], &env);
    assert!(stdout(&show).contains("completed") && stdout(&show).contains("website"), "{}", stdout(&show));

    let resume = aae(dir.path(), &["campaign", "resume", &id], &env);
    assert!(!resume.status.success());
    assert!(stderr(&resume).contains("already completed"), "{}", stderr(&resume));

    let delete = aae(dir.path(), &["campaign", "delete", &id], &env);
    assert!(delete.status.success(), "{}", stderr(&delete));
    let gone = aae(dir.path(), &["campaign", "show", &id], &env);
    assert!(!gone.status.success());
    let prefix = format!("campaigns/{id}/");
    assert!(walk(dir.path()).iter().all(|p| !p.to_string_lossy().contains(&prefix)), "artifacts deleted");
}

#[test]
fn campaign_create_refuses_a_bad_brief_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let brief = dir.path().join("brief.toml");
    std::fs::write(&brief, "name = \"x\"\nproduct = \"y\"\n").unwrap();
    let out = aae(dir.path(), &["campaign", "create", "--brief", brief.to_str().unwrap()], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("audience") || err.contains("goals"), "the error names a missing key: {err}");
    let list = aae(dir.path(), &["campaign", "list", "--json"], &[]);
    assert_eq!(stdout(&list).trim(), "[]", "nothing was created");
}

/// `aae worker` in `data_dir` with the shared models, its log in a file; killed when dropped.
struct Worker(std::process::Child);

impl Worker {
    fn start(data_dir: &Path, models: &str) -> Self {
        let log = std::fs::File::create(data_dir.join("worker.log")).expect("worker log file");
        let mut command = aae_command(data_dir, &["worker", "--concurrency", "1"], &[("AAE__MODELS__DIR", models)]);
        command.stdout(std::process::Stdio::null()).stderr(log);
        Self(command.spawn().expect("spawn aae worker"))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn steps(record: &serde_json::Value, status: &str) -> Vec<String> {
    let log = record["progress_log"].as_array().cloned().unwrap_or_default();
    log.iter().filter(|e| e["status"] == status).map(|e| e["step"].as_str().unwrap_or_default().to_owned()).collect()
}

#[test]
fn a_campaign_whose_worker_is_killed_mid_run_resumes_without_redoing_finished_steps() {
    let dir = tempfile::tempdir().unwrap();
    let models = shared_models_dir();
    let models = models.to_str().unwrap();
    let env = [("AAE__MODELS__DIR", models)];
    assert!(aae(dir.path(), &["models", "fetch", "--json"], &env).status.success());
    let brief = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/briefs/coffee_subscription.toml");
    let queued = aae(dir.path(), &["campaign", "create", "--brief", brief, "--detach", "--json"], &env);
    assert!(queued.status.success(), "{}", stderr(&queued));
    let queued: serde_json::Value = serde_json::from_slice(&queued.stdout).unwrap();
    let id = queued["campaign_id"].as_str().unwrap().to_owned();

    // A worker runs it; it is killed (SIGKILL) once the first step is checkpointed.
    let show = |dir: &Path| -> serde_json::Value {
        let out = aae(dir, &["campaign", "show", &id, "--json"], &env);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let worker = Worker::start(dir.path(), models);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    while !steps(&show(dir.path()), "completed").contains(&"market_insights".to_owned()) {
        assert!(std::time::Instant::now() < deadline, "the first step never completed");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    drop(worker);
    let crashed = show(dir.path());
    assert_eq!(crashed["status"], "running", "the killed run left the record running");
    assert!(!steps(&crashed, "completed").contains(&"save".to_owned()));

    // Resume: the dead worker's job is cancelled, and the finished step is not redone.
    let out = aae(dir.path(), &["campaign", "resume", &id, "--json"], &env);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["status"], "completed");
    assert_eq!(summary["creatives"].as_array().unwrap().len(), 7);
    let record = show(dir.path());
    // The steps finished before the kill (the insights, and any other the orchestrator asked
    // for first) are skipped, not redone.
    // (An attempt that times out on a loaded machine is retried, and each retry skips them again.)
    let mut finished = steps(&crashed, "completed");
    finished.sort_unstable();
    finished.dedup();
    let mut skipped = steps(&record, "skipped");
    skipped.sort_unstable();
    skipped.dedup();
    assert_eq!(skipped, finished, "{}", record["progress_log"]);
    let agents: Vec<&str> =
        record["agent_interactions"].as_array().unwrap().iter().map(|i| i["agent"].as_str().unwrap()).collect();
    // The killed run's interactions were written as they ended; insights were not asked for again.
    let insights = agents.iter().filter(|a| **a == "market_insights_agent").count();
    assert_eq!(insights, 1, "{agents:?}");
    let jobs = aae(dir.path(), &["jobs", "list", "--kind", "campaign", "--json"], &env);
    let jobs: Vec<serde_json::Value> = serde_json::from_slice(&jobs.stdout).unwrap();
    let statuses: Vec<&str> = jobs.iter().map(|j| j["status"].as_str().unwrap()).collect();
    assert!(statuses.contains(&"cancelled") && statuses.contains(&"completed"), "{statuses:?}");
}
