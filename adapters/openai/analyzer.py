"""The CallAnalyzer port on any OpenAI-compatible server: the shared LLM-analysis core
(domain.usecases.llm_analysis) over the chat completions transport (chat.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from adapters.openai.chat import OpenAiChatModel
from domain.llm import TokenUsage
from domain.usecases.llm_analysis import LlmCallAnalyzer, LlmEvent, LlmPolicy
from ports.analysis import CallAnalyzer
from ports.secrets import SecretStore

_log = logging.getLogger("adapters.openai")


def _default_policy(request_timeout_s: float) -> LlmPolicy:
    """The analysis is a few hundred tokens: a small model that loops stops at 1,024. A slow
    local model may take a request's whole timeout: the deadline leaves room for a retry."""
    return LlmPolicy(max_output_tokens=1024, deadline_s=max(180.0, 1.5 * request_timeout_s))


def chat_completions_url(base_url: str, http_hosts: tuple[str, ...] = ()) -> str:
    """The chat completions endpoint of a server's base URL, given with or without its /v1
    ("http://127.0.0.1:11434/v1" and "http://127.0.0.1:8000" alike). https, or plain http for
    a host listed in `http_hosts` only: the API key and the calls' transcripts go there.
    ValueError says what is wrong, without the URL's credentials or query."""
    parts = urlsplit(base_url.strip())
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("give the server's base URL, e.g. https://HOST/v1, with no credentials")
    if parts.scheme != "https" and not (parts.scheme == "http" and host in http_hosts):
        raise ValueError(
            f"{parts.scheme}://{host} is not allowed: use https, or list {host} in the plain"
            " http hosts"
        )
    path = parts.path.rstrip("/")
    if path.endswith("/chat/completions"):
        path = path[: -len("/chat/completions")]
    if not path.endswith("/v1"):
        path += "/v1"
    return f"{parts.scheme}://{parts.netloc}{path}/chat/completions"


class OpenAiCallAnalyzer(LlmCallAnalyzer):
    def __init__(
        self,
        fallback: CallAnalyzer,
        *,
        base_url: str,
        model: str,
        http_hosts: tuple[str, ...] = (),
        secrets: SecretStore | None = None,
        api_key_ref: str | None = None,
        response_format: str = "auto",
        request_timeout_s: float = 60.0,
        policy: LlmPolicy | None = None,
        on_usage: Callable[[TokenUsage], None] | None = None,
    ):
        """`fallback` answers whenever the server cannot; `http_hosts` may be reached over
        plain http (a local server). `policy`: retries and deadline (_default_policy)."""
        transport = OpenAiChatModel(
            chat_completions_url(base_url, http_hosts),
            model,
            secrets=secrets,
            api_key_ref=api_key_ref,
            response_format=response_format,
            request_timeout_s=request_timeout_s,
        )
        super().__init__(
            transport,
            fallback,
            policy=policy or _default_policy(request_timeout_s),
            on_usage=on_usage,
            on_event=_log_event,
        )


def _log_event(event: LlmEvent) -> None:
    level = logging.getLevelNamesMapping()[event.severity.upper()]
    _log.log(level, event.describe("OpenAI-compatible server"), exc_info=event.error)
