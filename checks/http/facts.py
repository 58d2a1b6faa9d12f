"""What the http family observed, as frozen, picklable values.

An ``HttpResponse`` is one response as received (status, headers in order with their original
spelling, the first bytes of the body); a ``Fetch`` is one logical request with the redirects the
client followed, the off-scope redirect it refused to follow, or the error that stopped it;
``HttpFacts`` is everything ``_collect.collect_http`` gathered for one registered URL. None of them
does I/O, so the checks (and the auth family) judge them as pure functions and the tests build them
by hand.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from urllib.parse import urlsplit

from scanner.evidence import shorten
from scanner.messages import Text

#: Longest header value, body excerpt or error text kept in evidence.
MAX_EVIDENCE_CHARS = 300

Headers = tuple[tuple[str, str], ...]


class ErrorKind(enum.StrEnum):
    """Why a request produced no response."""

    DNS = "dns"  # the host name does not resolve
    REFUSED = "refused"  # connection refused
    CONNECT_TIMEOUT = "connect_timeout"  # no TCP connection within the timeout
    UNREACHABLE = "unreachable"  # another network error while connecting
    TLS = "tls"  # no TLS handshake possible (not TLS, protocol or cipher mismatch)
    READ_TIMEOUT = "read_timeout"  # connected, but no answer within the timeout
    DEADLINE = "deadline"  # the request or the collection ran out of time (e.g. a trickling server)
    PROTOCOL = "protocol"  # the server closed the connection or answered something that is not HTTP
    OFF_SCOPE = "off_scope"  # the URL's host is not one of the platform's hosts: never contacted
    SKIPPED = "skipped"  # not attempted: the origin failed earlier, or the time budget ran out
    INVALID = "invalid"  # the URL or a redirect target could not be used

    @property
    def unreachable(self) -> bool:
        """Nothing usable answered at the connection level (as opposed to a per-request problem)."""
        return self in _UNREACHABLE


_UNREACHABLE = frozenset(
    {ErrorKind.DNS, ErrorKind.REFUSED, ErrorKind.CONNECT_TIMEOUT, ErrorKind.UNREACHABLE, ErrorKind.TLS}
)


@dataclass(frozen=True)
class FetchError:
    """Why a request has no (final) response.

    Attributes:
        kind: the category.
        reason: one sentence for a report ("Connection refused by dvc.example:80."): a message, so that
            a check's sentence can carry it in any language (plain text only in facts built by hand).
        detail: the underlying exception, shortened.
    """

    kind: ErrorKind
    reason: Text
    detail: str = ""

    @property
    def message(self) -> str:
        """The reason in English, for evidence and logs."""
        return str(self.reason)


@dataclass(frozen=True)
class HttpResponse:
    """One HTTP response as received.

    Attributes:
        method: the request method.
        url: the URL requested.
        status: the status code.
        reason: the reason phrase.
        version: "HTTP/1.1" or "HTTP/1.0".
        headers: every header line in the order and spelling received (names and values as text).
        body: the first bytes of the body (decoded from any Content-Encoding), at most the cap.
        body_complete: whether ``body`` is the whole body (False: cut at the cap or by the deadline).
        elapsed: seconds from sending the request to the end of reading the body.
        tls_verified: for https, whether the certificate chain and host name verified; None for http.
        address: the address connected to, when ``resolve`` gave one.
        cut_at: the request's time budget in seconds when the answer was cut at it (the server sent it
            too slowly), else None.
    """

    method: str
    url: str
    status: int
    reason: str = ""
    version: str = "HTTP/1.1"
    headers: Headers = ()
    body: bytes = b""
    body_complete: bool = True
    elapsed: float = 0.0
    tls_verified: bool | None = None
    address: str | None = None
    cut_at: float | None = None

    # header access -------------------------------------------------------------------------------

    def values(self, name: str) -> tuple[str, ...]:
        """Every value of header ``name`` (case-insensitive), in order received."""
        wanted = name.lower()
        return tuple(value for key, value in self.headers if key.lower() == wanted)

    def header(self, name: str) -> str | None:
        """The first value of header ``name``, or None."""
        found = self.values(name)
        return found[0] if found else None

    def combined(self, name: str) -> str | None:
        """All values of ``name`` joined with ", " (how HTTP combines repeated fields), or None."""
        found = self.values(name)
        return ", ".join(found) if found else None

    def lines(self, name: str) -> list[str]:
        """The header lines for ``name`` as received ("Name: value"), for evidence."""
        wanted = name.lower()
        return [shorten(f"{key}: {value}") for key, value in self.headers if key.lower() == wanted]

    @property
    def set_cookies(self) -> tuple[str, ...]:
        return self.values("Set-Cookie")

    @property
    def location(self) -> str | None:
        return self.header("Location")

    @property
    def is_redirect(self) -> bool:
        return self.status in (301, 302, 303, 307, 308) and bool(self.location)

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme

    @property
    def https(self) -> bool:
        return self.scheme == "https"

    @property
    def content_type(self) -> str:
        """The media type, lower-case, without parameters ("" when absent)."""
        value = self.header("Content-Type") or ""
        return value.split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        value = self.header("Content-Type")
        if not value:
            return None
        message = Message()
        message["content-type"] = value
        charset = message.get_param("charset")
        return charset if isinstance(charset, str) else None

    @property
    def is_html(self) -> bool:
        if self.content_type in ("text/html", "application/xhtml+xml"):
            return True
        if self.content_type:
            return False
        return self.body.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html"))

    @property
    def text(self) -> str:
        """The body prefix as text: the declared charset, else a <meta charset>, else UTF-8."""
        for candidate in (self.charset, _meta_charset(self.body)):
            if candidate:
                try:
                    return self.body.decode(candidate, errors="replace")
                except LookupError:
                    continue
        return self.body.decode("utf-8", errors="replace")

    def summary(self) -> dict[str, object]:
        """A small JSON-able description for evidence."""
        out: dict[str, object] = {"url": self.url, "status": self.status}
        if self.is_redirect:
            out["location"] = shorten(self.location or "")
        return out


_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)


def _meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:2048])
    return match.group(1).decode("ascii") if match else None


@dataclass(frozen=True)
class Fetch:
    """One logical request: the responses along its redirect chain, and how it ended.

    Attributes:
        method: the first request's method.
        url: the URL first requested.
        responses: every response received, in order: redirects first, the final one last.
        blocked_redirect: a redirect target that was not followed because its host is not one of the
            platform's registered hosts (the last response is that redirect).
        error: why there is no final response (or why the chain stopped early); None on success.
    """

    method: str
    url: str
    responses: tuple[HttpResponse, ...] = ()
    blocked_redirect: str | None = None
    error: FetchError | None = None

    @property
    def final(self) -> HttpResponse | None:
        """The last response received (a redirect if the chain was stopped), or None."""
        return self.responses[-1] if self.responses else None

    @property
    def first(self) -> HttpResponse | None:
        return self.responses[0] if self.responses else None

    @property
    def ok(self) -> bool:
        """A response arrived and the chain ended normally (not blocked, no error)."""
        return bool(self.responses) and self.error is None and self.blocked_redirect is None

    @property
    def redirects(self) -> list[dict[str, object]]:
        """The redirect hops followed or refused, for evidence."""
        return [r.summary() for r in self.responses if r.is_redirect]

    def evidence(self) -> dict[str, object]:
        out: dict[str, object] = {"request": f"{self.method} {self.url}"}
        if self.final is not None:
            out["status"] = self.final.status
            out["final_url"] = self.final.url
        if len(self.responses) > 1 or self.blocked_redirect:
            out["redirects"] = self.redirects
        if self.blocked_redirect:
            out["not_followed"] = shorten(self.blocked_redirect)
        if self.error is not None:
            out["error"] = shorten(self.error.message)
        return out


@dataclass(frozen=True)
class HttpFacts:
    """Everything the http family collected for one registered URL.

    Attributes:
        url: the registered URL.
        platform: the platform's id.
        page: the URL itself, redirects on the platform's hosts followed (for https://, the final HTTPS
            response; for http://, wherever its redirects end).
        plain: the same host and path over plain HTTP, first hop only (for an http:// URL, the first
            hop of ``page``); None when it could not be derived.
        origin: the origin the probes below were sent to (the final page's origin, or the URL's own).
        not_found: a random path that does not exist (error page and soft-404 baseline).
        trace: TRACE / with a marker header.
        cors_preflight: OPTIONS with a foreign Origin and Access-Control-Request-Method.
        cors_get: GET of the page with the same foreign Origin.
        security_txt: /.well-known/security.txt (in-scope redirects followed).
        sensitive: the sensitive paths, in ``_collect.SENSITIVE_PATHS`` order.
        directories: directory-like paths probed for autoindex pages.
        foreign_origin: the Origin sent by the CORS probes.
        trace_marker: the marker header value sent with TRACE.
        delegated_to: when this http:// URL redirects to another registered URL of the platform, that URL:
            the page and probes are judged there, and were not collected here.
        collected_at: when the collection started (UTC), for expiry judgements.
        duration: seconds the collection took.
        requests: how many HTTP requests were sent.
        tls_problems: ("host:port", why) for hosts whose TLS did not verify; they were read without verification.
    """

    url: str
    platform: str
    page: Fetch
    plain: Fetch | None = None
    origin: str = ""
    not_found: Fetch | None = None
    trace: Fetch | None = None
    cors_preflight: Fetch | None = None
    cors_get: Fetch | None = None
    security_txt: Fetch | None = None
    sensitive: tuple[Fetch, ...] = ()
    directories: tuple[Fetch, ...] = ()
    foreign_origin: str = ""
    trace_marker: str = ""
    delegated_to: str | None = None
    collected_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    duration: float = 0.0
    requests: int = 0
    tls_problems: tuple[tuple[str, Text], ...] = ()

    @property
    def final(self) -> HttpResponse | None:
        """The page's last response (see ``Fetch.final``)."""
        return self.page.final

    def fetches(self) -> Iterator[Fetch]:
        """Every fetch of the collection, page first."""
        yield self.page
        for fetch in (self.plain, self.not_found, self.trace, self.cors_preflight, self.cors_get, self.security_txt):
            if fetch is not None:
                yield fetch
        yield from self.sensitive
        yield from self.directories

    def responses(self) -> Iterator[HttpResponse]:
        """Every response received, each once (the plain hop of an http:// URL is also the page's first)."""
        seen: set[int] = set()
        for fetch in self.fetches():
            for response in fetch.responses:
                if id(response) not in seen:
                    seen.add(id(response))
                    yield response
