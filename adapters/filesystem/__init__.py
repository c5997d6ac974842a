"""Audio on local disk."""
