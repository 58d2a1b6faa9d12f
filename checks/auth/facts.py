"""What the auth family observed, as frozen, picklable values (no I/O here).

Three collections, each made once per scan in a worker process (``_collect_anonymous``, ``_collect_login``,
``_collect_active``):

* ``AuthFacts``, per registered URL: anonymous requests only (admin consoles, the login page and its
  plain-HTTP twin, the declared protected paths, and plain-HTTP twins for the Basic-auth check);
* ``LoginFacts``, per platform: one login with the declared test account (``auth.session_cookie``);
* ``ActiveFacts``, per platform: the failed logins of ``auth.user_enumeration`` and ``auth.lockout``.

Credentials never enter these values: a login is described by the *names* of the fields sent, by
who the account was ("test account", "unknown user") and whether the password was right or wrong,
and by what came back with bodies reduced to a length and a few redacted signals.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from checks.http.api import Fetch, SetCookie
from scanner.evidence import shorten
from scanner.messages import Message, say


@dataclass(frozen=True)
class AuthFacts:
    """Everything the auth family requested anonymously for one registered URL.

    Attributes:
        url: the registered URL.
        platform: the platform's id.
        origin: where the admin and protected-path probes went (the page's final origin).
        primary: whether this URL is the one the platform-level checks judge on.
        admin: one fetch per ``consoles.ADMIN_PATHS`` entry, in that order (redirects on the platform's
            hosts followed).
        login_url: the declared login URL (primary URL only), or None.
        login_page: ``login_url`` fetched (None when not declared, or when it is the registered URL
            itself: then the http family's page is that fetch).
        login_plain: the first hop of the login URL over plain HTTP (None when not requested).
        protected: one fetch per declared protected path (primary URL only), in declaration order.
        plain_twins: first hops over plain HTTP of the protected paths and of the admin paths that asked
            for authentication over HTTPS (only ``auth.basic_over_http`` reads them).
        duration: seconds the collection took.
        requests: how many HTTP requests it sent.
    """

    url: str
    platform: str
    origin: str
    primary: bool
    admin: tuple[Fetch, ...] = ()
    login_url: str | None = None
    login_page: Fetch | None = None
    login_plain: Fetch | None = None
    protected: tuple[Fetch, ...] = ()
    plain_twins: tuple[Fetch, ...] = ()
    duration: float = 0.0
    requests: int = 0


class LoginOutcome(enum.StrEnum):
    """How a login attempt ended."""

    LOGGED_IN = "logged_in"  # the answer looks like a logged-in page (or shows success_marker)
    REJECTED = "rejected"  # the credentials were sent; the answer does not look logged in
    NO_FORM = "no_form"  # no form with a password field on the login page (and no field overrides)
    REFUSED = "refused"  # platscan would not send the password there (plain HTTP, another host, …)
    UNREACHABLE = "unreachable"  # the login page or the POST got no usable answer


@dataclass(frozen=True)
class LoginForm:
    """The form a login used: names only, never values.

    Attributes:
        page: the URL the form was found on.
        action: where it posts (resolved against the page and <base>).
        method: the method the form declares (platscan always POSTs).
        username_field: the name of the field the account name went into.
        password_field: the name of the password field.
        other_fields: names of the other fields sent back with the page's own values (CSRF tokens, …).
        discovered: True when found in the page; False when built from the targets file's overrides.
    """

    page: str
    action: str
    method: str
    username_field: str
    password_field: str
    other_fields: tuple[str, ...] = ()
    discovered: bool = True

    def evidence(self) -> dict[str, object]:
        out: dict[str, object] = {
            "page": shorten(self.page, 200),
            "action": shorten(self.action, 200),
            "declared_method": self.method.upper(),
            "username_field": self.username_field,
            "password_field": self.password_field,
        }
        if self.other_fields:
            out["other_fields"] = list(self.other_fields[:10])
        if not self.discovered:
            out["from_overrides"] = True
        return out


@dataclass(frozen=True)
class Step:
    """One response of a login exchange, without its body.

    Attributes:
        method: the request method.
        url: the URL requested (redacted).
        status: the status code.
        location: the Location header of a redirect (redacted), else "".
        length: bytes of body read.
        elapsed: seconds from sending the request to the end of its body.
        https: whether it came over TLS.
    """

    method: str
    url: str
    status: int
    location: str = ""
    length: int = 0
    elapsed: float = 0.0
    https: bool = True

    def evidence(self) -> dict[str, object]:
        out: dict[str, object] = {"request": f"{self.method} {shorten(self.url, 200)}", "status": self.status}
        if self.location:
            out["location"] = shorten(self.location, 200)
        return out


@dataclass(frozen=True)
class SeenCookie:
    """A Set-Cookie seen during a login (value redacted by ``parse_set_cookie``).

    Attributes:
        cookie: the parsed header.
        url: the response that set it (redacted).
        https: whether that response came over TLS.
        phase: "login page" (the GET before the login) or "login" (the POST and its redirects).
    """

    cookie: SetCookie
    url: str
    https: bool
    phase: str


@dataclass(frozen=True)
class LoginFacts:
    """One login with the declared test account.

    Attributes:
        outcome: how it ended.
        message: one sentence on why (for a report).
        page_url: the login page requested.
        form: the form used (None when none was found or usable).
        steps: the responses of the login page GET and of the POST with its redirects.
        cookies: every Set-Cookie of the exchange, in order.
        signals: what the logged-in / rejected decision rests on.
        duration: seconds the collection took.
        requests: how many HTTP requests it sent.
    """

    outcome: LoginOutcome
    message: Message
    page_url: str
    form: LoginForm | None = None
    steps: tuple[Step, ...] = ()
    cookies: tuple[SeenCookie, ...] = ()
    signals: tuple[str, ...] = ()
    duration: float = 0.0
    requests: int = 0

    @property
    def logged_in(self) -> bool:
        return self.outcome is LoginOutcome.LOGGED_IN


@dataclass(frozen=True)
class Attempt:
    """One login attempt of an active check, as sent and as answered (no credentials, no body).

    Attributes:
        number: 1-based order within the collection.
        phase: "enumeration", "lockout" or "final" (the correct password after the failures).
        account: "test account" or "unknown user".
        password: "wrong" (random) or "correct".
        outcome: how it ended.
        status: the final status code (None when no answer).
        statuses: every status of the POST and its redirects.
        final_path: path of the final response (redacted).
        length: bytes of the final body read, with the account names replaced by a fixed mark (an answer
            that echoes the name typed is not longer for a longer name).
        elapsed: seconds for the POST's own response (the server's decision time).
        login_form: the answer shows a login form again.
        captcha: the login page or the answer shows a CAPTCHA.
        locked_words: the answer speaks of a locked account or of too many attempts.
        retry_after: the Retry-After header, if any.
        error: why there was no usable answer.
        text: the visible text lines of the answer, account names replaced by "‹user›" and digits by
            "#" (only ``auth.user_enumeration`` compares them).
    """

    number: int
    phase: str
    account: str
    password: str
    outcome: LoginOutcome
    status: int | None = None
    statuses: tuple[int, ...] = ()
    final_path: str = ""
    length: int = 0
    elapsed: float = 0.0
    login_form: bool = False
    captcha: bool = False
    locked_words: bool = False
    retry_after: str | None = None
    error: Message | None = None
    text: tuple[str, ...] = ()

    @property
    def logged_in(self) -> bool:
        return self.outcome is LoginOutcome.LOGGED_IN

    @property
    def throttled(self) -> bool:
        return self.status == 429 or self.retry_after is not None

    def failure(self) -> Message:
        """Why the attempt has no usable answer: its error, else how it ended."""
        return self.error if self.error is not None else _RESULT_WORDS[self.outcome]

    def evidence(self) -> dict[str, object]:
        out: dict[str, object] = {
            "n": self.number,
            "account": self.account,
            "password": self.password,
            "status": self.status,
            "elapsed_ms": round(self.elapsed * 1000),
            "length": self.length,
            "result": str(_RESULT_WORDS[self.outcome]),
        }
        if len(self.statuses) > 1:
            out["statuses"] = list(self.statuses)
        for flag in ("captcha", "locked_words"):
            if getattr(self, flag):
                out[flag] = True
        if self.retry_after is not None:
            out["retry_after"] = shorten(self.retry_after, 40)
        if self.error is not None:
            out["error"] = shorten(str(self.error), 200)
        return out


_RESULT_WORDS = {
    LoginOutcome.LOGGED_IN: say("auth.attempt.logged_in", "logged in"),
    LoginOutcome.REJECTED: say("auth.attempt.refused", "refused"),
    LoginOutcome.NO_FORM: say("auth.attempt.no_form", "no login form"),
    LoginOutcome.REFUSED: say("auth.attempt.not_sent", "not sent"),
    LoginOutcome.UNREACHABLE: say("auth.attempt.no_answer", "no answer"),
}


@dataclass(frozen=True)
class ActiveFacts:
    """The attempts of the active checks for one platform.

    Attributes:
        phases: which tests ran: "enumeration" and/or "lockout".
        level: the platform's security level.
        limit: N, the most failed logins the criteria allow before a lock at that level.
        attempts: every attempt in order.
        unknown_user: the made-up account name used for "unknown user" (not a credential).
        stopped: why the lockout series stopped before N+1 failures, if it did.
        message: why the collection could not run at all, if it could not.
        duration: seconds the collection took.
        requests: how many HTTP requests it sent.
    """

    phases: tuple[str, ...]
    level: int
    limit: int
    attempts: tuple[Attempt, ...] = ()
    unknown_user: str = ""
    stopped: Message | None = None
    message: Message | None = None
    duration: float = 0.0
    requests: int = 0

    def of(self, phase: str | None = None, account: str | None = None, password: str | None = None) -> list[Attempt]:
        return [
            a
            for a in self.attempts
            if (phase is None or a.phase == phase)
            and (account is None or a.account == account)
            and (password is None or a.password == password)
        ]
