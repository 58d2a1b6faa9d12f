"""Transport checks: plain HTTP sends visitors to HTTPS, and HTTPS pages load nothing over plain HTTP."""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit

from checks.http.base import HttpCheck, no_response, page_evidence
from checks.http.csp import parse_csp
from checks.http.facts import ErrorKind, HttpFacts
from checks.http.html import page_info
from scanner.evidence import clip, shorten
from scanner.messages import Message, say
from scanner.model import Cap, Severity, Status
from scanner.plugin import Verdict
from scanner.urls import UnusableUrl, follow, normalize_host
from scanner.wording import listed

#: Failures to connect that mean "plain HTTP is not served here" (closed or filtered port).
_REFUSING = (ErrorKind.REFUSED, ErrorKind.CONNECT_TIMEOUT)


class HttpsRedirect(HttpCheck):
    id: ClassVar[str] = "http.https_redirect"
    title: ClassVar[str] = "Redirect from plain HTTP to HTTPS"
    finding: ClassVar[str] = "Plain HTTP does not redirect visitors to HTTPS on the same host"
    severity: ClassVar[Severity] = Severity.HIGH
    caps: ClassVar[tuple[Cap, ...]] = (Cap("B", note="plain HTTP served without redirect"),)
    needs_page: ClassVar[bool] = False
    why: ClassVar[str] = (
        "Citizens type the bare address or follow old http:// links. If plain HTTP serves the site, the first "
        "request (and any cookie or form on it) travels in clear text and can be altered; a redirect to HTTPS on "
        "the same host is also what lets the browser learn HSTS for that host."
    )
    remediation: ClassVar[str] = (
        "Answer every plain-HTTP request with a permanent redirect to the same host and path over HTTPS (or "
        "close port 80).\n"
        "nginx: `server { listen 80; server_name {host}; return 301 https://$host$request_uri; }`\n"
        "Apache: in the `<VirtualHost *:80>`: `Redirect permanent / https://{host}/` (or `RewriteEngine On`, "
        "`RewriteRule ^ https://%{HTTP_HOST}%{REQUEST_URI} [R=301,L]`)\n"
        "IIS: install URL Rewrite and add a rule matching `(.*)` with the condition `{HTTPS}` = `off` and the "
        "action Redirect to `https://{HTTP_HOST}/{R:1}` (Permanent); or clear the http binding.\n"
        "Redirect to the same host first: a first hop to another host means browsers never see this host's HSTS."
    )

    def evaluate(self, facts: HttpFacts) -> Verdict:
        plain = facts.plain
        if plain is None:
            return Verdict(
                Status.ERROR,
                say("http.https_redirect.no_plain_url", "The plain-HTTP address of this URL could not be derived."),
                {"url": facts.url},
            )
        evidence: dict[str, object] = {"url": facts.url, "plain_request": f"GET {plain.url}"}
        first = plain.first
        if first is None:
            error = plain.error
            if error is not None and error.kind in _REFUSING and facts.page.final is not None:
                return Verdict(
                    Status.PASS,
                    say("http.https_redirect.not_served", "Plain HTTP is not served: {reason}", reason=error.reason),
                    {**evidence, "plain_error": shorten(error.message)},
                )
            reason = error.reason if error is not None else no_response()
            return Verdict(
                Status.ERROR,
                say(
                    "http.https_redirect.untested",
                    "Could not test plain HTTP at {url}: {reason}",
                    url=plain.url,
                    reason=reason,
                ),
                {**evidence, "plain_error": shorten(str(reason))},
            )
        evidence["status"] = first.status
        if first.lines("Location"):
            evidence["header"] = first.lines("Location")[0]
        host = normalize_host(urlsplit(first.url).hostname or "")
        if first.is_redirect:
            try:
                target = follow(first.url, first.location or "")
            except UnusableUrl:
                return Verdict(Status.FAIL, _no_location(plain.url, first.status), evidence)
            shown = shorten(target.url, 200)
            evidence["target"] = shorten(target.url)
            if target.scheme == "https" and target.host == host:
                return Verdict(
                    Status.PASS,
                    say(
                        "http.https_redirect.redirects",
                        "{url} redirects to {target} ({status}).",
                        url=plain.url,
                        target=shown,
                        status=first.status,
                    ),
                    evidence,
                )
            if target.scheme == "https":
                return Verdict(
                    Status.FAIL,
                    say(
                        "http.https_redirect.other_host",
                        "{url} redirects first to another host ({target}): browsers never get {host}'s HSTS policy "
                        "from it; redirect to https://{host}/ first.",
                        url=plain.url,
                        target=shown,
                        host=host,
                    ),
                    evidence,
                    Severity.MEDIUM,
                )
            return Verdict(
                Status.FAIL,
                say(
                    "http.https_redirect.not_https",
                    "{url} redirects to {target}, which is not HTTPS.",
                    url=plain.url,
                    target=shown,
                ),
                evidence,
            )
        if 300 <= first.status < 400:
            return Verdict(Status.FAIL, _no_location(plain.url, first.status), evidence)
        if first.status < 300:
            return Verdict(
                Status.FAIL,
                say(
                    "http.https_redirect.served",
                    "{url} serves content over plain HTTP ({status}) instead of redirecting to HTTPS.",
                    url=plain.url,
                    status=first.status,
                ),
                evidence,
            )
        return Verdict(
            Status.WARN,
            say(
                "http.https_redirect.error_status",
                "{url} answers plain HTTP with {status} instead of redirecting to HTTPS: nothing is served in clear, "
                "but visitors who type the address get an error.",
                url=plain.url,
                status=first.status,
            ),
            evidence,
            Severity.LOW,
        )

    def judge(self, facts: HttpFacts) -> Verdict:  # evaluate() does all the work
        return self.evaluate(facts)


def _no_location(url: str, status: int) -> Message:
    return say(
        "http.https_redirect.no_location", "{url} answers {status} without a usable Location.", url=url, status=status
    )


class MixedContent(HttpCheck):
    id: ClassVar[str] = "http.mixed_content"
    title: ClassVar[str] = "Mixed content"
    finding: ClassVar[str] = "The HTTPS page loads resources over plain HTTP"
    severity: ClassVar[Severity] = Severity.HIGH
    why: ClassVar[str] = (
        "A script or stylesheet fetched over plain HTTP by an HTTPS page can be replaced on the network, which "
        "gives an attacker control of the page, its forms and its session; browsers block such loads, so the "
        "page also breaks."
    )
    remediation: ClassVar[str] = (
        "Load every resource over https:// (or with a relative or protocol-relative URL) and fix the templates "
        "that hard-code http://. As a safety net, ask browsers to upgrade what remains:\n"
        'nginx: `add_header Content-Security-Policy "upgrade-insecure-requests" always;` (or add the directive '
        "to the existing policy)\n"
        'Apache: `Header always set Content-Security-Policy "upgrade-insecure-requests"`\n'
        'IIS: `<customHeaders><add name="Content-Security-Policy" value="upgrade-insecure-requests" />'
        "</customHeaders>` in web.config."
    )

    def judge(self, facts: HttpFacts) -> Verdict:
        final = facts.final
        assert final is not None
        evidence = page_evidence(facts)
        if not final.https:
            return Verdict(
                Status.SKIP,
                say(
                    "http.mixed_content.plain_page",
                    "Not tested: the page is served over plain HTTP ({url}); see http.https_redirect.",
                    url=final.url,
                ),
                evidence,
            )
        if not final.is_html:
            content_type = final.content_type or say("http.mixed_content.no_type", "no type")
            return Verdict(
                Status.SKIP,
                say(
                    "http.mixed_content.not_html",
                    "Not tested: the page is not HTML ({content_type}).",
                    content_type=content_type,
                ),
                evidence,
            )
        info = page_info(final)
        insecure = [r for r in info.resources if urlsplit(r.url).scheme == "http"]
        active = [r for r in insecure if r.active]
        passive = [r for r in insecure if not r.active]
        evidence["resources_checked"] = len(info.resources)
        if not final.body_complete:
            evidence["body_truncated_at"] = len(final.body)
        if not insecure:
            return Verdict(
                Status.PASS,
                say(
                    "http.mixed_content.none",
                    "None of the {resources} on the page uses http://.",
                    resources=_resources(len(info.resources)),
                ),
                evidence,
            )
        evidence["active"] = clip(f"<{r.tag} {r.attribute}={shorten(r.url, 200)}>" for r in active)
        evidence["passive"] = clip(f"<{r.tag} {r.attribute}={shorten(r.url, 200)}>" for r in passive)
        upgraded = any(
            policy.has("upgrade-insecure-requests")
            for value in (*final.values("Content-Security-Policy"), *info.csp_meta)
            for policy in parse_csp(value)
        )
        if upgraded:
            evidence["upgrade_insecure_requests"] = True
            return Verdict(
                Status.PASS,
                say(
                    "http.mixed_content.upgraded",
                    "The page references {resources} over http:// ({urls}), but its CSP upgrade-insecure-requests "
                    "makes browsers fetch them over HTTPS; fix the links anyway.",
                    resources=_resources(len(insecure)),
                    urls=listed([shorten(r.url, 80) for r in insecure]),
                ),
                evidence,
            )
        if active:
            return Verdict(
                Status.FAIL,
                say(
                    "http.mixed_content.active",
                    "The HTTPS page loads {resources} over plain HTTP: {items}.",
                    resources=_script_like(len(active)),
                    items=listed([f"<{r.tag}> {shorten(r.url, 80)}" for r in active]),
                ),
                evidence,
            )
        return Verdict(
            Status.WARN,
            say(
                "http.mixed_content.passive",
                "The HTTPS page loads {files} over plain HTTP: {urls}.",
                files=_media_files(len(passive)),
                urls=listed([shorten(r.url, 80) for r in passive]),
            ),
            evidence,
            Severity.LOW,
        )


def _resources(count: int) -> Message:
    if count == 1:
        return say("http.count.resource", "{count} resource", count=count)
    return say("http.count.resources", "{count} resources", count=count)


def _script_like(count: int) -> Message:
    if count == 1:
        return say("http.count.script_like", "{count} script-like resource", count=count)
    return say("http.count.script_likes", "{count} script-like resources", count=count)


def _media_files(count: int) -> Message:
    if count == 1:
        return say("http.count.media_file", "{count} image or media file", count=count)
    return say("http.count.media_files", "{count} image or media files", count=count)
