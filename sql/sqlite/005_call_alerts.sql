-- A call's hot-lead alerts: one record a destination (sent, failed, or pending while it is
-- sent), as JSON. NULL for a call that raised none.
ALTER TABLE calls ADD COLUMN alerts TEXT;
