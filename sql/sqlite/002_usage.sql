-- Metered usage per tenant per UTC day, for chargeback: one row a tenant a day, added to by
-- every stage that consumes something. Audio is kept in whole milliseconds so sums are exact.

CREATE TABLE usage_daily (
    tenant_id      TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    day            TEXT NOT NULL,               -- YYYY-MM-DD, UTC
    audio_ms       INTEGER NOT NULL DEFAULT 0,
    llm_tokens_in  INTEGER NOT NULL DEFAULT 0,
    llm_tokens_out INTEGER NOT NULL DEFAULT 0,
    crm_api_calls  INTEGER NOT NULL DEFAULT 0,
    stored_bytes   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day)
) WITHOUT ROWID;
