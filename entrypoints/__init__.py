"""The driving side: HTTP app, CLI, configuration, the DI container (composition root)."""
