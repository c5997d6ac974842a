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
from typing import BinaryIO

from domain.results import StoredRecording
from ports.audio import AudioStore
from ports.scratch import Scratch

CHUNK_SIZE = 64 * 1024


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
            file = await asyncio.to_thread(_open_private, path)
            try:
                async for chunk in self._store.get(recording.uri):
                    await asyncio.to_thread(file.write, chunk)
            finally:
                await asyncio.to_thread(file.close)
            yield path

    @contextlib.asynccontextmanager
    async def new_file(self) -> AsyncIterator[Path]:
        path = self._root / secrets.token_hex(12)
        try:
            yield path
        finally:
            await asyncio.to_thread(path.unlink, True)

    async def chunks(self, path: Path) -> AsyncIterator[bytes]:
        file = await asyncio.to_thread(path.open, "rb")
        try:
            while chunk := await asyncio.to_thread(file.read, CHUNK_SIZE):
                yield chunk
        finally:
            await asyncio.to_thread(file.close)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process's own directory from before (a reused pid): stale
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _open_private(path: Path) -> BinaryIO:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(descriptor, "wb")
