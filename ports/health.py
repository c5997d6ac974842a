from __future__ import annotations

from typing import Protocol

import attrs


@attrs.frozen
class ComponentHealth:
    status: str  # healthy | degraded | unhealthy | disabled
    detail: str | None = None
    figures: dict[str, float] = attrs.field(factory=dict)


class HealthProbe(Protocol):
    async def check(self) -> ComponentHealth: ...
