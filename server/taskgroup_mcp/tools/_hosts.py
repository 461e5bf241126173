"""Which hosts a forwarded MCP server may be on: a URL read as a WHATWG URL parser reads it, and
its name looked up when the call is made.

Parsers disagree about hosts: ``127.0.0.1`` written with U+3002 ideographic full stops, fullwidth
digits or circled letters, ``0x7f.1`` or ``localhost.`` all mean loopback
to a browser-grade parser while looking like an ordinary name to a naive check. So the host is
normalized as the WHATWG URL standard does (percent-encoding refused, IDNA/UTS-46 mapping without
transitional processing, the IPv4 number forms), refused when it does not normalize, checked
against the private, loopback, link-local and metadata ranges (also where an IPv6 address embeds
an IPv4 one: IPv4-mapped and -compatible, 6to4, NAT64, Teredo), and the URL forwarded carries the
normalized host, so whatever parses it next sees exactly what was checked.

A name is then resolved (``Resolver``, injectable: tests feed it answers) and refused if any
address is not public, or if it does not resolve in time. What it cannot stop: a name whose
answers change between this check and the connection (DNS rebinding), which only the party that
connects can pin.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
import time
import urllib.parse
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import idna

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

Resolver = Callable[[str, float], Sequence[str]]
"""``(host, timeout_seconds) -> addresses``: the addresses an ASCII host name resolves to. Raises
``TimeoutError`` when it does not answer in time and ``OSError`` when the name does not resolve."""

RESOLVE_SECONDS = 5.0
"""All the lookups of one tool call share this much time."""
MAX_HOSTS_PER_CALL = 16
"""Distinct host names one tool call may forward to (each is looked up)."""

_FORBIDDEN_IN_URL = re.compile(r"[\x00-\x20\x7f\\]")
_METADATA_HOSTS = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"}
)
_METADATA_IPS = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
_HEX = re.compile(r"^0[xX][0-9A-Fa-f]*\Z")
_DIGITS = re.compile(r"^[0-9]+\Z")
_OCTAL = re.compile(r"^[0-7]+\Z")


@dataclass(frozen=True)
class Target:
    """A URL's normalized form: ``url`` is what is forwarded, ``host`` is ASCII (no brackets)."""

    url: str
    host: str
    ip: IPAddress | None


def _ipv4_number(part: str) -> int | None:
    """One part of a WHATWG IPv4 host: decimal, ``0x`` hex or leading-zero octal."""
    if _HEX.match(part):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part[1:], 8) if _OCTAL.match(part[1:]) else None
    return int(part) if _DIGITS.match(part) else None


def _ends_in_a_number(host: str) -> bool:
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    last = parts[-1]
    return bool(_DIGITS.match(last) or _HEX.match(last))


def _whatwg_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a host that ends in a number stands for (``127.1``, ``0x7f000001``,
    ``0177.0.0.1``), or None when it is not a valid one (then the whole URL is invalid)."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if len(parts) > 4 or "" in parts:
        return None
    numbers = [_ipv4_number(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return None
    address = values[-1]
    for i, n in enumerate(values[:-1]):
        address += n * 256 ** (3 - i)
    return ipaddress.IPv4Address(address)


def _normal_host(text: str) -> tuple[str, IPAddress | None] | str:
    """``(ascii_host, ip)`` for a URL's host as written, or why it does not normalize."""
    if text.startswith("["):
        if not text.endswith("]") or "%" in text:
            return "has an invalid IPv6 address (zone ids are not allowed)"
        try:
            ip6 = ipaddress.IPv6Address(text[1:-1])
        except ValueError:
            return "has an invalid IPv6 address"
        return ip6.compressed, ip6
    if not text:
        return "has no host"
    if "%" in text:
        return "has a percent-encoded host; write the host name plainly"
    try:
        host = idna.encode(text, uts46=True, std3_rules=False, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return "has a host that is not a valid domain name (IDNA)"
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    if not host:
        return "has no host"
    if _ends_in_a_number(host):
        ip4 = _whatwg_ipv4(host)
        if ip4 is None:
            return "has a host that is neither a valid IPv4 address nor a domain name"
        return str(ip4), ip4
    return host, None


def parse(url: str) -> Target | str:
    """The normalized target of ``url``, or why it is not a forwardable URL (scheme and policy
    are checked by the caller)."""
    if _FORBIDDEN_IN_URL.search(url):
        return "must not contain spaces, control characters or backslashes"
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "is not a valid URL"
    netloc = parts.netloc
    if "@" in netloc:
        return "must not contain userinfo (user:password@); pass credentials as headers"
    port = ""
    if netloc.startswith("["):
        end = netloc.find("]")
        host_text, rest = (netloc, "") if end < 0 else (netloc[: end + 1], netloc[end + 1 :])
        if rest and not rest.startswith(":"):
            return "is not a valid URL"
        port = rest[1:]
    else:
        host_text, _, port = netloc.rpartition(":") if ":" in netloc else (netloc, "", "")
    if port and (not _DIGITS.match(port) or int(port) > 65535):
        return "has an invalid port"
    normal = _normal_host(host_text)
    if isinstance(normal, str):
        return normal
    host, ip = normal
    shown = f"[{host}]" if isinstance(ip, ipaddress.IPv6Address) else host
    netloc = f"{shown}:{int(port)}" if port else shown
    rebuilt = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return Target(url=rebuilt, host=host, ip=ip)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, translated, compatible, 6to4, NAT64)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    low = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _IPV4_TRANSLATED or any(ip in net for net in _NAT64):
        return low
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:
        return low
    return None


def address_kind(ip: IPAddress) -> str | None:
    """Why an address is not public ("loopback", "private", ...), or None for a public one."""
    if ip in _METADATA_IPS:
        return "metadata"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.teredo is not None:
            return "Teredo tunnel"
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return address_kind(inner)
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_private or ip.is_reserved or ip.is_multicast or ip.is_unspecified or not ip.is_global:
        return "private"
    return None


def host_kind(target: Target) -> str | None:
    """Why a normalized host is not public, from its form alone (no lookup), or None."""
    if target.ip is not None:
        return address_kind(target.ip)
    if target.host == "localhost" or target.host.endswith(".localhost"):
        return "loopback"
    if target.host in _METADATA_HOSTS:
        return "metadata"
    return None


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="taskgroup-dns")


def system_resolver(host: str, timeout: float) -> list[str]:
    """The system's resolver (``getaddrinfo``) on a small pool of threads, waited for at most
    ``timeout`` seconds (a lookup that hangs keeps its thread, never the caller)."""
    pool = _pool()
    future = pool.submit(socket.getaddrinfo, host, 443, 0, socket.SOCK_STREAM)
    infos = future.result(timeout=timeout)  # TimeoutError when late
    return [str(info[4][0]) for info in infos]


@dataclass
class Lookups:
    """The lookups of one tool call: each name once, at most :data:`MAX_HOSTS_PER_CALL` names,
    all within :data:`RESOLVE_SECONDS`. ``check`` answers why a name may not be forwarded to."""

    resolver: Resolver = system_resolver
    budget_seconds: float = RESOLVE_SECONDS
    max_hosts: int = MAX_HOSTS_PER_CALL
    _answers: dict[str, str | None] = field(default_factory=lambda: {})
    _deadline: float | None = None

    def check(self, host: str) -> str | None:
        if host in self._answers:
            return self._answers[host]
        if len(self._answers) >= self.max_hosts:
            return (
                f"is one host too many: one call may forward to at most {self.max_hosts} distinct host "
                "names; use fewer servers, or ones the operator configured"
            )
        self._answers[host] = answer = self._lookup(host)
        return answer

    def _lookup(self, host: str) -> str | None:
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + self.budget_seconds
        remaining = self._deadline - now
        if remaining <= 0:
            return self._late()
        try:
            addresses = list(self.resolver(host, remaining))
        except TimeoutError:
            return self._late()
        except (OSError, UnicodeError, ValueError):
            return "names a host that does not resolve from this server; check the host name"
        if not addresses:
            return "names a host that does not resolve from this server; check the host name"
        for text in addresses:
            try:
                kind = address_kind(ipaddress.ip_address(text.split("%", 1)[0]))
            except ValueError:
                kind = "unrecognised"
            if kind is not None:
                return (
                    f"names a host that resolves to a {kind} address, which this server does not forward to"
                )
        return None

    def _late(self) -> str:
        return f"names a host that did not resolve within {self.budget_seconds:g} s; call again in a moment"
