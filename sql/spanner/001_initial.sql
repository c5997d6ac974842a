-- Tenants, their API keys, calls with each stage's result, and the local job queue (GoogleSQL).
-- Every call-side table is interleaved under its tenant, so a tenant's rows live together
-- and deleting the tenant's row deletes everything it owns.
-- Domain times (received_at, updated_at, due_at...) are the service's clock, as in SQLite;
-- committed_at is Spanner's commit timestamp of the row's last write, for audits and debugging.
-- The migration runner drops the comments and sends the statements one by one.

CREATE TABLE tenants (
    tenant_id           STRING(63) NOT NULL,
    name                STRING(200) NOT NULL,
    status              STRING(16) NOT NULL,
    callrail_company_id STRING(MAX) NOT NULL,
    document            JSON NOT NULL,  -- the tenant document, inline secret values included
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    committed_at        TIMESTAMP NOT NULL OPTIONS (allow_commit_timestamp = true)
) PRIMARY KEY (tenant_id);

-- A CallRail company belongs to one tenant: the webhook finds its tenant by it.
CREATE UNIQUE INDEX tenants_by_company ON tenants (callrail_company_id);

CREATE TABLE api_keys (
    tenant_id    STRING(63) NOT NULL,
    key_hash     STRING(64) NOT NULL,  -- sha256 of the key; the key itself is never stored
    hint         STRING(32) NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    committed_at TIMESTAMP NOT NULL OPTIONS (allow_commit_timestamp = true)
) PRIMARY KEY (tenant_id, key_hash),
  INTERLEAVE IN PARENT tenants ON DELETE CASCADE;

-- A request carries only the key: find its tenant from the hash, without a base-table join.
CREATE UNIQUE INDEX api_keys_by_hash ON api_keys (key_hash) STORING (hint, created_at);

CREATE TABLE calls (
    tenant_id        STRING(63) NOT NULL,
    call_id          STRING(MAX) NOT NULL,
    stage            STRING(32) NOT NULL,
    received_at      TIMESTAMP NOT NULL,
    completed_at     TIMESTAMP,
    attempts         INT64 NOT NULL,
    metadata         JSON NOT NULL,
    recording_url    STRING(MAX),
    raw_payload      JSON NOT NULL,
    recording        JSON,
    transcript       JSON,
    analysis         JSON,
    lead_score       JSON,
    crm_sync         JSON,
    failure          JSON,
    timeline         JSON NOT NULL,
    lease_owner      STRING(MAX),
    lease_expires_at TIMESTAMP,
    version          INT64 NOT NULL,
    -- The call's last recorded activity in the domain's time, so the sweep's deadline (also
    -- the domain's time) compares like with like.
    updated_at       TIMESTAMP NOT NULL,
    committed_at     TIMESTAMP NOT NULL OPTIONS (allow_commit_timestamp = true)
) PRIMARY KEY (tenant_id, call_id),
  INTERLEAVE IN PARENT tenants ON DELETE CASCADE;

-- A tenant's calls newest first, and by stage newest first: the listing's order and its cursor.
CREATE INDEX calls_by_time ON calls (tenant_id, received_at DESC, call_id DESC),
  INTERLEAVE IN tenants;
CREATE INDEX calls_by_stage ON calls (tenant_id, stage, received_at DESC, call_id DESC),
  INTERLEAVE IN tenants;
-- The operator's sweep over every tenant: calls in a stage, oldest activity first.
CREATE INDEX calls_in_flight ON calls (stage, updated_at);

-- The local queue's jobs, under their call: written in the same transaction as the call and in
-- the same split, gone with it. The queue's operations name a job by its id alone, hence the
-- unique index on job_id; the due index serves claiming and the queue's age.
CREATE TABLE jobs (
    tenant_id     STRING(63) NOT NULL,
    call_id       STRING(MAX) NOT NULL,
    job_id        STRING(MAX) NOT NULL,
    enqueued_at   TIMESTAMP NOT NULL,
    due_at        TIMESTAMP NOT NULL,
    attempts      INT64 NOT NULL,
    trace_context JSON NOT NULL,
    claimed_by    STRING(MAX),
    claimed_until TIMESTAMP,
    last_error    STRING(MAX),
    committed_at  TIMESTAMP NOT NULL OPTIONS (allow_commit_timestamp = true)
) PRIMARY KEY (tenant_id, call_id, job_id),
  INTERLEAVE IN PARENT calls ON DELETE CASCADE;

CREATE UNIQUE INDEX jobs_by_id ON jobs (job_id);
CREATE INDEX jobs_due ON jobs (due_at)
