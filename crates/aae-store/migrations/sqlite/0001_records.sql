-- AAE records on SQLite: the same tables as on PostgreSQL, with SQLite types. UUIDs are
-- hyphenated TEXT, JSON is TEXT, timestamps are RFC 3339 UTC TEXT with microseconds
-- (2024-12-01T12:00:00.000000Z, so text order is time order), DECIMAL(5,2) is REAL. AAE binds
-- every id and timestamp; no column relies on a default clock.

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    clerk_user_id TEXT UNIQUE NOT NULL, -- the identity provider's subject
    email TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    metadata TEXT,
    name TEXT
);

CREATE TABLE user_model_preferences (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversational_provider TEXT NOT NULL,
    conversational_model TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT REFERENCES users(id),
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    priority TEXT NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high')),
    topic TEXT NOT NULL,
    description TEXT,
    configuration TEXT,
    progress_percentage REAL NOT NULL DEFAULT 0 CHECK (progress_percentage BETWEEN 0 AND 100),
    current_stage TEXT,
    error_info TEXT,
    metrics TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    estimated_completion TEXT,
    batch_id TEXT,
    kind TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    run_at TEXT NOT NULL,
    lease_owner TEXT,
    lease_expires_at TEXT,
    started_at TEXT,
    completed_at TEXT,
    priority_rank INTEGER NOT NULL
        GENERATED ALWAYS AS (CASE priority WHEN 'high' THEN 0 WHEN 'low' THEN 2 ELSE 1 END) VIRTUAL
);
CREATE INDEX jobs_ready_idx ON jobs (priority_rank, run_at) WHERE status = 'queued';
CREATE INDEX jobs_leased_idx ON jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_user_idx ON jobs (user_id, created_at DESC);
CREATE INDEX jobs_batch_idx ON jobs (batch_id) WHERE batch_id IS NOT NULL;

CREATE TABLE file_metadata (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT REFERENCES users(id),
    job_id TEXT REFERENCES jobs(id),
    file_type TEXT NOT NULL,
    original_filename TEXT,
    s3_bucket TEXT NOT NULL,
    s3_key TEXT NOT NULL,
    file_size INTEGER,
    content_type TEXT,
    version_id TEXT,
    metadata TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX file_metadata_user_idx ON file_metadata (user_id, created_at DESC);
CREATE INDEX file_metadata_job_idx ON file_metadata (job_id);
CREATE INDEX file_metadata_key_idx ON file_metadata (s3_bucket, s3_key);

-- Seed 002's queue table, kept in step with jobs by triggers (AAE leases from jobs).
CREATE TABLE job_queue (
    id TEXT PRIMARY KEY NOT NULL,
    job_id TEXT UNIQUE REFERENCES jobs(id) ON DELETE CASCADE,
    priority TEXT DEFAULT 'normal',
    status TEXT DEFAULT 'queued',
    queued_at TEXT,
    processing_started_at TEXT,
    completed_at TEXT
);

CREATE TRIGGER jobs_job_queue_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO job_queue (id, job_id, priority, status, queued_at)
    VALUES (
        lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-'
              || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-'
              || hex(randomblob(6))),
        NEW.id, NEW.priority, NEW.status, NEW.created_at);
END;

CREATE TRIGGER jobs_job_queue_update AFTER UPDATE OF status, priority ON jobs
WHEN OLD.status IS NOT NEW.status OR OLD.priority IS NOT NEW.priority BEGIN
    UPDATE job_queue SET
        priority = NEW.priority,
        status = NEW.status,
        queued_at = CASE WHEN NEW.status = 'queued' AND OLD.status <> 'queued'
                         THEN NEW.updated_at ELSE queued_at END,
        processing_started_at = CASE WHEN NEW.status = 'running' AND OLD.status <> 'running'
                                     THEN NEW.updated_at ELSE processing_started_at END,
        completed_at = CASE WHEN NEW.status IN ('completed', 'failed', 'cancelled')
                            THEN NEW.updated_at ELSE NULL END
    WHERE job_id = NEW.id;
END;

-- Credits: an append-only ledger in micro-credits; writers serialise with BEGIN IMMEDIATE.
CREATE TABLE credit_accounts (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL
);

CREATE TABLE credit_entries (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES credit_accounts(user_id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('grant', 'hold', 'capture', 'release')),
    amount INTEGER NOT NULL CHECK (amount > 0),
    hold_id TEXT REFERENCES credit_entries(id) ON DELETE CASCADE,
    idempotency_key TEXT,
    reason TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    CHECK ((kind IN ('capture', 'release')) = (hold_id IS NOT NULL))
);
CREATE UNIQUE INDEX credit_entries_idempotency_idx ON credit_entries (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX credit_entries_settlement_idx ON credit_entries (hold_id, kind) WHERE hold_id IS NOT NULL;
CREATE INDEX credit_entries_user_idx ON credit_entries (user_id, created_at);

CREATE TRIGGER credit_entries_no_update BEFORE UPDATE ON credit_entries BEGIN
    SELECT RAISE(ABORT, 'credit entries are append-only');
END;

CREATE TABLE campaigns (
    campaign_id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    campaign_name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    created_at TEXT NOT NULL,
    completed_at TEXT,
    execution_time REAL,
    website_url TEXT,
    pdf_url TEXT,
    workflow_state_url TEXT,
    metadata_url TEXT,
    campaign_brief TEXT NOT NULL,
    final_state TEXT,
    progress_log TEXT,
    agent_interactions TEXT NOT NULL DEFAULT '[]',
    updated_at TEXT NOT NULL
);
CREATE INDEX campaigns_user_created_idx ON campaigns (user_id, created_at DESC, campaign_id DESC);
CREATE INDEX campaigns_status_created_idx ON campaigns (status, created_at DESC, campaign_id DESC);

CREATE TABLE documents (
    id TEXT PRIMARY KEY NOT NULL,
    owner_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    content_type TEXT NOT NULL,
    storage_key TEXT NOT NULL,
    size_bytes INTEGER,
    status TEXT NOT NULL CHECK (status IN ('uploaded', 'processing', 'ready', 'failed')),
    error TEXT,
    metadata TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX documents_owner_idx ON documents (owner_id, created_at DESC);

CREATE TABLE document_chunks (
    document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    chunk_index INTEGER NOT NULL CHECK (chunk_index >= 0),
    start_offset INTEGER NOT NULL CHECK (start_offset >= 0),
    end_offset INTEGER NOT NULL,
    token_count INTEGER NOT NULL CHECK (token_count >= 0),
    embedding_ref TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (document_id, chunk_index),
    CHECK (end_offset >= start_offset)
);

CREATE TABLE conversations (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title TEXT,
    metadata TEXT,
    next_sequence INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX conversations_user_idx ON conversations (user_id, updated_at DESC);

CREATE TABLE conversation_messages (
    id TEXT PRIMARY KEY NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    sequence INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    content TEXT NOT NULL,
    tool_calls TEXT,
    tool_call_id TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (conversation_id, sequence)
);

CREATE TABLE usage_records (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL CHECK (input_tokens >= 0),
    output_tokens INTEGER NOT NULL CHECK (output_tokens >= 0),
    cost_micros INTEGER NOT NULL CHECK (cost_micros >= 0),
    request_id TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX usage_records_user_idx ON usage_records (user_id, created_at);
