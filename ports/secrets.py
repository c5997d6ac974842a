from __future__ import annotations

from typing import Protocol


class SecretStore(Protocol):
    async def resolve(self, name: str) -> str:
        """The secret's current value; raises SecretNotFound naming the reference only."""
        ...
