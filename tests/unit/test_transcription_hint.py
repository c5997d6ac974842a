"""What a speech recogniser is told about a tenant: its name and trade words, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain.tenant import Tenant, parse_tenant
from domain.transcription_hint import MAX_WORDS, TranscriptionHint, transcription_hint

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def tenant(name: str, context: str = "") -> Tenant:
    document: dict[str, Any] = {
        "tenant_id": "peak",
        "name": name,
        "config": {
            "callrail_company_id": "1",
            "webhook_secret": "k",
            "ai_config": {"business_context": context},
        },
    }
    return parse_tenant(document, NOW)


def test_the_demo_tenant_is_its_name_and_trade_words() -> None:
    hint = transcription_hint(
        tenant(
            "Acme Heating & Air (demo)",
            "Acme Heating & Air: furnace and AC repair, installation and maintenance in Denver. "
            "A good lead needs a repair or a new system.",
        )
    )

    assert hint.business_name == "Acme Heating & Air"
    assert hint.vocabulary == (
        "furnace", "AC", "repair", "installation", "maintenance", "Denver", "system",
    )  # fmt: skip
    assert hint.prompt() == (
        "Acme Heating & Air: furnace, AC, repair, installation, maintenance, Denver, system."
    )
    assert hint.phrases()[0] == "Acme Heating & Air"


def test_no_number_address_or_instruction_goes_in() -> None:
    hint = transcription_hint(
        tenant(
            "Peak Comfort Heating and Air",
            "Call 303-555-0142 or write to office@peakcomfort.com, www.peakcomfort.com. "
            "We serve Boulder since 1998. Hot leads: anyone with no heat. Spam: SEO pitches.",
        )
    )

    prompt = hint.prompt()
    assert prompt.startswith("Peak Comfort Heating and Air: ")
    for absent in ("303", "555", "0142", "@", "peakcomfort", "1998", "www", "Hot", "leads"):
        assert absent not in prompt, absent
    assert "Boulder" in hint.vocabulary


def test_the_vocabulary_is_short() -> None:
    words = " ".join(f"word{letter}" for letter in "abcdefghijklmnopqrstuvwxyz")
    context = " ".join(f"trade{a}{b}" for a in "abc" for b in "xyzw") + " " + words
    hint = transcription_hint(tenant("Acme", context.replace("1", "")))

    assert len(hint.vocabulary) <= MAX_WORDS


def test_a_tenant_without_context_is_its_name() -> None:
    hint = transcription_hint(tenant("Bright Smile Dental"))

    assert hint == TranscriptionHint("Bright Smile Dental", ())
    assert hint.prompt() == "Bright Smile Dental."
    assert TranscriptionHint().prompt() == ""
    assert TranscriptionHint().empty
