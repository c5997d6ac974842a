-- calls becomes an ordinary (rowid) table. As WITHOUT ROWID its rows (~3 KB with the raw
-- payload) were index cells, which keep at most about a quarter of a page locally, so every
-- row spilled into overflow pages: more pages read and written for each call. The primary key
-- and every index stay as they were.
--
-- The runner applies this file in one transaction, where PRAGMA foreign_keys cannot be turned
-- off, and dropping calls would delete every job through ON DELETE CASCADE. So the jobs are
-- set aside first and put back after calls is rebuilt.

CREATE TEMP TABLE jobs_aside AS
    SELECT job_id, tenant_id, call_id, enqueued_at, due_at, attempts, trace_context,
           claimed_by, claimed_until, last_error
    FROM jobs;
DROP TABLE jobs;

CREATE TABLE calls_rebuilt (
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
);
INSERT INTO calls_rebuilt (
    tenant_id, call_id, stage, received_at, completed_at, attempts, metadata, recording_url,
    raw_payload, recording, transcript, analysis, lead_score, crm_sync, failure, timeline,
    lease_owner, lease_expires_at, version, updated_at
)
SELECT
    tenant_id, call_id, stage, received_at, completed_at, attempts, metadata, recording_url,
    raw_payload, recording, transcript, analysis, lead_score, crm_sync, failure, timeline,
    lease_owner, lease_expires_at, version, updated_at
FROM calls
ORDER BY tenant_id, call_id;
DROP TABLE calls;
ALTER TABLE calls_rebuilt RENAME TO calls;
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
INSERT INTO jobs (
    job_id, tenant_id, call_id, enqueued_at, due_at, attempts, trace_context, claimed_by,
    claimed_until, last_error
)
SELECT
    job_id, tenant_id, call_id, enqueued_at, due_at, attempts, trace_context, claimed_by,
    claimed_until, last_error
FROM jobs_aside;
DROP TABLE jobs_aside;
CREATE INDEX jobs_due ON jobs (due_at);
CREATE INDEX jobs_by_call ON jobs (tenant_id, call_id);
