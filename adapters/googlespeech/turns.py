"""Speech-to-Text v2's BatchRecognize answer for one file, mapped to the domain's Transcript.

Words carry the diarization's speaker label ("1", "2", ...); consecutive words of one speaker
make one Segment, timed from its first word's start to its last word's end, and carrying those
words with their offsets (what audio redaction silences). A turn with a word the service gave
no offsets for carries no words: a time made up for it could leave a digit unsilenced. Results
without words (diarization or word offsets not honoured) become one segment per result, timed
from the previous result's end to its own.

With each channel recognised separately (multi_channel_mode SEPARATE_RECOGNITION_PER_CHANNEL),
a result's channel_tag (1-based) is the segment's channel (0-based), and a turn never spans two
channels; otherwise the service hears one channel or a mix, and the channel is None.

Google documents that with diarization a result's words may repeat "all the words from the
beginning of the audio"; a word seen before (same text, same start and end) is not counted
twice, so either layout gives the same turns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

import attrs

from domain.errors import RateLimited, TransientFailure, UnreadableAudio
from domain.results import Segment, Transcript, Word

UNLABELLED_SPEAKER = "1"
MAX_MESSAGE_CHARS = 300
# google.rpc.Code values a per-file error can carry that a later attempt may not meet again.
_RESOURCE_EXHAUSTED = 8
_TRANSIENT_CODES = {
    1,
    4,
    10,
    13,
    14,
}  # CANCELLED, DEADLINE_EXCEEDED, ABORTED, INTERNAL, UNAVAILABLE


@attrs.frozen
class _Word:
    text: str
    start_s: float
    end_s: float
    speaker: str
    channel: int | None = None
    timed: bool = True  # the service gave both its offsets


def transcript_for_file(
    response: Any, uri: str, engine: str, language: str, separate_channels: bool = False
) -> Transcript:
    """`response` is a speech_v2 BatchRecognizeResponse (typed Any: proto-plus marshals its
    Duration fields to timedelta, which its annotations do not say); `separate_channels`, whether
    the request had each channel recognised on its own."""
    file_result = _file_result(response, uri)
    if "error" in file_result and file_result.error.code != 0:
        raise _file_error(int(file_result.error.code), str(file_result.error.message))
    if "inline_result" in file_result:
        batch = file_result.inline_result.transcript
    else:
        batch = file_result.transcript  # the field before inline_result existed
    results = list(batch.results)
    texts = [_top(result).transcript.strip() for result in results if result.alternatives]
    segments = _segments(results, separate_channels)
    duration = _duration(
        file_result.metadata.total_billed_duration,
        batch.metadata.total_billed_duration,
        response.total_billed_duration,
    )
    if duration is not None and segments:
        duration = max(duration, segments[-1].end_s)  # billing rounds; never before the speech
    return Transcript(
        engine=engine,
        language=language,
        text=" ".join(_without_repeats(t for t in texts if t)),
        segments=tuple(segments),
        audio_duration_s=duration,
    )


def _file_result(response: Any, uri: str) -> Any:
    results = response.results
    if uri in results:
        return results[uri]
    if len(results) == 1:  # one file was sent; the service may spell its key differently
        return next(iter(results.values()))
    raise TransientFailure("Speech-to-Text finished without a result for the recording")


def _file_error(code: int, message: str) -> Exception:
    said = f"Speech-to-Text could not transcribe the recording (code {code}): "
    said += message[:MAX_MESSAGE_CHARS]
    if code == _RESOURCE_EXHAUSTED:
        return RateLimited(said)
    if code in _TRANSIENT_CODES:
        return TransientFailure(said)
    return UnreadableAudio(said)


def _top(result: Any) -> Any:
    return result.alternatives[0]


def _segments(results: Sequence[Any], separate_channels: bool) -> list[Segment]:
    words = _words(results, separate_channels)
    if words:
        return _turns(words)
    segments, previous_end = [], 0.0
    for result in results:
        text = _top(result).transcript.strip() if result.alternatives else ""
        end = _seconds(result.result_end_offset)
        end = previous_end if end is None else max(end, previous_end)
        if text:
            channel = _channel(result, separate_channels)
            segments.append(Segment(UNLABELLED_SPEAKER, previous_end, end, text, channel=channel))
        previous_end = end
    return segments


def _words(results: Sequence[Any], separate_channels: bool) -> list[_Word]:
    seen: set[_Word] = set()
    words: list[_Word] = []
    last_end = 0.0
    for result in results:
        if not result.alternatives:
            continue
        channel = _channel(result, separate_channels)
        for info in _top(result).words:
            text = str(info.word).strip()
            if not text:
                continue
            start = _seconds(info.start_offset) if "start_offset" in info else None
            end = _seconds(info.end_offset) if "end_offset" in info else None
            timed = start is not None and end is not None
            start = last_end if start is None else start
            end = max(start if end is None else end, start)
            speaker = str(info.speaker_label) or UNLABELLED_SPEAKER
            word = _Word(text, start, end, speaker, channel, timed)
            if word in seen:
                continue
            seen.add(word)
            words.append(word)
            last_end = end
    return sorted(words, key=lambda w: (w.start_s, w.end_s))


def _channel(result: Any, separate_channels: bool) -> int | None:
    """The 0-based channel a result was heard on; None unless each was recognised alone."""
    tag = int(result.channel_tag)
    return tag - 1 if separate_channels and tag >= 1 else None


def _turns(words: Iterable[_Word]) -> list[Segment]:
    turns: list[list[_Word]] = []
    for word in words:
        last = turns[-1][-1] if turns else None
        if last is not None and (last.speaker, last.channel) == (word.speaker, word.channel):
            turns[-1].append(word)
        else:
            turns.append([word])
    return [
        Segment(
            turn[0].speaker,
            round(turn[0].start_s, 3),
            round(max(w.end_s for w in turn), 3),
            " ".join(w.text for w in turn),
            _timed(turn),
            turn[0].channel,
        )
        for turn in turns
    ]


def _timed(turn: Sequence[_Word]) -> tuple[Word, ...]:
    if not all(word.timed for word in turn):
        return ()
    return tuple(Word(round(w.start_s, 3), round(w.end_s, 3), w.text) for w in turn)


def _without_repeats(texts: Iterable[str]) -> list[str]:
    kept: list[str] = []
    for text in texts:
        if not kept or kept[-1] != text:
            kept.append(text)
    return kept


def _duration(*candidates: object) -> float | None:
    for candidate in candidates:
        seconds = _seconds(candidate)
        if seconds:
            return round(seconds, 3)
    return None


def _seconds(value: object) -> float | None:
    """A proto Duration as proto-plus hands it out (timedelta), or the raw message."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return max(value.total_seconds(), 0.0)
    seconds, nanos = getattr(value, "seconds", None), getattr(value, "nanos", 0)
    if isinstance(seconds, int) and isinstance(nanos, int):
        return max(seconds + nanos / 1e9, 0.0)
    return None
