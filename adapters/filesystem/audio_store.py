"""Recordings as files under one root directory: the embedded default of the AudioStore port.

A put streams into a temp file beside the final one, then publishes it with os.link, which
fails when the name exists: nothing is ever overwritten, and a reader never sees half a file.
All file I/O runs off the event loop, a chunk at a time, on one thread per operation: its steps
run in order, so the clean-up of a cancelled put queues behind a write still in flight instead
of closing the descriptor under it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, TypeVar

from domain.results import StoredRecording
from ports.audio import AudioStore

CHUNK_SIZE = 64 * 1024
URI_PREFIX = "file://"
_TEMP_PREFIX = ".tmp-"
T = TypeVar("T")


class FileAudioStore(AudioStore):
    def __init__(self, root: str | os.PathLike[str]):
        self._root = Path(os.path.abspath(root))

    @property
    def root(self) -> Path:
        return self._root

    async def put(
        self, name: str, chunks: AsyncIterable[bytes], content_type: str
    ) -> StoredRecording:
        final = self._path_for_name(name)
        temp = _TempFile(self._root, final)
        with _DiskThread() as disk:
            try:
                await disk.run(temp.create)
                async for chunk in chunks:
                    await disk.run(functools.partial(temp.write, chunk))
                sha256, size = await disk.run(temp.finish)
                recording = StoredRecording(_uri(final), size, sha256, content_type)
                return await disk.run(lambda: self._publish(temp, final, recording))
            finally:
                await disk.run(temp.discard)

    async def get(self, uri: str) -> AsyncIterator[bytes]:
        path = self._path_for_uri(uri)
        with _DiskThread() as disk:
            file = await disk.run(lambda: self._open_inside_root(path))
            try:
                while chunk := await disk.run(lambda: file.read(CHUNK_SIZE)):
                    yield chunk
            finally:
                await disk.run(file.close)

    async def delete(self, uri: str) -> None:
        path = self._path_for_uri(uri)
        with _DiskThread() as disk:
            await disk.run(lambda: self._remove(path))

    def _remove(self, path: Path) -> None:
        """Removes the file, then the directories left empty up to the root: their names are a
        tenant's and a call's ids, which a deleted call must not leave behind."""
        self._check_inside_root(path)
        path.unlink(missing_ok=True)
        directory = path.parent
        while directory != self._root and directory.is_relative_to(self._root):
            try:
                directory.rmdir()
            except OSError:  # not empty (or gone): what is above is not empty either
                return
            directory = directory.parent

    async def names(self, prefix: str) -> AsyncIterator[str]:
        """Walks the directory the prefix names (its last part may be a partial file name);
        temp files of puts in progress are not objects."""
        directory, _, _ = prefix.rpartition("/")
        base = self._path_for_name(directory) if directory else self._root
        with _DiskThread() as disk:
            found = await disk.run(lambda: self._walk(base))
        for name in found:
            if name.startswith(prefix):
                yield name

    def _walk(self, base: Path) -> list[str]:
        if not base.is_dir():
            return []
        self._check_inside_root(base)
        names = []
        for directory, _, files in os.walk(base):
            for file in files:
                if not file.startswith("."):
                    names.append(Path(directory, file).relative_to(self._root).as_posix())
        return names

    def uri_for(self, name: str) -> str:
        return _uri(self._path_for_name(name))

    # --- names, URIs and the root --------------------------------------------------------

    def _path_for_name(self, name: str) -> Path:
        """Refuses anything that could leave the root or collide with a temp file."""
        if not name or ".." in name or "\\" in name or "\x00" in name or os.path.isabs(name):
            raise ValueError(f"invalid object name {name!r}")
        parts = name.split("/")
        if any(not part or part.startswith(".") for part in parts):
            raise ValueError(f"invalid object name {name!r}")
        return self._root.joinpath(*parts)

    def _path_for_uri(self, uri: str) -> Path:
        if not uri.startswith(URI_PREFIX) or "\x00" in uri:
            raise ValueError("not a file:// URI of this audio store")
        path = Path(os.path.abspath(uri[len(URI_PREFIX) :]))
        if path == self._root or not path.is_relative_to(self._root):
            raise ValueError("the URI is outside this audio store's root")
        return path

    def _check_inside_root(self, path: Path) -> None:
        """A symlink inside the root must not lead out of it."""
        real_root = os.path.realpath(self._root)
        if os.path.commonpath([real_root, os.path.realpath(path)]) != real_root:
            raise ValueError("the URI is outside this audio store's root")

    def _open_inside_root(self, path: Path) -> BinaryIO:
        self._check_inside_root(path)
        return path.open("rb")

    def _publish(self, temp: _TempFile, final: Path, recording: StoredRecording) -> StoredRecording:
        assert temp.path is not None
        try:
            os.link(temp.path, final)
        except FileExistsError:
            if _sha256_of(final) == recording.sha256:
                return recording
            name = final.relative_to(self._root).as_posix()
            raise FileExistsError(f"{name} exists with other content") from None
        _fsync_directory(final.parent)
        return recording


class _DiskThread:
    """One worker thread: the steps given to it run one after the other, off the loop."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="file-audio")

    def __enter__(self) -> _DiskThread:
        return self

    def __exit__(self, *_: object) -> None:
        # Never waits: anything still queued (a cancelled put's clean-up) finishes on its own.
        self._executor.shutdown(wait=False)

    async def run(self, step: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, step)


class _TempFile:
    """The file a put writes before publishing it. Used only from its put's disk thread."""

    def __init__(self, root: Path, final: Path):
        self._root = root
        self._final = final
        self._fd: int | None = None
        self.path: Path | None = None
        self._digest = hashlib.sha256()
        self._size = 0

    def create(self) -> None:
        self._final.parent.mkdir(parents=True, exist_ok=True)
        real_root = os.path.realpath(self._root)
        if os.path.commonpath([real_root, os.path.realpath(self._final.parent)]) != real_root:
            raise ValueError("the object's directory leads outside the audio store's root")
        _remove_orphans(self._final.parent)
        self._fd, name = tempfile.mkstemp(
            dir=self._final.parent, prefix=f"{_TEMP_PREFIX}{os.getpid()}-", suffix=".part"
        )
        self.path = Path(name)

    def write(self, chunk: bytes) -> None:
        assert self._fd is not None
        view = memoryview(chunk)
        while view:
            view = view[os.write(self._fd, view) :]
        self._digest.update(chunk)
        self._size += len(chunk)

    def finish(self) -> tuple[str, int]:
        assert self._fd is not None
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = None
        return self._digest.hexdigest(), self._size

    def discard(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def _remove_orphans(directory: Path) -> None:
    """Removes the temp files in `directory` left by a process that died writing them (killed
    mid-download, say): their names carry the writer's pid. A live writer's are left alone
    (another delivery of the same call may be writing; publishing decides between them), and
    so is a name without a pid."""
    for entry in os.scandir(directory):
        name = entry.name
        if not (name.startswith(_TEMP_PREFIX) and name.endswith(".part")):
            continue
        pid_text = name[len(_TEMP_PREFIX) :].split("-", 1)[0]
        if pid_text.isdigit() and not _alive(int(pid_text)):
            Path(entry.path).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    return pid == os.getpid() or running(pid)


def running(pid: int) -> bool:
    """Whether a process with this pid exists (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _uri(path: Path) -> str:
    return URI_PREFIX + str(path)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_directory(directory: Path) -> None:
    """Makes the new name durable, not only the file's bytes."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
