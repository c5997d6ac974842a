from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import attrs

from domain.results import SilencedSpan


@attrs.frozen
class RedactedAudio:
    """What an audio redaction wrote: the output's duration, and how many of the spans asked
    for silenced some of it (a span wholly past the recording's end silences nothing)."""

    duration_s: float
    spans_silenced: int


class AudioRedactor(Protocol):
    async def silence(
        self, source: Path, target: Path, spans: Sequence[SilencedSpan]
    ) -> RedactedAudio:
        """Writes to `target` the recording in `source` with every span silenced on the channel
        that said it (on every channel when the span names none, or when the file is mono),
        in the source's container, codec, sample rate, channels and bit rate, and of the same
        duration (within a codec frame). Spans are clamped to the recording and may overlap.
        Both are local files; `target` appears whole (0600) or not at all, and nothing else
        is left in its directory. Raises UnreadableAudio (permanent) when the source is not
        decodable audio (garbage, empty, cut short of the length its header declares, or in
        a format the adapter cannot write back), TransientFailure for what may pass: a full
        disk, a source that is not there (the caller downloads it again); nothing else."""
        ...
