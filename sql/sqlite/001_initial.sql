-- Tenants, their API keys, calls with each stage's result, and the local job queue.
-- Times are ISO 8601 in UTC with microseconds, so text order is time order.

CREATE TABLE tenants (
    tenant_id           TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    status              TEXT NOT NULL,
    callrail_company_id TEXT NOT NULL UNIQUE,
    document            TEXT NOT NULL,   -- the tenant document, inline secret values included
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);

CREATE TABLE api_keys (
    key_hash   TEXT PRIMARY KEY,         -- sha256 of the key; the key itself is never stored
    tenant_id  TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    hint       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id);

CREATE TABLE calls (
    tenant_id        TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    call_id          TEXT NOT NULL,
    stage            TEXT NOT NULL,
    received_at      TEXT NOT NULL,
    completed_at     TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    metadata         TEXT NOT NULL,
    recording_url    TEXT,
    raw_payload      TEXT NOT NULL,
    recording        TEXT,
    transcript       TEXT,
    analysis         TEXT,
    lead_score       TEXT,
    crm_sync         TEXT,
    failure          TEXT,
    timeline         TEXT NOT NULL,
    lease_owner      TEXT,
    lease_expires_at TEXT,
    version          INTEGER NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, call_id)
) WITHOUT ROWID;
CREATE INDEX calls_by_time ON calls (tenant_id, received_at DESC, call_id DESC);
CREATE INDEX calls_by_stage ON calls (tenant_id, stage, received_at DESC);
CREATE INDEX calls_in_flight ON calls (stage, updated_at);

CREATE TABLE jobs (
    job_id        TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    call_id       TEXT NOT NULL,
    enqueued_at   TEXT NOT NULL,
    due_at        TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    trace_context TEXT NOT NULL DEFAULT '{}',
    claimed_by    TEXT,
    claimed_until TEXT,
    last_error    TEXT,
    FOREIGN KEY (tenant_id, call_id) REFERENCES calls (tenant_id, call_id) ON DELETE CASCADE
);
CREATE INDEX jobs_due ON jobs (due_at);
CREATE INDEX jobs_by_call ON jobs (tenant_id, call_id);
