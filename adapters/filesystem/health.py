from __future__ import annotations

import asyncio
import os
from pathlib import Path

from ports.health import ComponentHealth, HealthProbe


class DirectoryHealthProbe(HealthProbe):
    """The audio directory exists (or can be made) and this process can write to it."""

    def __init__(self, root: str | os.PathLike[str]):
        self._root = Path(root)

    async def check(self) -> ComponentHealth:
        return await asyncio.to_thread(self._check)

    def _check(self) -> ComponentHealth:
        try:
            self._root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return ComponentHealth("unhealthy", f"audio directory unusable: {exc.strerror}")
        if not os.access(self._root, os.W_OK | os.X_OK):
            return ComponentHealth("unhealthy", "audio directory is not writable")
        usage = os.statvfs(self._root)
        free_gb = usage.f_bavail * usage.f_frsize / 1e9
        status = "degraded" if free_gb < 1 else "healthy"
        return ComponentHealth(status, "local disk", {"free_gb": round(free_gb, 1)})
