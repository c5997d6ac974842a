-- The record of every deletion (domain/retention.py): who, what, when, never personal data.
-- Not interleaved in tenants: the record outlives the tenant it names. Additive.
CREATE TABLE deletions (
    record_id    STRING(64) NOT NULL,
    deleted_at   TIMESTAMP NOT NULL,
    actor        STRING(MAX) NOT NULL,
    action       STRING(64) NOT NULL,
    tenant_id    STRING(63) NOT NULL,
    subject      STRING(MAX),  -- a call's reference (a digest), never its id
    counts       JSON NOT NULL,  -- what went, by kind
    committed_at TIMESTAMP NOT NULL OPTIONS (allow_commit_timestamp = true)
) PRIMARY KEY (record_id);

CREATE INDEX deletions_by_tenant ON deletions (tenant_id, deleted_at DESC);
CREATE INDEX deletions_by_time ON deletions (deleted_at DESC)
