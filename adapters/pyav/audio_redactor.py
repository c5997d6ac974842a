"""The AudioRedactor port on PyAV (FFmpeg's libraries, installed with faster-whisper).

A span is replaced with digital silence, not a tone: silence is what a listener expects of a
removed stretch, it adds nothing a transcriber could take for a word, and it is exact zeros in
every codec. An empty span list still decodes and encodes the recording: the output is always
the product of the same pass (the source is shown to be decodable, the stored object is never
byte for byte the original download), at the price of one more generation of a lossy codec.

The work runs on a thread: decoding and encoding a five-minute call takes seconds of CPU. The
output is written to a private (0600) temp file beside the target and renamed onto it, so the
target appears whole or not at all; on any failure, or when the caller is cancelled, the temp
file is removed before the error is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import av

from adapters.pyav.transcoding import RedactionStopped, silence_into
from domain.errors import TransientFailure, UnreadableAudio
from domain.results import SilencedSpan
from ports.audio_redaction import AudioRedactor, RedactedAudio


class PyAvAudioRedactor(AudioRedactor):
    async def silence(
        self, source: Path, target: Path, spans: Sequence[SilencedSpan]
    ) -> RedactedAudio:
        stop = threading.Event()
        work = asyncio.ensure_future(
            asyncio.to_thread(_redact, Path(source), Path(target), tuple(spans), stop)
        )
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            # The thread cannot be interrupted, only told to stop: wait for it to remove its
            # temp file, so nothing is written after the caller has gone.
            stop.set()
            await asyncio.wait([work])
            if not work.cancelled():
                work.exception()  # RedactionStopped, expected: marked as seen
            raise


def _redact(
    source: Path, target: Path, spans: Sequence[SilencedSpan], stop: threading.Event
) -> RedactedAudio:
    try:
        return _written_atomically(source, target, spans, stop)
    except (UnreadableAudio, TransientFailure, RedactionStopped):
        raise
    except av.error.InvalidDataError as exc:
        raise UnreadableAudio("the recording is not decodable audio") from exc
    except (OSError, MemoryError) as exc:
        raise TransientFailure(f"redacting the recording failed: {_reason(exc)}") from exc
    except Exception as exc:
        # FFmpeg's other errors, and PyAV's refusals of what a file declares, are about the
        # file: retrying the same bytes cannot help.
        raise UnreadableAudio(f"the recording cannot be redacted ({_reason(exc)})") from exc


def _written_atomically(
    source: Path, target: Path, spans: Sequence[SilencedSpan], stop: threading.Event
) -> RedactedAudio:
    descriptor, temp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".part", dir=target.parent
    )
    try:
        try:
            redacted = silence_into(source, _WholeWrites(descriptor), spans, stop)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return redacted


class _WholeWrites:
    """The temp file as FFmpeg writes it: each write whole or an error (FFmpeg does not retry
    a short write), and a seek that never writes (a buffered file's seek flushes, and a full
    disk would fail it a second time while the first error is still being reported)."""

    def __init__(self, descriptor: int):
        self._descriptor = descriptor

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            view = view[os.write(self._descriptor, view) :]
        return len(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return os.lseek(self._descriptor, offset, whence)

    def tell(self) -> int:
        return os.lseek(self._descriptor, 0, os.SEEK_CUR)


def _reason(exc: BaseException) -> str:
    """The error's kind, never its message: FFmpeg's messages carry the file's path."""
    code = exc.errno if isinstance(exc, OSError) else None
    if code is not None and code in errno.errorcode:
        return f"{errno.errorcode[code]}: {os.strerror(code)}"
    return type(exc).__name__
