"""Cookie flags: every cookie the platform sets is Secure and has SameSite; session cookies are HttpOnly."""

from __future__ import annotations

from typing import Any, ClassVar

from checks.http.base import HttpCheck, page_evidence, worst_severity
from checks.http.facts import HttpFacts
from checks.http.set_cookie import SetCookie, cookie_findings, parse_set_cookie
from scanner.evidence import clip, finding_key, shorten
from scanner.messages import Message, Text, say
from scanner.model import Severity, Status
from scanner.plugin import Verdict
from scanner.wording import listed

_SEVERITY = {"high": Severity.HIGH, "medium": Severity.MEDIUM, "low": Severity.LOW}


class CookieFlags(HttpCheck):
    id: ClassVar[str] = "http.cookie_flags"
    title: ClassVar[str] = "Cookie attributes (Secure, HttpOnly, SameSite)"
    finding: ClassVar[str] = "A cookie lacks Secure, HttpOnly or SameSite"
    severity: ClassVar[Severity] = Severity.MEDIUM
    needs_page: ClassVar[bool] = False
    why: ClassVar[str] = (
        "A session cookie without Secure can leak over plain HTTP, one without HttpOnly can be stolen by any "
        "injected script, and one without SameSite rides along with cross-site requests (CSRF): each lets an "
        "attacker act as a logged-in official or citizen."
    )
    remediation: ClassVar[str] = (
        "Set cookies with `Secure; HttpOnly; SameSite=Lax` (Strict for back-office platforms), and prefer the "
        "`__Host-` prefix for session cookies (`__Host-session=…; Path=/; Secure; HttpOnly; SameSite=Lax`, no "
        "Domain). Fix it in the application's session settings; as a stop-gap:\n"
        "nginx (1.19.3+): `proxy_cookie_flags ~ secure httponly samesite=lax;`\n"
        'Apache: `Header always edit Set-Cookie ^(.*)$ "$1; Secure; HttpOnly; SameSite=Lax"`\n'
        'IIS / ASP.NET: `<httpCookies requireSSL="true" httpOnlyCookies="true" sameSite="Lax" />` in '
        "web.config (and `cookieSameSite` on `<sessionState>`); PHP: `session.cookie_secure=1`, "
        "`session.cookie_httponly=1`, `session.cookie_samesite=Lax`."
    )

    def judge(self, facts: HttpFacts) -> Verdict:
        evidence = page_evidence(facts)
        cookies: dict[str, tuple[SetCookie, bool, str]] = {}  # redacted line -> (cookie, over https, url)
        deleted: list[str] = []
        for response in facts.responses():
            for header in response.set_cookies:
                cookie = parse_set_cookie(header)
                if cookie is None:
                    continue
                if cookie.deleted(facts.collected_at):
                    if cookie.name not in deleted:
                        deleted.append(cookie.name)
                    continue
                key = cookie.raw
                if key not in cookies or (cookies[key][1] and not response.https):
                    cookies[key] = (cookie, response.https, response.url)
        if deleted:
            evidence["deleted_cookies_ignored"] = clip(deleted)
        if not cookies:
            return Verdict(Status.PASS, say("http.cookie_flags.none", "No cookies are set."), evidence)
        judged: list[dict[str, Any]] = []
        bad: list[tuple[str, list[tuple[str, Message]]]] = []
        flaws: list[str] = []
        for cookie, https, url in cookies.values():
            found = cookie_findings(cookie, https)
            problems = [(level, text) for level, _, text in found]
            flaws += [f"{shorten(cookie.name, 60)}:{flaw}" for _, flaw, _ in found]
            entry: dict[str, Any] = {
                "name": shorten(cookie.name, 80),
                "header": shorten(f"Set-Cookie: {cookie.raw}"),
                "url": shorten(url, 200),
                "session_like": cookie.looks_like_session,
            }
            if problems:
                entry["problems"] = [str(p) for _, p in problems]
                bad.append((cookie.name, problems))
            judged.append(entry)
        evidence["cookies"] = clip(judged)
        if not bad:
            names = sorted({c.name for c, _, _ in cookies.values()})
            return Verdict(
                Status.PASS,
                say(
                    "http.cookie_flags.good",
                    "{cookies} ({names}) set with Secure, SameSite and, where they look like session cookies, "
                    "HttpOnly.",
                    cookies=_cookies(len(names)),
                    names=listed(names),
                ),
                evidence,
            )
        severity = worst_severity((_SEVERITY[level] for _, problems in bad for level, _ in problems), self.severity)
        first_name, first_problems = sorted(bad, key=lambda b: -max(_SEVERITY[lv].rank for lv, _ in b[1]))[0]
        others = len({name for name, _ in bad}) - 1
        more: Text = ""
        if others > 0:
            more = say("http.cookie_flags.others", " ({others} also flawed)", others=_other_cookies(others))
        return Verdict(
            Status.FAIL,
            say(
                "http.cookie_flags.flawed",
                "Cookie {name}: {problems}{more}.",
                name=shorten(first_name, 60),
                problems=listed([p for _, p in first_problems]),
                more=more,
            ),
            evidence,
            severity,
            finding_key(flaws),
        )


def _cookies(count: int) -> Message:
    if count == 1:
        return say("http.count.cookie", "{count} cookie", count=count)
    return say("http.count.cookies", "{count} cookies", count=count)


def _other_cookies(count: int) -> Message:
    if count == 1:
        return say("http.count.other_cookie", "{count} other cookie", count=count)
    return say("http.count.other_cookies", "{count} other cookies", count=count)
