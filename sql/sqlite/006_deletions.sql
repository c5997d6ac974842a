-- The record of every deletion (domain/retention.py): who, what, when, never personal data.
-- No foreign key to tenants: the record outlives the tenant it names.
CREATE TABLE deletions (
    record_id TEXT PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    subject   TEXT,             -- a call's reference (a digest), never its id
    counts    TEXT NOT NULL     -- JSON: what went, by kind
);
CREATE INDEX deletions_by_time ON deletions (at DESC);
CREATE INDEX deletions_by_tenant ON deletions (tenant_id, at DESC);
