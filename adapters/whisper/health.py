from __future__ import annotations

import asyncio

from adapters.whisper.transcriber import WhisperTranscriber, bundled_model
from ports.health import ComponentHealth, HealthProbe


class WhisperHealthProbe(HealthProbe):
    """Local speech needs no network: healthy when the model is loaded or loadable."""

    def __init__(self, transcriber: WhisperTranscriber):
        self._transcriber = transcriber

    async def check(self) -> ComponentHealth:
        if self._transcriber.loads:
            return ComponentHealth("healthy", f"whisper {self._transcriber.model_name}, loaded")
        if await asyncio.to_thread(bundled_model) is None:
            return ComponentHealth("degraded", "the bundled whisper model is not installed")
        return ComponentHealth("healthy", "whisper, loads on first call")
