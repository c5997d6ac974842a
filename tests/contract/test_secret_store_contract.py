"""The SecretStore contract, run against every adapter of it."""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from adapters.localsecrets.stores import EnvSecretStore, FileSecretStore
from adapters.memory.fakes import FixedClock, InMemorySecretStore
from adapters.secretmanager.store import SecretManagerSecretStore
from domain.errors import SecretNotFound
from ports.secrets import SecretStore
from tests.integration.test_secret_manager_store import FakeSecretManager

HUBSPOT = "hubspot/acme-token"
SIGNING = "callrail/acme-signing-key"
SECRETS = {HUBSPOT: "pat-na1-11111111-aaaa", SIGNING: "072e77e426f92738a72fe23c4d1953b4"}


@attrs.define
class Harness:
    """A store and a way to replace what it holds, as an operator rotating secrets would."""

    store: SecretStore
    replace: Callable[[dict[str, str]], None]


def _memory(tmp_path: Path) -> Harness:
    store = InMemorySecretStore(SECRETS)

    def replace(secrets: dict[str, str]) -> None:
        store.secrets = dict(secrets)

    return Harness(store, replace)


def _env(tmp_path: Path) -> Harness:
    environ: dict[str, str] = {"PATH": "/usr/bin", "HOME": "/root"}

    def replace(secrets: dict[str, str]) -> None:
        for key in [k for k in environ if k.startswith("PIPELINE_SECRET_")]:
            del environ[key]
        for name, value in secrets.items():
            environ["PIPELINE_SECRET_" + name.replace("/", "_").replace("-", "_").upper()] = value

    replace(SECRETS)
    return Harness(EnvSecretStore(environ), replace)


def _file(tmp_path: Path) -> Harness:
    """The file is looked at again at most once a second: replacing it also moves the store's
    clock past that."""
    path = tmp_path / "secrets.json"
    generation = [0]
    clock = FixedClock()

    def replace(secrets: dict[str, str]) -> None:
        path.write_text(json.dumps(secrets), encoding="utf-8")
        # A rewrite within the same second must still be noticed: move the mtime on.
        generation[0] += 1
        stamp = 1_700_000_000 + generation[0] * 10
        os.utime(path, (stamp, stamp))
        clock.advance(1.0)

    replace(SECRETS)
    return Harness(FileSecretStore(path, clock=clock), replace)


def _secret_manager(tmp_path: Path, request: pytest.FixtureRequest) -> Harness:
    """Secret Manager's REST API faked on 127.0.0.1; a rotation shows once the cache's TTL has
    passed, so replacing the secrets also moves the store's clock past it."""
    fake = FakeSecretManager()
    clock = FixedClock()
    store = SecretManagerSecretStore(fake.client(), "acme-prod", clock=clock, ttl_s=300)
    request.addfinalizer(fake.stop)
    request.addfinalizer(store.close)

    def replace(secrets: dict[str, str]) -> None:
        fake.replace(secrets)
        clock.advance(301)

    replace(SECRETS)
    return Harness(store, replace)


@pytest.fixture(params=["memory", "env", "file", "secretmanager"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    build: dict[str, Callable[[Path], Harness]] = {
        "memory": _memory,
        "env": _env,
        "file": _file,
        "secretmanager": lambda path: _secret_manager(path, request),
    }
    return build[request.param](tmp_path)


def _everything_shown(exc: BaseException) -> str:
    """What a log line with the traceback would carry."""
    return "".join(traceback.format_exception(exc)) + repr(exc)


async def test_a_present_secret_resolves(harness: Harness) -> None:
    assert await harness.store.resolve(HUBSPOT) == SECRETS[HUBSPOT]
    assert await harness.store.resolve(SIGNING) == SECRETS[SIGNING]


async def test_a_missing_secret_names_the_reference_and_no_value(harness: Harness) -> None:
    with pytest.raises(SecretNotFound) as caught:
        await harness.store.resolve("salesforce/beta-token")

    assert "salesforce/beta-token" in str(caught.value)
    shown = _everything_shown(caught.value)
    for value in SECRETS.values():
        assert value not in shown


async def test_a_rotated_secret_applies_without_a_restart(harness: Harness) -> None:
    assert await harness.store.resolve(HUBSPOT) == SECRETS[HUBSPOT]

    harness.replace({HUBSPOT: "pat-na1-22222222-rotated"})

    assert await harness.store.resolve(HUBSPOT) == "pat-na1-22222222-rotated"
    with pytest.raises(SecretNotFound):
        await harness.store.resolve(SIGNING)


async def test_an_empty_secret_counts_as_missing(harness: Harness) -> None:
    harness.replace({HUBSPOT: ""})

    with pytest.raises(SecretNotFound, match="hubspot/acme-token"):
        await harness.store.resolve(HUBSPOT)


# --- adapter specifics: how each is told where its secrets are ---------------------------


async def test_env_store_reads_the_mangled_variable_name() -> None:
    store = EnvSecretStore({"PIPELINE_SECRET_HUBSPOT_ACME_TOKEN": "from-the-environment"})

    assert await store.resolve("hubspot/acme-token") == "from-the-environment"


async def test_env_store_names_the_variable_it_expected() -> None:
    store = EnvSecretStore({"PIPELINE_SECRET_OTHER": "not-this-one"})

    with pytest.raises(SecretNotFound) as caught:
        await store.resolve("hubspot/acme-token")

    assert "PIPELINE_SECRET_HUBSPOT_ACME_TOKEN" in str(caught.value)
    assert "not-this-one" not in _everything_shown(caught.value)


async def test_file_store_without_a_file_raises_secret_not_found(tmp_path: Path) -> None:
    store = FileSecretStore(tmp_path / "absent.json", clock=FixedClock())

    with pytest.raises(SecretNotFound, match=r"absent\.json"):
        await store.resolve(HUBSPOT)


@pytest.mark.parametrize(
    "content",
    [
        b'hubspot/acme-token = "pat-na1-leaked-if-echoed"',
        b'{"hubspot/acme-token": "pat-na1-leaked-if-echoed",',
        b'["pat-na1-leaked-if-echoed"]',
        b'\xff\xfe"pat-na1-leaked-if-echoed"',
    ],
    ids=["not-json", "truncated-json", "json-array", "not-utf8"],
)
async def test_file_store_with_a_bad_file_never_echoes_its_content(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "secrets.json"
    path.write_bytes(content)
    store = FileSecretStore(path, clock=FixedClock())

    with pytest.raises(SecretNotFound) as caught:
        await store.resolve(HUBSPOT)

    assert "pat-na1-leaked-if-echoed" not in _everything_shown(caught.value)


async def test_file_store_with_an_unreadable_path_raises_secret_not_found(
    tmp_path: Path,
) -> None:
    path = tmp_path / "secrets.json"
    path.mkdir()  # a directory: stat() works, reading does not

    with pytest.raises(SecretNotFound):
        await FileSecretStore(path, clock=FixedClock()).resolve(HUBSPOT)


async def test_file_store_recovers_when_a_broken_file_is_fixed(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text("{ half-written", encoding="utf-8")
    os.utime(path, (1_700_000_000, 1_700_000_000))
    store = FileSecretStore(path, clock=FixedClock())
    with pytest.raises(SecretNotFound):
        await store.resolve(HUBSPOT)

    path.write_text(json.dumps({HUBSPOT: "pat-na1-fixed"}), encoding="utf-8")
    os.utime(path, (1_700_000_100, 1_700_000_100))

    assert await store.resolve(HUBSPOT) == "pat-na1-fixed"


async def test_file_store_shows_a_rotation_once_its_recheck_time_has_passed(
    tmp_path: Path,
) -> None:
    """Between two looks at the file a resolve reads nothing (a webhook whose signing key is a
    reference resolves it every time); a rotation shows once `recheck_s` has passed."""
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({SIGNING: "old-key"}), encoding="utf-8")
    os.utime(path, (1_700_000_000, 1_700_000_000))
    clock = FixedClock()
    store = FileSecretStore(path, clock=clock, recheck_s=1.0)
    assert await store.resolve(SIGNING) == "old-key"

    path.write_text(json.dumps({SIGNING: "new-key"}), encoding="utf-8")
    os.utime(path, (1_700_000_100, 1_700_000_100))
    clock.advance(0.9)
    assert await store.resolve(SIGNING) == "old-key"
    clock.advance(0.1)
    assert await store.resolve(SIGNING) == "new-key"


async def test_file_store_looks_again_when_the_clock_goes_back(tmp_path: Path) -> None:
    """A clock set back (by NTP, say) does not stretch the time a rotation takes to show."""
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({SIGNING: "old-key"}), encoding="utf-8")
    os.utime(path, (1_700_000_000, 1_700_000_000))
    clock = FixedClock()
    store = FileSecretStore(path, clock=clock)
    assert await store.resolve(SIGNING) == "old-key"

    path.write_text(json.dumps({SIGNING: "new-key"}), encoding="utf-8")
    os.utime(path, (1_700_000_100, 1_700_000_100))
    clock.advance(-3600)
    assert await store.resolve(SIGNING) == "new-key"
