"""Log in to a platform with its declared test account (``collect_login``), and the login attempt itself.

The attempt (``attempt``: fetch the form, post it, read the answer) is shared with the active checks'
collection, which repeats it with wrong passwords; it lives here with the test account because both are
about one thing: sending credentials, and nothing of them coming back out of the worker.

Credentials are read from the environment **here**, in the worker process, by the names the targets file
gives; they are never arguments, never returned, and everything returned is redacted of them.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from checks.auth.facts import LoginFacts, LoginForm, LoginOutcome, SeenCookie, Step
from checks.auth.forms import (
    CAPTCHA,
    choose_login_form,
    login_data,
    other_fields,
    password_input,
    replace_all,
    username_input,
)
from checks.auth.settings import auth_settings
from checks.auth.wording import fetch_failure, redacted
from checks.http.api import (
    PAGE_CAP,
    Fetch,
    Form,
    FormInput,
    HttpClient,
    HttpResponse,
    origin_of,
    page_info,
    parse_set_cookie,
)
from scanner.evidence import shorten
from scanner.messages import Message, say
from scanner.model import Platform
from scanner.plugin import ScanSettings
from scanner.urls import UnusableUrl, in_scope, parse


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


def credentials_unset() -> Message:
    """Why a worker could not read the test account (it reads the environment by the names declared)."""
    return say("auth.login.credentials_unset", "the test account's environment variables are not set")


def credentials_from_env(platform: Platform) -> Credentials | None:
    auth = auth_settings(platform)
    if auth is None or not auth.username_env or not auth.password_env:
        return None
    username = os.environ.get(auth.username_env, "")
    password = os.environ.get(auth.password_env, "")
    if not username or not password:
        return None
    return Credentials(username, password)


@dataclass(frozen=True)
class LoginAnswer:
    """One login attempt, reduced to what may leave the worker."""

    outcome: LoginOutcome
    message: Message
    form: LoginForm | None
    steps: tuple[Step, ...]
    cookies: tuple[SeenCookie, ...]
    signals: tuple[str, ...]
    final: HttpResponse | None = None  # kept inside the worker only
    post: HttpResponse | None = None
    captcha: bool = False
    error: Message | None = None


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
    auth = auth_settings(platform)
    if auth is None or not auth.username_field or not auth.password_field:
        return None
    return Form(page, "post", (FormInput(auth.username_field, "text"), FormInput(auth.password_field, "password")))


def attempt(
    client: HttpClient, target: LoginTarget, username: str, password: str, secret: Sequence[str]
) -> LoginAnswer:
    """GET the login page (fresh CSRF token), POST the form with ``username``/``password``; never raises.

    ``secret``: the values to redact from everything kept (the account names and the password).
    """
    platform = target.platform
    auth = auth_settings(platform)
    page = client.get(target.page_url, cap=PAGE_CAP)
    steps = _steps(page, secret)
    cookies = _cookies(page, "login page", secret)
    final = page.final
    if final is None or page.blocked_redirect or final.status >= 400:
        if page.blocked_redirect:
            why = say(
                "auth.login.page_off_platform",
                "the login page redirects off the platform to {location}",
                location=shorten(page.blocked_redirect, 120),
            )
        elif final is not None:
            why = say("auth.login.page_status", "the login page answers {status}", status=final.status)
        else:
            why = say("auth.login.page_no_answer", "the login page got no answer: {error}", error=fetch_failure(page))
        return LoginAnswer(LoginOutcome.UNREACHABLE, why, None, tuple(steps), tuple(cookies), (), error=why)
    captcha = bool(CAPTCHA.search(final.text[:PAGE_CAP]))
    info = page_info(final)
    form = choose_login_form(info.forms, auth.password_field if auth else None)
    discovered = form is not None
    if form is None:
        form = _override_form(final.url, platform)
    if form is None:
        return LoginAnswer(
            LoginOutcome.NO_FORM,
            say(
                "auth.login.no_form",
                "no form with a password field at {url} (a login rendered by script needs username_field and "
                "password_field in [platforms.auth])",
                url=shorten(final.url, 120),
            ),
            None,
            tuple(steps),
            tuple(cookies),
            (),
            captcha=captcha,
        )
    user_field = username_input(form, auth.username_field if auth else None)
    pass_field = password_input(form, auth.password_field if auth else None)
    if not user_field or not pass_field:
        return LoginAnswer(
            LoginOutcome.NO_FORM,
            say(
                "auth.login.no_account_field",
                "the login form at {url} has no recognisable account field (set username_field)",
                url=shorten(final.url, 120),
            ),
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
    refusal: Message | None = None
    try:
        action = parse(form.action)  # the very URL the POST below dials
    except UnusableUrl as exc:
        refusal = say(
            "auth.login.unusable_action",
            "the login form's action is not a usable URL ({error}): platscan does not guess where it posts",
            error=str(exc),
        )
    else:
        if action.scheme != "https":
            refusal = say(
                "auth.login.action_over_http",
                "the login form posts to {action}, not to an https:// URL: platscan does not send a password in clear",
                action=shorten(used.action, 120),
            )
        elif not in_scope(platform, action.host):
            refusal = say(
                "auth.login.action_other_host",
                "the login form posts to {host}, which is not one of the platform's registered hosts: platscan sends "
                "credentials only to registered hosts",
                host=action.host,
            )
    if refusal is not None:
        return LoginAnswer(LoginOutcome.REFUSED, refusal, used, tuple(steps), tuple(cookies), (), captcha=captcha)
    data = login_data(form, user_field, pass_field, username, password)
    post = client.fetch(
        "POST", action.url, data=data, headers={"Referer": final.url, "Origin": origin_of(final.url)}, cap=PAGE_CAP
    )
    steps += _steps(post, secret)
    cookies += _cookies(post, "login", secret)
    answer = post.final
    if answer is None or post.error is not None:
        why = fetch_failure(post)
        return LoginAnswer(
            LoginOutcome.UNREACHABLE,
            say("auth.login.post_no_answer", "the login POST got no usable answer: {error}", error=why),
            used,
            tuple(steps),
            tuple(cookies),
            (),
            post=post.first,
            captcha=captcha,
            error=why,
        )
    outcome, signals = _decide(answer, post, auth.success_marker if auth else None)
    joined = signals[0]
    for signal in signals[1:]:
        joined = say("auth.login.signals", "{signals}; {signal}", signals=joined, signal=signal)
    if outcome is LoginOutcome.LOGGED_IN:
        message = say("auth.login.logged_in", "logged in ({signals})", signals=joined)
    else:
        message = say("auth.login.not_logged_in", "the answer does not look logged in ({signals})", signals=joined)
    return LoginAnswer(
        outcome,
        message,
        used,
        tuple(steps),
        tuple(cookies),
        tuple(str(signal) for signal in signals),
        final=answer,
        post=post.first,
        captcha=captcha or bool(CAPTCHA.search(answer.text[:PAGE_CAP])),
    )


def _decide(answer: HttpResponse, post: Fetch, marker: str | None) -> tuple[LoginOutcome, list[Message]]:
    """Logged in or not, and the signals that decided it (never empty)."""
    signals: list[Message] = []
    status = answer.status
    if post.blocked_redirect:
        signals.append(say("auth.login.off_platform", "redirected off the platform (not followed)"))
    if marker:
        found = marker in answer.text
        if found:
            signals.append(
                say("auth.login.marker_found", "success_marker found in the answer ({status})", status=status)
            )
        else:
            signals.append(
                say("auth.login.marker_not_found", "success_marker not found in the answer ({status})", status=status)
            )
        return (LoginOutcome.LOGGED_IN if found else LoginOutcome.REJECTED), signals
    if status >= 400:
        signals.append(say("auth.login.error_status", "the answer is {status}", status=status))
        return LoginOutcome.REJECTED, signals
    if any(form.has_password for form in page_info(answer).forms):
        signals.append(
            say("auth.login.password_again", "the answer ({status}) shows a password field again", status=status)
        )
        return LoginOutcome.REJECTED, signals
    redirects = len(post.responses) - 1
    if redirects:
        said = say(
            "auth.login.no_password_after_redirects",
            "the answer ({status}, after {redirects} redirect(s)) shows no password field",
            status=status,
            redirects=redirects,
        )
    else:
        said = say("auth.login.no_password", "the answer ({status}) shows no password field", status=status)
    signals.append(said)
    return LoginOutcome.LOGGED_IN, signals


def collect_login(target: LoginTarget, settings: ScanSettings, budget: float) -> LoginFacts:
    """Log in once with the declared test account (read from the environment here)."""
    started = time.monotonic()
    creds = credentials_from_env(target.platform)
    if creds is None:
        return LoginFacts(LoginOutcome.REFUSED, credentials_unset(), target.page_url)
    secret = (creds.password, creds.username)
    with HttpClient(target.platform, settings, deadline=started + max(1.0, budget)) as client:
        answer = attempt(client, target, creds.username, creds.password, secret)
        return LoginFacts(
            outcome=answer.outcome,
            message=redacted(answer.message, secret),
            page_url=target.page_url,
            form=answer.form,
            steps=answer.steps,
            cookies=answer.cookies,
            signals=tuple(replace_all(s, secret) for s in answer.signals),
            duration=time.monotonic() - started,
            requests=client.sent,
        )
