"""Each decoded segment's words and when they were said, for silencing card numbers in the audio.

The words are found by aligning each window's decoded text to that window's audio, with
faster-whisper's own aligner (the cross-attention alignment behind its `word_timestamps=True`),
as each window is decoded, from the encoder output its text was decoded from (TimingWhisperModel
keeps it): the audio is encoded once. Asking `model.transcribe` for `word_timestamps=True`
instead changes what is decoded, not only when: it moves each next window to the last word's end
rather than to the decoder's last timestamp. On the demo's billing call that jumped over the
second half of the card number (the transcript lost "1-1-1-1-1-1-1-1-1-1", so nothing would have
silenced it), and on three of the six demo calls it added a "Thank you." that nobody said.
Aligning alongside keeps every segment's text as decoded; the segment's times become its words'
(as with `word_timestamps`).

A loop cut from the text (domain.transcript_loops) takes its words with it: a word is kept only
for what is left of it, so no time is kept for text that was cut. (Were the words ever not to
spell the text, which Whisper's do, the words kept would be those still read in it, in order.)
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from domain.transcript_loops import drop_loops_across, find_loops

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

TimedWord = tuple[float, float, str]  # start, end (seconds), the word as Whisper wrote it


@functools.cache
def timing_whisper_model() -> type[Any]:
    """faster-whisper's WhisperModel keeping the encoder's last output and counting its calls:
    transcribe() encodes each window just before decoding it and yielding its segments, so
    while they are read, that output is their window's."""
    from faster_whisper import WhisperModel

    class TimingWhisperModel(WhisperModel):  # type: ignore[misc]
        encoded: Any = None
        encodings = 0

        def encode(self, features: Any) -> Any:
            self.encoded = super().encode(features)
            self.encodings += 1
            return self.encoded

    return TimingWhisperModel


@attrs.frozen
class Piece:
    """One of faster-whisper's segments, as much of it as is kept: its text, its words, its
    times (its words'), and the times the decoder gave it (what re-decoding goes by)."""

    start: float
    end: float
    text: str
    words: tuple[TimedWord, ...] = ()
    decoded: tuple[float, float] = (0.0, 0.0)


@attrs.frozen
class _Alignment:
    """What aligning a window's text takes: the audio's length in frames, where each clip the
    windows lie in ends, and what the aligner is given besides the window itself."""

    content_frames: int
    clip_ends: tuple[tuple[int, int], ...]
    tokenizer: Any
    punctuations: tuple[str, str]


def pieces(
    model: Any,
    found: Any,
    audio: NDArray[np.float32],
    clips: Sequence[float] | None,
    language: str,
) -> list[Piece]:
    """faster-whisper's segments decoded by `model` (a TimingWhisperModel) from `audio` over
    `clips` (start and end seconds, pairwise; None: the whole audio), each with its words.
    `found` is transcribe()'s lazy generator: the decoding happens as it is read here."""
    from faster_whisper.tokenizer import Tokenizer

    points = [round(second * model.frames_per_second) for second in clips or ()]
    defaults = inspect.signature(model.transcribe).parameters  # faster-whisper's punctuation
    context = _Alignment(
        len(audio) // model.feature_extractor.hop_length,
        tuple(zip(points[::2], points[1::2], strict=False)),
        Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language
        ),
        (defaults["prepend_punctuations"].default, defaults["append_punctuations"].default),
    )
    out: list[Piece] = []
    window: list[Any] = []
    encoded, encodings, last_speech_s = None, model.encodings, 0.0
    for raw in found:
        if window and raw.seek != window[0].seek:
            timed, last_speech_s = _aligned(model, context, window, encoded, last_speech_s)
            out += timed
            window = []
        if not window:
            # The window was encoded just before its first segment came out; were it not (no
            # encoding since the last window's), its words are not known, and left out.
            encoded = model.encoded if model.encodings > encodings else None
            encodings = model.encodings
        window.append(raw)
    if window:
        out += _aligned(model, context, window, encoded, last_speech_s)[0]
    return out


def _aligned(
    model: Any, context: _Alignment, window: list[Any], encoded: Any, last_speech_s: float
) -> tuple[list[Piece], float]:
    """The window's segments with their words, and the end of speech so far, which the aligner
    weighs the next window's first words against."""
    seek = int(window[0].seek)
    clip_end = next((end for start, end in context.clip_ends if start <= seek < end), sys.maxsize)
    size = min(
        model.feature_extractor.nb_max_frames, context.content_frames - seek, clip_end - seek
    )
    segments = [
        {"seek": seek, "start": float(raw.start), "end": float(raw.end), "tokens": list(raw.tokens)}
        for raw in window
    ]
    if encoded is not None and size > 0:
        last_speech_s = model.add_word_timestamps(
            [segments], context.tokenizer, encoded, size, *context.punctuations, last_speech_s
        )
    timed = [_timed(raw, segment) for raw, segment in zip(window, segments, strict=True)]
    return timed, float(last_speech_s)


def _timed(raw: Any, aligned: dict[str, Any]) -> Piece:
    words = tuple(
        (float(word["start"]), float(word["end"]), str(word["word"]).strip())
        for word in aligned.get("words") or ()
        if str(word["word"]).strip()
    )
    # The aligner moves the segment's edges to its words'; a segment also covers every word.
    start = min([float(aligned["start"]), *(start for start, _, _ in words)])
    end = max([float(aligned["end"]), *(end for _, end, _ in words)])
    return Piece(start, end, str(raw.text).strip(), words, (float(raw.start), float(raw.end)))


def without_loops(found: Sequence[Piece]) -> list[Piece]:
    """`found` with what still loops cut (drop_loops_across: the text is exactly its), and the
    words of the cut text dropped; a word partly cut keeps only its part left in the text."""
    texts = drop_loops_across([piece.text for piece in found])
    joined = " ".join(piece.text for piece in found)
    cuts = [(loop.kept, loop.end) for loop in find_loops(joined)]
    out, offset = [], 0
    for piece, text in zip(found, texts, strict=True):
        words = piece.words
        if text != piece.text:
            kept = [
                not any(low <= offset + at < high for low, high in cuts)
                for at in range(len(piece.text))
            ]
            words = _kept_words(piece, kept, text)
        out.append(attrs.evolve(piece, text=text, words=words))
        offset += len(piece.text) + 1
    return out


def _kept_words(piece: Piece, kept: list[bool], text: str) -> tuple[TimedWord, ...]:
    """The words of `piece` left where `kept` (one flag a character of its text) is set."""
    rebuilt = "".join(char for char, keep in zip(piece.text, kept, strict=True) if keep)
    if _letters(rebuilt) != _letters(text):  # not the cut drop_loops_across made
        return _words_in_order(piece.words, text)
    words, cursor = [], 0
    for start, end, word in piece.words:
        at = piece.text.find(word, cursor)
        if at < 0:  # words that do not spell the text: no telling which were cut
            return _words_in_order(piece.words, text)
        cursor = at + len(word)
        left = "".join(piece.text[i] for i in range(at, cursor) if kept[i])
        if left != word:
            left = left.strip().rstrip(" ,;:-")  # "1-1-1-" left of "1-1-1-1-1"
        if any(char.isalnum() for char in left):
            words.append((start, end, left))
    return tuple(words)


def _words_in_order(words: Sequence[TimedWord], text: str) -> tuple[TimedWord, ...]:
    """The words still read in `text`, in order: each found after the one before it."""
    letters, cursor, out = _letters(text), 0, []
    for start, end, word in words:
        spelled = _letters(word)
        at = letters.find(spelled, cursor) if spelled else -1
        if at >= 0:
            out.append((start, end, word))
            cursor = at + len(spelled)
    return tuple(out)


def _letters(text: str) -> str:
    return "".join(char for char in text.lower() if char.isalnum())
