from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Protocol

from domain.results import StoredRecording


class AudioStore(Protocol):
    async def put(
        self, name: str, chunks: AsyncIterable[bytes], content_type: str
    ) -> StoredRecording:
        """Writes a new object, never overwriting. An existing object with the same digest counts
        as done and is returned; one with other content raises FileExistsError."""
        ...

    def get(self, uri: str) -> AsyncIterator[bytes]:
        """The object's bytes in chunks; FileNotFoundError if there is none."""
        ...

    async def delete(self, uri: str) -> None:
        """Removes the object; a missing one is fine (deleting again is safe)."""
        ...

    def names(self, prefix: str) -> AsyncIterator[str]:
        """The names (as given to put) of every object whose name starts with `prefix`, in
        no particular order: what deletes a call's or a tenant's audio, whatever its form."""
        ...

    def uri_for(self, name: str) -> str:
        """The URI put(name, ...) gives its object, without touching the store: what deletes
        an object whose put may or may not have happened (a quarantined original)."""
        ...
