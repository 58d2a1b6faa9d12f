"""Credentials in transit: login pages only over HTTPS, forms posting to HTTPS on the platform's hosts,
no HTTP Basic challenges over plain HTTP."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

from checks.auth.base import AuthCheck
from checks.auth.consoles import ADMIN_PATHS, identify, like_baseline
from checks.auth.facts import AuthFacts
from checks.auth.settings import auth_settings
from checks.http.api import ErrorKind, Fetch, Form, HttpFacts, HttpResponse, page_info, same_resource
from scanner.evidence import clip, listing, plural, shorten
from scanner.model import Cap, Endpoint, Platform, Severity, Status
from scanner.plugin import ScanContext, Verdict
from scanner.urls import DEFAULT_PORTS, UnusableUrl, in_scope, parse, resolve_reference, scheme_of


@dataclass(frozen=True)
class FormPage:
    """A form with a password field, and where it was found.

    Attributes:
        url: the URL of the page that carries it (after redirects).
        form: the form (its action resolved against the page).
        source: how platscan reached the page ("registered URL", "login_url", "admin path /wp-login.php", …).
    """

    url: str
    form: Form
    source: str


def _password_forms(response: HttpResponse | None) -> list[Form]:
    if response is None:
        return []
    return [form for form in page_info(response).forms if form.has_password]


def password_pages(platform: Platform, http: HttpFacts, auth: AuthFacts) -> list[FormPage]:
    """Every form with a password field on the pages the http and auth families fetched for this URL:
    the registered URL, the login URL, and admin or protected paths that showed a real page."""
    found: dict[tuple[str, str], FormPage] = {}

    def add(response: HttpResponse | None, source: str) -> None:
        for form in _password_forms(response):
            assert response is not None
            page = response.url.split("?", 1)[0]
            found.setdefault((page, form.action.split("?", 1)[0]), FormPage(response.url, form, source))

    if not http.page.blocked_redirect:
        add(http.final, "registered URL")
    if auth.login_page is not None and not auth.login_page.blocked_redirect:
        add(auth.login_page.final, "login_url")
    baseline = http.not_found.final if http.not_found is not None else None
    for path, fetch in zip(ADMIN_PATHS, auth.admin, strict=False):
        if identify(path, fetch, baseline, http.final).console is not None:
            add(fetch.final, f"admin path {path}")
    for path, fetch in zip(declared_paths(platform), auth.protected, strict=False):
        if not fetch.blocked_redirect and fetch.final is not None and not like_baseline(fetch.final, baseline):
            add(fetch.final, f"protected path {path}")
    return list(found.values())


def declared_paths(platform: Platform) -> tuple[str, ...]:
    settings = auth_settings(platform)
    return settings.protected_paths if settings is not None else ()


def declared_login(platform: Platform, auth: AuthFacts) -> str | None:
    """The declared login URL when this URL judges it (the platform's primary URL), else None."""
    settings = auth_settings(platform)
    return settings.login_url if auth.primary and settings is not None else None


_NOT_SERVED = (ErrorKind.REFUSED, ErrorKind.CONNECT_TIMEOUT, ErrorKind.UNREACHABLE, ErrorKind.DNS)


class LoginHttps(AuthCheck):
    id: ClassVar[str] = "auth.login_https"
    title: ClassVar[str] = "Login pages are served only over HTTPS"
    severity: ClassVar[Severity] = Severity.CRITICAL
    caps: ClassVar[tuple[Cap, ...]] = (Cap("F", note="credentials over plain HTTP"),)
    why: ClassVar[str] = (
        "A login form delivered over plain HTTP can be read and rewritten by anyone on the path (public Wi-Fi, "
        "a compromised router): the attacker changes where the form posts, or adds a script, and collects the "
        "passwords of officials and citizens as they type them."
    )
    remediation: ClassVar[str] = (
        "Serve the login page only over HTTPS and answer its plain-HTTP address with a permanent redirect to the "
        "HTTPS one (never with the form); add HSTS so browsers stop asking over HTTP at all.\n"
        "nginx: in the port-80 server block `return 301 https://$host$request_uri;` (no `location` serving the "
        "application there)\n"
        "Apache: in the `<VirtualHost *:80>` `Redirect permanent / https://dvc.example/` (or `RewriteRule ^ "
        "https://%{HTTP_HOST}%{REQUEST_URI} [R=301,L]`)\n"
        'IIS: URL Rewrite rule `HTTP to HTTPS` with `<conditions><add input="{HTTPS}" pattern="off" />'
        "</conditions>` "
        'and `<action type="Redirect" url="https://{HTTP_HOST}/{R:1}" redirectType="Permanent" />`, and tick '
        "Require SSL on the login application.\n"
        "Application: build absolute login links with https://, and make the framework refuse logins over HTTP "
        "(Django `SECURE_SSL_REDIRECT = True`, Spring `requiresChannel().anyRequest().requiresSecure()`, ASP.NET "
        "`app.UseHttpsRedirection()`)."
    )

    def assess(self, endpoint: Endpoint, ctx: ScanContext, http: HttpFacts) -> Verdict:
        return judge_login_https(ctx.platform, http, self.auth_facts(endpoint, ctx, http))


def _dialled(url: str) -> tuple[str, str, str]:
    """(scheme, host, why it is unusable or "") of ``url``, parsed as a request to it would be dialled."""
    try:
        target = parse(url)
    except UnusableUrl as exc:
        return scheme_of(url), "", str(exc)
    return target.scheme, target.host, ""


def _twin_verdict(twin: Fetch) -> tuple[str, str, Severity | None, dict[str, Any]]:
    """("ok" | "fail" | "warn" | "untested", sentence, severity, evidence) for the login URL's plain-HTTP twin."""
    evidence: dict[str, Any] = {"request": f"GET {twin.url}"}
    first = twin.first
    if first is None:
        error = twin.error
        evidence["error"] = shorten(error.message) if error else "no response"
        if error is not None and error.kind in _NOT_SERVED:
            return "ok", f"plain HTTP is not served there ({error.message.rstrip('.')})", None, evidence
        return "untested", f"{twin.url} did not answer: {error.message if error else 'no response'}", None, evidence
    evidence["status"] = first.status
    if first.is_redirect:
        location = first.location or ""
        evidence["location"] = shorten(location)
        scheme, _, unusable = _dialled(resolve_reference(twin.url, location))
        if scheme == "https" and not unusable:
            return "ok", f"{twin.url} redirects to HTTPS ({first.status})", None, evidence
        return (
            "warn",
            f"{twin.url} redirects to {shorten(location, 120)}, not to an https:// URL",
            Severity.MEDIUM,
            evidence,
        )
    forms = _password_forms(first)
    if 200 <= first.status < 300 and forms:
        evidence["title"] = shorten(page_info(first).title, 120)
        return (
            "fail",
            f"{twin.url} serves the login form over plain HTTP ({first.status}) instead of redirecting to HTTPS",
            Severity.CRITICAL,
            evidence,
        )
    if 200 <= first.status < 300:
        return (
            "warn",
            f"{twin.url} answers {first.status} over plain HTTP instead of redirecting to HTTPS (no password field "
            "in its HTML, but a script may still build the form)",
            Severity.MEDIUM,
            evidence,
        )
    return "ok", f"{twin.url} answers {first.status} over plain HTTP (no form served)", None, evidence


def judge_login_https(platform: Platform, http: HttpFacts, auth: AuthFacts) -> Verdict:
    """Pure: every page with a password field is HTTPS, and the declared login URL's plain twin does not serve it."""
    pages = password_pages(platform, http, auth)
    login_url = declared_login(platform, auth)
    evidence: dict[str, Any] = {"url": http.url}
    problems: list[tuple[Status, Severity, str]] = []
    notes: list[str] = []
    untested: list[str] = []
    if pages:
        evidence["login_forms"] = clip(
            {"page": shorten(p.url, 200), "found_via": p.source, "https": urlsplit(p.url).scheme == "https"}
            for p in pages
        )
    for page in pages:
        if urlsplit(page.url).scheme == "http":
            problems.append(
                (Status.FAIL, Severity.CRITICAL, f"{shorten(page.url, 120)} serves a login form over plain HTTP")
            )
    if login_url:
        evidence["login_url"] = login_url
        fetch = auth.login_page or (http.page if same_resource(login_url, http.url) else None)
        final = fetch.final if fetch is not None else None
        if fetch is None or final is None:
            reason = fetch.error.message if fetch is not None and fetch.error else "not requested"
            untested.append(f"the login page did not answer ({reason})")
        else:
            evidence["login_page"] = fetch.evidence()
            if fetch.blocked_redirect:
                notes.append(
                    f"the login URL redirects off the platform to {shorten(fetch.blocked_redirect, 120)} (not followed)"
                )
            elif urlsplit(final.url).scheme == "http":
                if not _password_forms(final):
                    problems.append(
                        (
                            Status.FAIL,
                            Severity.CRITICAL,
                            f"the login URL {shorten(final.url, 120)} is served over plain HTTP",
                        )
                    )
            elif urlsplit(login_url).scheme == "http":
                notes.append(f"the declared login URL is http:// but redirects to {shorten(final.url, 120)}")
            else:
                notes.append(f"{shorten(final.url, 120)} is served over HTTPS")
        if auth.login_plain is not None:
            outcome, sentence, severity, twin_evidence = _twin_verdict(auth.login_plain)
            evidence["plain_http"] = twin_evidence
            if outcome == "fail" and severity is not None:
                problems.append((Status.FAIL, severity, sentence))
            elif outcome == "warn" and severity is not None:
                problems.append((Status.WARN, severity, sentence))
            elif outcome == "untested":
                untested.append(sentence)
            else:
                notes.append(sentence)
    if problems:
        problems.sort(key=lambda p: (p[0] is not Status.FAIL, -p[1].rank))
        status, severity, _ = problems[0]
        sentences = list(dict.fromkeys(text for _, _, text in problems))
        return Verdict(status, f"Credentials at risk in transit: {listing(sentences)}.", evidence, severity)
    if untested:
        evidence["untested"] = untested
        return Verdict(Status.ERROR, f"Could not check the login page: {listing(untested)}.", evidence)
    if not pages and not login_url:
        return Verdict(
            Status.SKIP,
            f"No form with a password field on {http.url} and no login_url declared for this URL: nothing to judge.",
            evidence,
        )
    if login_url:
        return Verdict(Status.PASS, f"The login page is protected in transit: {listing(notes)}.", evidence)
    urls = list(dict.fromkeys(shorten(p.url, 120) for p in pages))
    return Verdict(
        Status.PASS,
        f"{plural(len(pages), 'form')} with a password field, all served over HTTPS ({listing(urls)}).",
        evidence,
    )


class FormActionHttps(AuthCheck):
    id: ClassVar[str] = "auth.form_action_https"
    title: ClassVar[str] = "Login forms post credentials to HTTPS on the platform's own hosts"
    severity: ClassVar[Severity] = Severity.CRITICAL
    caps: ClassVar[tuple[Cap, ...]] = (Cap("F", note="credentials over plain HTTP"),)
    why: ClassVar[str] = (
        "Even on an HTTPS page, a form whose action is an http:// URL sends the password in clear when the user "
        "presses Log in; an action on another host hands the credentials to a system nobody registered or audits."
    )
    remediation: ClassVar[str] = (
        "Make every login form post to an https:// URL on the platform's own host: use a relative action "
        '(`<form method="post" action="/dang-nhap">`) or an absolute https:// one, fix templates that build '
        "`http://` links from configuration (a base-URL or `APP_URL` setting still on http://), and register any "
        "single sign-on host the form legitimately posts to. As defence in depth add the CSP directive "
        "`form-action 'self'` (plus the SSO origin):\n"
        "nginx: `add_header Content-Security-Policy \"form-action 'self'\" always;`\n"
        "Apache: `Header always set Content-Security-Policy \"form-action 'self'\"`\n"
        'IIS: `<customHeaders><add name="Content-Security-Policy" value="form-action \'self\'" /></customHeaders>`.'
    )

    def assess(self, endpoint: Endpoint, ctx: ScanContext, http: HttpFacts) -> Verdict:
        return judge_form_action(ctx.platform, http, self.auth_facts(endpoint, ctx, http))


def judge_form_action(platform: Platform, http: HttpFacts, auth: AuthFacts) -> Verdict:
    """Pure: every password form's action is an https:// URL on one of the platform's hosts."""
    pages = password_pages(platform, http, auth)
    evidence: dict[str, Any] = {"url": http.url}
    if not pages:
        login_url = declared_login(platform, auth)
        why = (
            f" (the login page {login_url} has no password field in its HTML: a script may build the form)"
            if login_url
            else ""
        )
        return Verdict(
            Status.SKIP, f"No form with a password field found for {http.url}{why}: nothing to judge.", evidence
        )
    forms: list[dict[str, Any]] = []
    problems: list[tuple[Severity, str]] = []
    scripted = 0
    for page in pages:
        scheme, host, unusable = _dialled(page.form.action)
        entry: dict[str, Any] = {
            "page": shorten(page.url, 200),
            "action": shorten(page.form.action, 200),
            "method": page.form.method.upper(),
            "found_via": page.source,
        }
        if scheme not in DEFAULT_PORTS:
            entry["note"] = "submitted by script"
            scripted += 1
        elif scheme == "http":
            problems.append(
                (
                    Severity.CRITICAL,
                    f"the form on {shorten(page.url, 120)} posts to {shorten(page.form.action, 120)} over plain HTTP",
                )
            )
            entry["problem"] = "plain HTTP"
        elif unusable:
            problems.append((Severity.HIGH, f"the form on {shorten(page.url, 120)} posts to {unusable}"))
            entry["problem"] = "unusable action"
        elif not in_scope(platform, host):
            problems.append(
                (
                    Severity.HIGH,
                    f"the form on {shorten(page.url, 120)} posts to {host}, which is not one of the "
                    "platform's registered hosts",
                )
            )
            entry["problem"] = "another host"
        forms.append(entry)
    evidence["forms"] = clip(forms)
    if problems:
        problems.sort(key=lambda p: -p[0].rank)
        return Verdict(
            Status.FAIL,
            f"Credentials would leave the protected channel: {listing([text for _, text in problems])}.",
            evidence,
            problems[0][0],
        )
    judged = len(pages) - scripted
    if not judged:
        return Verdict(
            Status.SKIP,
            f"{plural(len(pages), 'login form')} found, submitted by script: where the password goes cannot be "
            "read from the HTML.",
            evidence,
        )
    actions = list(dict.fromkeys(shorten(p.form.action, 120) for p in pages))
    return Verdict(
        Status.PASS,
        f"{plural(judged, 'login form')} post{'s' if judged == 1 else ''} to HTTPS on the platform's hosts "
        f"({listing(actions)}).",
        evidence,
    )


BASIC = re.compile(r"(?:^|,)\s*basic(?:\s|,|$)", re.IGNORECASE)


def basic_challenge(response: HttpResponse) -> str | None:
    """The WWW-Authenticate line offering Basic, or None."""
    for value in response.values("WWW-Authenticate"):
        if BASIC.search(value):
            return value
    return None


class BasicOverHttp(AuthCheck):
    id: ClassVar[str] = "auth.basic_over_http"
    title: ClassVar[str] = "No HTTP Basic authentication over plain HTTP"
    severity: ClassVar[Severity] = Severity.HIGH
    caps: ClassVar[tuple[Cap, ...]] = (Cap("F", note="credentials over plain HTTP"),)
    why: ClassVar[str] = (
        "HTTP Basic authentication sends the user name and password, merely base64-encoded, with every request: "
        "over plain HTTP anyone on the path reads them, and browsers resend them until closed."
    )
    remediation: ClassVar[str] = (
        "Never ask for Basic credentials over plain HTTP: redirect the whole host to HTTPS first, and protect "
        "admin areas with the application's own login (with MFA) or a VPN rather than Basic authentication.\n"
        "nginx: in the port-80 server `return 301 https://$host$request_uri;` and keep `auth_basic` only in the "
        "`listen 443 ssl` server\n"
        "Apache: move `AuthType Basic` / `Require valid-user` into the `<VirtualHost *:443>` and redirect port 80 "
        "(`Redirect permanent / https://dvc.example/`); `SSLRequireSSL` in the protected `<Location>` refuses "
        "plain HTTP\n"
        "IIS: disable Basic Authentication on the site's HTTP binding, or tick Require SSL (SSL Settings) on every "
        "application that uses it."
    )

    def assess(self, endpoint: Endpoint, ctx: ScanContext, http: HttpFacts) -> Verdict:
        return judge_basic(http, self.auth_facts(endpoint, ctx, http))


def judge_basic(http: HttpFacts, auth: AuthFacts) -> Verdict:
    """Pure: no response received over plain HTTP carries a Basic challenge."""
    fetches: list[Fetch] = list(http.fetches())
    fetches += list(auth.admin) + list(auth.protected) + list(auth.plain_twins)
    fetches += [f for f in (auth.login_page, auth.login_plain) if f is not None]
    plain: dict[int, HttpResponse] = {}
    over_https: list[str] = []
    failures: list[str] = []
    for fetch in fetches:
        for response in fetch.responses:
            if response.https:
                if basic_challenge(response) is not None:
                    over_https.append(response.url)
                continue
            plain.setdefault(id(response), response)
        if not fetch.responses and urlsplit(fetch.url).scheme == "http" and fetch.error is not None:
            failures.append(f"{fetch.url}: {fetch.error.message}")
    found = [(r, basic_challenge(r)) for r in plain.values()]
    challenges = [(r, line) for r, line in found if line is not None]
    evidence: dict[str, Any] = {"url": http.url, "plain_http_responses": len(plain)}
    if over_https:
        evidence["basic_over_https"] = clip(list(dict.fromkeys(shorten(u, 200) for u in over_https)))
    if challenges:
        evidence["challenges"] = clip(
            {"url": shorten(r.url, 200), "status": r.status, "header": shorten(f"WWW-Authenticate: {line}")}
            for r, line in challenges
        )
        urls = list(dict.fromkeys(shorten(r.url, 120) for r, _ in challenges))
        return Verdict(
            Status.FAIL,
            f"HTTP Basic credentials are requested over plain HTTP at {listing(urls)}: they would travel in clear.",
            evidence,
        )
    if plain:
        extra = " (Basic is used over HTTPS only)" if over_https else ""
        return Verdict(
            Status.PASS,
            f"None of the {plural(len(plain), 'plain-HTTP response')} asks for Basic credentials{extra}.",
            evidence,
        )
    if failures:
        evidence["plain_http_errors"] = clip(shorten(f, 200) for f in failures)
        not_served = all(
            f.error is not None and f.error.kind in _NOT_SERVED
            for f in fetches
            if not f.responses and urlsplit(f.url).scheme == "http" and f.error is not None
        )
        if not_served:
            return Verdict(
                Status.PASS,
                "Plain HTTP is not served (no connection), so no Basic challenge can travel in clear.",
                evidence,
            )
        return Verdict(Status.ERROR, f"Plain HTTP did not answer: {shorten(failures[0], 200)}", evidence)
    return Verdict(Status.PASS, "No plain-HTTP request was needed: every request went over HTTPS.", evidence)
