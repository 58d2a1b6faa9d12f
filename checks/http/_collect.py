"""Collect the HTTP facts about one registered URL: a small, bounded set of requests.

Runs in a worker process (``ScanContext.collect``): the arguments and the returned ``HttpFacts``
pickle. All network I/O of the http family happens here, through ``client.HttpClient``; the checks
only judge the facts.

The requests, in order (about 22 per URL; one connection pool per host, keep-alive):

1. the URL, following redirects while they stay on the platform's hosts;
2. the same host and path over plain HTTP, first hop only (the registered http:// URL of that host
   gives the port, else 80; for an http:// URL this is the first hop of 1 and costs nothing);
3. a random nonexistent path (error page, and the soft-404 baseline for 7 and 8);
4. TRACE / with a marker header;
5. OPTIONS (preflight) and 6. GET of the page with a foreign ``Origin``;
7. /.well-known/security.txt;
8. the sensitive paths, then up to ``MAX_DIRECTORIES`` directory-like paths for autoindex pages.

Probes 3-8 go to the origin where the page ended up; when the URL got no response at all they are not
sent (every check then reports that error). An origin that cannot be reached is tried once; the
client fails the rest at once.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from checks.http.client import HEAD_CAP, PAGE_CAP, PROBE_CAP, HttpClient, origin_of
from checks.http.detect import SENSITIVE_FILES
from checks.http.facts import Fetch, HttpFacts
from checks.http.html import directories, page_info
from scanner.model import Endpoint, Platform
from scanner.plugin import ScanContext, ScanSettings
from scanner.urls import normalize_host

SENSITIVE_PATHS: tuple[str, ...] = tuple(file.path for file in SENSITIVE_FILES)
#: Directories often left browsable; tried after the page's own resource directories.
DIRECTORY_CANDIDATES: tuple[str, ...] = ("/uploads/", "/files/", "/static/", "/images/", "/assets/", "/backup/")
MAX_DIRECTORIES = 5
#: A reserved name (RFC 2606): no real site, so a server that echoes it echoes anything.
FOREIGN_ORIGIN = "https://platscan-cors-probe.example"
ERROR_PAGE_CAP = 64 * 1024
#: Time kept back from the endpoint's budget so the collector can return what it has before it is killed.
BUDGET_MARGIN = 0.1


@dataclass(frozen=True)
class HttpTarget:
    """One registered URL and the platform it belongs to (its hosts are the scope, ``resolve`` the addresses)."""

    url: str
    platform: Platform

    @classmethod
    def for_endpoint(cls, endpoint: Endpoint, platform: Platform) -> HttpTarget:
        return cls(url=endpoint.target, platform=platform)

    @property
    def key(self) -> tuple[str, str, str]:
        """The fact-cache key. Only ``http_facts`` uses it: other families go through that function."""
        return ("http", self.platform.id, self.url)


def collection_budget(deadline: float) -> float:
    """Seconds the collector may take before ``deadline``, keeping a margin to return what it has."""
    remaining = max(0.0, deadline - time.monotonic())
    return max(0.0, remaining - max(1.0, BUDGET_MARGIN * remaining))


def http_facts(ctx: ScanContext, platform: Platform, url: str) -> HttpFacts:
    """The http facts about ``url`` of ``platform``: collected once per scan, whichever family asks first.

    Private to the endpoint: the key names this platform and URL, so only this endpoint asks for it (the
    other families' checks of the same endpoint included), and a page of up to 256 KiB is not kept all scan.
    Raises ``CollectionError`` when the collection failed or ran out of time.
    """
    target = HttpTarget(url=url, platform=platform)
    budget = collection_budget(ctx.deadline)
    facts: HttpFacts = ctx.collect(target.key, collect_http, target, ctx.settings, budget, private=True)
    return facts


def plain_twin(platform: Platform, url: str) -> str:
    """The same host and path over plain HTTP: the port of a registered http:// URL of that host, else 80."""
    parts = urlsplit(url)
    host = normalize_host(parts.hostname or "")
    port = 80
    for other in platform.urls:
        candidate = urlsplit(other)
        if candidate.scheme == "http" and normalize_host(candidate.hostname or "") == host:
            port = candidate.port or 80
            break
    netloc = f"[{host}]" if ":" in host else host
    if port != 80:
        netloc += f":{port}"
    return urlunsplit(("http", netloc, parts.path or "/", parts.query, ""))


def same_resource(a: str, b: str) -> bool:
    """Same origin, path (empty = "/") and query."""
    pa, pb = urlsplit(a), urlsplit(b)
    return origin_of(a) == origin_of(b) and (pa.path or "/") == (pb.path or "/") and pa.query == pb.query


def registered_destination(platform: Platform, url: str, page: Fetch) -> str | None:
    """For an http:// URL whose redirects reach another registered https:// URL of the platform: that URL.

    That URL's own endpoint judges the page (and everything after it in the chain), so judging it here
    again would only count the same findings twice.
    """
    if urlsplit(url).scheme != "http":
        return None
    for response in page.responses[1:]:
        if not response.https:
            continue
        for other in platform.urls:
            if other != url and urlsplit(other).scheme == "https" and same_resource(other, response.url):
                return other
    return None


def collect_http(target: HttpTarget, settings: ScanSettings, budget: float) -> HttpFacts:
    """Send the requests listed in the module docstring within ``budget`` seconds; failures are facts."""
    started = time.monotonic()
    now = dt.datetime.now(dt.UTC)
    platform, url = target.platform, target.url
    with HttpClient(platform, settings, deadline=started + max(1.0, budget)) as client:
        page = client.get(url, cap=PAGE_CAP)
        if urlsplit(url).scheme == "http":
            plain = Fetch(page.method, page.url, page.responses[:1], error=None if page.responses else page.error)
        else:
            plain = client.get(plain_twin(platform, url), cap=HEAD_CAP, follow=False)

        def common() -> dict[str, Any]:
            return {
                "url": url,
                "platform": platform.id,
                "page": page,
                "plain": plain,
                "collected_at": now,
                "duration": time.monotonic() - started,
                "requests": client.sent,
                "tls_problems": tuple(sorted(client.tls_problems.items())),
            }

        destination = registered_destination(platform, url, page)
        if destination is not None:
            return HttpFacts(**common(), delegated_to=destination)

        final = page.final
        if final is None:
            # Nothing answered: every check reports the page's error, so the probes would only cost time.
            return HttpFacts(**common(), origin=origin_of(url))
        page_url = final.url
        origin = origin_of(page_url)
        not_found = client.get(f"{origin}/platscan-{secrets.token_hex(6)}-not-found", cap=ERROR_PAGE_CAP, follow=False)
        marker = secrets.token_hex(8)
        trace = client.fetch("TRACE", f"{origin}/", headers={"X-Platscan-Trace": marker}, cap=PROBE_CAP, follow=False)
        cors_preflight = client.fetch(
            "OPTIONS",
            page_url,
            headers={
                "Origin": FOREIGN_ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
            cap=HEAD_CAP,
            follow=False,
        )
        cors_get = client.get(page_url, headers={"Origin": FOREIGN_ORIGIN}, cap=HEAD_CAP, follow=False)
        security_txt = client.get(f"{origin}/.well-known/security.txt", cap=PROBE_CAP)
        sensitive = tuple(client.get(origin + path, cap=PROBE_CAP, follow=False) for path in SENSITIVE_PATHS)
        candidates = directories(page_info(final), origin, 3)
        for path in DIRECTORY_CANDIDATES:
            if len(candidates) >= MAX_DIRECTORIES:
                break
            if path not in candidates:
                candidates.append(path)
        listed = tuple(client.get(origin + path, cap=PROBE_CAP, follow=False) for path in candidates)
        return HttpFacts(
            **common(),
            origin=origin,
            not_found=not_found,
            trace=trace,
            cors_preflight=cors_preflight,
            cors_get=cors_get,
            security_txt=security_txt,
            sensitive=sensitive,
            directories=listed,
            foreign_origin=FOREIGN_ORIGIN,
            trace_marker=marker,
        )
