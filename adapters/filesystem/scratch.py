"""The Scratch port on a private local directory.

Every file lives in one directory (0700) that the service owns, each file 0600. What a crash
left there (an original recording copied for its redaction, half a redacted one) is deleted
when the service next starts: the directory is emptied on construction. Streaming a stored
recording in, and a file out, runs off the event loop a chunk at a time.
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
        self._root = Path(os.path.abspath(root))
        self._store = store
        if self._root.exists():
            shutil.rmtree(self._root)  # what the last run left: nothing in here is kept
        self._root.mkdir(mode=0o700, parents=True)
        os.chmod(self._root, 0o700)

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


def _open_private(path: Path) -> BinaryIO:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(descriptor, "wb")
