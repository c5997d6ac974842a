"""Repetition loops in Whisper's output, told from the repetition people really say."""

from __future__ import annotations

import pytest

from domain.transcript_loops import (
    drop_loops,
    drop_loops_across,
    find_loops,
    has_loop,
    looping_pieces,
)

# What tiny.en wrote for the demo's recordings (bench/wer.py, this session's runs).
CARD_LOOP = "It's 4-1-1-1-1-1-1. Um... " + "-".join(["1"] * 104)
EXPIRY_LOOP = "And the advisory date and secure ready code. 4-1-2-1-" + "2-" * 70
BILLING_BEFORE = (
    "Sure, go ahead with the card humber. It's 4-1-1-1-1-1. The 1-1-1-1-1-1-1-1-1-1 And the "
    "expiry date and secure ready code."
)


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        (CARD_LOOP, ("1",)),
        (EXPIRY_LOOP, ("2",)),
        ("It's 4-1-1-1-1-1. The " + "-".join(["1"] * 20), ("1",)),  # issue 24's 20 digits
        (" ".join(["1"] * 200), ("1",)),
        (" ".join(["one"] * 17), ("one",)),
        ("Thank you. " * 6, ("thank", "you")),
        ("I'm sorry, I'm sorry, I'm sorry, I'm sorry, I'm sorry.", ("i'm", "sorry")),
        ("so so so so so so so so", ("so",)),
    ],
)
def test_whisper_loops_are_found(text: str, unit: tuple[str, ...]) -> None:
    loops = find_loops(text)

    assert [loop.unit for loop in loops] == [unit]
    assert has_loop(text)


@pytest.mark.parametrize(
    "text",
    [
        "no no no, that's not what I said",
        "No, no, no, no. I never got it.",
        "yeah yeah yeah, okay",
        "My number is 303-555-5555, or 1-800-000-0000.",
        "It's 4111 1111 1111 1111, expiring 04/27.",
        "It's four one one one, one one one one.",  # a card read in groups: 7 ones
        "1-1-1-1-1-1-1-1",
        "4-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1",  # a test card, heard digit by digit: 15 ones
        BILLING_BEFORE,  # the demo's billing call: 5 + 10 of the card's 15 ones
        "very very very very good",
        "thank you, thank you so much, thank you",
        "bye bye",
        "It's 4-1-1-1-1-1. Them. 1-1-1-1-1-1-1.",
        "",
    ],
)
def test_what_people_say_is_no_loop(text: str) -> None:
    assert find_loops(text) == ()
    assert drop_loops(text) == text


def test_dropping_a_loop_keeps_a_plausible_count_and_the_rest() -> None:
    assert drop_loops(CARD_LOOP) == "It's 4-1-1-1-1-1-1. Um... " + "-".join(["1"] * 16)
    assert drop_loops(EXPIRY_LOOP) == (
        "And the advisory date and secure ready code. 4-1-2-1-" + "-".join(["2"] * 16)
    )
    assert drop_loops("Thank you. " * 6 + "Bye.") == (
        "Thank you. Thank you. Thank you. Thank you. Bye."
    )
    looped = BILLING_BEFORE.replace("1-1-1-1-1-1-1-1-1-1", "-".join(["1"] * 60))
    assert not has_loop(drop_loops(looped))
    assert drop_loops(looped).endswith(" And the expiry date and secure ready code.")


def test_a_loop_is_found_across_segments() -> None:
    pieces = ["Sure, the card number.", "It's 4-1-1-1.", *["1-1-1-1."] * 6, "Ok."]

    assert looping_pieces(pieces) == ((1, 7),)
    kept = drop_loops_across(pieces)
    assert kept[0] == pieces[0]
    assert kept[-1] == "Ok."
    assert kept[7] == ""  # all loop
    assert not has_loop(" ".join(kept))
    assert " ".join(k for k in kept if k).count("1") == 16


def test_pieces_without_a_loop_come_back_as_they_were() -> None:
    pieces = ["No, no, no.", "It's 303-555-5555.", "Thank you."]

    assert looping_pieces(pieces) == ()
    assert drop_loops_across(pieces) == pieces
