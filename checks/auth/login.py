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
from checks.auth.wording import distinct, fetch_failure
from checks.http.api import ErrorKind, Fetch, Form, HttpFacts, HttpResponse, page_info, same_resource
from scanner.evidence import clip, shorten
from scanner.messages import Message, say
from scanner.model import Cap, Endpoint, Platform, Severity, Status
from scanner.plugin import ScanContext, Verdict
from scanner.urls import DEFAULT_PORTS, UnusableUrl, in_scope, parse, resolve_reference, scheme_of
from scanner.wording import listed


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
    title: ClassVar[str] = "Login page encryption"
    finding: ClassVar[str] = "A login page is served over plain HTTP"
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
        "Apache: in the `<VirtualHost *:80>` `Redirect permanent / https://{host}/` (or `RewriteRule ^ "
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


def _twin_verdict(twin: Fetch) -> tuple[str, Message, Severity | None, dict[str, Any]]:
    """("ok" | "fail" | "warn" | "untested", sentence, severity, evidence) for the login URL's plain-HTTP twin."""
    evidence: dict[str, Any] = {"request": f"GET {twin.url}"}
    first = twin.first
    if first is None:
        error = twin.error
        evidence["error"] = shorten(error.message) if error else "no response"
        if error is not None and error.kind in _NOT_SERVED:
            said = say(
                "auth.login_https.not_served",
                "plain HTTP is not served there ({error})",
                error=fetch_failure(twin),
            )
            return "ok", said, None, evidence
        said = say(
            "auth.login_https.twin_no_answer", "{url} did not answer: {error}", url=twin.url, error=fetch_failure(twin)
        )
        return "untested", said, None, evidence
    evidence["status"] = first.status
    if first.is_redirect:
        location = first.location or ""
        evidence["location"] = shorten(location)
        scheme, _, unusable = _dialled(resolve_reference(twin.url, location))
        if scheme == "https" and not unusable:
            said = say(
                "auth.login_https.twin_redirects",
                "{url} redirects to HTTPS ({status})",
                url=twin.url,
                status=first.status,
            )
            return "ok", said, None, evidence
        return (
            "warn",
            say(
                "auth.login_https.twin_redirects_elsewhere",
                "{url} redirects to {location}, not to an https:// URL",
                url=twin.url,
                location=shorten(location, 120),
            ),
            Severity.MEDIUM,
            evidence,
        )
    forms = _password_forms(first)
    if 200 <= first.status < 300 and forms:
        evidence["title"] = shorten(page_info(first).title, 120)
        return (
            "fail",
            say(
                "auth.login_https.twin_serves_form",
                "{url} serves the login form over plain HTTP ({status}) instead of redirecting to HTTPS",
                url=twin.url,
                status=first.status,
            ),
            Severity.CRITICAL,
            evidence,
        )
    if 200 <= first.status < 300:
        return (
            "warn",
            say(
                "auth.login_https.twin_answers",
                "{url} answers {status} over plain HTTP instead of redirecting to HTTPS (no password field in its "
                "HTML, but a script may still build the form)",
                url=twin.url,
                status=first.status,
            ),
            Severity.MEDIUM,
            evidence,
        )
    said = say(
        "auth.login_https.twin_no_form",
        "{url} answers {status} over plain HTTP (no form served)",
        url=twin.url,
        status=first.status,
    )
    return "ok", said, None, evidence


def judge_login_https(platform: Platform, http: HttpFacts, auth: AuthFacts) -> Verdict:
    """Pure: every page with a password field is HTTPS, and the declared login URL's plain twin does not serve it."""
    pages = password_pages(platform, http, auth)
    login_url = declared_login(platform, auth)
    evidence: dict[str, Any] = {"url": http.url}
    problems: list[tuple[Status, Severity, Message]] = []
    notes: list[Message] = []
    untested: list[Message] = []
    if pages:
        evidence["login_forms"] = clip(
            {"page": shorten(p.url, 200), "found_via": p.source, "https": urlsplit(p.url).scheme == "https"}
            for p in pages
        )
    for page in pages:
        if urlsplit(page.url).scheme == "http":
            said = say(
                "auth.login_https.form_over_http",
                "{url} serves a login form over plain HTTP",
                url=shorten(page.url, 120),
            )
            problems.append((Status.FAIL, Severity.CRITICAL, said))
    if login_url:
        evidence["login_url"] = login_url
        fetch = auth.login_page or (http.page if same_resource(login_url, http.url) else None)
        final = fetch.final if fetch is not None else None
        if fetch is None or final is None:
            reason = (
                fetch_failure(fetch)
                if fetch is not None and fetch.error
                else say("auth.login_https.not_requested", "not requested")
            )
            untested.append(
                say("auth.login_https.login_no_answer", "the login page did not answer ({reason})", reason=reason)
            )
        else:
            evidence["login_page"] = fetch.evidence()
            if fetch.blocked_redirect:
                notes.append(
                    say(
                        "auth.login_https.login_off_platform",
                        "the login URL redirects off the platform to {location} (not followed)",
                        location=shorten(fetch.blocked_redirect, 120),
                    )
                )
            elif urlsplit(final.url).scheme == "http":
                if not _password_forms(final):
                    said = say(
                        "auth.login_https.login_over_http",
                        "the login URL {url} is served over plain HTTP",
                        url=shorten(final.url, 120),
                    )
                    problems.append((Status.FAIL, Severity.CRITICAL, said))
            elif urlsplit(login_url).scheme == "http":
                notes.append(
                    say(
                        "auth.login_https.login_upgraded",
                        "the declared login URL is http:// but redirects to {url}",
                        url=shorten(final.url, 120),
                    )
                )
            else:
                notes.append(
                    say("auth.login_https.login_over_https", "{url} is served over HTTPS", url=shorten(final.url, 120))
                )
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
        sentences = distinct(text for _, _, text in problems)
        said = say(
            "auth.login_https.at_risk", "Credentials at risk in transit: {problems}.", problems=listed(sentences)
        )
        return Verdict(status, said, evidence, severity)
    if untested:
        evidence["untested"] = [str(text) for text in untested]
        said = say("auth.login_https.untested", "Could not check the login page: {reasons}.", reasons=listed(untested))
        return Verdict(Status.ERROR, said, evidence)
    if not pages and not login_url:
        return Verdict(
            Status.SKIP,
            say(
                "auth.login_https.nothing",
                "No form with a password field on {url} and no login_url declared for this URL: nothing to judge.",
                url=http.url,
            ),
            evidence,
        )
    if login_url:
        said = say(
            "auth.login_https.protected", "The login page is protected in transit: {notes}.", notes=listed(notes)
        )
        return Verdict(Status.PASS, said, evidence)
    urls = listed(list(dict.fromkeys(shorten(p.url, 120) for p in pages)))
    if len(pages) == 1:
        said = say(
            "auth.login_https.form_https", "1 form with a password field, all served over HTTPS ({urls}).", urls=urls
        )
    else:
        said = say(
            "auth.login_https.forms_https",
            "{count} forms with a password field, all served over HTTPS ({urls}).",
            count=len(pages),
            urls=urls,
        )
    return Verdict(Status.PASS, said, evidence)


class FormActionHttps(AuthCheck):
    id: ClassVar[str] = "auth.form_action_https"
    title: ClassVar[str] = "Login form destination"
    finding: ClassVar[str] = "A login form sends credentials over plain HTTP or to another host"
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
        if login_url:
            said = say(
                "auth.form_action_https.scripted_login",
                "No form with a password field found for {url} (the login page {login_url} has no password field "
                "in its HTML: a script may build the form): nothing to judge.",
                url=http.url,
                login_url=login_url,
            )
        else:
            said = say(
                "auth.form_action_https.nothing",
                "No form with a password field found for {url}: nothing to judge.",
                url=http.url,
            )
        return Verdict(Status.SKIP, said, evidence)
    forms: list[dict[str, Any]] = []
    problems: list[tuple[Severity, Message]] = []
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
            said = say(
                "auth.form_action_https.over_http",
                "the form on {page} posts to {action} over plain HTTP",
                page=shorten(page.url, 120),
                action=shorten(page.form.action, 120),
            )
            problems.append((Severity.CRITICAL, said))
            entry["problem"] = "plain HTTP"
        elif unusable:
            said = say(
                "auth.form_action_https.unusable",
                "the form on {page} posts to {reason}",
                page=shorten(page.url, 120),
                reason=unusable,
            )
            problems.append((Severity.HIGH, said))
            entry["problem"] = "unusable action"
        elif not in_scope(platform, host):
            said = say(
                "auth.form_action_https.other_host",
                "the form on {page} posts to {host}, which is not one of the platform's registered hosts",
                page=shorten(page.url, 120),
                host=host,
            )
            problems.append((Severity.HIGH, said))
            entry["problem"] = "another host"
        forms.append(entry)
    evidence["forms"] = clip(forms)
    if problems:
        problems.sort(key=lambda p: -p[0].rank)
        return Verdict(
            Status.FAIL,
            say(
                "auth.form_action_https.leaves",
                "Credentials would leave the protected channel: {problems}.",
                problems=listed([text for _, text in problems]),
            ),
            evidence,
            problems[0][0],
        )
    judged = len(pages) - scripted
    if not judged:
        if len(pages) == 1:
            said = say(
                "auth.form_action_https.scripted_one",
                "1 login form found, submitted by script: where the password goes cannot be read from the HTML.",
            )
        else:
            said = say(
                "auth.form_action_https.scripted",
                "{count} login forms found, submitted by script: where the password goes cannot be read from the HTML.",
                count=len(pages),
            )
        return Verdict(Status.SKIP, said, evidence)
    actions = listed(list(dict.fromkeys(shorten(p.form.action, 120) for p in pages)))
    if judged == 1:
        said = say(
            "auth.form_action_https.https_one",
            "1 login form posts to HTTPS on the platform's hosts ({actions}).",
            actions=actions,
        )
    else:
        said = say(
            "auth.form_action_https.https",
            "{count} login forms post to HTTPS on the platform's hosts ({actions}).",
            count=judged,
            actions=actions,
        )
    return Verdict(Status.PASS, said, evidence)


BASIC = re.compile(r"(?:^|,)\s*basic(?:\s|,|$)", re.IGNORECASE)


def basic_challenge(response: HttpResponse) -> str | None:
    """The WWW-Authenticate line offering Basic, or None."""
    for value in response.values("WWW-Authenticate"):
        if BASIC.search(value):
            return value
    return None


class BasicOverHttp(AuthCheck):
    id: ClassVar[str] = "auth.basic_over_http"
    title: ClassVar[str] = "HTTP Basic authentication over plain HTTP"
    finding: ClassVar[str] = "HTTP Basic credentials are requested over plain HTTP"
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
        "(`Redirect permanent / https://{host}/`); `SSLRequireSSL` in the protected `<Location>` refuses "
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
    failures: list[tuple[str, Message]] = []
    for fetch in fetches:
        for response in fetch.responses:
            if response.https:
                if basic_challenge(response) is not None:
                    over_https.append(response.url)
                continue
            plain.setdefault(id(response), response)
        if not fetch.responses and urlsplit(fetch.url).scheme == "http" and fetch.error is not None:
            failures.append((fetch.url, fetch_failure(fetch)))
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
            say(
                "auth.basic_over_http.challenged",
                "HTTP Basic credentials are requested over plain HTTP at {urls}: they would travel in clear.",
                urls=listed(urls),
            ),
            evidence,
        )
    if plain:
        responses = (
            say("auth.basic_over_http.response", "1 plain-HTTP response")
            if len(plain) == 1
            else say("auth.basic_over_http.responses", "{count} plain-HTTP responses", count=len(plain))
        )
        if over_https:
            said = say(
                "auth.basic_over_http.https_only",
                "None of the {responses} asks for Basic credentials (Basic is used over HTTPS only).",
                responses=responses,
            )
        else:
            said = say(
                "auth.basic_over_http.none", "None of the {responses} asks for Basic credentials.", responses=responses
            )
        return Verdict(Status.PASS, said, evidence)
    if failures:
        evidence["plain_http_errors"] = clip(shorten(f"{url}: {why}", 200) for url, why in failures)
        not_served = all(
            f.error is not None and f.error.kind in _NOT_SERVED
            for f in fetches
            if not f.responses and urlsplit(f.url).scheme == "http" and f.error is not None
        )
        if not_served:
            return Verdict(
                Status.PASS,
                say(
                    "auth.basic_over_http.not_served",
                    "Plain HTTP is not served (no connection), so no Basic challenge can travel in clear.",
                ),
                evidence,
            )
        url, why = failures[0]
        said = say(
            "auth.basic_over_http.no_answer",
            "Plain HTTP did not answer: {url}: {error}",
            url=shorten(url, 120),
            error=why,
        )
        return Verdict(Status.ERROR, said, evidence)
    return Verdict(
        Status.PASS,
        say("auth.basic_over_http.all_https", "No plain-HTTP request was needed: every request went over HTTPS."),
        evidence,
    )
