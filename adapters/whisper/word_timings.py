"""Each decoded segment's words and when they were said, for silencing card numbers in the audio.

The words are found by aligning the text already decoded to the audio, with faster-whisper's own
aligner (the cross-attention alignment behind its `word_timestamps=True`), window by window as
the text was decoded. Asking `model.transcribe` for `word_timestamps=True` instead changes what is
decoded, not only when: it moves each next window to the last word's end rather than to the
decoder's last timestamp. On the demo's billing call that jumped over the second half of the card
number (the transcript lost "1-1-1-1-1-1-1-1-1-1", so nothing would have silenced it), and on three
of the six demo calls it added a "Thank you." that nobody said. Aligning afterwards keeps every
segment's text as decoded; the segment's times become its words' (as with `word_timestamps`).

A loop cut from the text (domain.transcript_loops) takes its words with it: a word is kept only
for what is left of it, so no time is kept for text that was cut. (Were the words ever not to
spell the text, which Whisper's do, the words kept would be those still read in it, in order.)
"""

from __future__ import annotations

import inspect
import itertools
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from domain.transcript_loops import drop_loops_across, find_loops

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

TimedWord = tuple[float, float, str]  # start, end (seconds), the word as Whisper wrote it


@attrs.frozen
class Piece:
    """One of faster-whisper's segments, as much of it as is kept, and where it was decoded: the
    first frame of its window (`seek`) and the end of the clip the window lies in, which bound
    the audio its words are aligned to."""

    start: float
    end: float
    text: str
    tokens: tuple[int, ...] = ()
    seek: int = 0
    clip_end: int = sys.maxsize
    words: tuple[TimedWord, ...] = ()


def pieces(found: Any, clips: Sequence[float] | None, frames_per_second: int) -> list[Piece]:
    """faster-whisper's segments (a lazy generator: this is where the decoding happens) decoded
    over `clips` (start and end seconds, pairwise; None: the whole audio)."""
    points = [round(second * frames_per_second) for second in clips or ()]
    bounds = list(zip(points[::2], points[1::2], strict=False))
    return [
        Piece(
            float(raw.start),
            float(raw.end),
            str(raw.text).strip(),
            tuple(raw.tokens),
            int(raw.seek),
            next((end for start, end in bounds if start <= raw.seek < end), sys.maxsize),
        )
        for raw in found
    ]


def with_words(
    model: Any, audio: NDArray[np.float32], language: str, found: Sequence[Piece]
) -> list[Piece]:
    """`found` with their words timed, each window's text aligned to that window's audio."""
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.tokenizer import Tokenizer

    if not found:
        return []
    extractor = model.feature_extractor
    features = extractor(audio)  # as model.transcribe computes them: the same encoder input
    content_frames = features.shape[-1] - 1
    tokenizer = Tokenizer(
        model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language
    )
    # faster-whisper's own defaults: the punctuation joined to the word before or after it.
    defaults = inspect.signature(model.transcribe).parameters
    punctuations = (
        defaults["prepend_punctuations"].default,
        defaults["append_punctuations"].default,
    )
    timed: list[Piece] = []
    last_speech_s = 0.0
    for (seek, clip_end), window in itertools.groupby(found, lambda p: (p.seek, p.clip_end)):
        window_pieces = list(window)
        size = min(extractor.nb_max_frames, content_frames - seek, clip_end - seek)
        if size <= 0:
            timed += window_pieces
            continue
        encoded = model.encode(pad_or_trim(features[:, seek : seek + size]))
        segments = [
            {"seek": seek, "start": p.start, "end": p.end, "tokens": list(p.tokens)}
            for p in window_pieces
        ]
        last_speech_s = model.add_word_timestamps(
            [segments], tokenizer, encoded, size, *punctuations, last_speech_s
        )
        timed += [_timed(p, s) for p, s in zip(window_pieces, segments, strict=True)]
    return timed


def _timed(piece: Piece, aligned: dict[str, Any]) -> Piece:
    words = tuple(
        (float(word["start"]), float(word["end"]), str(word["word"]).strip())
        for word in aligned.get("words") or ()
        if str(word["word"]).strip()
    )
    # The aligner moves the segment's edges to its words'; a segment also covers every word.
    start = min([float(aligned["start"]), *(start for start, _, _ in words)])
    end = max([float(aligned["end"]), *(end for _, end, _ in words)])
    return attrs.evolve(piece, start=start, end=end, words=words)


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
