"""The AudioRedactor port's contract, heard in real audio: the demo's recorded calls (MP3, mono
and a two-channel one) and generated tones in each container the port keeps. The suite asks
only for the port (the `audio_redactor` fixture in conftest.py names every adapter of it).

What a listener would notice is what is checked: a silenced stretch is silent, everything else
is as loud as it was, the call is as long as it was, the other channel of a stereo call still
speaks, and the file is the same kind of file."""

from __future__ import annotations

import json
import math
import wave
from collections.abc import Sequence
from pathlib import Path

import attrs
import av
import numpy as np
import pytest

from domain.results import SilencedSpan
from ports.audio_redaction import AudioRedactor, RedactedAudio

DEMO = Path(__file__).resolve().parents[2] / "entrypoints" / "demo" / "audio"
MONO_CALL = DEMO / "billing_card.mp3"
STEREO_CALL = DEMO / "urgent_booking.mp3"  # left: the agent, right: the caller
DURATION_TOLERANCE_S = 0.25
# A codec spreads a sharp edge over a few milliseconds (an MP3 frame's overlap); inside that,
# every 20 ms of a silenced stretch is below -46 dBFS, where speech here is about -22 dBFS.
EDGE_S = 0.01
WINDOW_S = 0.02
SILENT_RMS = 0.005
LOUD_RMS = 0.01
LOUDNESS_TOLERANCE_DB = 1.0


@attrs.frozen
class Heard:
    """A file as a player would decode it: float samples, one row per channel."""

    samples: np.ndarray
    rate: int
    container: str
    codec: str
    layout: str
    bit_rate: int | None

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        return float(self.samples.shape[1] / self.rate)

    def stretch(self, channel: int, start_s: float, end_s: float) -> np.ndarray:
        first, end = max(0, round(start_s * self.rate)), round(end_s * self.rate)
        return np.asarray(self.samples[channel, first:end], dtype=np.float64)

    def rms(self, channel: int, start_s: float, end_s: float) -> float:
        part = self.stretch(channel, start_s, end_s)
        return float(np.sqrt(np.mean(np.square(part)))) if part.size else 0.0

    def loudest_window(self, channel: int, start_s: float, end_s: float) -> float:
        step = WINDOW_S
        starts = np.arange(start_s, max(start_s, end_s - step) + 1e-9, step)
        return max(self.rms(channel, s, min(s + step, end_s)) for s in starts)


def heard(path: Path) -> Heard:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        to_float = av.AudioResampler(format="fltp", layout=stream.layout, rate=stream.rate)
        rows = [
            converted.to_ndarray()
            for frame in container.decode(stream)
            for converted in to_float.resample(frame)
        ]
        rows += [converted.to_ndarray() for converted in to_float.resample(None)]
        return Heard(
            np.concatenate(rows, axis=1),
            int(stream.rate),
            container.format.name,
            stream.codec_context.codec.canonical_name,
            stream.layout.name,
            stream.bit_rate or container.bit_rate,
        )


def write_tone(path: Path, seconds: float = 6.0, channels: int = 2, rate: int = 16000) -> Path:
    """16-bit PCM WAV: 440 Hz on the left (or only) channel, 660 Hz on the right, at -13 dBFS,
    sounding the whole time."""
    t = np.arange(round(seconds * rate)) / rate
    tones = [0.3 * np.sin(2 * np.pi * hz * t) for hz in (440.0, 660.0)[:channels]]
    pcm = (np.stack(tones, axis=1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


def reencoded(wav: Path, path: Path, container: str, codec: str, bit_rate: int) -> Path:
    """The tone in another container and codec, as a recorder would have written it."""
    with av.open(str(wav)) as source, av.open(str(path), "w", format=container) as out:
        stream = source.streams.audio[0]
        rate = 48000 if codec == "libopus" else stream.rate
        encoder = out.add_stream(codec, rate=rate)
        assert isinstance(encoder, av.AudioStream)
        encoder.codec_context.layout = "stereo" if stream.channels == 2 else "mono"
        encoder.codec_context.bit_rate = bit_rate
        for frame in source.decode(stream):
            frame.pts = None
            out.mux(encoder.encode(frame))
        out.mux(encoder.encode(None))
    return path


def db(ratio: float) -> float:
    return 20 * math.log10(ratio)


def assert_silent(out: Heard, channel: int, start_s: float, end_s: float) -> None:
    loudest = out.loudest_window(channel, start_s + EDGE_S, end_s - EDGE_S)
    assert loudest < SILENT_RMS, f"channel {channel} {start_s}-{end_s} s: rms {loudest:.4f}"


def assert_as_loud(out: Heard, before: Heard, channel: int, start_s: float, end_s: float) -> None:
    was, now = before.rms(channel, start_s, end_s), out.rms(channel, start_s, end_s)
    assert was > LOUD_RMS, f"the original is silent on channel {channel} {start_s}-{end_s} s"
    assert abs(db(now / was)) < LOUDNESS_TOLERANCE_DB, (channel, start_s, end_s, was, now)


def assert_same_length(out: Heard, before: Heard, result: RedactedAudio) -> None:
    assert abs(out.duration_s - before.duration_s) <= DURATION_TOLERANCE_S
    assert abs(result.duration_s - out.duration_s) <= DURATION_TOLERANCE_S


async def redact(
    redactor: AudioRedactor, source: Path, tmp_path: Path, spans: Sequence[SilencedSpan]
) -> tuple[Heard, Heard, RedactedAudio]:
    target = tmp_path / "redacted" / f"out{source.suffix}"
    target.parent.mkdir(exist_ok=True)
    result = await redactor.silence(source, target, spans)
    return heard(source), heard(target), result


@pytest.fixture(scope="session")
def tones(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tones")
    stereo = write_tone(root / "stereo.wav")
    return {
        "stereo.wav": stereo,
        "mono.wav": write_tone(root / "mono.wav", channels=1),
        "stereo.flac": reencoded(stereo, root / "stereo.flac", "flac", "flac", 0),
        "stereo.ogg": reencoded(stereo, root / "stereo.ogg", "ogg", "libopus", 32000),
        "stereo.m4a": reencoded(stereo, root / "stereo.m4a", "ipod", "aac", 64000),
        "stereo.mp3": reencoded(stereo, root / "stereo.mp3", "mp3", "libmp3lame", 64000),
    }


def test_the_demo_manifest_still_has_a_mono_and_a_stereo_call() -> None:
    calls = {
        c["file"]: c["channels"] for c in json.loads((DEMO / "calls.json").read_text())["calls"]
    }
    assert calls[MONO_CALL.name] == 1
    assert calls[STEREO_CALL.name] == 2


async def test_a_span_of_a_call_is_silent_and_the_rest_as_loud_as_before(
    audio_redactor: AudioRedactor, tmp_path: Path
) -> None:
    before, out, result = await redact(
        audio_redactor, MONO_CALL, tmp_path, [SilencedSpan(5.0, 8.0, "CARD")]
    )
    assert before.rms(0, 5.0, 8.0) > LOUD_RMS  # someone was speaking there
    assert_silent(out, 0, 5.0, 8.0)
    assert_as_loud(out, before, 0, 0.0, 5.0 - EDGE_S)
    assert_as_loud(out, before, 0, 8.0 + EDGE_S, before.duration_s)
    assert_same_length(out, before, result)
    assert result.spans_silenced == 1


async def test_the_channel_not_named_keeps_its_sound(
    audio_redactor: AudioRedactor, tmp_path: Path
) -> None:
    # 3 to 20 s of the stereo call holds both the agent's words and the caller's.
    before, out, result = await redact(
        audio_redactor, STEREO_CALL, tmp_path, [SilencedSpan(3.0, 20.0, "CARD", channel=1)]
    )
    assert before.rms(1, 3.0, 20.0) > LOUD_RMS
    assert_silent(out, 1, 3.0, 20.0)
    assert_as_loud(out, before, 0, 3.0, 20.0)
    assert_as_loud(out, before, 1, 20.0 + EDGE_S, before.duration_s)
    assert_same_length(out, before, result)


async def test_a_span_of_no_channel_silences_both_channels_of_a_stereo_call(
    audio_redactor: AudioRedactor, tmp_path: Path
) -> None:
    before, out, _ = await redact(
        audio_redactor, STEREO_CALL, tmp_path, [SilencedSpan(3.0, 20.0, "SSN")]
    )
    assert_silent(out, 0, 3.0, 20.0)
    assert_silent(out, 1, 3.0, 20.0)
    assert_as_loud(out, before, 1, 20.0 + EDGE_S, before.duration_s)


async def test_in_a_lossless_stereo_file_only_the_span_on_its_channel_changes(
    audio_redactor: AudioRedactor, tmp_path: Path, tones: dict[str, Path]
) -> None:
    before, out, _ = await redact(
        audio_redactor, tones["stereo.wav"], tmp_path, [SilencedSpan(1.0, 2.5, "CVV", 0)]
    )
    assert_silent(out, 0, 1.0, 2.5)
    assert np.array_equal(out.samples[1], before.samples[1])
    assert np.array_equal(out.stretch(0, 0.0, 1.0), before.stretch(0, 0.0, 1.0))
    assert np.array_equal(out.stretch(0, 2.5, 6.0), before.stretch(0, 2.5, 6.0))


@pytest.mark.parametrize("source", ["call", "tone"])
async def test_a_mono_file_is_silenced_for_a_span_said_on_one_channel(
    audio_redactor: AudioRedactor, tmp_path: Path, tones: dict[str, Path], source: str
) -> None:
    path = MONO_CALL if source == "call" else tones["mono.wav"]
    before, out, result = await redact(
        audio_redactor, path, tmp_path, [SilencedSpan(2.0, 4.0, "CARD", channel=1)]
    )
    assert before.channels == 1
    assert before.rms(0, 2.0, 4.0) > LOUD_RMS
    assert_silent(out, 0, 2.0, 4.0)
    assert result.spans_silenced == 1


@pytest.mark.parametrize(
    "name", ["stereo.wav", "mono.wav", "stereo.flac", "stereo.ogg", "stereo.m4a", "stereo.mp3"]
)
async def test_each_kind_of_file_comes_back_the_same_kind_silenced(
    audio_redactor: AudioRedactor, tmp_path: Path, tones: dict[str, Path], name: str
) -> None:
    before, out, result = await redact(
        audio_redactor, tones[name], tmp_path, [SilencedSpan(1.0, 2.0, "CARD")]
    )
    kind = (before.container, before.codec, before.rate, before.channels, before.layout)
    assert (out.container, out.codec, out.rate, out.channels, out.layout) == kind
    if before.codec in ("mp3", "aac", "opus"):
        assert before.bit_rate
        assert out.bit_rate
        assert abs(out.bit_rate / before.bit_rate - 1) < 0.2, (before.bit_rate, out.bit_rate)
    for channel in range(before.channels):
        assert_silent(out, channel, 1.0, 2.0)
        assert_as_loud(out, before, channel, 0.1, 1.0 - EDGE_S)
        assert_as_loud(out, before, channel, 2.0 + EDGE_S, before.duration_s - 0.1)
    assert_same_length(out, before, result)


@pytest.mark.parametrize("call", [MONO_CALL, STEREO_CALL], ids=["mono", "stereo"])
async def test_a_call_keeps_its_format_sample_rate_channels_and_bit_rate(
    audio_redactor: AudioRedactor, tmp_path: Path, call: Path
) -> None:
    before, out, result = await redact(
        audio_redactor, call, tmp_path, [SilencedSpan(10.0, 12.0, "EXPIRY")]
    )
    kind = (before.container, before.codec, before.rate, before.layout, before.bit_rate)
    assert (out.container, out.codec, out.rate, out.layout, out.bit_rate) == kind
    assert_same_length(out, before, result)


async def test_no_spans_gives_the_same_call_back(
    audio_redactor: AudioRedactor, tmp_path: Path
) -> None:
    before, out, result = await redact(audio_redactor, STEREO_CALL, tmp_path, [])
    assert result.spans_silenced == 0
    assert_same_length(out, before, result)
    for channel in range(2):
        for start in range(0, int(before.duration_s) - 5, 5):
            if before.rms(channel, start, start + 5) > LOUD_RMS:
                assert_as_loud(out, before, channel, start, start + 5)


async def test_spans_are_clamped_to_the_recording(
    audio_redactor: AudioRedactor, tmp_path: Path
) -> None:
    length = heard(MONO_CALL).duration_s
    spans = [
        SilencedSpan(length - 3.0, length + 60.0, "SSN"),  # runs past the end
        SilencedSpan(length + 5.0, length + 9.0, "CVV"),  # wholly past the end
    ]
    before, out, result = await redact(audio_redactor, MONO_CALL, tmp_path, spans)
    assert before.rms(0, length - 3.0, length) > LOUD_RMS
    assert_silent(out, 0, length - 3.0, length)
    assert_as_loud(out, before, 0, 0.0, length - 3.0 - EDGE_S)
    assert_same_length(out, before, result)
    assert result.spans_silenced == 1


async def test_overlapping_spans_silence_their_union(
    audio_redactor: AudioRedactor, tmp_path: Path
) -> None:
    spans = [
        SilencedSpan(5.0, 7.0, "CARD"),
        SilencedSpan(6.0, 9.0, "EXPIRY"),
        SilencedSpan(8.5, 10.0, "CVV"),
        SilencedSpan(6.5, 6.8, "CARD"),
    ]
    before, out, result = await redact(audio_redactor, MONO_CALL, tmp_path, spans)
    assert_silent(out, 0, 5.0, 10.0)
    assert_as_loud(out, before, 0, 0.0, 5.0 - EDGE_S)
    assert_as_loud(out, before, 0, 10.0 + EDGE_S, before.duration_s)
    assert result.spans_silenced == 4
