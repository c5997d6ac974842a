"""What the on-disk AudioStore adds to the port's contract: temp files never linger, names
and URIs cannot leave the root, and concurrent writers of one recording agree."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.filesystem.audio_store import FileAudioStore
from domain.call import recording_object_name
from tests.support import stream

NAME = recording_object_name("acme", "CAL1", "mp3")


async def failing_midway() -> AsyncIterator[bytes]:
    yield b"ID3" + b"\x00" * 70_000
    yield b"\x01" * 70_000
    raise ConnectionResetError("the download broke")


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.fixture
def store(tmp_path: Path) -> FileAudioStore:
    return FileAudioStore(tmp_path / "audio")


async def test_a_put_leaves_only_the_recording(store: FileAudioStore) -> None:
    data = b"ID3" + os.urandom(200_000)
    stored = await store.put(NAME, stream(data[:70_000], data[70_000:]), "audio/mpeg")
    assert files_under(store.root) == [NAME]
    path = store.root / NAME
    assert stored.uri == "file://" + str(path.resolve())
    assert path.read_bytes() == data


async def test_a_failing_download_leaves_no_file(store: FileAudioStore) -> None:
    with pytest.raises(ConnectionResetError):
        await store.put(NAME, failing_midway(), "audio/mpeg")
    assert files_under(store.root) == []
    stored = await store.put(NAME, stream(b"ID3 retried"), "audio/mpeg")
    assert files_under(store.root) == [NAME]
    assert stored.bytes == len(b"ID3 retried")


async def test_a_refused_overwrite_leaves_no_temp_file(store: FileAudioStore) -> None:
    await store.put(NAME, stream(b"ID3 original"), "audio/mpeg")
    with pytest.raises(FileExistsError):
        await store.put(NAME, stream(b"ID3 other"), "audio/mpeg")
    assert files_under(store.root) == [NAME]
    assert (store.root / NAME).read_bytes() == b"ID3 original"


async def test_a_cancelled_put_leaves_no_file(store: FileAudioStore) -> None:
    started = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"\x00" * 65536
            started.set()
            await asyncio.sleep(0)

    task = asyncio.create_task(store.put(NAME, endless(), "audio/mpeg"))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert files_under(store.root) == []


@pytest.mark.parametrize(
    "name",
    [
        "acme/calls/../../etc/recording.mp3",
        "../outside.mp3",
        "acme/calls/CAL1/..",
        "/etc/passwd",
        "acme\\calls\\CAL1\\recording.mp3",
        "acme//recording.mp3",
        "acme/calls/CAL1/.tmp-x.part",
        "",
    ],
)
async def test_names_that_could_leave_the_root_are_refused(
    store: FileAudioStore, tmp_path: Path, name: str
) -> None:
    with pytest.raises(ValueError, match="invalid object name"):
        await store.put(name, stream(b"ID3"), "audio/mpeg")
    assert not (tmp_path / "outside.mp3").exists()
    assert files_under(tmp_path) == []


@pytest.mark.parametrize(
    "uri",
    ["file:///etc/passwd", "file://{root}/../escape.mp3", "file://{root}", "gs://bucket/a.mp3"],
)
async def test_uris_outside_the_root_are_refused(store: FileAudioStore, uri: str) -> None:
    uri = uri.format(root=store.root)
    with pytest.raises(ValueError, match="URI"):
        [chunk async for chunk in store.get(uri)]
    with pytest.raises(ValueError, match="URI"):
        await store.delete(uri)


async def test_a_symlink_out_of_the_root_is_not_followed(
    store: FileAudioStore, tmp_path: Path
) -> None:
    secret = tmp_path / "elsewhere" / "secret.mp3"
    secret.parent.mkdir()
    secret.write_bytes(b"not yours")
    store.root.mkdir()
    (store.root / "acme").symlink_to(secret.parent, target_is_directory=True)
    with pytest.raises(ValueError, match="outside"):
        [chunk async for chunk in store.get(f"file://{store.root}/acme/secret.mp3")]
    with pytest.raises(ValueError, match="outside"):
        await store.put("acme/secret2.mp3", stream(b"ID3"), "audio/mpeg")
    assert sorted(p.name for p in secret.parent.iterdir()) == ["secret.mp3"]


async def test_get_reads_in_chunks_of_64_kib(store: FileAudioStore) -> None:
    data = os.urandom(3 * 65536 + 10)
    stored = await store.put(NAME, stream(data), "audio/mpeg")
    sizes = [len(chunk) async for chunk in store.get(stored.uri)]
    assert sizes == [65536, 65536, 65536, 10]


async def test_concurrent_puts_of_the_same_recording_all_succeed(store: FileAudioStore) -> None:
    data = b"ID3" + os.urandom(300_000)

    async def slow_stream() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 50_000):
            await asyncio.sleep(0)
            yield data[i : i + 50_000]

    results = await asyncio.gather(
        *(store.put(NAME, slow_stream(), "audio/mpeg") for _ in range(5))
    )
    assert len(set(results)) == 1
    assert results[0].sha256 == hashlib.sha256(data).hexdigest()
    assert files_under(store.root) == [NAME]
    assert (store.root / NAME).read_bytes() == data


async def test_a_temp_file_left_by_a_killed_writer_is_removed_by_the_next_put(
    store: FileAudioStore,
) -> None:
    """A service killed mid-download leaves its temp file; the retry of that call removes
    it. A live writer's temp file (another delivery of the call, still writing) is kept."""
    dead = await asyncio.create_subprocess_exec("true")
    await dead.wait()
    directory = store.root / Path(NAME).parent
    directory.mkdir(parents=True)
    orphan = directory / f".tmp-{dead.pid}-abc123.part"
    orphan.write_bytes(b"ID3 half a download")
    live = directory / f".tmp-{os.getppid()}-def456.part"
    live.write_bytes(b"ID3 still being written")

    await store.put(NAME, stream(b"ID3", b"\x00" * 10), "audio/mpeg")

    assert not orphan.exists()
    assert live.exists()
    assert files_under(store.root) == sorted([NAME, live.relative_to(store.root).as_posix()])
