from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

import attrs

from domain.call import Call
from domain.tenant import Tenant


@attrs.frozen
class Download:
    content_type: str
    chunks: AsyncIterator[bytes]


class RecordingSource(Protocol):
    async def open(self, tenant: Tenant, call: Call) -> Download:
        """Starts a recording's download (SSRF-checked, size-capped). Raises
        RecordingUnavailable (permanent) or a transient error the queue retries."""
        ...
