//! `spawn_app`: the whole API on a real socket (port 0) over a fresh database (SQLite or
//! PostgreSQL), local object storage, the fake OpenAI-compatible model server and an in-process
//! campaign worker, as `aae serve` runs it.

use std::sync::Arc;
use std::time::Duration;

use aae_config::{Config, ConfigSources};
use aae_jobs::kinds::CampaignJob;
use aae_jobs::{Handlers, Worker, WorkerOptions};
use aae_models::{Accounting, ModelRouter};
use aae_server::AppState;
use aae_storage::StorageService;
use aae_store::{Records, Role, UserUpdate};
use aae_testkit::{Engine, FakeModelServer, FakeReply, TestDatabase};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub struct App {
    pub base: String,
    pub http: reqwest::Client,
    pub fake: FakeModelServer,
    pub records: Records,
    pub storage: Arc<StorageService>,
    pub config: Arc<Config>,
    stop: CancellationToken,
    _db: TestDatabase,
}

impl Drop for App {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Extra settings for one test.
pub type Settings = Vec<(&'static str, String)>;

pub async fn spawn_app(engine: Engine) -> App {
    spawn_app_with(engine, Vec::new()).await
}

pub async fn spawn_app_with(engine: Engine, settings: Settings) -> App {
    let db = TestDatabase::new(engine).await.expect("test database");
    let fake = FakeModelServer::openai().await.expect("fake model server");
    fake.set_default(FakeReply::text("Here is what I suggest."));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let base = format!("http://{addr}");
    let mut sources = ConfigSources { ignore_env: true, ..Default::default() }
        .set("storage.backend", "local")
        .set("data_dir", db.data_dir().to_str().expect("utf-8 path"))
        .set("server.public_url", base.clone())
        .set("providers.openai_compatible.base_url", fake.base_url())
        .set("providers.openai_compatible.models", "m")
        .set("router.retry.max_retries", "0");
    if let Some(url) = db.url() {
        sources = sources.set("database.url", url);
    }
    for (key, value) in settings {
        sources = sources.set(key, value);
    }
    let config = Config::load(&sources).expect("config");
    config.validate().expect("valid config");
    let storage = Arc::new(StorageService::from_config(&config).await.expect("storage"));
    storage.ensure_buckets().await.expect("buckets");
    let records = aae_store::open(&config.database, &config.data_dir)
        .await
        .expect("records")
        .with_cache(aae_store::SharedCache::from_config(&config.redis).expect("cache"));
    let router = ModelRouter::from_config(&config).await.expect("router");
    let state = AppState::new(Arc::new(config.clone()), Arc::clone(&storage))
        .with_api(records.clone(), router)
        .expect("api state");
    // The campaign worker, as `aae serve` runs it in-process.
    let job_router = ModelRouter::from_config(&config)
        .await
        .expect("router")
        .with_accounting(Accounting { usage: records.usage.clone(), credits: records.credits.clone() });
    let job = CampaignJob::new(records.campaigns.clone(), Arc::clone(&storage), Arc::new(job_router))
        .with_credits(records.credits.clone(), 1_000_000);
    let options = WorkerOptions {
        poll_interval: Duration::from_millis(50),
        heartbeat: Duration::from_millis(500),
        ..WorkerOptions::from_config(&config.jobs)
    };
    let worker = Arc::new(Worker::new(records.jobs.clone(), Handlers::new().with(job), options));
    let stop = CancellationToken::new();
    tokio::spawn({
        let worker = Arc::clone(&worker);
        async move { worker.run().await }
    });
    tokio::spawn({
        let stop = stop.clone();
        let worker = Arc::clone(&worker);
        async move {
            stop.cancelled().await;
            worker.shutdown();
        }
    });
    tokio::spawn({
        let stop = stop.clone();
        async move { aae_server::serve_until(state, listener, async move { stop.cancelled().await }).await }
    });
    App { base, http: reqwest::Client::new(), fake, records, storage, config: Arc::new(config), stop, _db: db }
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    pub token: String,
    pub refresh: String,
}

impl App {
    /// Starts the server's graceful shutdown (as SIGTERM does) and stops the worker.
    pub fn shutdown(&self) {
        self.stop.cancel();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Registers and signs in a new user.
    pub async fn user(&self, name: &str) -> User {
        let email = format!("{name}-{}@example.com", uuid::Uuid::new_v4().simple());
        let response = self
            .http
            .post(self.url("/api/v1/auth/register"))
            .json(&json!({"email": email, "password": "correct horse battery", "name": name}))
            .send()
            .await
            .expect("register");
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
        let profile: Value = response.json().await.expect("json");
        let tokens = self.login(&email, "correct horse battery").await;
        User {
            id: profile["id"].as_str().expect("id").to_owned(),
            email,
            token: tokens["access_token"].as_str().expect("access token").to_owned(),
            refresh: tokens["refresh_token"].as_str().expect("refresh token").to_owned(),
        }
    }

    pub async fn login(&self, email: &str, password: &str) -> Value {
        let response = self
            .http
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
        response.json().await.expect("json")
    }

    /// Makes `user` an admin and signs in again (the role is in the token).
    pub async fn admin(&self, name: &str) -> User {
        let mut user = self.user(name).await;
        let id = uuid::Uuid::parse_str(&user.id).expect("uuid");
        self.records
            .users
            .update(id, UserUpdate { role: Some(Role::Admin), ..UserUpdate::default() })
            .await
            .expect("role");
        let tokens = self.login(&user.email, "correct horse battery").await;
        user.token = tokens["access_token"].as_str().expect("token").to_owned();
        user
    }

    pub async fn get(&self, user: &User, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).bearer_auth(&user.token).send().await.expect("request")
    }

    pub async fn post(&self, user: &User, path: &str, body: Value) -> reqwest::Response {
        self.http.post(self.url(path)).bearer_auth(&user.token).json(&body).send().await.expect("request")
    }

    pub async fn put(&self, user: &User, path: &str, body: Value) -> reqwest::Response {
        self.http.put(self.url(path)).bearer_auth(&user.token).json(&body).send().await.expect("request")
    }

    pub async fn delete(&self, user: &User, path: &str) -> reqwest::Response {
        self.http.delete(self.url(path)).bearer_auth(&user.token).send().await.expect("request")
    }
}

/// Reads a JSON body, asserting the status first (printing the body when it differs).
pub async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.expect("body");
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Asserts the `{"error": {"code", "message"}}` shape and returns the code.
pub async fn error_code(response: reqwest::Response, status: u16) -> String {
    let body = json_of(response, status).await;
    let message = body["error"]["message"].as_str().expect("error.message");
    assert!(!message.is_empty());
    body["error"]["code"].as_str().expect("error.code").to_owned()
}

/// Parses a Server-Sent Events body into `(event, data)` pairs.
pub fn sse_events(text: &str) -> Vec<(String, Value)> {
    let mut events = Vec::new();
    for block in text.split("\n\n") {
        let mut name = String::from("message");
        let mut data = String::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                name = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim_start());
            }
        }
        if !data.is_empty() {
            events.push((name, serde_json::from_str(&data).unwrap_or(Value::String(data))));
        }
    }
    events
}

pub fn brief() -> Value {
    let text = include_str!("../../../../examples/briefs/coffee_subscription.toml");
    let brief = aae_types::CampaignBrief::from_toml(text).expect("brief");
    let mut value = serde_json::to_value(brief).expect("json");
    if let Some(object) = value.as_object_mut() {
        object.remove("logo");
        object.remove("documents");
    }
    value
}
