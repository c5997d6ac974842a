"""Secret Manager SecretStore."""
