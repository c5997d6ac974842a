from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class IdGenerator(Protocol):
    def new_id(self) -> str:
        """A unique identifier, safe in URLs and object names."""
        ...

    def new_token(self) -> str:
        """An unguessable token of at least 256 bits, URL-safe."""
        ...
