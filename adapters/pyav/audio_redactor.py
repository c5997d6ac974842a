"""The AudioRedactor port on PyAV (FFmpeg's libraries, installed with faster-whisper).

A span is replaced with digital silence, not a tone: silence is what a listener expects of a
removed stretch, it adds nothing a transcriber could take for a word, and it is exact zeros in
every codec. An empty span list still decodes and encodes the recording: the output is always
the product of the same pass (the source is shown to be decodable, the stored object is never
byte for byte the original download), at the price of one more generation of a lossy codec.

Decoding and encoding a five-minute call takes seconds of CPU, and PyAV's frame loop holds the
GIL for stretches: on a thread of `serve` it stretched webhook answers (make bench's mixed p99).
So the work runs in a process of its own, started on first use (spawned, at a lower priority,
as the Whisper worker is), one recording at a time. The output is written to a private (0600)
temp file beside the target and renamed onto it, so the target appears whole or not at all; on
any failure the temp file is removed before the error is raised. A cancelled caller waits for
the recording in hand to finish, then its output is removed: nothing is left after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from domain.errors import TransientFailure, UnreadableAudio
from domain.results import SilencedSpan
from ports.audio_redaction import AudioRedactor, RedactedAudio


class PyAvAudioRedactor(AudioRedactor):
    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    async def silence(
        self, source: Path, target: Path, spans: Sequence[SilencedSpan]
    ) -> RedactedAudio:
        target = Path(target)
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self._worker(), _redact, Path(source), target, tuple(spans))
        try:
            return await asyncio.shield(work)
        except BrokenProcessPool:
            self._drop_worker()
            raise TransientFailure(
                "the audio redaction process died; the call is retried"
            ) from None
        except asyncio.CancelledError:
            # The process cannot be interrupted mid-recording: let it finish, then remove what
            # it wrote, so nothing is left after the caller has gone.
            await asyncio.wait([work])
            if not work.cancelled() and work.exception() is None:
                with contextlib.suppress(OSError):
                    await asyncio.to_thread(target.unlink)
            raise

    def close(self) -> None:
        self._drop_worker()

    def _worker(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(os.getpid(),),
                )
            return self._pool

    def _drop_worker(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None


def _start_worker(parent: int) -> None:
    """A webhook's answer should not wait for a recording's redaction: the kernel gives the
    serving process the core first. The worker ends when the process that started it is gone
    (killed, say): the pool's queue never says so, this process holding both its ends."""
    with contextlib.suppress(OSError):
        os.nice(10)
    threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()


def _exit_with(parent: int, every_s: float = 1.0) -> None:
    while os.getppid() == parent:
        time.sleep(every_s)
    os._exit(0)


def _redact(source: Path, target: Path, spans: Sequence[SilencedSpan]) -> RedactedAudio:
    # PyAV (FFmpeg) is loaded here, in the worker process, only: every other process that
    # builds the container (webhook and API instances, each CLI command) never decodes audio.
    import av

    try:
        return _written_atomically(source, target, spans)
    except (UnreadableAudio, TransientFailure):
        raise
    except av.error.InvalidDataError as exc:
        raise UnreadableAudio("the recording is not decodable audio") from exc
    except (OSError, MemoryError) as exc:
        raise TransientFailure(f"redacting the recording failed: {_reason(exc)}") from exc
    except Exception as exc:
        # FFmpeg's other errors, and PyAV's refusals of what a file declares, are about the
        # file: retrying the same bytes cannot help.
        raise UnreadableAudio(f"the recording cannot be redacted ({_reason(exc)})") from exc


def _written_atomically(source: Path, target: Path, spans: Sequence[SilencedSpan]) -> RedactedAudio:
    from adapters.pyav.transcoding import silence_into  # imports PyAV: see _redact

    descriptor, temp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".part", dir=target.parent
    )
    try:
        try:
            redacted = silence_into(source, _WholeWrites(descriptor), spans)
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
