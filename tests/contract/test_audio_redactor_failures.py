"""The AudioRedactor port's contract when things go wrong, and what it promises about the file
it writes: a recording that is not audio is a permanent failure, a disk that refuses the write
a transient one; the output is private (0600) and appears whole or not at all; a cancelled
redaction stops and leaves nothing; and a long call does not hold up the event loop."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from domain.errors import TransientFailure, UnreadableAudio
from domain.results import SilencedSpan
from ports.audio_redaction import AudioRedactor
from tests.contract.test_audio_redactor_contract import (
    DURATION_TOLERANCE_S,
    MONO_CALL,
    heard,
    reencoded,
    write_tone,
)

ROOT = Path(__file__).resolve().parents[2]
SPANS = [SilencedSpan(1.0, 2.0, "CARD")]


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """The target's directory, apart from the sources, so what is left in it can be listed."""
    path = tmp_path / "out"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def long_call(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five minutes of call: the demo's billing call nine times over (its MP3 frames carry no
    header that counts them, so the bytes end to end are one longer recording)."""
    path = tmp_path_factory.mktemp("long") / "long.mp3"
    path.write_bytes(MONO_CALL.read_bytes() * 9)
    return path


def broken(tmp_path: Path, kind: str) -> Path:
    tone = write_tone(tmp_path / "tone.wav")
    mp3 = reencoded(tone, tmp_path / "tone.mp3", "mp3", "libmp3lame", 64000)  # Info header
    data = {
        "garbage": os.urandom(40_000),
        "text": b"this is not a recording\n" * 500,
        "empty": b"",
        "wav cut inside its header": tone.read_bytes()[:30],
        "wav cut in half": half(tone),
        "mp3 cut in half": half(mp3),
    }[kind]
    path = tmp_path / f"broken{'.wav' if 'wav' in kind else '.mp3'}"
    path.write_bytes(data)
    return path


def left_in(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def half(path: Path) -> bytes:
    return path.read_bytes()[: path.stat().st_size // 2]


@pytest.mark.parametrize(
    "kind",
    ["garbage", "text", "empty", "wav cut inside its header", "wav cut in half", "mp3 cut in half"],
)
async def test_what_is_not_whole_audio_is_unreadable_and_leaves_nothing(
    audio_redactor: AudioRedactor, tmp_path: Path, out_dir: Path, kind: str
) -> None:
    source = broken(tmp_path, kind)
    with pytest.raises(UnreadableAudio):
        await audio_redactor.silence(source, out_dir / "out.mp3", SPANS)
    assert left_in(out_dir) == []


async def test_a_missing_source_is_transient(
    audio_redactor: AudioRedactor, tmp_path: Path, out_dir: Path
) -> None:
    # The source is the pipeline's own download: gone, it is fetched again on the retry.
    with pytest.raises(TransientFailure):
        await audio_redactor.silence(tmp_path / "gone.mp3", out_dir / "out.mp3", SPANS)
    assert left_in(out_dir) == []


async def test_the_output_is_private_and_replaces_the_target_whole(
    audio_redactor: AudioRedactor, out_dir: Path
) -> None:
    target = out_dir / "out.mp3"
    target.write_bytes(b"an older attempt")
    target.chmod(0o644)
    await audio_redactor.silence(MONO_CALL, target, SPANS)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert left_in(out_dir) == ["out.mp3"]
    assert abs(heard(target).duration_s - heard(MONO_CALL).duration_s) <= DURATION_TOLERANCE_S


async def test_a_long_call_does_not_hold_up_the_event_loop(
    audio_redactor: AudioRedactor, out_dir: Path, long_call: Path
) -> None:
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    result = await audio_redactor.silence(long_call, out_dir / "out.mp3", SPANS)
    took = time.perf_counter() - started
    done.set()
    await ticker
    assert result.duration_s > 300
    assert len(gaps) > 10
    assert max(gaps) < 0.1, f"the loop stalled {max(gaps):.3f} s of the {took:.2f} s it took"


async def test_a_cancelled_redaction_stops_and_leaves_nothing(
    audio_redactor: AudioRedactor, out_dir: Path, long_call: Path
) -> None:
    work = asyncio.create_task(audio_redactor.silence(long_call, out_dir / "out.mp3", SPANS))
    for _ in range(2000):  # until its temp file appears: 10 s at most
        if left_in(out_dir):
            break
        await asyncio.sleep(0.005)
    assert left_in(out_dir), "the redaction never started writing"
    assert not work.done()
    work.cancel()
    with pytest.raises(asyncio.CancelledError):
        await work
    assert left_in(out_dir) == []


# Runs the adapter in a process of its own under a limit on what it may write: `limit` is a
# file-size limit in bytes (writes past it fail with EFBIG), or "none" when the process was
# put on a small tmpfs (writes past it fail with ENOSPC). Prints what it raised and what is
# left in the target's directory.
UNDER_A_LIMIT = """
import asyncio, importlib, json, os, resource, signal, sys
from pathlib import Path
from domain.errors import TransientFailure
from domain.results import SilencedSpan
spec, source, target, limit = sys.argv[1:5]
module, _, name = spec.partition(":")
redactor = getattr(importlib.import_module(module), name)()
if limit != "none":
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), int(limit)))
try:
    asyncio.run(redactor.silence(Path(source), Path(target), [SilencedSpan(1.0, 2.0, "CARD")]))
    raised = None
except Exception as exc:
    raised = [type(exc).__name__, isinstance(exc, TransientFailure)]
print(json.dumps({"raised": raised, "left": os.listdir(Path(target).parent)}))
"""


def run_under_a_limit(command: list[str]) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    outcome: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return outcome


def small_tmpfs_available(mount: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = f"mount -t tmpfs -o size=16k tmpfs {mount} && umount {mount}"
    return (
        subprocess.run(["unshare", "--mount", "sh", "-c", probe], capture_output=True).returncode
        == 0
    )


def test_a_disk_that_refuses_the_write_is_transient_and_leaves_nothing(
    audio_redactor_spec: str, out_dir: Path
) -> None:
    outcome = run_under_a_limit(
        [
            sys.executable,
            "-c",
            UNDER_A_LIMIT,
            audio_redactor_spec,
            str(MONO_CALL),
            str(out_dir / "out.mp3"),
            "16384",
        ]
    )
    assert outcome == {"raised": ["TransientFailure", True], "left": []}


def test_a_full_disk_is_transient_and_leaves_nothing(
    audio_redactor_spec: str, out_dir: Path
) -> None:
    if not small_tmpfs_available(out_dir):
        pytest.skip("this machine does not let a test mount a small tmpfs (unshare --mount)")
    script = 'mount -t tmpfs -o size=16k tmpfs "$1" && shift && exec "$@"'
    outcome = run_under_a_limit(
        [
            "unshare",
            "--mount",
            "sh",
            "-c",
            script,
            "sh",
            str(out_dir),
            sys.executable,
            "-c",
            UNDER_A_LIMIT,
            audio_redactor_spec,
            str(MONO_CALL),
            str(out_dir / "out.mp3"),
            "none",
        ]
    )
    assert outcome == {"raised": ["TransientFailure", True], "left": []}
