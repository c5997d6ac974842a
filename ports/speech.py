from __future__ import annotations

from typing import Protocol

from domain.results import StoredRecording, Transcript


class Transcriber(Protocol):
    async def transcribe(self, recording: StoredRecording, language: str = "en-US") -> Transcript:
        """Speaker turns with timings, read from the stored recording (the adapter reads it
        through the AudioStore). Raises UnreadableAudio (permanent) or TransientFailure."""
        ...
