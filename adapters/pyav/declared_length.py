"""How long a file says it is, where its header says so: a file that decodes to much less is
truncated (a download cut short), not a short call.

FFmpeg reports a duration for every file, but for an MP3 without a Xing/Info header or a WAV
shorter than its header it is worked out from the file's size, which a truncated file passes.
So the length is read here from the header itself: an MP3's Xing, Info or VBRI frame count, a
WAV's data chunk, a FLAC's STREAMINFO. Other formats (Ogg pages, MP4's index) either carry no
total or fail to open when cut; they get None, meaning "no claim".
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

_HEAD = 64 * 1024
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def declared_seconds(path: Path, container: str) -> float | None:
    with path.open("rb") as file:
        if container == "mp3":
            return _mp3(file)
        if container == "wav":
            return _wav(file, path.stat().st_size)
        if container == "flac":
            return _flac(file.read(64))
    return None


def _mp3(file: BinaryIO) -> float | None:
    head = file.read(10)
    if head[:3] == b"ID3" and len(head) == 10:
        size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
        file.seek(10 + size + (10 if head[5] & 0x10 else 0))
        head = b""
    frame = head + file.read(_HEAD)
    at = frame.find(b"\xff")
    while at >= 0 and at + 4 <= len(frame) and (frame[at + 1] & 0xE0) != 0xE0:
        at = frame.find(b"\xff", at + 1)
    if at < 0 or at + 4 > len(frame):
        return None
    version, rate_index = (frame[at + 1] >> 3) & 3, (frame[at + 2] >> 2) & 3
    if version not in _MP3_RATES or rate_index == 3 or (frame[at + 1] >> 1) & 3 != 1:
        return None  # not MPEG audio layer III
    rate = _MP3_RATES[version][rate_index]
    per_frame = 1152 if version == 3 else 576
    frames = _xing_frames(frame[at:]) or _vbri_frames(frame[at:])
    return frames * per_frame / rate if frames else None


def _xing_frames(frame: bytes) -> int | None:
    for tag in (b"Xing", b"Info"):
        at = frame.find(tag, 4, 40)
        if at >= 0 and len(frame) >= at + 12 and frame[at + 7] & 1:
            return int.from_bytes(frame[at + 8 : at + 12], "big")
    return None


def _vbri_frames(frame: bytes) -> int | None:
    if frame[36:40] == b"VBRI" and len(frame) >= 54:
        return int.from_bytes(frame[50:54], "big")
    return None


def _wav(file: BinaryIO, size: int) -> float | None:
    riff = file.read(12)
    if riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
        return None
    byte_rate = 0
    while len(chunk := file.read(8)) == 8:
        name, length = chunk[:4], int.from_bytes(chunk[4:], "little")
        if name == b"data":
            # A writer that streamed the file leaves the size unknown (0 or all ones).
            if not byte_rate or length in (0, 0xFFFFFFFF):
                return None
            return length / byte_rate
        if name == b"fmt ":
            fmt = file.read(length + (length & 1))
            byte_rate = int.from_bytes(fmt[8:12], "little")
            continue
        file.seek(length + (length & 1), 1)
        if file.tell() > size:
            return None
    return None


def _flac(head: bytes) -> float | None:
    if head[:4] != b"fLaC" or len(head) < 26 or head[4] & 0x7F != 0:
        return None
    packed = int.from_bytes(head[18:26], "big")  # rate:20 channels:3 bits:5 samples:36
    rate, samples = packed >> 44, packed & ((1 << 36) - 1)
    return samples / rate if rate and samples else None
