"""The blocking half of the Cloud Storage AudioStore: one function per request, each with a
per-request timeout and a retry deadline, each turning the client's errors into port errors.
They run on the store's thread pool, never on the event loop."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from typing import IO, Any

import attrs
import requests
from google.api_core import exceptions as api
from google.auth import exceptions as auth
from google.cloud.storage import Bucket  # type: ignore[import-untyped]
from google.cloud.storage.retry import DEFAULT_RETRY  # type: ignore[import-untyped]

from domain.errors import StorageUnavailable, TransientFailure

SHA256_KEY = "sha256"


class GcsUnavailable(StorageUnavailable, TransientFailure):
    """Cloud Storage did not answer, or refused in a way retrying later may cure (5xx, 429,
    a timeout, missing permissions being fixed). Both a StorageUnavailable (503 over HTTP) and
    a TransientFailure (the processing use case retries the stage with this message)."""


@attrs.frozen
class ObjectInfo:
    size: int
    generation: int
    content_type: str | None
    sha256: str | None


@attrs.frozen
class Limits:
    """`timeout_s` bounds one HTTP request; `deadline_s` one operation, retries included."""

    timeout_s: float = 60.0
    deadline_s: float = 120.0
    upload_chunk_bytes: int = 8 * 1024 * 1024
    read_chunk_bytes: int = 1024 * 1024
    list_page_size: int = 1000  # Cloud Storage's largest listing page

    @property
    def request_timeout(self) -> tuple[float, float]:
        return (min(10.0, self.timeout_s), self.timeout_s)

    @property
    def retry(self) -> Any:
        return DEFAULT_RETRY.with_timeout(self.deadline_s)


class Objects:
    """Blocking operations on one bucket. A new Blob per call: Blobs are not thread-safe."""

    def __init__(self, bucket: Bucket, limits: Limits, kms_key_name: str | None):
        self._bucket = bucket
        self._limits = limits
        self._kms_key_name = kms_key_name

    def create(
        self, name: str, spool: IO[bytes], size: int, content_type: str, sha256: str
    ) -> bool:
        """Uploads unless the name exists: True if written, False if the name was taken.
        Objects up to 8 MiB go up in one multipart request (the client reads them into memory
        for it); larger ones in resumable chunks of `upload_chunk_bytes`."""
        blob = self._bucket.blob(
            name, chunk_size=self._limits.upload_chunk_bytes, kms_key_name=self._kms_key_name
        )
        blob.metadata = {SHA256_KEY: sha256}
        spool.seek(0)
        try:
            with _translated("upload"):
                # ifGenerationMatch=0 makes a retried request safe too: a first attempt that
                # succeeded unseen turns the retry into a 412, which compares digests.
                blob.upload_from_file(
                    spool,
                    size=size,
                    content_type=content_type,
                    if_generation_match=0,
                    timeout=self._limits.request_timeout,
                    retry=self._limits.retry,
                )
        except _Taken:
            return False
        except _Missing:
            raise GcsUnavailable(f"the bucket {self._bucket.name} does not exist") from None
        return True

    def list_one(self, prefix: str) -> None:
        """Lists at most one object under `prefix`, within 2 s and not retried: the bucket
        exists and these credentials may list it (storage.objects.list, in
        roles/storage.objectAdmin)."""
        try:
            with _translated("list objects"):
                listing = self._bucket.list_blobs(
                    prefix=prefix, max_results=1, timeout=(2.0, 2.0), retry=None
                )
                list(listing)
        except _Missing:
            raise GcsUnavailable(f"the bucket {self._bucket.name} does not exist") from None

    def pages(self, prefix: str) -> Iterator[list[str]]:
        """The names under `prefix`, a listing page at a time (each next() one request)."""
        with _translated("list objects"):
            pages = self._bucket.list_blobs(
                prefix=prefix,
                page_size=self._limits.list_page_size,
                timeout=self._limits.request_timeout,
                retry=self._limits.retry,
            ).pages
        while True:
            try:
                with _translated("list objects"):
                    page = next(pages, None)
            except _Missing:
                raise GcsUnavailable(f"the bucket {self._bucket.name} does not exist") from None
            if page is None:
                return
            yield [blob.name for blob in page]

    def stat(self, name: str) -> ObjectInfo | None:
        with _translated("read metadata"):
            blob = self._bucket.get_blob(
                name, timeout=self._limits.request_timeout, retry=self._limits.retry
            )
        if blob is None:
            return None
        metadata: dict[str, str] = blob.metadata or {}
        return ObjectInfo(
            size=int(blob.size or 0),
            generation=int(blob.generation),
            content_type=blob.content_type,
            sha256=metadata.get(SHA256_KEY),
        )

    def read(self, name: str, generation: int, start: int, end: int) -> bytes:
        """Bytes start..end (inclusive) of exactly that generation."""
        blob = self._bucket.blob(name, generation=generation)
        try:
            with _translated("download"):
                data: bytes = blob.download_as_bytes(
                    start=start,
                    end=end,
                    checksum=None,  # a range has no whole-object checksum to check
                    timeout=self._limits.request_timeout,
                    retry=self._limits.retry,
                )
        except _Missing:
            raise FileNotFoundError(f"{name} was deleted while it was read") from None
        return data

    def sha256_of(self, name: str, info: ObjectInfo) -> str:
        """For an object we did not write (no sha256 in its metadata): hashed as it streams."""
        digest = hashlib.sha256()
        step = self._limits.read_chunk_bytes
        for start in range(0, info.size, step):
            digest.update(self.read(name, info.generation, start, min(start + step, info.size) - 1))
        return digest.hexdigest()

    def delete(self, name: str) -> None:
        blob = self._bucket.blob(name)
        # Deleting is idempotent here (a missing object is fine), so a retry is always safe.
        with contextlib.suppress(_Missing), _translated("delete"):
            blob.delete(timeout=self._limits.request_timeout, retry=self._limits.retry)


class _Taken(Exception):
    """412: the does-not-exist precondition failed."""


class _Missing(Exception):
    """404."""


@contextlib.contextmanager
def _translated(what: str) -> Iterator[None]:
    try:
        yield
    except api.PreconditionFailed:
        raise _Taken from None
    except api.NotFound as exc:
        raise _Missing from exc
    except api.GoogleAPICallError as exc:
        raise GcsUnavailable(f"cloud storage answered {exc.code} to {what}") from exc
    except (api.GoogleAPIError, auth.GoogleAuthError, requests.RequestException) as exc:
        raise GcsUnavailable(f"cloud storage {what} failed: {type(exc).__name__}") from exc
