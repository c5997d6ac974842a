"""One pass over a recording: decode it, zero the planned samples, encode it again.

The output keeps the input's container, codec, sample rate, channel layout and (for a lossy
codec) bit rate; an MP3 also keeps its channel mode, so a stereo file whose channels were
coded apart stays that way and one channel's silence is not coded against the other's sound.
Time is counted in decoded samples from the first, the way a transcriber reading the same file
counts it, so a span lands where its words were heard. A packet the decoder cannot read is
skipped, as faster-whisper skips it, which keeps the two timelines the same.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import av

from adapters.pyav.declared_length import declared_seconds
from adapters.pyav.silence_plan import SilencePlan
from domain.errors import UnreadableAudio
from domain.results import SilencedSpan
from ports.audio_redaction import RedactedAudio

# A file that decodes to this much less than its header declares was cut short.
TRUNCATION_S = 0.5
_MUXERS = {"mp3": "mp3", "wav": "wav", "flac": "flac", "ogg": "ogg"}
_MP4_BRANDS = {"M4A": "ipod", "qt": "mov"}


class Output(Protocol):
    """Where the encoded file goes: FFmpeg writes it through these, and seeks back to fill in
    a header (an MP3's Info frame, a WAV's sizes) when it knows the whole."""

    def write(self, data: bytes) -> int: ...

    def seek(self, offset: int, whence: int = 0) -> int: ...

    def tell(self) -> int: ...


def silence_into(source: Path, output: Output, spans: Sequence[SilencedSpan]) -> RedactedAudio:
    with av.open(str(source), metadata_errors="ignore") as container:
        if not container.streams.audio:
            raise UnreadableAudio("the recording has no audio stream")
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate)
        if rate <= 0:
            raise UnreadableAudio("the recording has no sample rate")
        declared = _declared_seconds(source, container, stream)
        plan = SilencePlan.of(spans, rate)
        out = av.open(output, "w", format=_muxer(container))
        try:
            samples = _reencode(container, stream, out, plan)
            if declared is not None and samples / rate < declared - TRUNCATION_S:
                raise UnreadableAudio(
                    f"the recording is truncated: {samples / rate:.1f} s of the"
                    f" {declared:.1f} s its header declares"
                )
        except BaseException:
            _abandon(out)
            raise
        out.close()
    return RedactedAudio(samples / rate, plan.spans_silenced(samples))


def _reencode(container: Any, stream: Any, out: Any, plan: SilencePlan) -> int:
    encoder = None
    position = 0
    time_base = Fraction(1, int(stream.codec_context.sample_rate))
    for packet in container.demux(stream):
        for frame in _decoded(packet):
            if encoder is None:
                encoder = _encoder(out, container, stream, bytes(packet))
            frame = _muted(frame, plan, position)
            frame.pts, frame.time_base = position, time_base
            position += frame.samples
            out.mux(encoder.encode(frame))
    if encoder is None or position == 0:
        raise UnreadableAudio("the recording holds no decodable audio")
    out.mux(encoder.encode(None))
    return position


def _decoded(packet: Any) -> Iterator[Any]:
    try:
        frames = packet.decode()
    except av.error.InvalidDataError:
        return iter(())
    return iter(frames)


def _muted(frame: Any, plan: SilencePlan, position: int) -> Any:
    runs = list(plan.within(position, position + frame.samples))
    if not runs:
        return frame
    samples = frame.to_ndarray()
    channels = frame.layout.nb_channels
    # Planar audio is one row per channel; packed audio is one row of interleaved samples.
    by_channel = samples if frame.format.is_planar else samples.reshape(-1, channels).T
    quiet = 128 if frame.format.name.startswith("u8") else 0  # unsigned 8-bit is centred
    for channel, first, end in runs:
        rows = channel if channel is not None and channel < channels else slice(None)
        by_channel[rows, first - position : end - position] = quiet
    muted = av.AudioFrame.from_ndarray(samples, format=frame.format.name, layout=frame.layout)
    muted.rate = frame.rate
    return muted


def _encoder(out: Any, container: Any, stream: Any, first_packet: bytes) -> Any:
    decoder = stream.codec_context
    name = decoder.codec.canonical_name
    try:
        codec = av.Codec(name, "w")
        options = _options(name, first_packet, decoder)
        encoder = out.add_stream(codec.name, rate=decoder.sample_rate, options=options)
        context = encoder.codec_context
        context.layout = decoder.layout
        context.format = _sample_format(codec, decoder.format)
        bit_rate = decoder.bit_rate or container.bit_rate
        if codec.lossy and bit_rate:
            context.bit_rate = bit_rate
        context.open()
    except (av.error.FFmpegError, ValueError) as exc:
        raise UnreadableAudio(f"{name} audio cannot be encoded again here ({exc})") from exc
    return encoder


def _sample_format(codec: Any, decoded: Any) -> Any:
    """The decoder's own sample format when the encoder takes it (no conversion), else the
    same samples packed or planar, else the encoder's first choice."""
    names = [f.name for f in codec.audio_formats or ()]
    for candidate in (decoded, decoded.packed, decoded.planar):
        if candidate.name in names:
            return candidate
    return codec.audio_formats[0]


def _options(codec: str, first_packet: bytes, decoder: Any) -> dict[str, str]:
    if codec == "opus":
        # Opus's free VBR overshoots the rate asked for by half on tonal sound; constrained,
        # it averages the rate the recording had.
        return {"vbr": "constrained"}
    if (
        codec == "mp3"
        and decoder.layout.nb_channels == 2
        and first_packet[:1] == b"\xff"
        and len(first_packet) >= 4
    ):
        # The frame header's mode bits: 0 stereo, 1 joint stereo, 2 dual channel, 3 mono.
        return {"joint_stereo": "1" if first_packet[3] >> 6 == 1 else "0"}
    return {}


def _muxer(container: Any) -> str:
    name = container.format.name
    if name in _MUXERS:
        return _MUXERS[name]
    if name.startswith("mov,"):
        brand = str(container.metadata.get("major_brand", "")).strip()
        return _MP4_BRANDS.get(brand, "mp4")
    raise UnreadableAudio(f"recordings in the {name} format cannot be written back")


def _declared_seconds(source: Path, container: Any, stream: Any) -> float | None:
    if container.format.name.startswith("mov,"):  # the index (moov) says how long it is
        if stream.duration is None or stream.time_base is None:
            return None
        return float(stream.duration * stream.time_base)
    return declared_seconds(source, container.format.name)


def _abandon(out: Any) -> None:
    """Closes an output that will not be kept; its own error would hide the one that matters."""
    with contextlib.suppress(Exception):
        out.close()
