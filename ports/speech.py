from __future__ import annotations

from typing import Protocol

from domain.results import StoredRecording, Transcript
from domain.transcription_hint import TranscriptionHint


class Transcriber(Protocol):
    async def transcribe(
        self,
        recording: StoredRecording,
        language: str = "en-US",
        hint: TranscriptionHint | None = None,
        ticket: str | None = None,
    ) -> Transcript:
        """Speaker turns with timings, read from the stored recording (the adapter reads it
        through the AudioStore). `hint` names the business and its trade words, for an engine
        that can be told what it is likely to hear; one that cannot ignores it. A transcript
        holds no repetition loop (domain.transcript_loops). Raises UnreadableAudio (permanent)
        or TransientFailure.

        An engine that answers later (a batch service) raises TranscriptionPending with a
        ticket; called again with that `ticket`, it collects the work instead of starting it
        again. An engine that always answers at once ignores `ticket`."""
        ...
