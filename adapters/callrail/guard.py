"""The SSRF guard of recording downloads: which URLs may be fetched, and from which addresses.

Every hop of a download (the first URL and each redirect) passes `UrlGuard.approve`: the scheme,
the host against the allow-list, then every address the host resolves to. The connection then
goes to exactly the approved addresses through `PinnedResolver`, so a second DNS answer (DNS
rebinding) cannot send it anywhere else.

Private, loopback and other non-public addresses are refused even for a listed host name: a
listed name that resolves inward is the attack this guard exists for. The exceptions are names
that *are* such addresses: a listed IP literal (its one address is the operator's choice) and a
listed `localhost` name, whose addresses must then be loopback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult

from domain.errors import RecordingRefused, TransientFailure

DEFAULT_PORTS = {"http": 80, "https": 443}
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
_UNSAFE_URL = re.compile(r"[\x00-\x20\x7f\\]")
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class HostResolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[str]:
        """The host's addresses as IP strings."""
        ...


class LoopHostResolver(HostResolver):
    """The system resolver, through the event loop's getaddrinfo."""

    async def resolve(self, host: str, port: int) -> list[str]:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


def display_url(url: str) -> str:
    """scheme://host[:port]/path: never the query (CallRail puts access keys there), the
    fragment or any user:password."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return "an unparseable URL"
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    path = _UNSAFE_URL.sub("", parts.path)
    return f"{parts.scheme}://{netloc}{path[:200]}"


@dataclass(frozen=True)
class Target:
    """A URL that passed the allow-list, rebuilt from its checked parts."""

    url: str
    scheme: str
    host: str
    port: int
    display: str


@dataclass(frozen=True)
class Approved:
    target: Target
    addresses: tuple[str, ...]


def _normalise_host(host: str) -> str:
    return host.strip().strip("[]").lower().rstrip(".")


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_localhost(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


class HostPolicy:
    """The allow-list: exact host names or IP literals, case-insensitive, plus explicit
    `*.example.com` entries that match any name below example.com (not example.com itself)."""

    def __init__(self, allowed_hosts: Iterable[str], allow_http_hosts: Iterable[str] = ()):
        entries = [_normalise_host(h) for h in allowed_hosts if h.strip()]
        self._exact = frozenset(e for e in entries if not e.startswith("*."))
        self._suffixes = tuple(e[1:] for e in entries if e.startswith("*.") and len(e) > 2)
        self._http = frozenset(_normalise_host(h) for h in allow_http_hosts if h.strip())

    def target(self, url: str, *, trusted: bool = False) -> Target:
        """Checks a URL's form, scheme and host (no I/O). `trusted` skips the allow-list, for
        the operator-configured API base only."""
        shown = display_url(url)
        if _UNSAFE_URL.search(url):
            raise RecordingRefused(f"refused {shown}: the URL has spaces or backslashes")
        try:
            parts = urlsplit(url)
            raw_port = parts.port
        except ValueError:
            raise RecordingRefused(f"refused {shown}: the URL cannot be parsed") from None
        scheme = parts.scheme.lower()
        host = _normalise_host(parts.hostname or "")
        if "@" in parts.netloc:
            raise RecordingRefused(f"refused {shown}: the URL carries credentials")
        if scheme not in DEFAULT_PORTS:
            raise RecordingRefused(f"refused {shown}: only https URLs are fetched")
        literal = _literal(host)
        if not host or (literal is None and not _HOST_NAME.match(host)):
            raise RecordingRefused(f"refused {shown}: not a valid host name")
        if not trusted:
            if not self.allows(host):
                raise RecordingRefused(f"refused {shown}: host {host} is not allowed")
            if scheme == "http" and host not in self._http:
                raise RecordingRefused(f"refused {shown}: plain http is not allowed for {host}")
        port = raw_port if raw_port is not None else DEFAULT_PORTS[scheme]
        netloc = f"[{host}]" if literal is not None and literal.version == 6 else host
        if raw_port is not None:
            netloc += f":{port}"
        rebuilt = f"{scheme}://{netloc}{parts.path or '/'}"
        if parts.query:
            rebuilt += f"?{parts.query}"
        return Target(rebuilt, scheme, host, port, display_url(rebuilt))

    def allows(self, host: str) -> bool:
        host = _normalise_host(host)
        if host in self._exact:
            return True
        return _literal(host) is None and any(host.endswith(s) for s in self._suffixes)

    def exempt(self, host: str, address: IPAddress) -> bool:
        """Whether a listed host may use an address the guard otherwise refuses."""
        if host not in self._exact:
            return False
        if _literal(host) is not None:
            return True
        return _is_localhost(host) and address.is_loopback


def address_refusal(address: IPAddress) -> str | None:
    """Why an address is not public, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            reason = address_refusal(embedded)
            return f"{reason} (embedded in {address})" if reason else None
    checks = (
        (address.is_loopback, "loopback"),
        (address.is_unspecified, "unspecified"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_private, "private"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT, "shared (CGNAT)"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "not public"),
    )
    for refused, what in checks:
        if refused:
            return f"{address} is a {what} address"
    return None


def approve_addresses(
    policy: HostPolicy, target: Target, addresses: Iterable[str], *, trusted: bool = False
) -> Approved:
    """Pure: refuses the target when any address is not public (and not exempt)."""
    checked: list[str] = []
    for raw in addresses:
        address = _literal(raw.split("%", 1)[0])
        if address is None:
            raise RecordingRefused(f"refused {target.display}: {raw!r} is not an IP address")
        reason = address_refusal(address)
        if reason and not trusted and not policy.exempt(target.host, address):
            raise RecordingRefused(f"refused {target.display}: {target.host} resolves to {reason}")
        checked.append(str(address))
    if not checked:
        raise TransientFailure(f"{target.host} has no address (fetching {target.display})")
    return Approved(target, tuple(dict.fromkeys(checked)))


class UrlGuard:
    def __init__(self, policy: HostPolicy, resolver: HostResolver):
        self.policy = policy
        self._resolver = resolver

    async def approve(self, url: str, timeout_s: float, *, trusted: bool = False) -> Approved:
        """Checks one hop. RecordingRefused when it may not be fetched; TransientFailure when
        its host cannot be resolved right now."""
        target = self.policy.target(url, trusted=trusted)
        literal = _literal(target.host)
        if literal is not None:
            return approve_addresses(self.policy, target, [str(literal)], trusted=trusted)
        try:
            async with asyncio.timeout(max(timeout_s, 0.0)):
                addresses = await self._resolver.resolve(target.host, target.port)
        except TimeoutError:
            raise TransientFailure(f"resolving {target.host} timed out") from None
        except OSError as exc:
            raise TransientFailure(f"cannot resolve {target.host}: {exc.strerror}") from None
        return approve_addresses(self.policy, target, addresses, trusted=trusted)


class UnapprovedHost(OSError):
    """The connector asked for a host the guard did not approve: nothing is connected."""


class PinnedResolver(AbstractResolver):
    """aiohttp's resolver for a guarded session: answers only with approved addresses."""

    def __init__(self) -> None:
        self._pins: dict[tuple[str, int], tuple[str, ...]] = {}

    def pin(self, approved: Approved) -> None:
        self._pins[(approved.target.host, approved.target.port)] = approved.addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = self._pins.get((_normalise_host(host), port))
        if not addresses:
            raise UnapprovedHost(f"{host}:{port} was not approved by the guard")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        self._pins.clear()
