"""The Scratch port: private local files that never outlive their use, nor a crash."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from adapters.filesystem.scratch import PrivateScratch
from adapters.memory.fakes import InMemoryAudioStore
from domain.results import StoredRecording
from tests.support import stream


@pytest.fixture
async def stored() -> tuple[InMemoryAudioStore, StoredRecording]:
    store = InMemoryAudioStore()
    # 3 MB: more than one of the adapter's one-megabyte reads
    recording = await store.put(
        "acme/calls/CAL1/recording.mp3", stream(b"ID3" * 1_000_000), "audio/mpeg"
    )
    return store, recording


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_copy_holds_the_recording_privately_and_is_gone_after(
    tmp_path: Path, stored: tuple[InMemoryAudioStore, StoredRecording]
) -> None:
    store, recording = stored
    scratch = PrivateScratch(tmp_path / "scratch", store)
    async with scratch.copy_of(recording) as path:
        assert path.read_bytes() == b"ID3" * 1_000_000
        assert mode(path) == 0o600
        assert mode(scratch.root) == 0o700
        assert b"".join([c async for c in scratch.chunks(path)]) == b"ID3" * 1_000_000
    assert not path.exists()
    assert list(scratch.root.iterdir()) == []


async def test_files_are_removed_when_the_work_fails(
    tmp_path: Path, stored: tuple[InMemoryAudioStore, StoredRecording]
) -> None:
    store, recording = stored
    scratch = PrivateScratch(tmp_path / "scratch", store)

    async def redaction_that_fails() -> None:
        async with scratch.copy_of(recording), scratch.new_file() as target:
            target.write_bytes(b"half a redacted recording")
            raise RuntimeError("the redaction failed")

    with pytest.raises(RuntimeError):
        await redaction_that_fails()
    assert list(scratch.root.iterdir()) == []


async def test_a_missing_recording_raises_and_leaves_nothing(
    tmp_path: Path, stored: tuple[InMemoryAudioStore, StoredRecording]
) -> None:
    store, recording = stored
    await store.delete(recording.uri)
    scratch = PrivateScratch(tmp_path / "scratch", store)
    with pytest.raises(FileNotFoundError):
        async with scratch.copy_of(recording):
            pass
    assert list(scratch.root.iterdir()) == []


async def test_what_a_crash_left_is_deleted_on_the_next_start(
    tmp_path: Path, stored: tuple[InMemoryAudioStore, StoredRecording]
) -> None:
    store, _ = stored
    root = tmp_path / "scratch"
    dead, live = root / str(2**22 + 7), root / str(os.getppid())  # no pid is above 2**22
    for process in (dead, live):
        process.mkdir(parents=True)
        (process / "an original recording").write_bytes(b"ID3")
    scratch = PrivateScratch(root, store)
    assert not dead.exists()  # a killed process's copies are gone
    assert (live / "an original recording").exists()  # a running one's (serve's) are its own
    assert list(scratch.root.iterdir()) == []
    assert mode(scratch.root) == 0o700
