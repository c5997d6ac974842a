"""The Scratch port on a private local directory.

Every file lives in a directory of the process's own (0700, named by its pid) under one root,
each file 0600. What a crash left there (an original recording copied for its redaction, half
a redacted one) is deleted when the service next starts: the directories of processes no
longer alive are removed on construction; a live one's (serve, while a CLI command runs) are
left alone. Streaming a stored recording in, and a file out, runs off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from adapters.filesystem.audio_store import running
from domain.results import StoredRecording
from ports.audio import AudioStore
from ports.scratch import Scratch

BATCH_SIZE = 1024 * 1024  # bytes a thread hop: most recordings are one or two


class PrivateScratch(Scratch):
    def __init__(self, root: str | os.PathLike[str], store: AudioStore):
        parent = Path(os.path.abspath(root))
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        for entry in parent.iterdir():  # what the processes before left: nothing is kept
            if entry.name.isdigit() and _alive(int(entry.name)):
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink()
        self._root = parent / str(os.getpid())
        shutil.rmtree(self._root, ignore_errors=True)
        self._root.mkdir(mode=0o700)
        self._store = store

    @property
    def root(self) -> Path:
        return self._root

    @contextlib.asynccontextmanager
    async def copy_of(self, recording: StoredRecording) -> AsyncIterator[Path]:
        async with self.new_file() as path:
            pending: list[bytes] = []
            size, first = 0, True
            async for chunk in self._store.get(recording.uri):
                pending.append(chunk)
                size += len(chunk)
                if size >= BATCH_SIZE:  # a write a megabyte, off the loop
                    await asyncio.to_thread(_append, path, pending, first)
                    pending, size, first = [], 0, False
            await asyncio.to_thread(_append, path, pending, first)
            yield path

    @contextlib.asynccontextmanager
    async def new_file(self) -> AsyncIterator[Path]:
        path = self._root / secrets.token_hex(12)
        try:
            yield path
        finally:
            await asyncio.to_thread(path.unlink, True)

    async def chunks(self, path: Path) -> AsyncIterator[bytes]:
        offset = 0
        while True:
            chunk = await asyncio.to_thread(_read_at, path, offset)  # a megabyte at a time
            if chunk:
                yield chunk
                offset += len(chunk)
            if len(chunk) < BATCH_SIZE:
                return


def _alive(pid: int) -> bool:
    # this process's own directory from before (a reused pid) is stale
    return pid != os.getpid() and running(pid)


def _append(path: Path, chunks: list[bytes], first: bool) -> None:
    """The chunks written at the file's end; the first call creates it, private (0600)."""
    flags = os.O_WRONLY | (os.O_CREAT | os.O_EXCL if first else os.O_APPEND)
    with os.fdopen(os.open(path, flags, 0o600), "wb") as file:
        for chunk in chunks:
            file.write(chunk)


def _read_at(path: Path, offset: int) -> bytes:
    with path.open("rb") as file:
        file.seek(offset)
        return file.read(BATCH_SIZE)
