"""Silencing a stored recording's card numbers and storing the result: the step the pipeline
(domain.usecases.processing) and the `calls redact-audio` command share."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import attrs

from domain.results import SilencedSpan, StoredRecording
from ports.audio import AudioStore
from ports.audio_redaction import AudioRedactor
from ports.scratch import Scratch


@attrs.frozen
class AudioRedaction:
    redactor: AudioRedactor
    scratch: Scratch

    async def store_silenced(
        self,
        audio: AudioStore,
        source: StoredRecording,
        spans: Sequence[SilencedSpan],
        name: str,
    ) -> StoredRecording:
        """The source with the spans silenced, stored under `name`: a private local copy in,
        a private file out, both gone after. What an earlier attempt stored under that name,
        encoded a little differently, is replaced: only this step writes it. With nothing to
        silence (most calls) the source's bytes are stored as they are: no generation of a
        lossy codec is spent on a recording that holds nothing to hide."""
        if not spans:
            stored = await audio.put(name, audio.get(source.uri), source.content_type)
            return attrs.evolve(stored, duration_s=source.duration_s, redacted=True)
        async with self.scratch.copy_of(source) as path, self.scratch.new_file() as out:
            silenced = await self.redactor.silence(path, out, spans)
            try:
                stored = await audio.put(name, self.scratch.chunks(out), source.content_type)
            except FileExistsError:
                await audio.delete(audio.uri_for(name))
                stored = await audio.put(name, self.scratch.chunks(out), source.content_type)
        return attrs.evolve(stored, duration_s=round(silenced.duration_s, 3), redacted=True)


def by_kind(spans: Sequence[SilencedSpan]) -> Counter[str]:
    return Counter(span.kind for span in spans)


def silenced_note(spans: Sequence[SilencedSpan]) -> str:
    """ "3 spans silenced (CARD 1, CVV 1, EXPIRY 1)": how many of each kind, never a digit."""
    if not spans:
        return "nothing to silence"
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(by_kind(spans).items()))
    return f"{len(spans)} {'span' if len(spans) == 1 else 'spans'} silenced ({kinds})"
