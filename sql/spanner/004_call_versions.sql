-- A call's current version as a row of its own, so that a write can assert it without reading
-- it first: the commit updates (tenant, call, base version), which Spanner refuses if that row
-- is gone, deletes it and inserts the next version, in the same commit as the call's row. One
-- row a call, deleted with it. A call stored before this table has none: its first write after
-- the upgrade is checked by reading, and adds it.
CREATE TABLE call_versions (
    tenant_id   STRING(63) NOT NULL,
    call_id     STRING(MAX) NOT NULL,
    version     INT64 NOT NULL,
    written_at  TIMESTAMP NOT NULL OPTIONS (allow_commit_timestamp = true)
) PRIMARY KEY (tenant_id, call_id, version),
  INTERLEAVE IN PARENT calls ON DELETE CASCADE;
