"""Whisper's real-time factor: seconds of transcription per second of audio (lower is faster),
through the WhisperTranscriber adapter as `serve` uses it (bundled tiny.en on the CPU, in its
worker process), over the demo's six sample recordings. Starting the worker and loading the
model happen once, before the clock starts."""

from __future__ import annotations

import asyncio
import hashlib
import time

import av

from adapters.filesystem.audio_store import FileAudioStore
from adapters.whisper.transcriber import WhisperTranscriber
from bench.common import Check, fmt
from domain.results import StoredRecording
from entrypoints.demo.runner import audio_dir, load_manifest

TARGET_RTF = 0.1


def audio_seconds(path: str) -> float:
    with av.open(path, metadata_errors="ignore") as container:
        return float(container.duration or 0) / av.time_base


async def measure() -> tuple[float, float, str]:
    """(seconds of audio, seconds transcribing it, the model's name)."""
    transcriber = WhisperTranscriber(FileAudioStore(audio_dir()))
    try:
        await transcriber.load()
        audio_s = work_s = 0.0
        for entry in load_manifest():
            path = audio_dir() / entry["file"]
            data = path.read_bytes()
            recording = StoredRecording(
                f"file://{path}", len(data), hashlib.sha256(data).hexdigest(), "audio/mpeg"
            )
            started = time.perf_counter()
            await transcriber.transcribe(recording)
            took, length = time.perf_counter() - started, audio_seconds(str(path))
            print(f"  {entry['file']}: {length:.1f} s of audio in {took:.2f} s", flush=True)
            audio_s, work_s = audio_s + length, work_s + took
        return audio_s, work_s, str(transcriber.model_name)
    finally:
        transcriber.close()


def run() -> tuple[list[Check], list[str]]:
    print("\n== transcription: Whisper on the six sample recordings ==", flush=True)
    audio_s, work_s, model = asyncio.run(measure())
    check = Check(
        "transcription",
        f"real-time factor (Whisper {model})",
        work_s / audio_s,
        TARGET_RTF,
        "",
        higher_is_better=False,
        note=f"{fmt(audio_s)} s of audio in {fmt(work_s)} s",
    )
    return [check], []
