"""`migrate` for whichever database the configuration chose."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from entrypoints.container import Container


async def migrate_database(
    container: Container, applying: Callable[[str], None] = lambda _: None
) -> list[str]:
    """The migrations applied by this call (none when the schema is current); `applying` is
    told each one's name as it starts, from the thread that applies it."""
    backend = container.settings().database.backend
    module = importlib.import_module(f"adapters.{backend}.migrations")
    applied: list[str] = await module.migrate(container.database(), applying=applying)
    return applied
