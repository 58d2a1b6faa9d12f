"""The base of every http check: fetch the shared facts, apply the connectivity policy, then judge.

Connectivity policy (one table for all http checks; ``http.https_redirect`` judges the plain-HTTP
request and refines it). ``skip`` means "does not apply" and nothing else (a URL judged on another
registered URL; HSTS or mixed content on a plain-HTTP page; a page that is not HTML): whatever could
not be tested is ``error``, with the reason, so that coverage never counts it as tested.

=====================================================  ===========================================
what happened to the registered URL                    verdict
=====================================================  ===========================================
a response arrived (any status), redirects followed    judge
nothing answered (DNS, refused, timeout, no TLS,       error: never pass what could not be tested
  a trickling server cut off at the deadline)
the collection itself failed or ran out of time        error
it redirects to a host that is not registered          page checks (CSP, frame-ancestors, nosniff,
  (recorded, not followed)                             Referrer-Policy, Permissions-Policy, mixed
                                                       content): error (could not test), naming the
                                                       target; the others judge what was seen on the
                                                       platform's hosts
it redirects on its hosts but the chain broke          page checks: error; the others judge
an http:// URL that redirects to another registered    skip: judged on that URL (no double findings)
  https:// URL
the certificate did not verify                         judged anyway (the tls family judges
                                                       certificates); evidence says so, and
                                                       http.hsts warns (browsers ignore HSTS then)
=====================================================  ===========================================
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from typing import Any, ClassVar

from checks.http._collect import http_facts
from checks.http.facts import Fetch, HttpFacts, HttpResponse
from scanner.evidence import clip, shorten
from scanner.facts import CollectionError
from scanner.messages import Message, Text, say
from scanner.model import Endpoint, Result, Severity, Status
from scanner.plugin import Check, ScanContext, Verdict

MAX_EVIDENCE_ITEMS = 20
MAX_DETAIL_ITEMS = 5


class HttpCheck(Check):
    """A check of the http family. Subclasses set the metadata and implement a pure ``judge``."""

    family: ClassVar[str] = "http"
    #: Judges the page itself: error when the URL redirects off the platform or the chain broke (no page).
    needs_page: ClassVar[bool] = True

    def applies_to(self, endpoint: Endpoint) -> bool:
        return endpoint.kind == "url" and endpoint.scheme in ("http", "https")

    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        try:
            facts = http_facts(ctx, ctx.platform, endpoint.target)
        except CollectionError as exc:
            verdict = Verdict(
                Status.ERROR,
                say(
                    "http.collection_failed",
                    "The HTTP requests to {url} did not complete: {reason}",
                    url=endpoint.target,
                    reason=exc.reason,
                ),
                {"url": endpoint.target, "error": shorten(str(exc.reason))},
            )
        else:
            verdict = self.evaluate(facts)
        return [self.from_verdict(endpoint, verdict)]

    def evaluate(self, facts: HttpFacts) -> Verdict:
        """The verdict for ``facts``: the policy in the module docstring, then ``judge``. Pure."""
        if facts.delegated_to:
            return Verdict(
                Status.SKIP,
                say(
                    "http.judged_elsewhere",
                    "Judged on {url}: this URL redirects there, and that URL is registered too.",
                    url=facts.delegated_to,
                ),
                {"url": facts.url, "redirects": facts.page.redirects, "judged_on": facts.delegated_to},
            )
        page = facts.page
        if page.final is None:
            return unreachable(facts)
        if self.needs_page:
            if page.blocked_redirect:
                # The check applies to the registered URL, but its page is off the platform: could not test.
                return Verdict(
                    Status.ERROR,
                    say(
                        "http.page.off_platform",
                        "Could not test: {url} redirects to {target}, which is not one of the platform's registered "
                        "hosts, so it was not followed and there is no page to judge (register that host to have it "
                        "checked).",
                        url=facts.url,
                        target=shorten(page.blocked_redirect, 200),
                    ),
                    page_evidence(facts),
                )
            if page.error is not None:
                return Verdict(
                    Status.ERROR,
                    say(
                        "http.page.broken_redirects",
                        "The redirects of {url} did not lead to a page: {reason}",
                        url=facts.url,
                        reason=page.error.reason,
                    ),
                    page_evidence(facts),
                )
        return self.judge(facts)

    @abc.abstractmethod
    def judge(self, facts: HttpFacts) -> Verdict:
        """The verdict once the URL answered. Pure: no I/O, no clock (use ``facts.collected_at``)."""


def unreachable(facts: HttpFacts) -> Verdict:
    error = facts.page.error
    reason = error.reason if error is not None else no_response()
    return Verdict(
        Status.ERROR,
        say("http.page.unreachable", "Could not fetch {url}: {reason}", url=facts.url, reason=reason),
        page_evidence(facts),
    )


def no_response() -> Message:
    """Why a request that ended without an error has no response (it always has one or the other)."""
    return say("http.no_response", "no response")


def page_evidence(facts: HttpFacts, response: HttpResponse | None = None) -> dict[str, Any]:
    """Where the judged response came from: URL, status, redirects, address, TLS verification."""
    page = facts.page
    final = response or page.final
    evidence: dict[str, Any] = {"url": facts.url}
    if final is not None:
        if final.url != facts.url:
            evidence["final_url"] = final.url
        evidence["status"] = final.status
        if final.address:
            evidence["address"] = final.address
        if final.tls_verified is False:
            evidence["tls_verified"] = False
    if len(page.responses) > 1 or page.blocked_redirect:
        evidence["redirects"] = clip(page.redirects)
    if page.blocked_redirect:
        evidence["not_followed"] = shorten(page.blocked_redirect)
    if page.error is not None:
        evidence["error"] = shorten(page.error.message)
    if facts.tls_problems:
        evidence["tls_problems"] = {host: shorten(str(reason)) for host, reason in facts.tls_problems}
    return evidence


def probe_failed(fetch: Fetch | None) -> Text | None:
    """Why a probe has no response (also when it was never sent), or None when it has one."""
    if fetch is None:
        return say("http.probe.not_sent", "not sent")
    if fetch.final is None:
        return fetch.error.reason if fetch.error is not None else no_response()
    return None


def header_line(response: HttpResponse, name: str) -> str | list[str] | None:
    """The line(s) of header ``name`` as received (truncated), for evidence; None when absent."""
    lines = response.lines(name)
    if not lines:
        return None
    return lines[0] if len(lines) == 1 else clip(lines)


def worst_severity(severities: Iterable[Severity], default: Severity) -> Severity:
    ranked = sorted(severities, key=lambda s: s.rank, reverse=True)
    return ranked[0] if ranked else default
