"""The session cookie a real login sets: Secure, HttpOnly and SameSite (needs the declared test account)."""

from __future__ import annotations

from typing import Any, ClassVar

from checks.auth._collect_login import LoginTarget, collect_login
from checks.auth.base import AuthCheck, credentials_missing, primary_url
from checks.auth.facts import LoginFacts, LoginOutcome, SeenCookie
from checks.auth.settings import auth_settings
from checks.http.api import SAMESITE_VALUES, HttpFacts, page_info
from scanner.evidence import clip, finding_key, shorten
from scanner.messages import Message, say
from scanner.model import Endpoint, Platform, Severity, Status
from scanner.plugin import ScanContext, Verdict
from scanner.wording import listed

#: Session identifiers are long random strings; shorter values set at login are preferences or flags.
MIN_SESSION_VALUE = 16


def login_target(platform: Platform, http: HttpFacts) -> LoginTarget | None:
    """Where the test account logs in: ``login_url``, else the primary URL's page if it has a login form."""
    auth = auth_settings(platform)
    if auth is not None and auth.login_url:
        return LoginTarget(platform, auth.login_url)
    final = http.final
    if final is not None and any(form.has_password for form in page_info(final).forms):
        return LoginTarget(platform, final.url)
    if auth is not None and auth.username_field and auth.password_field:
        return LoginTarget(platform, primary_url(platform) or http.url)
    return None


def collect_session(check: AuthCheck, ctx: ScanContext, http: HttpFacts) -> LoginFacts | Verdict:
    """The one login of the scan for this platform (shared by the session and active checks), or the verdict
    that says why there is none."""
    target = login_target(ctx.platform, http)
    if target is None:
        return Verdict(
            Status.SKIP,
            say(
                "auth.session.nothing_to_log_in",
                "No login_url is declared and {url} has no login form: there is nothing to log in to.",
                url=http.url,
            ),
            {"url": http.url},
        )
    facts: LoginFacts = ctx.collect(target.key, collect_login, target, ctx.settings, check.budget(ctx))
    return facts


def not_logged_in(login: LoginFacts, why_needed: Message) -> Verdict:
    """The verdict of a check that needs a session when the login did not work."""
    evidence = login_evidence(login)
    if login.outcome is LoginOutcome.REJECTED:
        return Verdict(
            Status.ERROR,
            say(
                "auth.session.rejected",
                "The test account could not log in, so {consequence}: {reason}. Check the account, or set "
                "success_marker (text shown only after a login) in [platforms.auth].",
                consequence=why_needed,
                reason=login.message,
            ),
            evidence,
        )
    if login.outcome is LoginOutcome.REFUSED:
        return Verdict(Status.ERROR, say("auth.session.refused", "{reason}.", reason=login.message), evidence)
    return Verdict(
        Status.ERROR,
        say(
            "auth.session.no_login",
            "The test account could not log in, so {consequence}: {reason}.",
            consequence=why_needed,
            reason=login.message,
        ),
        evidence,
    )


def login_evidence(login: LoginFacts) -> dict[str, Any]:
    out: dict[str, Any] = {"login_page": login.page_url, "outcome": login.outcome.value}
    if login.form is not None:
        out["form"] = login.form.evidence()
    if login.steps:
        out["exchange"] = clip(step.evidence() for step in login.steps)
    if login.signals:
        out["signals"] = list(login.signals)
    out["requests"] = login.requests
    return out


def session_cookies(login: LoginFacts) -> list[SeenCookie]:
    """The cookies that carry the session after the login: session-like cookies set by the login POST or its
    redirects (else any long-valued cookie set then), else session-like cookies from the login page that
    the login kept (not renewed)."""
    at_login = [c for c in login.cookies if c.phase == "login"]
    chosen = [c for c in at_login if _session_like(c)]
    if not chosen:
        chosen = [c for c in at_login if c.cookie.value_length >= MIN_SESSION_VALUE and not _not_session(c)]
    if chosen:
        return _latest(chosen)
    before = [c for c in login.cookies if c.phase == "login page" and _session_like(c)]
    return _latest(before)


def _session_like(seen: SeenCookie) -> bool:
    prefixed = seen.cookie.name.lower().startswith(("__host-", "__secure-"))
    return (seen.cookie.looks_like_session or prefixed) and not _not_session(seen)


def _not_session(seen: SeenCookie) -> bool:
    name = seen.cookie.name.lower()
    return any(word in name for word in ("csrf", "xsrf", "lang", "locale", "theme", "consent"))


def _latest(cookies: list[SeenCookie]) -> list[SeenCookie]:
    by_name: dict[str, SeenCookie] = {}
    for seen in cookies:
        by_name[seen.cookie.name] = seen  # the last Set-Cookie of a name wins, as in a browser
    return list(by_name.values())


def cookie_flaws(seen: SeenCookie) -> list[tuple[Severity, str, Message]]:
    """What is wrong with one session cookie: (severity, flaw, problem); ``flaw`` names the problem
    for the finding's key ("no-secure"), whatever its sentence says."""
    cookie = seen.cookie
    flaws: list[tuple[Severity, str, Message]] = []
    name = cookie.name.lower()
    if not seen.https:
        flaws.append((Severity.HIGH, "over-http", say("auth.session_cookie.over_http", "set over plain HTTP")))
    if not cookie.secure:
        text = say("auth.session_cookie.no_secure", "no Secure attribute (it is sent over plain HTTP too)")
        flaws.append((Severity.HIGH, "no-secure", text))
    elif name.startswith("__host-") and (cookie.path != "/" or cookie.domain is not None):
        text = say(
            "auth.session_cookie.bad_host_prefix",
            "the __Host- prefix requires Path=/ and no Domain: browsers reject it",
        )
        flaws.append((Severity.HIGH, "bad-host-prefix", text))
    if not cookie.http_only:
        text = say(
            "auth.session_cookie.no_httponly", "no HttpOnly attribute (any injected script can steal the session)"
        )
        flaws.append((Severity.MEDIUM, "no-httponly", text))
    samesite = cookie.samesite
    if samesite is None:
        text = say(
            "auth.session_cookie.no_samesite", "no SameSite attribute (cross-site requests carry the session: CSRF)"
        )
        flaws.append((Severity.MEDIUM, "no-samesite", text))
    elif samesite.lower() not in SAMESITE_VALUES:
        text = say("auth.session_cookie.bad_samesite", "SameSite={value} is not a valid value", value=samesite)
        flaws.append((Severity.MEDIUM, "bad-samesite", text))
    elif samesite.lower() == "none":
        text = say("auth.session_cookie.samesite_none", "SameSite=None (cross-site requests carry the session)")
        flaws.append((Severity.LOW, "samesite-none", text))
    return flaws


class SessionCookie(AuthCheck):
    id: ClassVar[str] = "auth.session_cookie"
    title: ClassVar[str] = "Session cookie attributes"
    finding: ClassVar[str] = "The session cookie set at login lacks Secure, HttpOnly or a safe SameSite"
    severity: ClassVar[Severity] = Severity.MEDIUM
    per_platform: ClassVar[bool] = True
    logs_in: ClassVar[bool] = True
    why: ClassVar[str] = (
        "The cookie a login sets *is* the logged-in official or citizen: without Secure it leaks over plain HTTP, "
        "without HttpOnly any injected script can copy it, without SameSite other websites can make the browser "
        "act with it (CSRF). Whoever holds it needs no password."
    )
    remediation: ClassVar[str] = (
        "Issue a new session cookie at login with `Secure; HttpOnly; SameSite=Lax` (Strict for back-office "
        "platforms), ideally named with the `__Host-` prefix (`__Host-session=…; Path=/; Secure; HttpOnly; "
        "SameSite=Lax`). Fix it in the application's session settings: PHP `session.cookie_secure=1`, "
        "`session.cookie_httponly=1`, `session.cookie_samesite=Lax`; Django `SESSION_COOKIE_SECURE = True`, "
        "`SESSION_COOKIE_HTTPONLY = True`, `SESSION_COOKIE_SAMESITE = 'Lax'`; Spring Boot "
        "`server.servlet.session.cookie.secure=true`, `.http-only=true`, `.same-site=lax`; ASP.NET Core "
        "`options.Cookie.SecurePolicy = CookieSecurePolicy.Always`, `HttpOnly = true`, `SameSite = "
        "SameSiteMode.Lax`. As a stop-gap in front of the application:\n"
        "nginx (1.19.3+): `proxy_cookie_flags ~ secure httponly samesite=lax;`\n"
        'Apache: `Header always edit Set-Cookie ^(.*)$ "$1; Secure; HttpOnly; SameSite=Lax"`\n'
        'IIS: `<httpCookies requireSSL="true" httpOnlyCookies="true" sameSite="Lax" />` in web.config.'
    )

    def precondition(self, endpoint: Endpoint, ctx: ScanContext) -> Verdict | None:
        missing = credentials_missing(ctx.platform)
        if missing:
            # The check applies (the platform has a login); it could not run: untested, never "n/a".
            return Verdict(
                Status.ERROR,
                say(
                    "auth.session_cookie.no_account",
                    "{reason}; the session cookie can only be judged after a login.",
                    reason=missing,
                ),
                {"url": endpoint.target},
            )
        return None

    def assess(self, endpoint: Endpoint, ctx: ScanContext, http: HttpFacts) -> Verdict:
        login = collect_session(self, ctx, http)
        if isinstance(login, Verdict):
            return login
        return judge_session(login)


def judge_session(login: LoginFacts) -> Verdict:
    """Pure: after a successful login, the session cookie has Secure, HttpOnly and SameSite."""
    if not login.logged_in:
        return not_logged_in(login, say("auth.session_cookie.unjudged", "the session cookie could not be judged"))
    evidence = login_evidence(login)
    cookies = session_cookies(login)
    if not cookies:
        evidence["cookies_seen"] = clip(shorten(c.cookie.name, 80) for c in login.cookies)
        return Verdict(
            Status.WARN,
            say(
                "auth.session_cookie.none",
                "The login worked but set no session cookie (the session may live in a token the page stores: "
                "check it is not in localStorage).",
            ),
            evidence,
            Severity.LOW,
        )
    judged: list[dict[str, Any]] = []
    bad: list[tuple[str, list[tuple[Severity, Message]]]] = []
    codes: list[str] = []
    for seen in cookies:
        found = cookie_flaws(seen)
        flaws = [(severity, text) for severity, _, text in found]
        codes += [f"{shorten(seen.cookie.name, 60)}:{flaw}" for _, flaw, _ in found]
        entry: dict[str, Any] = {
            "name": shorten(seen.cookie.name, 80),
            "header": shorten(f"Set-Cookie: {seen.cookie.raw}"),
            "set_by": f"{seen.phase}: {shorten(seen.url, 160)}",
        }
        if flaws:
            entry["problems"] = [str(text) for _, text in flaws]
            bad.append((seen.cookie.name, flaws))
        judged.append(entry)
    evidence["session_cookies"] = judged
    renewed = any(c.phase == "login" for c in cookies)
    if not renewed:
        evidence["note"] = "the session cookie was set before the login and not renewed by it (session fixation risk)"
    names = [shorten(c.cookie.name, 60) for c in cookies]
    if not bad:
        if len(names) > 1:
            said = say(
                "auth.session_cookie.good_many",
                "The session cookies set at login ({names}) are Secure, HttpOnly and SameSite.",
                names=listed(names),
            )
        else:
            said = say(
                "auth.session_cookie.good",
                "The session cookie set at login ({names}) is Secure, HttpOnly and SameSite.",
                names=listed(names),
            )
        return Verdict(Status.PASS, said, evidence)
    worst = max((sev for _, flaws in bad for sev, _ in flaws), key=lambda s: s.rank)
    severity = Severity.HIGH if worst is Severity.HIGH else Severity.MEDIUM
    status = Status.FAIL if worst.rank >= Severity.MEDIUM.rank else Status.WARN
    name, flaws = sorted(bad, key=lambda b: -max(s.rank for s, _ in b[1]))[0]
    others = len(bad) - 1
    problems = listed([text for _, text in flaws])
    if others:
        said = say(
            "auth.session_cookie.flawed_and_others",
            "Session cookie {name} set at login: {problems} ({others} also flawed).",
            name=shorten(name, 60),
            problems=problems,
            others=(
                say("auth.session_cookie.other", "1 other session cookie")
                if others == 1
                else say("auth.session_cookie.others", "{count} other session cookies", count=others)
            ),
        )
    else:
        said = say(
            "auth.session_cookie.flawed",
            "Session cookie {name} set at login: {problems}.",
            name=shorten(name, 60),
            problems=problems,
        )
    return Verdict(
        status,
        said,
        evidence,
        severity if status is Status.FAIL else Severity.LOW,
        finding_key(codes),
    )
