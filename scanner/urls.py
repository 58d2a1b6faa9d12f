"""URLs that came from a server: one parser decides both their scope and where they are dialled.

Parsers disagree on where a URL's host is. For ``http://127.0.0.2:8080\\@portal.example/``
``urllib.parse`` answers portal.example while urllib3, which requests dials with, answers
127.0.0.2 (it ends the authority at the backslash); ``http://%65vil/`` is "evil" to urllib3 only.
A scope check made with one parser and a connection made with another lets a hostile server steer
the scanner to any host, with the test account's password in a form POST.

So every URL a family follows from a server (a redirect, a form action, a link, a policy host) goes
through ``parse``, or ``follow`` for a reference relative to the page it came from:

1. a reference is resolved against its base as browsers do (WHATWG URL): ASCII tab and newline
   removed, leading and trailing spaces and controls stripped, ``\\`` read as ``/`` in the
   authority and path of http(s) URLs;
2. the result is parsed by urllib3's ``parse_url``, the parser that dials;
3. it is refused when it carries user info (``user@``: no legitimate redirect needs it, and it is
   the classic way to disguise a host), when its port is 0, or when it does not survive a round trip;
4. it is rebuilt from those parts: the string handed to the HTTP client is exactly the one whose
   host was checked, and re-parsing it (requests does, urllib3 does again) gives the same host.

The HTTP client also refuses, at the socket, any connection to a host outside the platform
(``checks.http.client``): a parser difference missed here still dials nothing off scope.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin

import idna
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from scanner.evidence import shorten

if TYPE_CHECKING:
    from scanner.model import Platform

__all__ = [
    "DEFAULT_PORTS",
    "Target",
    "UnusableUrl",
    "follow",
    "in_scope",
    "normalize_host",
    "parse",
    "resolve_reference",
    "scheme_of",
]

DEFAULT_PORTS = {"http": 80, "https": 443}
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


class UnusableUrl(ValueError):
    """A URL platscan will not request; ``str(exc)`` says why, as a sentence fragment."""


@dataclass(frozen=True)
class Target:
    """A URL as it will be dialled.

    Attributes:
        url: the canonical URL, rebuilt from the parts below (no user info, no fragment).
        scheme: "http" or "https" (other schemes are kept for judging, never dialled).
        host: the host in platscan's one spelling (``normalize_host``).
        port: the port dialled (the scheme's default when the URL names none).
        path: the path ("/" at least), without the query.
    """

    url: str
    scheme: str
    host: str
    port: int
    path: str = "/"

    @property
    def web(self) -> bool:
        return self.scheme in DEFAULT_PORTS

    def same_origin(self, other: Target) -> bool:
        return (self.scheme, self.host, self.port) == (other.scheme, other.host, other.port)


def normalize_host(host: str) -> str:
    """The one spelling of a host name platscan uses everywhere: lower case, no trailing dot, no
    IPv6 brackets, internationalised names as their ASCII (punycode) form."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name.isascii():
        return name
    try:
        # IDNA 2008 exactly as urllib3 encodes the names it dials (Python's own "idna" codec is IDNA
        # 2003, which turns faß.example into fass.example: another domain).
        return idna.encode(name, strict=True, std3_rules=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return name  # the registry rejects it with a message


def in_scope(platform: Platform, host: str) -> bool:
    """Whether platscan may contact ``host`` on behalf of ``platform``: only its registered hosts."""
    return normalize_host(host) in platform.all_hosts


def resolve_reference(base: str, reference: str) -> str:
    """``reference`` (a Location, an action or an href) resolved against ``base``, as a browser would."""
    ref = _TAB_OR_NEWLINE.sub("", reference).strip(_C0_OR_SPACE)
    base_scheme, ref_scheme = scheme_of(base), scheme_of(ref)
    scheme = ref_scheme or base_scheme
    if scheme not in DEFAULT_PORTS:
        return _join(base, ref)
    head, sep, tail = _split_query(ref)
    ref = head.replace("\\", "/") + sep + tail
    # WHATWG's special-scheme rules, which urljoin does not know: another scheme's URL is absolute
    # whatever slashes follow its colon ("http:evil/" from an https page is http://evil/), and any run
    # of two or more slashes before the host is one authority marker ("///evil/" is //evil/).
    rest = ref[len(ref_scheme) + 1 :] if ref_scheme else ref
    if ref_scheme and ref_scheme != base_scheme:
        return f"{scheme}://{rest.lstrip('/')}"
    if rest.startswith("//"):
        return f"{scheme}://{rest.lstrip('/')}"
    return _join(base, rest)


def _join(base: str, ref: str) -> str:
    try:
        return urljoin(base, ref)
    except ValueError:
        return ref  # parse() refuses it with the reason


def parse(url: str) -> Target:
    """The ``Target`` that requesting ``url`` dials; raises ``UnusableUrl`` for one not to request."""
    shown = shorten(url, 200)
    try:
        parts = parse_url(url)
    except (LocationParseError, ValueError) as exc:
        raise UnusableUrl(f"{shown!r} is not a usable URL ({_reason(exc)})") from None
    scheme = (parts.scheme or "").lower()
    if not scheme:
        raise UnusableUrl(f"{shown!r} has no scheme")
    if parts.auth is not None:
        raise UnusableUrl(f"{shown!r} carries user info before its host")
    host = normalize_host(parts.host or "")
    if not host:
        raise UnusableUrl(f"{shown!r} has no host")
    if parts.port == 0:
        raise UnusableUrl(f"{shown!r} names port 0")
    port = parts.port or DEFAULT_PORTS.get(scheme, 0)
    canonical = _build(scheme, host, parts.port, parts.path, parts.query)
    try:
        again = parse_url(canonical)
    except (LocationParseError, ValueError):
        again = None
    if again is None or normalize_host(again.host or "") != host or (again.port or port) != port:
        raise UnusableUrl(f"{shown!r} does not name one host unambiguously")
    return Target(url=canonical, scheme=scheme, host=host, port=port, path=parts.path or "/")


def follow(base: str, reference: str) -> Target:
    """The ``Target`` of ``reference`` found on the page at ``base``; raises ``UnusableUrl``."""
    return parse(resolve_reference(base, reference))


def _build(scheme: str, host: str, port: int | None, path: str | None, query: str | None) -> str:
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    url = f"{scheme}://{netloc}{path or '/'}"
    return f"{url}?{query}" if query is not None else url


def scheme_of(url: str) -> str:
    found = _SCHEME.match(url.strip())
    return found.group(1).lower() if found else ""


def _split_query(ref: str) -> tuple[str, str, str]:
    cut = min((i for i in (ref.find("?"), ref.find("#")) if i >= 0), default=-1)
    return (ref, "", "") if cut < 0 else (ref[:cut], ref[cut], ref[cut + 1 :])


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return shorten(text.removeprefix("Failed to parse: "), 120) if text else type(exc).__name__
