from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Protocol

from domain.results import StoredRecording


class AudioStore(Protocol):
    async def put(
        self, name: str, chunks: AsyncIterable[bytes], content_type: str
    ) -> StoredRecording:
        """Writes a new object. An existing object with the same digest counts as done and is
        returned; one with other content raises FileExistsError (names are never reused)."""
        ...

    def get(self, uri: str) -> AsyncIterator[bytes]: ...

    async def delete(self, uri: str) -> None: ...
