"""Cloud Storage AudioStore."""
