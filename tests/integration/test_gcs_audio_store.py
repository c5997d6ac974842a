"""What the Cloud Storage AudioStore adds to the port's contract, on fake-gcs-server: the
no-overwrite precondition is the server's doing, the object's metadata carries the digest and
the content type, large objects stream both ways, and failures surface as port errors."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator

import pytest

from adapters.gcs.audio_store import GcsAudioStore, Limits, parse_gs_url
from domain.call import recording_object_name
from domain.errors import StorageUnavailable, TransientFailure
from tests.emulators import free_port, gcs
from tests.emulators.gcs import FakeGcs, storage_client

pytestmark = pytest.mark.slow
fake_gcs = gcs.fake_gcs

NAME = recording_object_name("acme", "CAL1", "mp3")
MiB = 1024 * 1024


async def stream(data: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def varied(size: int, seed: int = 0) -> bytes:
    out = bytearray()
    counter = seed << 32
    while len(out) < size:
        out += hashlib.sha256(counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:size])


async def read_all(store: GcsAudioStore, uri: str) -> bytes:
    return b"".join([chunk async for chunk in store.get(uri)])


@pytest.fixture
def prefix(fake_gcs: FakeGcs) -> str:
    return fake_gcs.unique_prefix()


@pytest.fixture
def store(fake_gcs: FakeGcs, prefix: str) -> Iterator[GcsAudioStore]:
    store = GcsAudioStore(fake_gcs.client, fake_gcs.bucket, prefix)
    yield store
    store.close()


async def test_the_uri_names_bucket_prefix_and_name(
    store: GcsAudioStore, fake_gcs: FakeGcs, prefix: str
) -> None:
    stored = await store.put(NAME, stream(b"ID3 x"), "audio/mpeg")
    assert stored.uri == f"gs://{fake_gcs.bucket}/{prefix}{NAME}"
    assert parse_gs_url(f"gs://{fake_gcs.bucket}/{prefix}") == (fake_gcs.bucket, prefix)


async def test_metadata_carries_the_sha256_and_the_content_type(
    store: GcsAudioStore, fake_gcs: FakeGcs, prefix: str
) -> None:
    data = varied(300_000)
    stored = await store.put(NAME, stream(data), "audio/wav")

    blob = await asyncio.to_thread(fake_gcs.client.bucket(fake_gcs.bucket).get_blob, prefix + NAME)
    assert blob is not None
    assert blob.metadata == {"sha256": hashlib.sha256(data).hexdigest()}
    assert blob.content_type == "audio/wav"
    assert blob.size == len(data) == stored.bytes


async def test_the_server_refuses_the_second_writer_and_keeps_the_first(
    store: GcsAudioStore, fake_gcs: FakeGcs, prefix: str
) -> None:
    """The object is written by another client, so no check of ours stands in the way: only the
    server's ifGenerationMatch=0 can refuse the put."""
    blob = fake_gcs.client.bucket(fake_gcs.bucket).blob(prefix + NAME)
    await asyncio.to_thread(blob.upload_from_string, b"ID3 original", content_type="audio/mpeg")
    mark = fake_gcs.mark()

    with pytest.raises(FileExistsError, match="exists with other content"):
        await store.put(NAME, stream(b"ID3 impostor"), "audio/mpeg")

    uploads = [line for line in fake_gcs.requests_since(mark) if "/upload/" in line]
    assert uploads, "the put never reached the server"
    assert all("ifGenerationMatch=0" in line for line in uploads)
    assert await read_all(store, f"gs://{fake_gcs.bucket}/{prefix}{NAME}") == b"ID3 original"


async def test_an_object_without_our_digest_is_hashed_to_compare(
    store: GcsAudioStore, fake_gcs: FakeGcs, prefix: str
) -> None:
    data = varied(2 * MiB + 7)
    blob = fake_gcs.client.bucket(fake_gcs.bucket).blob(prefix + NAME)
    await asyncio.to_thread(blob.upload_from_string, data, content_type="audio/mpeg")

    stored = await store.put(NAME, stream(data), "audio/mpeg")

    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.bytes == len(data)


async def test_of_two_racing_writers_of_different_content_exactly_one_wins(
    store: GcsAudioStore,
) -> None:
    contents = [b"ID3 writer %d " % n + varied(50_000, seed=n) for n in range(4)]
    results = await asyncio.gather(
        *(store.put(NAME, stream(c, 7_000), "audio/mpeg") for c in contents),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, FileExistsError)]
    assert len(won) == 1
    assert len(refused) == 3
    winner = contents[results.index(won[0])]
    assert await read_all(store, won[0].uri) == winner


async def test_five_mib_round_trip_in_chunks(fake_gcs: FakeGcs, prefix: str) -> None:
    store = GcsAudioStore(
        fake_gcs.client, fake_gcs.bucket, prefix, limits=Limits(read_chunk_bytes=MiB)
    )
    try:
        data = varied(5 * MiB)
        stored = await store.put(NAME, stream(data, 64 * 1024), "audio/mpeg")
        chunks = [chunk async for chunk in store.get(stored.uri)]
    finally:
        store.close()
    assert [len(c) for c in chunks] == [MiB] * 5
    assert b"".join(chunks) == data
    assert stored.sha256 == hashlib.sha256(data).hexdigest()


async def test_a_large_object_goes_up_in_resumable_chunks(fake_gcs: FakeGcs, prefix: str) -> None:
    store = GcsAudioStore(
        fake_gcs.client, fake_gcs.bucket, prefix, limits=Limits(upload_chunk_bytes=4 * MiB)
    )
    mark = fake_gcs.mark()
    try:
        data = varied(9 * MiB + 5)
        stored = await store.put(NAME, stream(data, 256 * 1024), "audio/mpeg")
        assert await read_all(store, stored.uri) == data
    finally:
        store.close()
    chunk_puts = [line for line in fake_gcs.requests_since(mark) if "upload_id=" in line]
    assert len(chunk_puts) == 3  # 4 + 4 + 1 MiB


async def test_the_cmek_key_name_goes_with_the_upload(fake_gcs: FakeGcs, prefix: str) -> None:
    key = "projects/acme-prod/locations/us/keyRings/audio/cryptoKeys/recordings"
    store = GcsAudioStore(fake_gcs.client, fake_gcs.bucket, prefix, kms_key_name=key)
    mark = fake_gcs.mark()
    try:
        await store.put(NAME, stream(b"ID3 encrypted"), "audio/mpeg")
    finally:
        store.close()
    uploads = [line for line in fake_gcs.requests_since(mark) if "/upload/" in line]
    assert any("kmsKeyName=projects%2Facme-prod%2F" in line for line in uploads), uploads


async def test_a_failing_source_creates_no_object(
    store: GcsAudioStore, fake_gcs: FakeGcs, prefix: str
) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"ID3" + b"\0" * 70_000
        raise ConnectionResetError("the download broke")

    with pytest.raises(ConnectionResetError):
        await store.put(NAME, broken(), "audio/mpeg")
    with pytest.raises(FileNotFoundError):
        await read_all(store, f"gs://{fake_gcs.bucket}/{prefix}{NAME}")


@pytest.mark.parametrize("name", ["", "/abs", "a//b", "a/../b", "a/./b", "a\nb", "x" * 1100])
async def test_names_that_are_not_plain_paths_are_refused(store: GcsAudioStore, name: str) -> None:
    with pytest.raises(ValueError, match="invalid object name"):
        await store.put(name, stream(b"ID3"), "audio/mpeg")


@pytest.mark.parametrize(
    "uri",
    [
        "gs://another-bucket/{prefix}acme/calls/CAL1/recording.mp3",
        "gs://{bucket}/elsewhere/acme/calls/CAL1/recording.mp3",
        "file:///tmp/acme/calls/CAL1/recording.mp3",
        "gs://{bucket}/{prefix}../escape",
    ],
)
async def test_uris_outside_the_store_are_refused(
    store: GcsAudioStore, fake_gcs: FakeGcs, prefix: str, uri: str
) -> None:
    uri = uri.format(bucket=fake_gcs.bucket, prefix=prefix)
    with pytest.raises(ValueError, match=r"not a gs:// URI of this|invalid object name"):
        await read_all(store, uri)
    with pytest.raises(ValueError, match=r"not a gs:// URI of this|invalid object name"):
        await store.delete(uri)


async def test_an_unreachable_server_is_a_retryable_port_error() -> None:
    client = storage_client(f"http://127.0.0.1:{free_port()}")
    store = GcsAudioStore(client, "bucket", limits=Limits(timeout_s=1, deadline_s=1))
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with pytest.raises(StorageUnavailable) as caught:
            await store.put(NAME, stream(b"ID3"), "audio/mpeg")
        with pytest.raises(StorageUnavailable):
            await read_all(store, "gs://bucket/" + NAME)
    finally:
        store.close()
    assert isinstance(caught.value, TransientFailure)
    assert loop.time() - started < 15
