"""BatchRecognize answers in the layouts the stand-in does not produce, parsed by the client
library's own types from Speech-to-Text's JSON and mapped to our Transcript: diarized words
repeated from the beginning of the audio, results without words, words without speaker
labels, and per-file errors by their google.rpc code."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.cloud.speech_v2.types import cloud_speech as cs

from adapters.googlespeech.turns import transcript_for_file
from domain.errors import RateLimited, TransientFailure, UnreadableAudio
from domain.results import Segment

URI = "gs://acme-audio/acme/calls/CAL9/recording.mp3"


def response(file_result: dict[str, Any], key: str = URI) -> Any:
    document = {"results": {key: file_result}, "totalBilledDuration": "9s"}
    return cs.BatchRecognizeResponse.from_json(json.dumps(document))


def word(text: str, start: float, end: float, speaker: str | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {"word": text, "startOffset": f"{start}s", "endOffset": f"{end}s"}
    if speaker is not None:
        info["speakerLabel"] = speaker
    return info


def inline(*results: dict[str, Any]) -> dict[str, Any]:
    return {"inlineResult": {"transcript": {"results": list(results)}}}


def result(transcript: str, words: list[dict[str, Any]], end: str) -> dict[str, Any]:
    return {"alternatives": [{"transcript": transcript, "words": words}], "resultEndOffset": end}


def test_words_repeated_from_the_beginning_are_counted_once() -> None:
    first = [word("Hello,", 0.5, 0.9, "1"), word("plumbing.", 1.0, 1.6, "1")]
    everything = [*first, word("Hi,", 2.0, 2.2, "2"), word("leak.", 2.3, 2.9, "2")]
    answer = response(
        inline(result("Hello, plumbing.", first, "1.7s"), result("", everything, "3s"))
    )

    transcript = transcript_for_file(answer, URI, "google-chirp_3", "en-US")

    assert transcript.segments == (
        Segment("1", 0.5, 1.6, "Hello, plumbing."),
        Segment("2", 2.0, 2.9, "Hi, leak."),
    )
    assert transcript.audio_duration_s == 9.0


def test_results_without_words_are_one_segment_each() -> None:
    answer = response(
        inline(result("Hello, plumbing.", [], "1.7s"), result("My sink leaks.", [], "4.25s"))
    )

    transcript = transcript_for_file(answer, URI, "google-chirp_3", "en-US")

    assert transcript.text == "Hello, plumbing. My sink leaks."
    assert transcript.segments == (
        Segment("1", 0.0, 1.7, "Hello, plumbing."),
        Segment("1", 1.7, 4.25, "My sink leaks."),
    )


def test_words_without_a_speaker_label_are_speaker_1() -> None:
    words = [word("Hello", 0.0, 0.4), word("there", 0.5, 0.9)]
    answer = response(inline(result("Hello there", words, "1s")))

    transcript = transcript_for_file(answer, URI, "google-chirp_3", "en-US")

    assert transcript.segments == (Segment("1", 0.0, 0.9, "Hello there"),)


def test_the_only_result_is_used_whatever_its_key() -> None:
    words = [word("Hello", 0.0, 0.4, "1")]
    answer = response(inline(result("Hello", words, "1s")), key="gs://acme-audio/other-spelling")

    assert transcript_for_file(answer, URI, "google-chirp_3", "en-US").text == "Hello"


@pytest.mark.parametrize(
    ("code", "error"),
    [(3, UnreadableAudio), (5, UnreadableAudio), (8, RateLimited), (14, TransientFailure)],
)
def test_a_per_file_error_is_mapped_by_its_code(code: int, error: type[Exception]) -> None:
    answer = response({"error": {"code": code, "message": "the service's reason"}})

    with pytest.raises(error, match="the service's reason"):
        transcript_for_file(answer, URI, "google-chirp_3", "en-US")
