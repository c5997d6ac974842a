"""The price table the cost figures use: entrypoints/prices.toml, shipped with the package,
with the operator's PIPELINE_PRICES_FILE laid over it (a TOML file naming only what differs).
Read once at start; a file that cannot be read or priced is one ConfigError naming the entry."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from domain.price_table import PriceTable, PriceTableError, merged, price_table
from entrypoints.config_urls import ConfigError

DEFAULT_FILE = "prices.toml"


class Prices:
    """The table and where it came from (what `ingestion-pipeline config` shows)."""

    def __init__(self, table: PriceTable, override: str | None):
        self.table = table
        self.override = override

    def __str__(self) -> str:
        where = f"{DEFAULT_FILE} with {self.override}" if self.override else DEFAULT_FILE
        return f"{where}, list prices read {self.table.read_on.isoformat()}"


def _default() -> dict[str, Any]:
    text = resources.files("entrypoints").joinpath(DEFAULT_FILE).read_text(encoding="utf-8")
    return tomllib.loads(text)


def load_prices(override: str | None = None) -> Prices:
    raw = _default()
    if override:
        try:
            text = Path(override).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"PIPELINE_PRICES_FILE: cannot read {override}: {exc.strerror}"
            ) from None
        try:
            raw = merged(raw, tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"PIPELINE_PRICES_FILE: {override} is not TOML: {exc}") from None
    try:
        return Prices(price_table(raw), override)
    except PriceTableError as exc:
        source = override or DEFAULT_FILE
        raise ConfigError(f"PIPELINE_PRICES_FILE: {source}: {exc}") from None
