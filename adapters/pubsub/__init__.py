"""Pub/Sub JobQueue (publisher) and the push envelope."""
