//! `aae db import-redis` and the `redis` health line of `aae config check`, against a private
//! redis-server.

// The helpers below are not #[test] functions, so clippy's allow-unwrap-in-tests does not reach them.
#![allow(clippy::unwrap_used)]

use aae_testkit::RedisServer;

use super::{aae, stderr, stdout};

fn hset(server: &RedisServer, key: &str, fields: &[(&str, &str)]) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut redis = redis::Client::open(server.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
        let _: () = redis::cmd("HSET").arg(key).arg(fields).query_async(&mut redis).await.unwrap();
    });
}

#[test]
fn import_redis_copies_job_hashes_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start().unwrap();
    hset(&server, "job:legacy-1", &[("topic", "Ocean documentary"), ("status", "completed")]);
    hset(&server, "job:legacy-2", &[("topic", "Teaser"), ("status", "pending"), ("priority", "high")]);
    hset(&server, "job:legacy-3", &[("status", "pending")]);
    let env = [("AAE_IMPORT_REDIS_URL", server.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let out = aae(dir.path(), &["db", "import-redis", "--json"], &env);
    assert_eq!(out.status.code(), Some(1), "one key was skipped: {}{}", stdout(&out), stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["scanned"].as_u64(), report["imported"].as_u64()), (Some(3), Some(2)), "{report}");
    assert_eq!(report["skipped"][0]["key"], "job:legacy-3");

    let again = aae(dir.path(), &["db", "import-redis", "--pattern", "job:legacy-[12]"], &env);
    assert!(again.status.success(), "{}{}", stdout(&again), stderr(&again));
    assert!(stdout(&again).contains("0 job(s) imported, 2 already there, 0 skipped"), "{}", stdout(&again));

    let none = aae(dir.path(), &["db", "import-redis"], &[]);
    assert!(!none.status.success());
    assert!(stderr(&none).contains("--url"), "{}", stderr(&none));
}

#[test]
fn config_check_reports_redis_and_fails_while_it_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = RedisServer::start().unwrap();
    let url = server.url();
    let out = aae(dir.path(), &["config", "check"], &[("AAE__REDIS__URL", &url)]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("ok   redis"), "{}", stdout(&out));
    server.kill();
    let out = aae(dir.path(), &["config", "check"], &[("AAE__REDIS__URL", &url)]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("FAIL redis") && stdout(&out).contains("working from the database"),
        "{}",
        stdout(&out)
    );
}
