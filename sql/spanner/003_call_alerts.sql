-- A call's hot-lead alerts: one record a destination (sent, failed, or pending while it is
-- sent), as JSON. NULL for a call that raised none. Additive: a column added, nothing rewritten.
ALTER TABLE calls ADD COLUMN alerts JSON;
