"""Collect the auth family's facts: anonymous probes per URL, one login, and the active attempts.

Each function runs in a worker process (``ScanContext.collect``) through the http family's scoped
``HttpClient`` (platform hosts only, ``resolve``, caps, deadlines). The main page of a registered
URL is **not** requested again: the http family's collection (same fact-cache key) already has it.

Requests per registered URL (``collect_auth``): the 13 admin paths on the page's origin; and on the
platform's primary URL only, the declared ``login_url`` and its plain-HTTP first hop, each declared
protected path (anonymous, no cookies), and plain-HTTP first hops of the protected paths and of the
admin paths that asked for authentication (for ``auth.basic_over_http``).

Credentials are read from the environment **here**, in the worker, by the names the targets file
gives; they are never arguments, never returned, and everything returned is redacted of them.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from checks.auth.consoles import ADMIN_PATHS
from checks.auth.facts import ActiveFacts, Attempt, AuthFacts, LoginFacts, LoginForm, LoginOutcome, SeenCookie, Step
from checks.auth.forms import (
    CAPTCHA,
    LOCKED_WORDS,
    USER_MARK,
    choose_login_form,
    login_data,
    normalise_lines,
    other_fields,
    password_input,
    replace_all,
    username_input,
    visible_lines,
)
from checks.http.api import (
    PAGE_CAP,
    PROBE_CAP,
    Fetch,
    Form,
    FormInput,
    HttpClient,
    HttpResponse,
    origin_of,
    page_info,
    parse_set_cookie,
    plain_twin,
)
from scanner.evidence import shorten
from scanner.model import Platform
from scanner.plugin import ScanSettings
from scanner.urls import UnusableUrl, in_scope, parse

#: Body cap for admin and protected-path probes (markers sit near the top of a page).
CONSOLE_CAP = 2 * PROBE_CAP
#: Failed-attempt pairs (unknown user, wrong password) sent by auth.user_enumeration.
ENUMERATION_ROUNDS = 3
ENUMERATION = "enumeration"
LOCKOUT = "lockout"
FINAL = "final"
TEST_ACCOUNT = "test account"
UNKNOWN_USER = "unknown user"
OUT_OF_TIME = "the endpoint's time budget ran out"


@dataclass(frozen=True)
class AuthTarget:
    """What ``collect_auth`` requests for one registered URL (built the same way by every auth check).

    Attributes:
        url: the registered URL.
        platform: its platform (hosts are the scope, ``resolve`` the addresses).
        origin: the origin of the page after redirects: where the probes go.
        primary: whether this is the platform's primary URL (login and protected paths are requested there).
        login_url: the login URL to fetch (None: not declared, not primary, or the registered URL itself).
        login_twin: the login URL's plain-HTTP twin to request (None when not wanted).
        protected: the protected paths' URLs (primary only).
    """

    url: str
    platform: Platform
    origin: str
    primary: bool
    login_url: str | None = None
    login_twin: str | None = None
    protected: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, str]:
        return ("auth", self.platform.id, self.url)


def collect_auth(target: AuthTarget, settings: ScanSettings, budget: float) -> AuthFacts:
    """The anonymous requests listed in the module docstring, within ``budget`` seconds."""
    started = time.monotonic()
    platform = target.platform
    with HttpClient(platform, settings, deadline=started + max(1.0, budget)) as client:
        admin = tuple(client.get(target.origin + path, cap=CONSOLE_CAP) for path in ADMIN_PATHS)
        login_page = client.get(target.login_url, cap=PAGE_CAP) if target.login_url else None
        login_plain = client.get(target.login_twin, cap=PAGE_CAP, follow=False) if target.login_twin else None
        client.cookies.clear()  # protected paths are asked for anonymously
        protected = tuple(client.get(url, cap=CONSOLE_CAP) for url in target.protected)
        twins: list[Fetch] = []
        if urlsplit(target.origin).scheme == "https":
            wanted = list(target.protected)
            wanted += [fetch.url for fetch in admin if _asks_for_auth(fetch)]
            for url in dict.fromkeys(wanted):
                twins.append(client.get(plain_twin(platform, url), cap=PROBE_CAP, follow=False))
        return AuthFacts(
            url=target.url,
            platform=platform.id,
            origin=target.origin,
            primary=target.primary,
            admin=admin,
            login_url=target.login_url,
            login_page=login_page,
            login_plain=login_plain,
            protected=protected,
            plain_twins=tuple(twins),
            duration=time.monotonic() - started,
            requests=client.sent,
        )


def _asks_for_auth(fetch: Fetch) -> bool:
    return any(r.status in (401, 407) for r in fetch.responses)


# -- logging in -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginTarget:
    """How to log in to a platform with its declared test account.

    Attributes:
        platform: the platform (its ``auth`` settings name the environment variables).
        page_url: the page with the login form (``login_url``, else the primary URL's page).
    """

    platform: Platform
    page_url: str

    @property
    def key(self) -> tuple[str, str]:
        return ("auth-login", self.platform.id)


@dataclass(frozen=True)
class Credentials:
    """The test account, read from the environment in the worker. Never pickled, stored or printed."""

    username: str
    password: str

    def __repr__(self) -> str:
        return "Credentials(<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("credentials are not sent between processes")


def credentials_from_env(platform: Platform) -> Credentials | None:
    auth = platform.auth
    if auth is None or not auth.username_env or not auth.password_env:
        return None
    username = os.environ.get(auth.username_env, "")
    password = os.environ.get(auth.password_env, "")
    if not username or not password:
        return None
    return Credentials(username, password)


@dataclass(frozen=True)
class _Answer:
    """One login attempt, reduced to what may leave the worker."""

    outcome: LoginOutcome
    message: str
    form: LoginForm | None
    steps: tuple[Step, ...]
    cookies: tuple[SeenCookie, ...]
    signals: tuple[str, ...]
    final: HttpResponse | None = None  # kept inside the worker only
    post: HttpResponse | None = None
    captcha: bool = False
    error: str | None = None


def _steps(fetch: Fetch | None, names: Sequence[str]) -> list[Step]:
    if fetch is None:
        return []
    return [
        Step(
            method=r.method,
            url=replace_all(r.url, names),
            status=r.status,
            location=replace_all(r.location or "", names) if r.is_redirect else "",
            length=len(r.body),
            elapsed=r.elapsed,
            https=r.https,
        )
        for r in fetch.responses
    ]


def _cookies(fetch: Fetch | None, phase: str, names: Sequence[str]) -> list[SeenCookie]:
    """The cookies ``fetch`` set (headers that delete a cookie are left out)."""
    out: list[SeenCookie] = []
    if fetch is None:
        return out
    now = dt.datetime.now(dt.UTC)
    for response in fetch.responses:
        for header in response.set_cookies:
            cookie = parse_set_cookie(replace_all(header, names))
            if cookie is not None and not cookie.deleted(now):
                out.append(SeenCookie(cookie, replace_all(response.url, names), response.https, phase))
    return out


def _override_form(page: str, platform: Platform) -> Form | None:
    auth = platform.auth
    if auth is None or not auth.username_field or not auth.password_field:
        return None
    return Form(page, "post", (FormInput(auth.username_field, "text"), FormInput(auth.password_field, "password")))


def attempt(client: HttpClient, target: LoginTarget, username: str, password: str, secret: Sequence[str]) -> _Answer:
    """GET the login page (fresh CSRF token), POST the form with ``username``/``password``; never raises.

    ``secret``: the values to redact from everything kept (the account names and the password).
    """
    platform = target.platform
    auth = platform.auth
    page = client.get(target.page_url, cap=PAGE_CAP)
    steps = _steps(page, secret)
    cookies = _cookies(page, "login page", secret)
    final = page.final
    if final is None or page.blocked_redirect or final.status >= 400:
        why = (
            f"the login page redirects off the platform to {shorten(page.blocked_redirect, 120)}"
            if page.blocked_redirect
            else f"the login page answers {final.status}"
            if final is not None
            else f"the login page got no answer: {page.error.message if page.error else 'no response'}"
        )
        return _Answer(LoginOutcome.UNREACHABLE, why, None, tuple(steps), tuple(cookies), (), error=why)
    captcha = bool(CAPTCHA.search(final.text[:PAGE_CAP]))
    info = page_info(final)
    form = choose_login_form(info.forms, auth.password_field if auth else None)
    discovered = form is not None
    if form is None:
        form = _override_form(final.url, platform)
    if form is None:
        return _Answer(
            LoginOutcome.NO_FORM,
            f"no form with a password field at {shorten(final.url, 120)} (a login rendered by script needs "
            "username_field and password_field in [platforms.auth])",
            None,
            tuple(steps),
            tuple(cookies),
            (),
            captcha=captcha,
        )
    user_field = username_input(form, auth.username_field if auth else None)
    pass_field = password_input(form, auth.password_field if auth else None)
    if not user_field or not pass_field:
        return _Answer(
            LoginOutcome.NO_FORM,
            f"the login form at {shorten(final.url, 120)} has no recognisable account field (set username_field)",
            None,
            tuple(steps),
            tuple(cookies),
            (),
            captcha=captcha,
        )
    used = LoginForm(
        page=replace_all(final.url, secret),
        action=replace_all(form.action, secret),
        method=form.method,
        username_field=user_field,
        password_field=pass_field,
        other_fields=tuple(name for name, _ in other_fields(form, user_field, pass_field)),
        discovered=discovered,
    )
    refusal = None
    try:
        action = parse(form.action)  # the very URL the POST below dials
    except UnusableUrl as exc:
        refusal = f"the login form's action is not a usable URL ({exc}): platscan does not guess where it posts"
    else:
        if action.scheme != "https":
            refusal = (
                f"the login form posts to {shorten(used.action, 120)}, not to an https:// URL: platscan does not "
                "send a password in clear"
            )
        elif not in_scope(platform, action.host):
            refusal = (
                f"the login form posts to {action.host}, which is not one of the platform's registered hosts: "
                "platscan sends credentials only to registered hosts"
            )
    if refusal:
        return _Answer(LoginOutcome.REFUSED, refusal, used, tuple(steps), tuple(cookies), (), captcha=captcha)
    data = login_data(form, user_field, pass_field, username, password)
    post = client.fetch(
        "POST", action.url, data=data, headers={"Referer": final.url, "Origin": origin_of(final.url)}, cap=PAGE_CAP
    )
    steps += _steps(post, secret)
    cookies += _cookies(post, "login", secret)
    answer = post.final
    if answer is None or post.error is not None:
        why = post.error.message if post.error is not None else "no response"
        return _Answer(
            LoginOutcome.UNREACHABLE,
            f"the login POST got no usable answer: {why}",
            used,
            tuple(steps),
            tuple(cookies),
            (),
            post=post.first,
            captcha=captcha,
            error=why,
        )
    outcome, signals = _decide(answer, post, auth.success_marker if auth else None)
    message = "logged in" if outcome is LoginOutcome.LOGGED_IN else "the answer does not look logged in"
    return _Answer(
        outcome,
        f"{message} ({'; '.join(signals)})",
        used,
        tuple(steps),
        tuple(cookies),
        tuple(signals),
        final=answer,
        post=post.first,
        captcha=captcha or bool(CAPTCHA.search(answer.text[:PAGE_CAP])),
    )


def _decide(answer: HttpResponse, post: Fetch, marker: str | None) -> tuple[LoginOutcome, list[str]]:
    signals: list[str] = []
    if post.blocked_redirect:
        signals.append("redirected off the platform (not followed)")
    if marker:
        found = marker in answer.text
        signals.append(f"success_marker {'found' if found else 'not found'} in the answer ({answer.status})")
        return (LoginOutcome.LOGGED_IN if found else LoginOutcome.REJECTED), signals
    if answer.status >= 400:
        signals.append(f"the answer is {answer.status}")
        return LoginOutcome.REJECTED, signals
    if any(form.has_password for form in page_info(answer).forms):
        signals.append(f"the answer ({answer.status}) shows a password field again")
        return LoginOutcome.REJECTED, signals
    redirects = len(post.responses) - 1
    signals.append(
        f"the answer ({answer.status}{f', after {redirects} redirect(s)' if redirects else ''}) shows no password field"
    )
    return LoginOutcome.LOGGED_IN, signals


def collect_login(target: LoginTarget, settings: ScanSettings, budget: float) -> LoginFacts:
    """Log in once with the declared test account (read from the environment here)."""
    started = time.monotonic()
    creds = credentials_from_env(target.platform)
    if creds is None:
        return LoginFacts(LoginOutcome.REFUSED, "the test account's environment variables are not set", target.page_url)
    secret = (creds.password, creds.username)
    with HttpClient(target.platform, settings, deadline=started + max(1.0, budget)) as client:
        answer = attempt(client, target, creds.username, creds.password, secret)
        return LoginFacts(
            outcome=answer.outcome,
            message=replace_all(answer.message, secret),
            page_url=target.page_url,
            form=answer.form,
            steps=answer.steps,
            cookies=answer.cookies,
            signals=tuple(replace_all(s, secret) for s in answer.signals),
            duration=time.monotonic() - started,
            requests=client.sent,
        )


# -- the active checks ----------------------------------------------------------------------------------


def lockout_limit(level: int) -> int:
    """N, the most failed logins before a lock: TCVN 14423 x.5.2.2 a suggests 5 for business software at
    level 2 and above, 10 below."""
    return 10 if level <= 1 else 5


def _unknown_user(username: str) -> str:
    name = f"platscan-{secrets.token_hex(5)}"
    if "@" in username:
        return f"{name}@{username.rsplit('@', 1)[1]}"
    return name


def _record(
    number: int, phase: str, account: str, password: str, answer: _Answer, names: Sequence[str], secret: Sequence[str]
) -> Attempt:
    final = answer.final
    text: tuple[str, ...] = ()
    login_form = False
    locked = False
    retry_after = None
    if final is not None:
        lines = [replace_all(line, secret) for line in visible_lines(final.text)]
        text = normalise_lines(lines, names)
        login_form = any(form.has_password for form in page_info(final).forms)
        locked = bool(LOCKED_WORDS.search("\n".join(lines)))
        retry_after = final.header("Retry-After")
    return Attempt(
        number=number,
        phase=phase,
        account=account,
        password=password,
        outcome=answer.outcome,
        status=final.status if final is not None else (answer.post.status if answer.post is not None else None),
        statuses=_post_statuses(answer),
        final_path=replace_all(urlsplit(final.url).path, secret) if final is not None else "",
        length=len(replace_all(final.text, names, USER_MARK).encode()) if final is not None else 0,
        elapsed=answer.post.elapsed if answer.post is not None else 0.0,
        login_form=login_form,
        captcha=answer.captcha,
        locked_words=locked,
        retry_after=retry_after,
        error=replace_all(answer.error, secret) if answer.error else None,
        text=text,
    )


def _post_statuses(answer: _Answer) -> tuple[int, ...]:
    """Statuses of the POST and the redirects after it (the steps after the login page's)."""
    out: list[int] = []
    seen_post = False
    for step in answer.steps:
        if step.method == "POST":
            seen_post = True
        if seen_post:
            out.append(step.status)
    return tuple(out)


def collect_active(target: LoginTarget, phases: tuple[str, ...], settings: ScanSettings, budget: float) -> ActiveFacts:
    """The failed logins of the active checks, in this order (so neither spoils the other):

    1. ``enumeration``: ENUMERATION_ROUNDS pairs, alternating an unknown user and the test account with
       a wrong password;
    2. ``lockout``: more wrong passwords for the test account until N+1 failed logins in all (counting
       those of step 1), stopping early at a 429 or a CAPTCHA; then the correct password once.
    """
    started = time.monotonic()
    level = target.platform.level
    limit = lockout_limit(level)
    creds = credentials_from_env(target.platform)
    if creds is None:
        return ActiveFacts(phases, level, limit, message="the test account's environment variables are not set")
    unknown = _unknown_user(creds.username)
    secret = (creds.password, creds.username)
    names = (creds.username, unknown)
    attempts: list[Attempt] = []
    stopped: str | None = None
    with HttpClient(target.platform, settings, deadline=started + max(1.0, budget)) as client:

        def one(phase: str, account: str, password: str) -> Attempt:
            client.cookies.clear()  # each attempt as a new visitor: a fresh session and CSRF token
            user = creds.username if account == TEST_ACCOUNT else unknown
            secret_word = creds.password if password == "correct" else f"platscan-wrong-{secrets.token_urlsafe(9)}"
            answer = attempt(client, target, user, secret_word, secret)
            record = _record(len(attempts) + 1, phase, account, password, answer, names, secret)
            attempts.append(record)
            return record

        def usable(record: Attempt) -> bool:
            return record.outcome in (LoginOutcome.LOGGED_IN, LoginOutcome.REJECTED)

        def time_left() -> bool:
            """Room for one more attempt (two ordinary requests); else stop rather than be cut off mid-way."""
            remaining = client.remaining()
            return remaining is None or remaining > 2 * client.timeout

        if ENUMERATION in phases:
            for _ in range(ENUMERATION_ROUNDS):
                if not time_left() or not usable(one(ENUMERATION, UNKNOWN_USER, "wrong")):
                    break
                if not time_left() or not usable(one(ENUMERATION, TEST_ACCOUNT, "wrong")):
                    break
        if LOCKOUT in phases and all(usable(a) for a in attempts):
            failures = len([a for a in attempts if a.account == TEST_ACCOUNT])
            while failures < limit + 1:
                if not time_left():
                    stopped = OUT_OF_TIME
                    break
                record = one(LOCKOUT, TEST_ACCOUNT, "wrong")
                failures += 1
                if record.throttled:
                    stopped = f"attempt {record.number} was answered {record.status}: throttled"
                    break
                if record.captcha and not attempts[0].captcha:
                    stopped = f"attempt {record.number} brought a CAPTCHA"
                    break
                if not usable(record):
                    stopped = f"attempt {record.number} got no usable answer"
                    break
                if record.logged_in:
                    stopped = f"attempt {record.number} with a wrong password was let in"
                    break
            if stopped != OUT_OF_TIME:
                one(FINAL, TEST_ACCOUNT, "correct")
        return ActiveFacts(
            phases=phases,
            level=level,
            limit=limit,
            attempts=tuple(attempts),
            unknown_user=unknown,
            stopped=stopped,
            duration=time.monotonic() - started,
            requests=client.sent,
        )
