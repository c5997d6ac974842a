"""The operator's price file (PIPELINE_PRICES_FILE): it names only the prices that differ and
the rest stay the shipped ones; a file that cannot be used stops the service at start with one
line that names the file and the entry."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from entrypoints.config import ConfigError, load_settings
from entrypoints.prices import load_prices

SHIPPED = load_prices().table


def settings_with(tmp_path: Path, text: str) -> Decimal:
    path = tmp_path / "prices.toml"
    path.write_text(text)
    table = load_settings({"PIPELINE_PRICES_FILE": str(path)}).prices.table
    return table.llm["gemini-2.5-flash"].input


def test_an_operators_file_overrides_one_price_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "negotiated.toml"
    path.write_text(
        'read_on = "2027-01-15"\n'
        '[llm."gemini-2.5-flash"]\ninput = "0.25"\n'
        "[embedded]\ncpu_second = 0.00002\n"
    )
    prices = load_settings({"PIPELINE_PRICES_FILE": str(path)}).prices
    table = prices.table
    assert table.llm["gemini-2.5-flash"].input == Decimal("0.25")
    assert table.llm["gemini-2.5-flash"].output == SHIPPED.llm["gemini-2.5-flash"].output
    assert table.cpu_second == Decimal("0.00002")
    assert table.speech == SHIPPED.speech
    assert str(table.read_on) == "2027-01-15"
    assert str(path) in str(prices)  # what `ingestion-pipeline config` shows


def test_a_new_model_can_be_priced(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text('[llm."gemini-3-flash"]\ninput = 0.5\noutput = 3\n')
    table = load_settings({"PIPELINE_PRICES_FILE": str(path)}).prices.table
    assert table.llm["gemini-3-flash"].output == Decimal(3)
    assert "gemini-2.5-flash" in table.llm


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('[llm."gemini-2.5-flash"]\ninput = -1\n', '"gemini-2.5-flash".input: -1 is not a price'),
        ('[llm."gemini-2.5-flash"]\ninput = "cheap"\n', "'cheap' is not a price"),
        ("[storage]\ngib_mnth = 0.02\n", "storage.gib_mnth: not an entry of the price table"),
        ('[llm."gemini-3-flash"]\ninput = 0.5\n', "llm.gemini-3-flash.output: missing"),
        ('read_on = "last tuesday"\n', "read_on: 'last tuesday' is not a date"),
        ("[storage\n", "is not TOML"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_entry(tmp_path: Path, text: str, said: str) -> None:
    with pytest.raises(ConfigError) as refused:
        settings_with(tmp_path, text)
    message = str(refused.value)
    assert message.startswith(f"PIPELINE_PRICES_FILE: {tmp_path / 'prices.toml'}")
    assert said in message
    assert "\n" not in message


def test_a_file_that_is_not_there_is_said_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read .*nowhere\.toml"):
        load_settings({"PIPELINE_PRICES_FILE": str(tmp_path / "nowhere.toml")})
