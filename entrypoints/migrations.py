"""`migrate` for whichever database the configuration chose."""

from __future__ import annotations

import importlib

from entrypoints.container import Container


async def migrate_database(container: Container) -> list[str]:
    """The migrations applied by this call (none when the schema is current)."""
    backend = container.settings().database.backend
    module = importlib.import_module(f"adapters.{backend}.migrations")
    applied: list[str] = await module.migrate(container.database())
    return applied
