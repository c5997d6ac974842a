"""Secrets from Secret Manager, cached for a while: the Google Cloud shape of the SecretStore.

A reference such as `hubspot/acme-token` names the secret `hubspot_acme-token` in the configured
project (Secret Manager ids allow only letters, digits, `_` and `-`: every other character
becomes `_`), version `latest`; a full resource name (`projects/P/secrets/S[/versions/V]`) is
used as it is. Values are cached for `ttl_s` (a rotation shows within that time), concurrent
resolves of one name share one request, and the synchronous client runs on a small thread pool
with a timeout per attempt, a retry deadline, and an overall deadline on top.

Absence and unavailability are kept apart on purpose. SecretNotFound means the reference names
nothing usable (no such secret, no enabled version, an empty value), and callers treat it as
permanent: the CallRail recording source fails the call on it. Anything that may pass (5xx,
429, timeouts, a refused permission an operator can grant) is SecretManagerUnavailable: a
StorageUnavailable (503 over HTTP, like the database being down) that is also a
TransientFailure, so the processing use case retries the stage instead of failing the call.
"""

from __future__ import annotations

import asyncio
import functools
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import attrs
import google_crc32c
import requests
from google.api_core import exceptions as api
from google.api_core.retry import Retry, if_exception_type
from google.auth import exceptions as auth
from google.cloud.secretmanager import SecretManagerServiceClient

from domain.errors import SecretNotFound, StorageUnavailable, TransientFailure
from ports.secrets import SecretStore
from ports.system import Clock

_RESOURCE = re.compile(r"^projects/[^/]+/secrets/[A-Za-z0-9_-]{1,255}(/versions/[A-Za-z0-9_-]+)?$")
_NOT_IN_ID = re.compile(r"[^A-Za-z0-9_-]")
_RETRYABLE = if_exception_type(
    api.ServiceUnavailable,
    api.ResourceExhausted,  # 429 over gRPC
    api.TooManyRequests,  # 429 over REST
    api.InternalServerError,
    api.DeadlineExceeded,
)


class SecretManagerUnavailable(StorageUnavailable, TransientFailure):
    """Secret Manager could not answer now; the message names the reference, never a value."""


def secret_version(project: str, name: str) -> str:
    """The resource name of the version a reference resolves to."""
    if name.startswith("projects/"):
        if not _RESOURCE.match(name):
            raise SecretNotFound(f"secret {name!r} is not a Secret Manager resource name")
        return name if "/versions/" in name else f"{name}/versions/latest"
    secret_id = secret_id_of(name)
    if not 0 < len(secret_id) <= 255:
        raise SecretNotFound(f"secret {name!r} cannot name a Secret Manager secret")
    return f"projects/{project}/secrets/{secret_id}/versions/latest"


def secret_id_of(name: str) -> str:
    """`hubspot/acme-token` -> `hubspot_acme-token`."""
    return _NOT_IN_ID.sub("_", name)


@attrs.frozen
class _Cached:
    value: str
    until: datetime


class SecretManagerSecretStore(SecretStore):
    def __init__(
        self,
        client: SecretManagerServiceClient,
        project: str,
        *,
        clock: Clock,
        ttl_s: float = 300.0,
        timeout_s: float = 10.0,
        deadline_s: float = 30.0,
        max_workers: int = 4,
    ):
        self._client = client
        self._project = project
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_s)
        self._timeout_s = timeout_s
        self._deadline_s = deadline_s
        self._retry = Retry(
            predicate=_RETRYABLE, initial=0.2, maximum=2.0, multiplier=2.0, timeout=deadline_s
        )
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="secrets")
        self._cache: dict[str, _Cached] = {}
        self._pending: dict[str, asyncio.Task[str]] = {}

    def close(self) -> None:
        self._executor.shutdown(wait=False)

    async def resolve(self, name: str) -> str:
        cached = self._cache.get(name)
        if cached is not None and self._clock.now() < cached.until:
            return cached.value
        task = self._pending.get(name)
        if task is None:
            task = asyncio.ensure_future(self._fetch(name))
            self._pending[name] = task
            task.add_done_callback(functools.partial(self._settled, name))
        # Shielded: one caller giving up must not cancel the request the others wait for.
        return await asyncio.shield(task)

    async def _fetch(self, name: str) -> str:
        version = secret_version(self._project, name)
        access = functools.partial(self._access, name, version)
        future = asyncio.get_running_loop().run_in_executor(self._executor, access)
        deadline = self._deadline_s + self._timeout_s
        try:
            async with asyncio.timeout(deadline):
                data = await future
        except TimeoutError:
            raise SecretManagerUnavailable(
                f"Secret Manager did not answer for secret {name!r} within {deadline:.0f} s"
            ) from None
        try:
            value = data.decode("utf-8")
        except UnicodeDecodeError:
            raise SecretNotFound(f"secret {name!r} is not UTF-8 text") from None
        if not value:
            raise SecretNotFound(f"secret {name!r} is empty")
        self._cache[name] = _Cached(value, self._clock.now() + self._ttl)
        return value

    def _access(self, name: str, version: str) -> bytes:
        """On the pool. Errors name the reference only: a driver's text could echo anything."""
        try:
            response = self._client.access_secret_version(
                name=version, retry=self._retry, timeout=self._timeout_s
            )
        except api.NotFound:
            raise SecretNotFound(f"secret {name!r} is not in Secret Manager") from None
        except api.BadRequest:
            # FAILED_PRECONDITION (the version is disabled or destroyed) or an invalid name.
            # Over REST both arrive as a plain 400, so they are not told apart.
            raise SecretNotFound(f"secret {name!r} has no enabled version to read") from None
        except api.Forbidden:  # PERMISSION_DENIED, over gRPC or REST
            raise SecretManagerUnavailable(f"no permission to read secret {name!r}") from None
        except api.GoogleAPICallError as exc:
            raise SecretManagerUnavailable(
                f"Secret Manager answered {exc.code} for secret {name!r}"
            ) from None
        except (api.GoogleAPIError, auth.GoogleAuthError, requests.RequestException) as exc:
            raise SecretManagerUnavailable(
                f"Secret Manager failed for secret {name!r}: {type(exc).__name__}"
            ) from None
        payload = response.payload
        data = bytes(payload.data)
        if "data_crc32c" in payload and google_crc32c.value(data) != payload.data_crc32c:
            raise SecretManagerUnavailable(f"secret {name!r} arrived corrupted; try again")
        return data

    def _settled(self, name: str, task: asyncio.Task[str]) -> None:
        self._pending.pop(name, None)
        if not task.cancelled():
            task.exception()  # retrieved, so a fetch nobody waits for any more logs nothing
