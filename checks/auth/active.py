"""Active checks (opt-in with ``platscan scan --active``, and only for a platform with a declared test
account): account lockout after repeated failed logins, and user enumeration at the login.

They send failed logins to a real system. A lockout test locks the test account (that is the point):
use a dedicated account, never a person's, and have written authorisation (docs/auth.md).
"""

from __future__ import annotations

import abc
import statistics
from typing import Any, ClassVar

from checks.auth._collect_active import (
    ENUMERATION,
    FINAL,
    LOCKOUT,
    TEST_ACCOUNT,
    UNKNOWN_USER,
    collect_active,
    lockout_limit,
)
from checks.auth.base import AuthCheck, credentials_missing
from checks.auth.facts import ActiveFacts, Attempt, LoginFacts, LoginOutcome
from checks.auth.session import collect_session, login_evidence, login_target, not_logged_in
from checks.auth.wording import no_response
from checks.http.api import HttpFacts
from scanner.evidence import clip
from scanner.messages import Message, say
from scanner.model import Cap, Endpoint, Severity, Status
from scanner.plugin import ScanContext, Verdict
from scanner.wording import listed

#: Which collection phase each active check needs.
PHASES = {"auth.user_enumeration": ENUMERATION, "auth.lockout": LOCKOUT}
#: A failed login this slow, and this many times slower than the first ones, is throttling.
SLOW_SECONDS = 1.0
SLOWDOWN_FACTOR = 3.0
#: Timing differences smaller than this are noise on a real network.
TIMING_MIN_SECONDS = 0.1
TIMING_MIN_RATIO = 1.5


class ActiveCheck(AuthCheck):
    """An active auth check: runs once per platform, needs --active and the test account."""

    active: ClassVar[bool] = True
    per_platform: ClassVar[bool] = True
    logs_in: ClassVar[bool] = True

    def precondition(self, endpoint: Endpoint, ctx: ScanContext) -> Verdict | None:
        if not ctx.settings.active:
            return Verdict(
                Status.SKIP,
                say(
                    "auth.active.not_enabled",
                    "Not run: active checks send failed logins and run only with `platscan scan --active`.",
                ),
                {"url": endpoint.target},
            )
        missing = credentials_missing(ctx.platform)
        if missing:
            return Verdict(
                Status.ERROR,
                say(
                    "auth.active.no_account",
                    "Not run: {reason}. Active checks need a dedicated test account (and written authorisation).",
                    reason=missing,
                ),
                {"url": endpoint.target},
            )
        return None

    def phases(self, ctx: ScanContext) -> tuple[str, ...]:
        """The phases to collect: this check's, and those of the other selected active checks (in the fixed
        order enumeration, lockout), so one collection serves both and neither spoils the other."""
        wanted = {PHASES[self.id]} | {phase for check, phase in PHASES.items() if check in ctx.checks}
        return tuple(phase for phase in (ENUMERATION, LOCKOUT) if phase in wanted)

    def assess(self, endpoint: Endpoint, ctx: ScanContext, http: HttpFacts) -> Verdict:
        login = collect_session(self, ctx, http)  # the account must work before it is tested
        if isinstance(login, Verdict):
            return login
        if not login.logged_in:
            return not_logged_in(login, self.needs_login())
        target = login_target(ctx.platform, http)
        assert target is not None  # the login above found one
        phases = self.phases(ctx)
        key = ("auth-active", ctx.platform.id, phases)
        active: ActiveFacts = ctx.collect(key, collect_active, target, phases, ctx.settings, self.budget(ctx))
        return self.judge(login, active)

    @abc.abstractmethod
    def judge(self, login: LoginFacts, active: ActiveFacts) -> Verdict:
        """The verdict from the login and the attempts. Pure."""

    @staticmethod
    @abc.abstractmethod
    def needs_login() -> Message:
        """What cannot be told without a working test account (for the verdict when the login failed)."""


def sent_evidence(login: LoginFacts, active: ActiveFacts, attempts: list[Attempt]) -> dict[str, Any]:
    """Exactly what was sent (who, which password kind, how many, answers and timings), never a password."""
    out: dict[str, Any] = {
        "login_page": login.page_url,
        "level": active.level,
        "limit": active.limit,
        "phases": list(active.phases),
    }
    if login.form is not None:
        out["form"] = login.form.evidence()
    if any(a.account == UNKNOWN_USER for a in attempts):
        out["unknown_user"] = active.unknown_user
    out["sent"] = {
        "failed_logins_test_account": len(
            [a for a in active.attempts if a.account == TEST_ACCOUNT and a.password == "wrong"]
        ),
        "failed_logins_unknown_user": len([a for a in active.attempts if a.account == UNKNOWN_USER]),
        "correct_password_logins": len([a for a in active.attempts if a.password == "correct"]) + 1,
        "requests": active.requests + login.requests,
    }
    out["attempts"] = clip((a.evidence() for a in attempts), 30)
    if active.stopped is not None:
        out["stopped"] = str(active.stopped)
    return out


class Lockout(ActiveCheck):
    id: ClassVar[str] = "auth.lockout"
    title: ClassVar[str] = "Account lockout"
    finding: ClassVar[str] = "Repeated failed logins neither lock nor throttle the account"
    severity: ClassVar[Severity] = Severity.HIGH
    caps: ClassVar[tuple[Cap, ...]] = (Cap("C", note="no lockout or throttling"),)
    why: ClassVar[str] = (
        "Without a lock or a slowdown after a few wrong passwords, an attacker can try passwords (or passwords "
        "leaked from other sites) against officials' accounts for as long as they like. TCVN 14423 x.5.2.2 a asks "
        "for a lock after at most 5 failures for business software at level 2 and above (10 at level 1)."
    )
    remediation: ClassVar[str] = (
        "Lock the account (12 hours to 30 days, with an administrator unlock) or throttle it after N failed logins "
        "(5 at level ≥ 2, 10 at level 1), count failures per account and per source address, and show the same "
        "message whatever the reason. In the application: Django `django-axes` (`AXES_FAILURE_LIMIT = 5`), Spring "
        "Security: a listener for `AuthenticationFailureBadCredentialsEvent` that locks the account, ASP.NET Core "
        "Identity `options.Lockout.MaxFailedAccessAttempts = 5` with `lockoutOnFailure: true`, Keycloak Brute Force "
        "Detection (Max Login Failures 5), Laravel `ThrottlesLogins`. In front of it, slow down the login URL:\n"
        "nginx: `limit_req_zone $binary_remote_addr zone=login:10m rate=5r/m;` and `location = /dang-nhap { "
        "limit_req zone=login burst=5 nodelay; limit_req_status 429; proxy_pass http://app; }`\n"
        "Apache: mod_security rules counting failed logins per IP (`IP:login_failures`, `deprecatevar`), or "
        "mod_evasive on the login URL\n"
        'IIS: Dynamic IP Restrictions (`<dynamicIpSecurity><denyByRequestRate enabled="true" '
        'maxRequests="10" requestIntervalInMilliseconds="60000" /></dynamicIpSecurity>`).'
    )

    def judge(self, login: LoginFacts, active: ActiveFacts) -> Verdict:
        return judge_lockout(login, active)

    @staticmethod
    def needs_login() -> Message:
        return say("auth.lockout.needs_login", "a lock could not be told from a wrong account")


def _slowdown(failed: list[Attempt]) -> Message | None:
    times = [a.elapsed for a in failed if a.outcome is LoginOutcome.REJECTED]
    if len(times) < 3:
        return None
    start = min(times[:2])
    last = times[-1]
    if last >= SLOW_SECONDS and last >= SLOWDOWN_FACTOR * max(start, 0.01):
        return say(
            "auth.lockout.slowed",
            "the answers slowed from {start} ms to {last} ms",
            start=round(start * 1000),
            last=round(last * 1000),
        )
    return None


def judge_lockout(login: LoginFacts, active: ActiveFacts) -> Verdict:
    """Pure: after at most N+1 failed logins the correct password is refused (locked) or the attempts are
    throttled (429, Retry-After, a CAPTCHA appearing, a growing delay)."""
    if not login.logged_in:
        return not_logged_in(login, Lockout.needs_login())
    if active.message is not None:
        said = say("auth.lockout.not_run", "The lockout test did not run: {reason}.", reason=active.message)
        return Verdict(Status.ERROR, said, login_evidence(login))
    attempts = list(active.attempts)
    evidence = sent_evidence(login, active, attempts)
    failed = [a for a in attempts if a.account == TEST_ACCOUNT and a.password == "wrong"]
    n = active.limit
    if any(a.logged_in for a in failed):
        return Verdict(
            Status.ERROR,
            say(
                "auth.lockout.fooled",
                "A wrong password looked like a successful login, so platscan cannot tell a lock from a login here: "
                "set success_marker in [platforms.auth] to text shown only after logging in.",
            ),
            evidence,
        )
    finals = [a for a in attempts if a.phase == FINAL]
    if not finals:
        unusable = next((a for a in failed if a.outcome not in (LoginOutcome.REJECTED, LoginOutcome.LOGGED_IN)), None)
        why: Message = (
            unusable.failure() if unusable else active.stopped or say("auth.lockout.budget", "the time budget ran out")
        )
        said = say(
            "auth.lockout.stopped",
            "The lockout test stopped before the correct password was tried: {reason}.",
            reason=why,
        )
        return Verdict(Status.ERROR, said, evidence)
    final = finals[0]
    signals: list[Message] = []
    throttled_at = next((a for a in failed if a.throttled), None)
    if throttled_at is not None:
        signals.append(
            say(
                "auth.lockout.throttled_at",
                "attempt {number} was answered {status}",
                number=throttled_at.number,
                status=str(throttled_at.status),
            )
        )
    first_captcha = attempts[0].captcha if attempts else False
    captcha_at = next((a for a in failed if a.captcha and not first_captcha), None)
    if captcha_at is not None:
        signals.append(
            say("auth.lockout.captcha_at", "a CAPTCHA appeared at attempt {number}", number=captcha_at.number)
        )
    slow = _slowdown(failed)
    if slow:
        signals.append(slow)
    if final.throttled:
        signals.append(
            say("auth.lockout.final_throttled", "the correct password was answered {status}", status=str(final.status))
        )
    count = _count(len(failed), n, active.level)
    if final.outcome is LoginOutcome.REJECTED and (final.throttled or throttled_at is not None):
        said = say(
            "auth.lockout.throttled",
            "Failed logins are throttled: {signals} (after {count}).",
            signals=listed(signals),
            count=count,
        )
        return Verdict(Status.PASS, said, evidence)
    if final.outcome is LoginOutcome.REJECTED:
        refused = (
            say(
                "auth.lockout.refused_with_words",
                "the correct password was refused and the answer speaks of a lock or too many attempts",
            )
            if final.locked_words
            else say("auth.lockout.refused", "the correct password was refused")
        )
        if signals:
            said = say(
                "auth.lockout.locked_and_signals",
                "After {count} {refused}: the account is locked; also {signals}.",
                count=count,
                refused=refused,
                signals=listed(signals),
            )
        else:
            said = say(
                "auth.lockout.locked", "After {count} {refused}: the account is locked.", count=count, refused=refused
            )
        return Verdict(Status.PASS, said, evidence)
    if final.logged_in and signals:
        said = say(
            "auth.lockout.throttled_then_worked",
            "Failed logins are throttled: {signals} (after {count}; the correct password then still worked).",
            signals=listed(signals),
            count=count,
        )
        return Verdict(Status.PASS, said, evidence)
    if final.logged_in:
        said = say(
            "auth.lockout.none",
            "After {count} the correct password still logged in at once: no lock and no throttling within "
            "{attempts} attempts.",
            count=count,
            attempts=n + 1,
        )
        return Verdict(Status.FAIL, said, evidence)
    if (
        final.outcome is LoginOutcome.UNREACHABLE
        and failed
        and all(a.outcome is LoginOutcome.REJECTED for a in failed[:2])
    ):
        said = say(
            "auth.lockout.silent",
            "After {count} the login stopped answering ({error}): a block by address, or a fault; check the "
            "server's logs.",
            count=count,
            error=final.error or no_response(),
        )
        return Verdict(Status.WARN, said, evidence, Severity.LOW)
    said = say(
        "auth.lockout.untried",
        "The correct password could not be tried after {count}: {reason}.",
        count=count,
        reason=final.failure(),
    )
    return Verdict(Status.ERROR, said, evidence)


def _count(failures: int, limit: int, level: int) -> Message:
    """'6 failed logins (N = 5 at level 3)'."""
    if failures == 1:
        return say("auth.lockout.count_one", "1 failed login (N = {limit} at level {level})", limit=limit, level=level)
    return say(
        "auth.lockout.count",
        "{failures} failed logins (N = {limit} at level {level})",
        failures=failures,
        limit=limit,
        level=level,
    )


class UserEnumeration(ActiveCheck):
    id: ClassVar[str] = "auth.user_enumeration"
    title: ClassVar[str] = "User enumeration at login"
    finding: ClassVar[str] = "The login reveals which accounts exist"
    severity: ClassVar[Severity] = Severity.MEDIUM
    why: ClassVar[str] = (
        "When the login answers an unknown account differently from a wrong password (another message, status, "
        "redirect or response time), an attacker can list the real accounts of officials first and then aim "
        "password guessing and phishing at them."
    )
    remediation: ClassVar[str] = (
        'Answer every failed login the same way: one message ("Tên đăng nhập hoặc mật khẩu không đúng" / '
        '"Invalid user name or password"), the same status, page and redirect, and the same work (check a dummy '
        "password hash when the account does not exist so the time does not differ). Do the same on password-reset "
        'and registration pages ("if the account exists, an e-mail has been sent"). Framework settings: Spring '
        "Security keeps `hideUserNotFoundExceptions=true` (the default); ASP.NET Core Identity returns "
        "`SignInResult.Failed` for both; Django's `authenticate()` already runs the hasher for unknown users. Rate "
        "limiting in the web server (nginx `limit_req`, Apache mod_security, IIS Dynamic IP Restrictions) makes "
        "what remains slow to exploit."
    )

    def judge(self, login: LoginFacts, active: ActiveFacts) -> Verdict:
        return judge_enumeration(login, active)

    @staticmethod
    def needs_login() -> Message:
        return say("auth.user_enumeration.needs_login", "an unknown account could not be compared with a real one")


def _common_lines(attempts: list[Attempt]) -> set[str]:
    sets = [set(a.text) for a in attempts]
    return set.intersection(*sets) if sets else set()


def _all_lines(attempts: list[Attempt]) -> set[str]:
    return set().union(*(set(a.text) for a in attempts)) if attempts else set()


def judge_enumeration(login: LoginFacts, active: ActiveFacts) -> Verdict:
    """Pure: an unknown account and the test account with a wrong password get the same answer."""
    if not login.logged_in:
        return not_logged_in(login, UserEnumeration.needs_login())
    if active.message is not None:
        said = say(
            "auth.user_enumeration.not_run", "The enumeration test did not run: {reason}.", reason=active.message
        )
        return Verdict(Status.ERROR, said, login_evidence(login))
    unknown = active.of(ENUMERATION, UNKNOWN_USER)
    known = active.of(ENUMERATION, TEST_ACCOUNT)
    attempts = unknown + known
    attempts.sort(key=lambda a: a.number)
    evidence = sent_evidence(login, active, attempts)
    usable = (LoginOutcome.REJECTED, LoginOutcome.LOGGED_IN)
    bad = [a for a in attempts if a.outcome not in usable]
    if not unknown or not known or bad:
        why = bad[0].failure() if bad else say("auth.user_enumeration.not_sent", "the attempts were not sent")
        said = say(
            "auth.user_enumeration.uncompared",
            "The enumeration test could not compare the answers: {reason}.",
            reason=why,
        )
        return Verdict(Status.ERROR, said, evidence)
    if any(a.logged_in for a in attempts):
        return Verdict(
            Status.ERROR,
            say(
                "auth.user_enumeration.fooled",
                "A failed login looked like a successful one, so the answers cannot be compared: set success_marker "
                "in [platforms.auth].",
            ),
            evidence,
        )
    differences: list[Message] = []
    u_status = {a.status for a in unknown}
    k_status = {a.status for a in known}
    if not u_status & k_status:
        differences.append(
            say(
                "auth.user_enumeration.status",
                "status {unknown} for an unknown account, {known} for a wrong password",
                unknown="/".join(str(s) for s in sorted(u_status, key=str)),
                known="/".join(str(s) for s in sorted(k_status, key=str)),
            )
        )
    u_paths = {a.final_path for a in unknown}
    k_paths = {a.final_path for a in known}
    if not u_paths & k_paths:
        differences.append(
            say(
                "auth.user_enumeration.path",
                "the answer ends at {unknown} versus {known}",
                unknown=listed(sorted(u_paths)),
                known=listed(sorted(k_paths)),
            )
        )
    only_unknown = sorted(_common_lines(unknown) - _all_lines(known))
    only_known = sorted(_common_lines(known) - _all_lines(unknown))
    if only_unknown or only_known:
        evidence["text_differences"] = {
            "unknown_user_only": only_unknown[:3],
            "test_account_only": only_known[:3],
        }
        sample = (only_unknown or only_known)[0]
        differences.append(
            say(
                "auth.user_enumeration.text",
                "the page text differs (e.g. {sample} appears for only one of them)",
                sample=repr(sample),
            )
        )
    u_times = [a.elapsed for a in unknown]
    k_times = [a.elapsed for a in known]
    u_median, k_median = statistics.median(u_times), statistics.median(k_times)
    evidence["median_ms"] = {"unknown_user": round(u_median * 1000), "wrong_password": round(k_median * 1000)}
    if differences:
        said = say(
            "auth.user_enumeration.tells",
            "The login tells an unknown account from a wrong password: {differences}.",
            differences=listed(differences),
        )
        return Verdict(Status.FAIL, said, evidence)
    u_lengths = {a.length for a in unknown}
    k_lengths = {a.length for a in known}
    hints: list[Message] = []
    if len(u_lengths) == 1 and len(k_lengths) == 1 and u_lengths != k_lengths:
        hints.append(
            say(
                "auth.user_enumeration.lengths",
                "the answers are {unknown} bytes for an unknown account and {known} for a wrong password",
                unknown=u_lengths.pop(),
                known=k_lengths.pop(),
            )
        )
    slow, fast = (k_times, u_times) if k_median > u_median else (u_times, k_times)
    gap = abs(k_median - u_median)
    if (
        min(slow) > max(fast)
        and gap >= TIMING_MIN_SECONDS
        and max(u_median, k_median) >= TIMING_MIN_RATIO * min(u_median, k_median)
    ):
        hints.append(
            say(
                "auth.user_enumeration.timing",
                "a wrong password takes {known} ms and an unknown account {unknown} ms (medians; timing may reveal "
                "which accounts exist)",
                known=round(k_median * 1000),
                unknown=round(u_median * 1000),
            )
        )
    if hints:
        said = say("auth.user_enumeration.hints", "Same status, page and message, but {hints}.", hints=listed(hints))
        return Verdict(Status.WARN, said, evidence, Severity.LOW)
    said = say(
        "auth.user_enumeration.same",
        "An unknown account and a wrong password get the same answer ({attempts}: status {status}, the same page "
        "text; median times {unknown} ms and {known} ms).",
        attempts=(
            say("auth.user_enumeration.attempt", "1 attempt")
            if len(attempts) == 1
            else say("auth.user_enumeration.attempts", "{count} attempts", count=len(attempts))
        ),
        status="/".join(str(s) for s in sorted(u_status | k_status, key=str)),
        unknown=round(u_median * 1000),
        known=round(k_median * 1000),
    )
    return Verdict(Status.PASS, said, evidence)


__all__ = ["LOCKOUT", "Lockout", "UserEnumeration", "judge_enumeration", "judge_lockout", "lockout_limit"]
