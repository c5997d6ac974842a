"""PIPELINE_ANALYZER=openai: its settings, the server URL's rules (https, or plain http for a
listed host) and the composition root's choice of analyzer."""

from __future__ import annotations

import pytest

from adapters.openai.analyzer import OpenAiCallAnalyzer, chat_completions_url
from entrypoints.config import ConfigError, load_settings
from entrypoints.container import build_container

OLLAMA = {
    "PIPELINE_ANALYZER": "openai",
    "PIPELINE_ANALYZER_URL": "http://127.0.0.1:11434/v1",
    "PIPELINE_ANALYZER_MODEL": "llama3.2",
    "PIPELINE_ANALYZER_HTTP_HOSTS": "127.0.0.1, localhost",
}


@pytest.mark.parametrize(
    ("base", "endpoint"),
    [
        ("http://127.0.0.1:11434/v1", "http://127.0.0.1:11434/v1/chat/completions"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/v1/chat/completions"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000/v1/chat/completions"),
        ("https://api.example.com/v1/", "https://api.example.com/v1/chat/completions"),
        ("https://gw.example.com/llm/v1", "https://gw.example.com/llm/v1/chat/completions"),
        (
            "https://api.example.com/v1/chat/completions",
            "https://api.example.com/v1/chat/completions",
        ),
    ],
)
def test_the_endpoint_is_the_base_url_with_or_without_v1(base: str, endpoint: str) -> None:
    assert chat_completions_url(base, ("127.0.0.1",)) == endpoint


@pytest.mark.parametrize(
    "base",
    [
        "http://127.0.0.1:11434/v1",  # plain http to a host nobody listed
        "http://llm.internal/v1",
        "ftp://api.example.com/v1",
        "https://user:pw@api.example.com/v1",
        "https://api.example.com/v1?key=abc",
        "api.example.com/v1",
    ],
)
def test_plain_http_unlisted_hosts_and_credentials_in_the_url_are_refused(base: str) -> None:
    with pytest.raises(ValueError, match=r"base URL|not allowed") as refused:
        chat_completions_url(base)
    assert "pw" not in str(refused.value)
    assert "abc" not in str(refused.value)


def test_the_openai_settings_are_read_when_chosen() -> None:
    settings = load_settings({**OLLAMA, "PIPELINE_ANALYZER_API_KEY_REF": "llm-key"})

    assert settings.analyzer == "openai"
    assert settings.openai.url == "http://127.0.0.1:11434/v1"
    assert settings.openai.model == "llama3.2"
    assert settings.openai.api_key_ref == "llm-key"
    assert settings.openai.http_hosts == ("127.0.0.1", "localhost")
    assert settings.openai.response_format == "auto"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"PIPELINE_ANALYZER_URL": ""}, "PIPELINE_ANALYZER_URL"),
        ({"PIPELINE_ANALYZER_MODEL": ""}, "PIPELINE_ANALYZER_MODEL"),
        ({"PIPELINE_ANALYZER_HTTP_HOSTS": ""}, "PIPELINE_ANALYZER_URL"),
        ({"PIPELINE_ANALYZER_RESPONSE_FORMAT": "grammar"}, "PIPELINE_ANALYZER_RESPONSE_FORMAT"),
        ({"PIPELINE_ANALYZER_TIMEOUT_SECONDS": "0"}, "PIPELINE_ANALYZER_TIMEOUT_SECONDS"),
    ],
)
def test_a_wrong_openai_setting_is_one_readable_error(change: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_settings({**OLLAMA, **change})


def test_the_openai_settings_are_not_needed_by_the_other_analyzers() -> None:
    assert load_settings({"PIPELINE_ANALYZER_URL": "not even a url"}).analyzer == "rules"


async def test_the_container_builds_the_openai_analyzer_only_when_chosen() -> None:
    container = build_container(load_settings(OLLAMA))
    analyzer = container.analyzer()
    try:
        assert isinstance(analyzer, OpenAiCallAnalyzer)
    finally:
        await analyzer.aclose()
    assert not isinstance(build_container(load_settings({})).analyzer(), OpenAiCallAnalyzer)
