"""The AudioStore port's contract. The suite asks only for the port: every adapter of it (in
memory, on disk, and Cloud Storage once it exists: add a branch to `audio_store`) passes the
same tests."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from adapters.filesystem.audio_store import FileAudioStore
from adapters.gcs.audio_store import GcsAudioStore, Limits
from adapters.memory.fakes import InMemoryAudioStore
from domain.call import quarantine_object_name, recording_object_name, redacted_object_name
from ports.audio import AudioStore
from tests.emulators import gcs
from tests.emulators.gcs import FakeGcs
from tests.support import stream

NAME = recording_object_name("acme", "CAL1", "mp3")
fake_gcs = gcs.fake_gcs  # the session's fake-gcs-server, started only if a test needs it


@pytest.fixture(params=["memory", "file", pytest.param("gcs", marks=pytest.mark.slow)])
def audio_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AudioStore]:
    if request.param == "memory":
        yield InMemoryAudioStore()
        return
    if request.param == "file":
        yield FileAudioStore(tmp_path / "audio")
        return
    if request.param == "gcs":
        fake: FakeGcs = request.getfixturevalue("fake_gcs")
        # Small listing pages: names() must follow them to the end.
        limits = Limits(list_page_size=10)
        store = GcsAudioStore(fake.client, fake.bucket, fake.unique_prefix(), limits=limits)
        yield store
        store.close()
        return
    raise AssertionError(f"no audio store named {request.param}")


def pieces(data: bytes, size: int) -> Iterable[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


async def read_all(store: AudioStore, uri: str) -> bytes:
    return b"".join([chunk async for chunk in store.get(uri)])


def varied_bytes(size: int) -> bytes:
    """Not a repeating pattern: a chunk put out of order or twice changes the digest."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:size])


async def test_put_reports_the_size_and_the_sha256(audio_store: AudioStore) -> None:
    data = b"ID3" + bytes(range(256)) * 3
    stored = await audio_store.put(NAME, stream(data[:100], data[100:]), "audio/mpeg")
    assert stored.bytes == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.content_type == "audio/mpeg"
    assert stored.uri


async def test_the_same_content_twice_is_done_once(audio_store: AudioStore) -> None:
    first = await audio_store.put(NAME, stream(b"ID3 same", b" bytes"), "audio/mpeg")
    again = await audio_store.put(NAME, stream(b"ID3 same bytes"), "audio/mpeg")
    assert again == first
    assert await read_all(audio_store, first.uri) == b"ID3 same bytes"


async def test_other_content_under_the_same_name_is_refused(audio_store: AudioStore) -> None:
    original = await audio_store.put(NAME, stream(b"ID3 original"), "audio/mpeg")
    with pytest.raises(FileExistsError):
        await audio_store.put(NAME, stream(b"ID3 impostor"), "audio/mpeg")
    assert await read_all(audio_store, original.uri) == b"ID3 original"


async def test_get_streams_the_exact_bytes_of_a_large_object(audio_store: AudioStore) -> None:
    data = varied_bytes(5 * 1024 * 1024 + 123)
    stored = await audio_store.put(NAME, stream(*pieces(data, 100_000)), "audio/mpeg")
    assert stored.bytes == len(data)
    assert await read_all(audio_store, stored.uri) == data


async def test_get_of_a_missing_object_raises(audio_store: AudioStore) -> None:
    stored = await audio_store.put(NAME, stream(b"ID3"), "audio/mpeg")
    missing = stored.uri.replace("CAL1", "CAL404")
    assert missing != stored.uri
    with pytest.raises(FileNotFoundError):
        await read_all(audio_store, missing)


async def test_delete_removes_the_object_and_may_be_repeated(audio_store: AudioStore) -> None:
    stored = await audio_store.put(NAME, stream(b"ID3 to delete"), "audio/mpeg")
    await audio_store.delete(stored.uri)
    with pytest.raises(FileNotFoundError):
        await read_all(audio_store, stored.uri)
    await audio_store.delete(stored.uri)


async def test_a_deleted_name_can_be_written_again(audio_store: AudioStore) -> None:
    stored = await audio_store.put(NAME, stream(b"ID3 first"), "audio/mpeg")
    await audio_store.delete(stored.uri)
    again = await audio_store.put(NAME, stream(b"ID3 second"), "audio/mpeg")
    assert await read_all(audio_store, again.uri) == b"ID3 second"


async def test_tenants_with_the_same_call_id_are_kept_apart(audio_store: AudioStore) -> None:
    acme = await audio_store.put(
        recording_object_name("acme", "CAL1", "mp3"), stream(b"ID3 acme"), "audio/mpeg"
    )
    globex = await audio_store.put(
        recording_object_name("globex", "CAL1", "mp3"), stream(b"ID3 globex"), "audio/mpeg"
    )
    assert acme.uri != globex.uri
    assert await read_all(audio_store, acme.uri) == b"ID3 acme"
    assert await read_all(audio_store, globex.uri) == b"ID3 globex"
    await audio_store.delete(acme.uri)
    assert await read_all(audio_store, globex.uri) == b"ID3 globex"


async def test_the_uri_of_a_name_is_known_before_and_after_its_put(audio_store: AudioStore) -> None:
    expected = audio_store.uri_for(NAME)
    await audio_store.delete(expected)  # nothing there yet: deleting is harmless
    stored = await audio_store.put(NAME, stream(b"ID3 named"), "audio/mpeg")
    assert stored.uri == expected
    await audio_store.delete(audio_store.uri_for(NAME))
    with pytest.raises(FileNotFoundError):
        await read_all(audio_store, stored.uri)


async def names(store: AudioStore, prefix: str) -> set[str]:
    return {name async for name in store.names(prefix)}


async def test_names_lists_every_object_under_a_prefix_and_no_other(
    audio_store: AudioStore,
) -> None:
    wanted = {
        recording_object_name("acme", "CAL1", "mp3"),
        redacted_object_name("acme", "CAL1", "mp3"),
        quarantine_object_name("acme", "CAL1"),
        recording_object_name("acme", "CAL2", "wav"),
    }
    others = {
        recording_object_name("acme2", "CAL1", "mp3"),  # a tenant whose id begins the same
        recording_object_name("globex", "CAL1", "mp3"),
        quarantine_object_name("globex", "CAL1"),
    }
    for name in wanted | others:
        await audio_store.put(name, stream(name.encode()), "audio/mpeg")
    assert await names(audio_store, "acme/calls/") == {n for n in wanted if n.startswith("acme/")}
    assert await names(audio_store, "acme/calls/CAL1/") == {
        recording_object_name("acme", "CAL1", "mp3"),
        redacted_object_name("acme", "CAL1", "mp3"),
    }
    assert await names(audio_store, "quarantine/acme/calls/") == {
        quarantine_object_name("acme", "CAL1")
    }
    assert await names(audio_store, "nobody/calls/") == set()
    # Each name listed is the one put() took: its URI deletes it.
    for name in await names(audio_store, "acme/calls/CAL1/"):
        await audio_store.delete(audio_store.uri_for(name))
    assert await names(audio_store, "acme/calls/CAL1/") == set()
    assert await names(audio_store, "globex/calls/") == {
        recording_object_name("globex", "CAL1", "mp3")
    }


async def test_names_pages_through_a_long_listing(audio_store: AudioStore) -> None:
    """More objects than one listing page holds (Cloud Storage's here lists 10): none is left
    out, none listed twice."""
    wanted = {recording_object_name("acme", f"CAL{i:04d}", "mp3") for i in range(25)}
    for name in wanted:
        await audio_store.put(name, stream(name.encode()), "audio/mpeg")
    assert await names(audio_store, "acme/") == wanted
