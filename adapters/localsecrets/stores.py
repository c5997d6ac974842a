"""Secret stores for one machine: the environment, or a JSON file of name -> value."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path

from domain.errors import SecretNotFound
from ports.secrets import SecretStore
from ports.system import Clock


def env_name(secret_name: str, prefix: str = "PIPELINE_SECRET_") -> str:
    """`hubspot/acme-token` -> PIPELINE_SECRET_HUBSPOT_ACME_TOKEN."""
    return prefix + re.sub(r"[^A-Za-z0-9]", "_", secret_name).upper()


class EnvSecretStore(SecretStore):
    def __init__(self, environ: Mapping[str, str] | None = None, prefix: str = "PIPELINE_SECRET_"):
        self._environ = os.environ if environ is None else environ
        self._prefix = prefix

    async def resolve(self, name: str) -> str:
        value = self._environ.get(env_name(name, self._prefix))
        if not value:
            raise SecretNotFound(
                f"secret {name!r} is not set (expected {env_name(name, self._prefix)})"
            )
        return value


class FileSecretStore(SecretStore):
    """Re-reads the file when it changes, so a rotated secret applies without a restart: its
    modification time is looked at again at most every `recheck_s` seconds, so a rotation shows
    within that time. Between two looks a resolve is a dictionary lookup: the look itself (a
    stat, on a thread so the event loop never waits for the disk) cost ~90 us of CPU, a fifth
    of a webhook's when the tenant's signing key is a reference into this file. A file that
    cannot be read is looked at again on the next resolve."""

    def __init__(self, path: Path, *, clock: Clock, recheck_s: float = 1.0):
        self._path = path
        self._clock = clock
        self._recheck = timedelta(seconds=recheck_s)
        self._cache: tuple[float, dict[str, str]] | None = None
        self._looked_at: datetime | None = None

    async def resolve(self, name: str) -> str:
        now, looked_at, cache = self._clock.now(), self._looked_at, self._cache
        if (
            cache is not None
            and looked_at is not None
            and looked_at <= now < looked_at + self._recheck
        ):
            secrets = cache[1]
        else:
            secrets = await asyncio.to_thread(self._load)
            self._looked_at = now
        value = secrets.get(name)
        if not isinstance(value, str) or not value:
            raise SecretNotFound(f"secret {name!r} is not in the secrets file")
        return value

    def _load(self) -> dict[str, str]:
        try:
            mtime = self._path.stat().st_mtime
        except OSError:
            raise SecretNotFound(f"the secrets file {self._path} cannot be read") from None
        if self._cache is not None and self._cache[0] == mtime:
            return self._cache[1]
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            # Never echo the file's content: it is full of secrets.
            raise SecretNotFound(f"the secrets file {self._path} is not a JSON object") from None
        if not isinstance(data, dict):
            raise SecretNotFound(f"the secrets file {self._path} is not a JSON object")
        self._cache = (mtime, {str(k): v for k, v in data.items() if isinstance(v, str)})
        return self._cache[1]
