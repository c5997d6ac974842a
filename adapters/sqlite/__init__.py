"""The embedded store: one SQLite file in WAL mode, driven from worker threads so the event
loop never waits on disk."""
