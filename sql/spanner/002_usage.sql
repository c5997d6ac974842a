-- Metered usage per tenant per UTC day, for chargeback, under its tenant (GoogleSQL).
-- Append-only: each unit of work that metered something inserts one entry per day it touched,
-- in the same commit as the stage it metered, and a day's totals are the sum of its entries.
-- A counter row per tenant and day would cost a read in every such commit and make all of a
-- tenant's commits queue on its lock; an insert needs neither. Audio is in whole milliseconds
-- so sums are exact.

CREATE TABLE usage_entries (
    tenant_id      STRING(63) NOT NULL,
    day            DATE NOT NULL,
    entry_id       STRING(32) NOT NULL,
    audio_ms       INT64 NOT NULL,
    llm_tokens_in  INT64 NOT NULL,
    llm_tokens_out INT64 NOT NULL,
    crm_api_calls  INT64 NOT NULL,
    stored_bytes   INT64 NOT NULL,
    committed_at   TIMESTAMP NOT NULL OPTIONS (allow_commit_timestamp = true)
) PRIMARY KEY (tenant_id, day, entry_id),
  INTERLEAVE IN PARENT tenants ON DELETE CASCADE
