"""Local transcription: the real-time factor (seconds of work per second of audio; lower is
faster) of the WhisperTranscriber adapter, bundled tiny.en on the CPU, over the six sample
recordings in entrypoints/demo/audio. Getting the transcriber ready (its worker process, if
it has one, and the model load) is timed on its own and left out of the factor; the Silero VAD
the adapter runs on stereo calls loads (about 0.05 s) during the first stereo file.

Baseline: decoding the same files alone (faster_whisper.decode_audio to 16 kHz, stereo split
where the file is stereo, as the adapter does), so the ratio is the model's cost over the
decoder's.

    python -m bench.transcription
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.util
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import attrs

from adapters.filesystem.audio_store import FileAudioStore
from adapters.whisper.transcriber import SAMPLE_RATE, WhisperTranscriber
from bench.common import Check, OthersWatch, fmt, machine_note, ratio, table, tree_cpu_s
from domain.results import StoredRecording
from entrypoints.demo.runner import audio_dir, load_manifest

TARGET_RTF = 0.1


@attrs.frozen
class FileResult:
    name: str
    channels: int
    audio_s: float
    decode_s: float
    transcribe_s: float
    transcribe_cpu_s: float
    words: int

    @property
    def rtf(self) -> float:
        return self.transcribe_s / self.audio_s


@attrs.frozen
class TranscriptionReport:
    files: tuple[FileResult, ...]
    model: str
    start_s: float  # load(): the transcriber's start (a worker process, if it uses one) and model
    model_load_s: float  # the model alone, as the transcriber measured it
    checks: tuple[Check, ...]
    machine: str

    @property
    def audio_s(self) -> float:
        return sum(f.audio_s for f in self.files)

    @property
    def rtf(self) -> float:
        return sum(f.transcribe_s for f in self.files) / self.audio_s

    @property
    def decode_rtf(self) -> float:
        return sum(f.decode_s for f in self.files) / self.audio_s


def available() -> str | None:
    """Why the benchmark cannot run here, or None."""
    if importlib.util.find_spec("faster_whisper") is None:
        return "faster-whisper is not installed (the project's 'whisper' extra)"
    return None


def _channels(path: Path) -> int:
    import av

    with av.open(str(path), metadata_errors="ignore") as container:
        return int(container.streams.audio[0].codec_context.channels)


def _decode(path: Path, channels: int) -> tuple[float, float]:
    """(seconds to decode, seconds of audio)."""
    from faster_whisper import decode_audio

    started = time.perf_counter()
    decoded: Any = decode_audio(str(path), sampling_rate=SAMPLE_RATE, split_stereo=channels == 2)
    elapsed = time.perf_counter() - started
    samples = decoded[0] if channels == 2 else decoded
    return elapsed, len(samples) / SAMPLE_RATE


async def _transcribe_all(
    files: Sequence[tuple[str, Path, int, float, float]], out: IO[str]
) -> tuple[list[FileResult], str, float, float]:
    transcriber = WhisperTranscriber(FileAudioStore(audio_dir()))
    try:
        started = time.perf_counter()
        await transcriber.load()
        start_s = time.perf_counter() - started
        model_load_s = transcriber.load_seconds or math.nan
        results = []
        for name, path, channels, decode_s, audio_s in files:
            data = path.read_bytes()
            recording = StoredRecording(
                f"file://{path}", len(data), hashlib.sha256(data).hexdigest(), "audio/mpeg"
            )
            cpu0, wall0 = tree_cpu_s(), time.perf_counter()
            transcript = await transcriber.transcribe(recording)
            wall, cpu = time.perf_counter() - wall0, tree_cpu_s() - cpu0
            results.append(
                FileResult(
                    name, channels, audio_s, decode_s, wall, cpu, len(transcript.text.split())
                )
            )
            print(f"  {name}: {audio_s:.1f} s of audio in {wall:.2f} s", file=out, flush=True)
        return results, str(transcriber.model_name), start_s, model_load_s
    finally:
        transcriber.close()


def run(out: IO[str] = sys.stdout) -> TranscriptionReport:
    machine = machine_note()
    watch = OthersWatch()
    print(f"\n== transcription ==  ({machine})", file=out, flush=True)
    missing = available()
    if missing is not None:
        raise RuntimeError(f"cannot run: {missing}")
    files = []
    for entry in load_manifest():
        path = audio_dir() / entry["file"]
        path.read_bytes()  # in the page cache for both measurements
        channels = _channels(path)
        decode_s, audio_s = _decode(path, channels)
        files.append((entry["file"], path, channels, decode_s, audio_s))
    results, model, start_s, load_s = asyncio.run(_transcribe_all(files, out))
    report = TranscriptionReport(tuple(results), model, start_s, load_s, (), machine)
    check = Check(
        "transcription",
        f"real-time factor (whisper {model})",
        report.rtf,
        TARGET_RTF,
        "",
        higher_is_better=False,
        baseline_note=f"decode alone RTF {fmt(report.decode_rtf)}",
    )
    report = attrs.evolve(report, checks=(check,))
    print_report(report, out)
    print(f"  machine at the end: {machine_note(before=False)}; {watch.note()}", file=out)
    return report


def print_report(report: TranscriptionReport, out: IO[str]) -> None:
    header = [
        "recording",
        "ch",
        "audio s",
        "decode s",
        "transcribe s",
        "RTF",
        "decode RTF",
        "x decode",
        "cpu/wall",
        "words",
    ]
    rows = [
        [
            f.name,
            str(f.channels),
            fmt(f.audio_s),
            fmt(f.decode_s),
            fmt(f.transcribe_s),
            fmt(f.rtf),
            fmt(f.decode_s / f.audio_s),
            fmt(ratio(f.transcribe_s, f.decode_s)),
            fmt(f.transcribe_cpu_s / f.transcribe_s),
            str(f.words),
        ]
        for f in report.files
    ]
    decode = sum(f.decode_s for f in report.files)
    transcribe = sum(f.transcribe_s for f in report.files)
    cpu = sum(f.transcribe_cpu_s for f in report.files)
    rows.append(
        [
            "all",
            "",
            fmt(report.audio_s),
            fmt(decode),
            fmt(transcribe),
            fmt(report.rtf),
            fmt(report.decode_rtf),
            fmt(ratio(transcribe, decode)),
            fmt(cpu / transcribe),
            str(sum(f.words for f in report.files)),
        ]
    )
    print(table(header, rows), file=out)
    print(
        f"  model {report.model}: ready in {report.start_s:.2f} s (model load "
        f"{report.model_load_s:.2f} s of it), outside the factor; transcription is "
        f"x{fmt(ratio(transcribe, decode))} the cost of decoding alone; cpu/wall counts the "
        "transcriber's worker process too",
        file=out,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    report = run()
    for check in report.checks:
        print(f"  {check.verdict}  {check.figure}: {check.measured_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
