"""Collect the failed logins of the active checks (``collect_active``): user enumeration and lockout.

Kept apart from the passive collections because these requests change the system scanned (a lockout
test locks the test account): they run only for ``platscan scan --active`` and reuse the login attempt
of ``_collect_login`` with wrong passwords. Credentials are read in the worker, as there.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from checks.auth._collect_login import LoginAnswer, LoginTarget, attempt, credentials_from_env, credentials_unset
from checks.auth.facts import ActiveFacts, Attempt, LoginOutcome
from checks.auth.forms import LOCKED_WORDS, USER_MARK, normalise_lines, replace_all, visible_lines
from checks.auth.wording import redacted
from checks.http.api import HttpClient, page_info
from scanner.messages import Message, say
from scanner.plugin import ScanSettings

#: Failed-attempt pairs (unknown user, wrong password) sent by auth.user_enumeration.
ENUMERATION_ROUNDS = 3
ENUMERATION = "enumeration"
LOCKOUT = "lockout"
FINAL = "final"
TEST_ACCOUNT = "test account"
UNKNOWN_USER = "unknown user"
OUT_OF_TIME = say("auth.lockout.out_of_time", "the endpoint's time budget ran out")


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
    number: int,
    phase: str,
    account: str,
    password: str,
    answer: LoginAnswer,
    names: Sequence[str],
    secret: Sequence[str],
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
        error=redacted(answer.error, secret) if answer.error is not None else None,
        text=text,
    )


def _post_statuses(answer: LoginAnswer) -> tuple[int, ...]:
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
        return ActiveFacts(phases, level, limit, message=credentials_unset())
    unknown = _unknown_user(creds.username)
    secret = (creds.password, creds.username)
    names = (creds.username, unknown)
    attempts: list[Attempt] = []
    stopped: Message | None = None
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
                    stopped = say(
                        "auth.lockout.stopped_throttled",
                        "attempt {number} was answered {status}: throttled",
                        number=record.number,
                        status=str(record.status),
                    )
                    break
                if record.captcha and not attempts[0].captcha:
                    stopped = say(
                        "auth.lockout.stopped_captcha", "attempt {number} brought a CAPTCHA", number=record.number
                    )
                    break
                if not usable(record):
                    stopped = say(
                        "auth.lockout.stopped_no_answer", "attempt {number} got no usable answer", number=record.number
                    )
                    break
                if record.logged_in:
                    stopped = say(
                        "auth.lockout.stopped_let_in",
                        "attempt {number} with a wrong password was let in",
                        number=record.number,
                    )
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
