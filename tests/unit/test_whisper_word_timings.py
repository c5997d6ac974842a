"""A loop cut from Whisper's text takes its words with it (adapters.whisper.word_timings): what is
left of a segment keeps the times of exactly the words left in it, never a time of text cut."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.whisper.word_timings import Piece, TimedWord, without_loops
from domain.transcript_loops import drop_loops_across, has_loop
from tests.support import letters


def piece(start: float, *words: str, step: float = 0.25) -> Piece:
    """A segment whose words, said one after another from `start`, spell its text."""
    timed = tuple((start + i * step, start + (i + 1) * step, word) for i, word in enumerate(words))
    text = "".join(word if word[0] in "-,." else f" {word}" for word in words).strip()
    return Piece(start, start + len(words) * step, text, words=timed)


def spelled(words: Sequence[TimedWord]) -> str:
    return letters("".join(word for _, _, word in words))


def test_a_segment_nothing_was_cut_from_keeps_its_words() -> None:
    found = [piece(0.0, "It's", "4", "-1", "-1", "-1."), piece(2.0, "Thanks.")]

    assert without_loops(found) == found


def test_the_words_of_a_cut_loop_go_and_the_words_after_it_stay() -> None:
    ones = ["-1"] * 40
    found = [piece(10.0, "It's", "4", *ones, "and", "the", "expiry")]

    [kept] = without_loops(found)

    assert kept.text == drop_loops_across([found[0].text])[0]
    assert not has_loop(kept.text)
    assert spelled(kept.words) == letters(kept.text)
    # The first sixteen ones are what was kept of the loop, with their own times; "and" keeps its.
    assert kept.words[:18] == found[0].words[:18]
    assert kept.words[18:] == found[0].words[-3:]


def test_a_loop_read_across_segments_loses_only_the_words_it_cut() -> None:
    first = piece(0.0, "1", *["-1"] * 9)
    second = piece(3.0, "1", *["-1"] * 9, "payment")

    kept = without_loops([first, second])

    assert [p.text for p in kept] == drop_loops_across([first.text, second.text])
    assert kept[0] == first  # the ten ones before the limit
    assert kept[1].words == second.words[:6] + second.words[-1:]
    assert spelled(kept[1].words) == letters(kept[1].text)


def test_a_word_partly_cut_keeps_only_its_part_left() -> None:
    """Whisper can write a run as one word; what is left of it is its text, its times whole."""
    run = "-".join(["1"] * 30)
    found = [Piece(5.0, 9.0, f"It's {run}.", words=((5.0, 5.4, "It's"), (5.4, 9.0, f"{run}.")))]

    [kept] = without_loops(found)

    sixteen = "-".join(["1"] * 16)
    assert kept.text == f"It's {sixteen}."
    assert kept.words == ((5.0, 5.4, "It's"), (5.4, 9.0, f"{sixteen}."))


def test_a_segment_that_was_all_loop_keeps_no_word() -> None:
    found = [piece(0.0, "1", *["-1"] * 16), piece(5.0, *["-1"] * 20, ".")]

    kept = without_loops(found)

    assert kept[1].text == ""
    assert kept[1].words == ()


def test_a_phrase_said_again_after_its_loop_keeps_the_later_time() -> None:
    """After "thank you" eight times (four kept), a last "thank" is kept: with the time it was
    said at, not the time of a "thank" that was cut."""
    found = [piece(0.0, *["thank", "you"] * 8, "thank", "goodbye")]

    [kept] = without_loops(found)

    assert kept.text == drop_loops_across([found[0].text])[0]
    assert spelled(kept.words) == letters(kept.text)
    assert kept.words == found[0].words[:8] + found[0].words[-2:]


def test_words_that_do_not_spell_the_text_are_kept_where_they_are_still_read() -> None:
    """Should the words not spell the text (no telling which were cut), the words kept are
    those still read in the text left, in order."""
    cut = piece(0.0, "It's", "4", *["-1"] * 30, "and", "goodbye")
    found = [Piece(cut.start, cut.end, cut.text.replace("and", "an"), words=cut.words)]

    [kept] = without_loops(found)

    assert kept.text == drop_loops_across([found[0].text])[0]
    assert [word for _, _, word in kept.words] == ["It's", "4", *["-1"] * 16, "goodbye"]
    assert kept.words[-1] == cut.words[-1]
