"""Access to administrative functions: declared protected paths refuse anonymous users, and well-known
admin consoles are not reachable from where platscan runs."""

from __future__ import annotations

from typing import Any, ClassVar

from checks.auth.base import AuthCheck
from checks.auth.consoles import (
    ADMIN_PATHS,
    Console,
    OrdinaryLogin,
    access_said,
    form_key,
    identify,
    like_baseline,
    product_said,
)
from checks.auth.facts import AuthFacts
from checks.auth.forms import looks_like_login_url
from checks.auth.settings import auth_settings
from checks.auth.wording import fetch_failure
from checks.http.api import Fetch, HttpFacts, HttpResponse, page_info, same_resource
from scanner.evidence import clip, finding_key, shorten
from scanner.messages import Message, say
from scanner.model import Cap, Endpoint, Platform, Severity, Status
from scanner.plugin import ScanContext, Verdict
from scanner.wording import listed

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
) -> tuple[str, Message, dict[str, Any]]:
    """(closed | open | unclear | untested, sentence, evidence) for one protected path requested anonymously."""
    entry: dict[str, Any] = {"path": path, "request": f"GET {fetch.url}"}
    first, final = fetch.first, fetch.final
    if first is None or final is None:
        reason = fetch_failure(fetch)
        entry["error"] = shorten(str(reason))
        return (
            UNTESTED,
            say("auth.protected_paths.no_answer", "{path} did not answer ({reason})", path=path, reason=reason),
            entry,
        )
    entry["status"] = first.status
    if len(fetch.responses) > 1 or fetch.blocked_redirect:
        entry["redirects"] = fetch.redirects
    if first.status in (401, 403):
        challenge = first.header("WWW-Authenticate")
        if challenge:
            entry["challenge"] = shorten(challenge, 120)
        return CLOSED, _answers(path, first.status), entry
    if fetch.blocked_redirect:
        entry["not_followed"] = shorten(fetch.blocked_redirect)
        if looks_like_login_url(fetch.blocked_redirect):
            said = say(
                "auth.protected_paths.sign_in_elsewhere",
                "{path} redirects to a sign-in page off the platform",
                path=path,
            )
            return CLOSED, said, entry
        said = say(
            "auth.protected_paths.off_platform",
            "{path} redirects off the platform to {location}",
            path=path,
            location=shorten(fetch.blocked_redirect, 120),
        )
        return UNCLEAR, said, entry
    if fetch.error is not None:
        entry["error"] = shorten(fetch.error.message)
        return (
            UNTESTED,
            say("auth.protected_paths.error", "{path}: {error}", path=path, error=fetch_failure(fetch)),
            entry,
        )
    entry["final_status"] = final.status
    if final is not first:
        entry["final_url"] = shorten(final.url, 200)
    if final.status in (401, 403):
        return (
            CLOSED,
            say("auth.protected_paths.ends_in", "{path} ends in {status}", path=path, status=final.status),
            entry,
        )
    if final is not first and 200 <= final.status < 300 and _is_login_page(final, login_url):
        return CLOSED, say("auth.protected_paths.to_login", "{path} redirects to the login page", path=path), entry
    if final.status in (404, 410):
        said = say(
            "auth.protected_paths.not_found",
            "{path} answers {status} (hidden, or the declared path is wrong)",
            path=path,
            status=final.status,
        )
        return UNCLEAR, said, entry
    if not 200 <= final.status < 300:
        return UNCLEAR, _answers(path, final.status, final.reason), entry
    entry["size"] = len(final.body)
    title = _title(final)
    if title:
        entry["title"] = title
    if like_baseline(final, baseline) or (final is not first and like_baseline(first, baseline)):
        said = say(
            "auth.protected_paths.like_unknown",
            "{path} answers like any unknown path ({status}): cannot tell from outside",
            path=path,
            status=final.status,
        )
        return UNCLEAR, said, entry
    if _is_login_page(final, login_url):
        return CLOSED, say("auth.protected_paths.login_form", "{path} shows the login form", path=path), entry
    if final is not first and home is not None and final.body.strip() == home.body.strip():
        return CLOSED, say("auth.protected_paths.to_home", "{path} redirects to the home page", path=path), entry
    if not final.body.strip():
        said = say(
            "auth.protected_paths.empty", "{path} answers {status} with an empty body", path=path, status=final.status
        )
        return UNCLEAR, said, entry
    if title:
        said = say(
            "auth.protected_paths.open_titled",
            "{path} is served to anonymous users ({status}, title {title}, {size} bytes)",
            path=path,
            status=final.status,
            title=repr(title),
            size=len(final.body),
        )
    else:
        said = say(
            "auth.protected_paths.open",
            "{path} is served to anonymous users ({status}, {size} bytes)",
            path=path,
            status=final.status,
            size=len(final.body),
        )
    return OPEN_PATH, said, entry


def _answers(path: str, status: int, reason: str = "") -> Message:
    if reason.strip():
        return say(
            "auth.protected_paths.answers_reason",
            "{path} answers {status} {reason}",
            path=path,
            status=status,
            reason=reason.strip(),
        )
    return say("auth.protected_paths.answers", "{path} answers {status}", path=path, status=status)


class ProtectedPaths(AuthCheck):
    id: ClassVar[str] = "auth.protected_paths"
    title: ClassVar[str] = "Anonymous access to protected paths"
    finding: ClassVar[str] = "A declared protected path is not refused to anonymous users"
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
                say(
                    "auth.protected_paths.undeclared",
                    "No protected_paths are declared in [platforms.auth]: nothing to test.",
                ),
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
    judged: list[tuple[str, Message, dict[str, Any]]] = []
    for path, fetch in zip(paths, auth.protected, strict=False):
        judged.append(judge_path(path, fetch, login_url, baseline, home))
    for path in paths[len(auth.protected) :]:
        said = say("auth.protected_paths.out_of_time", "{path} was not requested (out of time)", path=path)
        judged.append((UNTESTED, said, {"path": path}))
    evidence["paths"] = clip(entry | {"verdict": state} for state, _, entry in judged)

    def sentences(state: str) -> list[Message]:
        return [text for s, text, _ in judged if s == state]

    def key(state: str) -> str:
        return finding_key(str(entry["path"]) for s, _, entry in judged if s == state)

    if sentences(OPEN_PATH):
        return Verdict(
            Status.FAIL,
            say(
                "auth.protected_paths.open_found", "Open without a login: {paths}.", paths=listed(sentences(OPEN_PATH))
            ),
            evidence,
            key=key(OPEN_PATH),
        )
    untested = sentences(UNTESTED)
    if untested:
        if len(untested) == 1:
            said = say(
                "auth.protected_paths.untested_one",
                "1 protected path could not be tested: {paths}.",
                paths=listed(untested),
            )
        else:
            said = say(
                "auth.protected_paths.untested",
                "{count} protected paths could not be tested: {paths}.",
                count=len(untested),
                paths=listed(untested),
            )
        return Verdict(Status.ERROR, said, evidence)
    if sentences(UNCLEAR):
        return Verdict(
            Status.WARN,
            say(
                "auth.protected_paths.unclear",
                "Not clearly refused: {paths}; none is served openly.",
                paths=listed(sentences(UNCLEAR)),
            ),
            evidence,
            Severity.LOW,
            key(UNCLEAR),
        )
    closed = listed(sentences(CLOSED))
    if len(paths) == 1:
        said = say(
            "auth.protected_paths.refused_one",
            "The declared protected path refuses anonymous access: {paths}.",
            paths=closed,
        )
    else:
        said = say(
            "auth.protected_paths.refused",
            "All {count} declared protected paths refuse anonymous access: {paths}.",
            count=len(paths),
            paths=closed,
        )
    return Verdict(Status.PASS, said, evidence)


class AdminExposed(AuthCheck):
    id: ClassVar[str] = "auth.admin_exposed"
    title: ClassVar[str] = "Exposed admin consoles"
    finding: ClassVar[str] = "An admin console or an admin login is reachable from the Internet"
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
    say(
        "auth.admin_exposed.verify_mfa",
        "administrator accounts need a second factor (MFA) when they sign in from the Internet",
    ),
    say(
        "auth.admin_exposed.verify_network",
        "admin functions answer only from the management network (address restriction, VPN)",
    ),
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


def _describe(console: Console) -> Message:
    product, access = product_said(console.product), access_said(console.access)
    if not console.demands_auth:
        return say(
            "auth.admin_exposed.open", "{path} ({product}, open without a login)", path=console.path, product=product
        )
    if console.ordinary is not None:
        return say(
            "auth.admin_exposed.ordinary",
            "{path} ({access}: {ordinary})",
            path=console.path,
            access=access,
            ordinary=console.ordinary,
        )
    return say(
        "auth.admin_exposed.console", "{path} ({product}, {access})", path=console.path, product=product, access=access
    )


def _exposed(origin: str, consoles: list[Console], ordinary: list[Console], evidence: dict[str, Any]) -> Verdict:
    open_ones = [c for c in consoles if not c.demands_auth]
    if open_ones:
        summary = (
            say("auth.admin_exposed.open_one", "Admin console reachable without a login")
            if len(open_ones) == 1
            else say("auth.admin_exposed.open_many", "Admin consoles reachable")
        )
    elif len(consoles) == 1:
        summary = say("auth.admin_exposed.login_one", "Admin console reachable (it asks for a login, but is exposed)")
    else:
        summary = say(
            "auth.admin_exposed.login_many", "Admin consoles reachable (they ask for a login, but are exposed)"
        )
    found = listed([_describe(c) for c in consoles])
    if ordinary:
        said = say(
            "auth.admin_exposed.reachable_beside_ordinary",
            "{summary} at {origin}: {consoles}; {ordinary} only lead to the ordinary login.",
            summary=summary,
            origin=origin,
            consoles=found,
            ordinary=listed([_describe(c) for c in ordinary]),
        )
    else:
        said = say(
            "auth.admin_exposed.reachable",
            "{summary} at {origin}: {consoles}.",
            summary=summary,
            origin=origin,
            consoles=found,
        )
    return Verdict(
        Status.FAIL,
        said,
        evidence,
        Severity.HIGH if open_ones else Severity.MEDIUM,
        finding_key(f"{c.path}:{'open' if not c.demands_auth else 'login'}" for c in consoles),
    )


def _ordinary_only(origin: str, ordinary: list[Console], evidence: dict[str, Any]) -> Verdict:
    # Not a console of its own, so no failure; but whether administrators can sign in there from the
    # Internet without MFA cannot be seen from outside: the owner has to confirm it.
    evidence["requirement"] = ADMIN_REMOTE
    evidence["verify_one_of"] = [str(item) for item in TO_VERIFY]
    paths, (mfa, network) = listed([_describe(c) for c in ordinary]), TO_VERIFY
    if len(ordinary) == 1:
        said = say(
            "auth.admin_exposed.ordinary_only_one",
            "{paths} at {origin} leads to the ordinary user login, not to an admin console of its own; administration "
            "reachable from the Internet needs an address restriction or a second factor ({requirement}): verify "
            "that {mfa}, or that {network}.",
            paths=paths,
            origin=origin,
            requirement=ADMIN_REMOTE,
            mfa=mfa,
            network=network,
        )
    else:
        said = say(
            "auth.admin_exposed.ordinary_only",
            "{paths} at {origin} lead to the ordinary user login, not to an admin console of its own; administration "
            "reachable from the Internet needs an address restriction or a second factor ({requirement}): verify "
            "that {mfa}, or that {network}.",
            paths=paths,
            origin=origin,
            requirement=ADMIN_REMOTE,
            mfa=mfa,
            network=network,
        )
    return Verdict(
        Status.WARN,
        said,
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
    exposed = [c for c in consoles if c.ordinary is None]
    if exposed:
        return _exposed(auth.origin, exposed, [c for c in consoles if c.ordinary is not None], evidence)
    if consoles:
        return _ordinary_only(auth.origin, consoles, evidence)
    if len(untested) == len(ADMIN_PATHS):
        said = say(
            "auth.admin_exposed.no_answer", "None of the {count} admin paths got an answer.", count=len(ADMIN_PATHS)
        )
        return Verdict(Status.ERROR, said, evidence)
    soft = baseline.status if baseline is not None and 200 <= baseline.status < 300 else None
    tested = len(ADMIN_PATHS) - len(untested)
    if untested:
        return Verdict(Status.ERROR, _partly_untested(untested, tested, soft), evidence)
    if soft is not None:
        said = say(
            "auth.admin_exposed.none_soft",
            "None of the {count} well-known admin paths (/admin, /quantri, /phpmyadmin, /manager/html, /actuator, …) "
            "answers with an admin console; the server answers {status} to any unknown path, so content decided.",
            count=len(ADMIN_PATHS),
            status=soft,
        )
    else:
        said = say(
            "auth.admin_exposed.none",
            "None of the {count} well-known admin paths (/admin, /quantri, /phpmyadmin, /manager/html, /actuator, …) "
            "answers with an admin console.",
            count=len(ADMIN_PATHS),
        )
    return Verdict(Status.PASS, said, evidence)


def _partly_untested(untested: list[str], tested: int, soft: int | None) -> Message:
    """Some admin paths got no answer; none of the others shows a console (``soft``: the status every unknown
    path gets, when it is a success and so content decided)."""
    paths = (
        say("auth.admin_exposed.untested_one", "1 admin path could not be tested ({paths})", paths=listed(untested))
        if len(untested) == 1
        else say(
            "auth.admin_exposed.untested",
            "{count} admin paths could not be tested ({paths})",
            count=len(untested),
            paths=listed(untested),
        )
    )
    if soft is not None:
        return say(
            "auth.admin_exposed.partly_soft",
            "{untested}; none of the other {tested} shows an admin console; the server answers {status} to any "
            "unknown path, so content decided.",
            untested=paths,
            tested=tested,
            status=soft,
        )
    return say(
        "auth.admin_exposed.partly",
        "{untested}; none of the other {tested} shows an admin console.",
        untested=paths,
        tested=tested,
    )
