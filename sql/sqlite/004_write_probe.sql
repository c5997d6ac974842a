-- One row the readiness probe changes after a failed write, to learn whether the file takes
-- writes again (SQLite writes nothing for an UPDATE that changes no value).
CREATE TABLE write_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
