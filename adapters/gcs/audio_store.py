"""Recordings in Cloud Storage: the Google Cloud shape of the AudioStore port.

A put spools the incoming chunks to an anonymous temp file while hashing them (the recording
is never held whole in memory), then uploads it with the "does not exist yet" precondition
(ifGenerationMatch=0): nothing is ever overwritten, not even by two workers racing on one call.
A 412 means the name is taken, and the existing object's sha256 (kept in its metadata) decides
between "already done" and FileExistsError. A get reads one generation in ranged chunks.

google-cloud-storage is synchronous: every call runs on the store's bounded thread pool, with
a timeout per request, a retry deadline per operation, and an overall deadline the event loop
enforces on top.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import IO, TypeVar

from google.cloud.storage import Client  # type: ignore[import-untyped]

from adapters.gcs.objects import GcsUnavailable, Limits, ObjectInfo, Objects
from domain.results import StoredRecording
from ports.audio import AudioStore

__all__ = ["GcsAudioStore", "GcsUnavailable", "Limits", "parse_gs_url"]

SCHEME = "gs://"
T = TypeVar("T")


def parse_gs_url(url: str) -> tuple[str, str]:
    """`gs://bucket/some/prefix` -> ("bucket", "some/prefix"): the configuration's form."""
    if not url.startswith(SCHEME):
        raise ValueError("a Cloud Storage location looks like gs://bucket/prefix")
    bucket, _, prefix = url[len(SCHEME) :].partition("/")
    if not bucket:
        raise ValueError("a Cloud Storage location needs a bucket: gs://bucket/prefix")
    return bucket, prefix


class GcsAudioStore(AudioStore):
    def __init__(
        self,
        client: Client,
        bucket: str,
        prefix: str = "",
        *,
        kms_key_name: str | None = None,
        limits: Limits | None = None,
        upload_deadline_s: float = 900.0,
        max_workers: int = 8,
        spool_dir: str | None = None,
    ):
        """`kms_key_name` (projects/P/locations/L/keyRings/R/cryptoKeys/K) encrypts new objects
        with that customer-managed key instead of the bucket's default."""
        self._bucket = bucket
        self._prefix = _normal_prefix(prefix)
        self._limits = limits or Limits()
        self._upload_deadline_s = upload_deadline_s
        self._objects = Objects(client.bucket(bucket), self._limits, kms_key_name)
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="gcs")
        self._spool_dir = spool_dir

    async def ping(self) -> None:
        """For /v1/health: one listing of at most one object under the prefix. Raises
        GcsUnavailable when the bucket is missing, refused or unreachable."""
        await self._call(functools.partial(self._objects.list_one, self._prefix))

    def close(self) -> None:
        """Stops the thread pool; requests still in flight finish on their own."""
        self._executor.shutdown(wait=False)

    async def put(
        self, name: str, chunks: AsyncIterable[bytes], content_type: str
    ) -> StoredRecording:
        object_name = self._object_name(name)
        uri = self.uri_for(name)
        spool = await self._call(self._open_spool)
        try:
            digest, size = hashlib.sha256(), 0
            async for chunk in chunks:
                await self._call(functools.partial(spool.write, chunk))
                digest.update(chunk)
                size += len(chunk)
            await self._call(spool.flush)
            wanted = StoredRecording(uri, size, digest.hexdigest(), content_type)
            return await self._call(
                functools.partial(self._create, object_name, spool, wanted),
                self._upload_deadline_s,
            )
        finally:
            # A cancelled put may leave a step running on the pool. Closing waits for the file's
            # lock; a multipart upload has read the file already, and a resumable one cut short
            # here is never finalized, so creates nothing.
            await self._call(spool.close)

    async def get(self, uri: str) -> AsyncIterator[bytes]:
        object_name = self._object_name_of(uri)
        info = await self._call(functools.partial(self._objects.stat, object_name))
        if info is None:
            raise FileNotFoundError(f"no recording at {uri}")
        step = self._limits.read_chunk_bytes
        for start in range(0, info.size, step):
            end = min(start + step, info.size) - 1
            read = functools.partial(self._objects.read, object_name, info.generation, start, end)
            chunk = await self._call(read)
            if len(chunk) != end - start + 1:
                raise GcsUnavailable(f"cloud storage returned a short read of {uri}")
            yield chunk

    async def delete(self, uri: str) -> None:
        await self._call(functools.partial(self._objects.delete, self._object_name_of(uri)))

    async def names(self, prefix: str) -> AsyncIterator[str]:
        """One listing page (up to 1,000 names) a request, each on the pool with its timeout."""
        pages = self._objects.pages(self._prefix + prefix)
        while (page := await self._call(functools.partial(next, pages, None))) is not None:
            for name in page:
                yield name[len(self._prefix) :]

    def uri_for(self, name: str) -> str:
        return f"{SCHEME}{self._bucket}/{self._object_name(name)}"

    # --- on the pool ---------------------------------------------------------------------

    def _open_spool(self) -> IO[bytes]:
        return tempfile.TemporaryFile(dir=self._spool_dir, prefix="gcs-put-")

    def _create(
        self, object_name: str, spool: IO[bytes], wanted: StoredRecording
    ) -> StoredRecording:
        # Twice at most: the existing object may be deleted between the 412 and the look.
        for _ in range(2):
            if self._objects.create(
                object_name, spool, wanted.bytes, wanted.content_type, wanted.sha256
            ):
                return wanted
            existing = self._objects.stat(object_name)
            if existing is not None:
                return self._same_or_refused(object_name, existing, wanted)
        raise GcsUnavailable(f"{object_name} kept appearing and disappearing during the upload")

    def _same_or_refused(
        self, object_name: str, existing: ObjectInfo, wanted: StoredRecording
    ) -> StoredRecording:
        sha256 = existing.sha256 or self._objects.sha256_of(object_name, existing)
        if sha256 != wanted.sha256 or existing.size != wanted.bytes:
            raise FileExistsError(f"{object_name} exists with other content")
        return StoredRecording(
            wanted.uri, existing.size, sha256, existing.content_type or wanted.content_type
        )

    async def _call(self, step: Callable[[], T], deadline_s: float | None = None) -> T:
        deadline = (deadline_s or self._limits.deadline_s) + self._limits.timeout_s
        future = asyncio.get_running_loop().run_in_executor(self._executor, step)
        try:
            async with asyncio.timeout(deadline):
                return await future
        except TimeoutError:
            raise GcsUnavailable(f"cloud storage did not finish within {deadline:.0f} s") from None

    # --- names and URIs --------------------------------------------------------------------

    def _object_name(self, name: str) -> str:
        parts = name.split("/")
        if (
            not name
            or any(part in ("", ".", "..") for part in parts)
            or any(ord(c) < 0x20 or c in "\x7f\\#?[]*" for c in name)
            or len((self._prefix + name).encode()) > 1024
        ):
            raise ValueError(f"invalid object name {name!r}")
        return self._prefix + name

    def _object_name_of(self, uri: str) -> str:
        own = f"{SCHEME}{self._bucket}/{self._prefix}"
        if not uri.startswith(own):
            raise ValueError("not a gs:// URI of this audio store's bucket and prefix")
        return self._object_name(uri[len(own) :])


def _normal_prefix(prefix: str) -> str:
    prefix = prefix.strip("/")
    return prefix + "/" if prefix else ""
