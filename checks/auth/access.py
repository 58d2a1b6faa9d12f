"""Access to administrative functions: declared protected paths refuse anonymous users, and well-known
admin consoles are not reachable from where platscan runs."""

from __future__ import annotations

from typing import Any, ClassVar

from checks.auth.base import AuthCheck
from checks.auth.consoles import ADMIN_PATHS, Console, OrdinaryLogin, form_key, identify, like_baseline
from checks.auth.facts import AuthFacts
from checks.auth.forms import looks_like_login_url
from checks.auth.settings import auth_settings
from checks.http.api import Fetch, HttpFacts, HttpResponse, page_info, same_resource
from scanner.evidence import clip, finding_key, listing, plural, shorten
from scanner.model import Cap, Endpoint, Platform, Severity, Status
from scanner.plugin import ScanContext, Verdict

CLOSED = "closed"
OPEN_PATH = "open"
UNCLEAR = "unclear"
UNTESTED = "untested"


def _title(response: HttpResponse) -> str:
    return shorten(page_info(response).title, 120) if response.is_html else ""


def _is_login_page(response: HttpResponse, login_url: str | None) -> bool:
    if login_url and same_resource(response.url.split("?", 1)[0], login_url.split("?", 1)[0]):
        return True
    return any(form.has_password for form in page_info(response).forms)


def judge_path(
    path: str,
    fetch: Fetch,
    login_url: str | None,
    baseline: HttpResponse | None,
    home: HttpResponse | None,
) -> tuple[str, str, dict[str, Any]]:
    """(closed | open | unclear | untested, sentence, evidence) for one protected path requested anonymously."""
    entry: dict[str, Any] = {"path": path, "request": f"GET {fetch.url}"}
    first, final = fetch.first, fetch.final
    if first is None or final is None:
        reason = fetch.error.message if fetch.error is not None else "no response"
        entry["error"] = shorten(reason)
        return UNTESTED, f"{path} did not answer ({reason})", entry
    entry["status"] = first.status
    if len(fetch.responses) > 1 or fetch.blocked_redirect:
        entry["redirects"] = fetch.redirects
    if first.status in (401, 403):
        challenge = first.header("WWW-Authenticate")
        if challenge:
            entry["challenge"] = shorten(challenge, 120)
        return CLOSED, f"{path} answers {first.status}", entry
    if fetch.blocked_redirect:
        entry["not_followed"] = shorten(fetch.blocked_redirect)
        if looks_like_login_url(fetch.blocked_redirect):
            return CLOSED, f"{path} redirects to a sign-in page off the platform", entry
        return UNCLEAR, f"{path} redirects off the platform to {shorten(fetch.blocked_redirect, 120)}", entry
    if fetch.error is not None:
        entry["error"] = shorten(fetch.error.message)
        return UNTESTED, f"{path}: {fetch.error.message}", entry
    entry["final_status"] = final.status
    if final is not first:
        entry["final_url"] = shorten(final.url, 200)
    if final.status in (401, 403):
        return CLOSED, f"{path} ends in {final.status}", entry
    if final is not first and 200 <= final.status < 300 and _is_login_page(final, login_url):
        return CLOSED, f"{path} redirects to the login page", entry
    if final.status in (404, 410):
        return UNCLEAR, f"{path} answers {final.status} (hidden, or the declared path is wrong)", entry
    if not 200 <= final.status < 300:
        return UNCLEAR, f"{path} answers {final.status} {final.reason}".rstrip(), entry
    entry["size"] = len(final.body)
    title = _title(final)
    if title:
        entry["title"] = title
    if like_baseline(final, baseline) or (final is not first and like_baseline(first, baseline)):
        return UNCLEAR, f"{path} answers like any unknown path ({final.status}): cannot tell from outside", entry
    if _is_login_page(final, login_url):
        return CLOSED, f"{path} shows the login form", entry
    if final is not first and home is not None and final.body.strip() == home.body.strip():
        return CLOSED, f"{path} redirects to the home page", entry
    if not final.body.strip():
        return UNCLEAR, f"{path} answers {final.status} with an empty body", entry
    what = f"title {title!r}, " if title else ""
    return OPEN_PATH, f"{path} is served to anonymous users ({final.status}, {what}{len(final.body)} bytes)", entry


class ProtectedPaths(AuthCheck):
    id: ClassVar[str] = "auth.protected_paths"
    title: ClassVar[str] = "Declared protected paths refuse anonymous access"
    severity: ClassVar[Severity] = Severity.CRITICAL
    caps: ClassVar[tuple[Cap, ...]] = (Cap("F", note="a declared protected path open to anonymous users"),)
    per_platform: ClassVar[bool] = True
    why: ClassVar[str] = (
        "An administrative or internal function that answers without a login lets anyone on the Internet read or "
        "change what only officials may: citizens' records, procedures, accounts, configuration."
    )
    remediation: ClassVar[str] = (
        "Require authentication on every declared path, enforced by the application (not only hidden from its "
        "menus), and answer anonymous requests with 401/403 or a redirect to the login page. Where an area must "
        "stay reachable only from the office network, restrict it in the web server too:\n"
        "nginx: `location /quan-tri/ { allow 10.0.0.0/8; deny all; proxy_pass http://app; }` (or `auth_request` to "
        "the SSO)\n"
        "Apache: `<Location /quan-tri/> Require ip 10.0.0.0/8 </Location>` (with mod_auth_openidc/mod_auth_mellon "
        "for SSO: `Require valid-user`)\n"
        'IIS: IP Address and Domain Restrictions on the folder, and `<authorization><deny users="?" />'
        "</authorization>` in its web.config.\n"
        "Application: Django `@login_required` / `LoginRequiredMixin`, Spring Security "
        '`.requestMatchers("/quan-tri/**").hasRole("ADMIN")`, ASP.NET `[Authorize(Roles = "Admin")]`, '
        "Laravel `->middleware('auth')`."
    )

    def assess(self, endpoint: Endpoint, ctx: ScanContext, http: HttpFacts) -> Verdict:
        settings = auth_settings(ctx.platform)
        paths = settings.protected_paths if settings is not None else ()
        if not paths:
            return Verdict(
                Status.SKIP,
                "No protected_paths are declared in [platforms.auth]: nothing to test.",
                {"url": endpoint.target},
            )
        return judge_protected(ctx.platform, http, self.auth_facts(endpoint, ctx, http))


def judge_protected(platform: Platform, http: HttpFacts, auth: AuthFacts) -> Verdict:
    """Pure: each declared protected path, requested anonymously, is refused or sent to the login page."""
    settings = auth_settings(platform)
    paths = settings.protected_paths if settings is not None else ()
    login_url = settings.login_url if settings is not None else None
    baseline = http.not_found.final if http.not_found is not None else None
    home = http.final
    evidence: dict[str, Any] = {"origin": auth.origin}
    if baseline is not None:
        evidence["not_found_baseline"] = {"status": baseline.status, "size": len(baseline.body)}
    judged: list[tuple[str, str, dict[str, Any]]] = []
    for path, fetch in zip(paths, auth.protected, strict=False):
        judged.append(judge_path(path, fetch, login_url, baseline, home))
    for path in paths[len(auth.protected) :]:
        judged.append((UNTESTED, f"{path} was not requested (out of time)", {"path": path}))
    evidence["paths"] = clip(entry | {"verdict": state} for state, _, entry in judged)

    def sentences(state: str) -> list[str]:
        return [text for s, text, _ in judged if s == state]

    def key(state: str) -> str:
        return finding_key(str(entry["path"]) for s, _, entry in judged if s == state)

    if sentences(OPEN_PATH):
        return Verdict(
            Status.FAIL,
            f"Open without a login: {listing(sentences(OPEN_PATH))}.",
            evidence,
            key=key(OPEN_PATH),
        )
    if sentences(UNTESTED):
        return Verdict(
            Status.ERROR,
            f"{plural(len(sentences(UNTESTED)), 'protected path')} could not be tested: "
            f"{listing(sentences(UNTESTED))}.",
            evidence,
        )
    if sentences(UNCLEAR):
        return Verdict(
            Status.WARN,
            f"Not clearly refused: {listing(sentences(UNCLEAR))}; none is served openly.",
            evidence,
            Severity.LOW,
            key(UNCLEAR),
        )
    every = (
        "The declared protected path refuses"
        if len(paths) == 1
        else f"All {len(paths)} declared protected paths refuse"
    )
    return Verdict(Status.PASS, f"{every} anonymous access: {listing(sentences(CLOSED))}.", evidence)


class AdminExposed(AuthCheck):
    id: ClassVar[str] = "auth.admin_exposed"
    title: ClassVar[str] = "No well-known admin console is reachable"
    severity: ClassVar[Severity] = Severity.HIGH
    caps: ClassVar[tuple[Cap, ...]] = (Cap("C", Severity.HIGH, "an admin console reachable"),)
    why: ClassVar[str] = (
        "Admin consoles (phpMyAdmin, Tomcat Manager, Spring Boot Actuator, Jenkins, WordPress and the application's "
        "own /admin or /quantri) are the first thing attackers try: one weak or reused password, or one unpatched "
        "flaw, gives control of the platform and its data. The criteria want them off the public network, behind "
        "an address restriction or VPN, even when they ask for a password."
    )
    remediation: ClassVar[str] = (
        "Take admin consoles off the public service: serve them on a separate management port or host reachable "
        "only through the VPN or the office network (QĐ 742 II.4.1 b, e; TCVN 14423 5.13.2.3 b), remove the ones "
        "not needed (phpMyAdmin, Swagger UI and Actuator in production), and require MFA where they stay.\n"
        "nginx: `location ~ ^/(admin|quantri|phpmyadmin|manager|actuator|swagger-ui|api-docs|console|jenkins) "
        "{ allow 10.0.0.0/8; deny all; }`\n"
        'Apache: `<LocationMatch "^/(admin|quantri|phpmyadmin|manager|actuator|console)"> Require ip 10.0.0.0/8 '
        "</LocationMatch>`\n"
        "IIS: IP Address and Domain Restrictions (deny by default, allow the management network) on those paths.\n"
        "Application: Spring Boot `management.server.port=8081` with `management.endpoints.web.exposure.include="
        "health`, `springdoc.swagger-ui.enabled=false`; Tomcat: remove the manager webapp or keep its "
        "`RemoteAddrValve`; WordPress: restrict /wp-admin and /wp-login.php by address.\n"
        "Where /admin only leads to the ordinary user login (a warning), make sure administrator accounts need a "
        "second factor when they sign in from the Internet, or that the admin functions answer only from the "
        "management network (TCVN 14423 x.6.2.4, QĐ 742 II.4.1 b)."
    )

    def assess(self, endpoint: Endpoint, ctx: ScanContext, http: HttpFacts) -> Verdict:
        settings = auth_settings(ctx.platform)
        login_url = settings.login_url if settings is not None else None
        return judge_admin(http, self.auth_facts(endpoint, ctx, http), login_url)


#: What the criteria ask of administration reachable from the Internet (the owner must verify it).
ADMIN_REMOTE = "TCVN 14423 x.6.2.4, QĐ 742 II.4.1"
TO_VERIFY = (
    "administrator accounts need a second factor (MFA) when they sign in from the Internet",
    "admin functions answer only from the management network (address restriction, VPN)",
)


def ordinary_login(http: HttpFacts, auth: AuthFacts, login_url: str | None = None) -> OrdinaryLogin:
    """The platform's ordinary user login as observed: the declared login_url, and the login forms of the
    registered page and of the login page (with where that page redirects off the platform, for SSO)."""
    page = auth.login_page
    forms = [
        (response.url, form_key(form))
        for response in (http.final, page.final if page is not None else None)
        if response is not None and response.is_html and 200 <= response.status < 300
        for form in page_info(response).forms
        if form.has_password
    ]
    sign_in = page.blocked_redirect if page is not None else None
    return OrdinaryLogin(login_url or auth.login_url, tuple(forms), sign_in)


def _describe(console: Console) -> str:
    if not console.demands_auth:
        return f"{console.path} ({console.product}, open without a login)"
    if console.ordinary:
        return f"{console.path} ({console.access}: {console.ordinary})"
    return f"{console.path} ({console.product}, {console.access})"


def _exposed(origin: str, consoles: list[Console], ordinary: list[Console], evidence: dict[str, Any]) -> Verdict:
    open_ones = [c for c in consoles if not c.demands_auth]
    if open_ones:
        summary = "Admin console reachable without a login" if len(open_ones) == 1 else "Admin consoles reachable"
    elif len(consoles) == 1:
        summary = "Admin console reachable (it asks for a login, but is exposed)"
    else:
        summary = "Admin consoles reachable (they ask for a login, but are exposed)"
    also = f"; {listing([_describe(c) for c in ordinary])} only lead to the ordinary login" if ordinary else ""
    return Verdict(
        Status.FAIL,
        f"{summary} at {origin}: {listing([_describe(c) for c in consoles])}{also}.",
        evidence,
        Severity.HIGH if open_ones else Severity.MEDIUM,
        finding_key(f"{c.path}:{'open' if not c.demands_auth else 'login'}" for c in consoles),
    )


def _ordinary_only(origin: str, ordinary: list[Console], evidence: dict[str, Any]) -> Verdict:
    # Not a console of its own, so no failure; but whether administrators can sign in there from the
    # Internet without MFA cannot be seen from outside: the owner has to confirm it.
    evidence["requirement"] = ADMIN_REMOTE
    evidence["verify_one_of"] = list(TO_VERIFY)
    lead = "leads" if len(ordinary) == 1 else "lead"
    return Verdict(
        Status.WARN,
        f"{listing([_describe(c) for c in ordinary])} at {origin} {lead} to the ordinary user login, not to an "
        f"admin console of its own; administration reachable from the Internet needs an address restriction or "
        f"a second factor ({ADMIN_REMOTE}): verify that {TO_VERIFY[0]}, or that {TO_VERIFY[1]}.",
        evidence,
        Severity.MEDIUM,
        finding_key(f"{c.path}:ordinary" for c in ordinary),
    )


def judge_admin(http: HttpFacts, auth: AuthFacts, login_url: str | None = None) -> Verdict:
    """Pure: no admin path answers with a real admin console (judged from content, against the soft 404); one
    that only leads to the platform's ordinary user login warns."""
    baseline = http.not_found.final if http.not_found is not None else None
    ordinary = ordinary_login(http, auth, login_url)
    evidence: dict[str, Any] = {"origin": auth.origin}
    if baseline is not None:
        evidence["not_found_baseline"] = {"status": baseline.status, "size": len(baseline.body)}
    consoles: list[Console] = []
    notes: dict[str, str] = {}
    untested: list[str] = []
    for path, fetch in zip(ADMIN_PATHS, auth.admin, strict=False):
        probed = identify(path, fetch, baseline, http.final, ordinary)
        notes[path] = probed.note
        if probed.console is not None:
            consoles.append(probed.console)
        elif fetch.final is None:
            untested.append(path)
    untested += list(ADMIN_PATHS[len(auth.admin) :])
    evidence["probed"] = notes
    if untested:
        evidence["untested"] = untested
    if consoles:
        evidence["consoles"] = [c.evidence() for c in consoles]
    exposed = [c for c in consoles if not c.ordinary]
    if exposed:
        return _exposed(auth.origin, exposed, [c for c in consoles if c.ordinary], evidence)
    if consoles:
        return _ordinary_only(auth.origin, consoles, evidence)
    if len(untested) == len(ADMIN_PATHS):
        return Verdict(Status.ERROR, f"None of the {len(ADMIN_PATHS)} admin paths got an answer.", evidence)
    soft = ""
    if baseline is not None and 200 <= baseline.status < 300:
        soft = f"; the server answers {baseline.status} to any unknown path, so content decided"
    tested = len(ADMIN_PATHS) - len(untested)
    if untested:
        return Verdict(
            Status.ERROR,
            f"{plural(len(untested), 'admin path')} could not be tested ({listing(untested)}); none of the other "
            f"{tested} shows an admin console{soft}.",
            evidence,
        )
    return Verdict(
        Status.PASS,
        f"None of the {len(ADMIN_PATHS)} well-known admin paths (/admin, /quantri, /phpmyadmin, /manager/html, "
        f"/actuator, …) answers with an admin console{soft}.",
        evidence,
    )
