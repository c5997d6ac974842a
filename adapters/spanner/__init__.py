"""Cloud Spanner repositories (GoogleSQL), run off the event loop on a bounded pool."""
