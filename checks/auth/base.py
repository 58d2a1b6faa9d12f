"""The base of every auth check: the shared http facts, the auth facts, the policy, and redaction.

Policy (one table for all auth checks):

=====================================================  ===========================================
situation                                              verdict
=====================================================  ===========================================
an http:// URL that redirects to another registered    skip: judged on that URL (as the http family)
  https:// URL
the registered URL got no answer at all                error (the http family's reason)
a platform-level check (protected paths, session       skip on every URL but the platform's primary
  cookie, lockout, user enumeration)                   one, naming it
an active check without ``--active``                   never selected (``select_checks``); skip if
                                                       reached anyway
no credentials for a check that logs in                skip, naming the environment variables
=====================================================  ===========================================

The **primary URL** is the first registered https:// URL on the login URL's host, else the first
https:// URL, else the first URL: the login, the protected paths and the active checks run there once.

Every verdict is redacted before it becomes a result: the declared test account's password (and,
for checks that log in, its account name) is replaced wherever it might appear.
"""

from __future__ import annotations

import abc
import os
import time
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

from checks.auth._collect_anonymous import AuthTarget, collect_auth
from checks.auth.facts import AuthFacts
from checks.auth.forms import replace_all
from checks.auth.settings import auth_settings
from checks.auth.wording import redacted
from checks.http import api as http_api
from checks.http.api import HttpFacts, origin_of, plain_twin, same_resource, unreachable
from scanner.evidence import shorten
from scanner.facts import CollectionError
from scanner.messages import Message, say
from scanner.model import Endpoint, Platform, Result, Status
from scanner.plugin import Check, ScanContext, Verdict
from scanner.urls import normalize_host

#: Time kept back from the endpoint's budget so a collector can return before it is killed.
BUDGET_MARGIN = 0.1
#: Shortest password (and account name) that is redacted: shorter ones would mangle ordinary text.
MIN_SECRET = 3


def primary_url(platform: Platform) -> str | None:
    """The registered URL the platform-level auth checks judge on (see the module docstring)."""
    urls = platform.urls
    settings = auth_settings(platform)
    login = settings.login_url if settings else None
    https = [u for u in urls if urlsplit(u).scheme == "https"]
    if login:
        host = normalize_host(urlsplit(login).hostname or "")
        for url in https:
            if normalize_host(urlsplit(url).hostname or "") == host:
                return url
    if https:
        return https[0]
    return urls[0] if urls else None


def secrets_of(platform: Platform, with_account: bool) -> tuple[str, ...]:
    """The declared test account's password (and account name) from the environment, for redaction."""
    auth = auth_settings(platform)
    if auth is None:
        return ()
    names = [auth.password_env] + ([auth.username_env] if with_account else [])
    values = [os.environ.get(name, "") for name in names if name]
    return tuple(v for v in values if len(v) >= MIN_SECRET)


def redact(value: Any, secret: tuple[str, ...]) -> Any:
    """``value`` (a JSON-like structure) with every secret replaced, in keys and strings."""
    if not secret:
        return value
    if isinstance(value, str):
        return replace_all(value, secret)
    if isinstance(value, Message):
        return redacted(value, secret)
    if isinstance(value, Mapping):
        return {redact(k, secret): redact(v, secret) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, secret) for v in value]
    return value


def credentials_missing(platform: Platform) -> Message | None:
    """Why the platform has no usable test account, or None when both variables are set."""
    auth = auth_settings(platform)
    if auth is None or not (auth.username_env and auth.password_env):
        return say(
            "auth.credentials.undeclared",
            "no test account is declared: name the environment variables in [platforms.auth] username_env and "
            "password_env",
        )
    unset = [name for name in (auth.username_env, auth.password_env) if not os.environ.get(name)]
    if len(unset) > 1:
        return say(
            "auth.credentials.both_unset",
            "the test account's environment variables {username_env} and {password_env} are not set",
            username_env=auth.username_env,
            password_env=auth.password_env,
        )
    if unset:
        return say("auth.credentials.unset", "the test account's environment variable {name} is not set", name=unset[0])
    return None


class AuthCheck(Check):
    """A check of the auth family. Subclasses set the metadata and implement ``assess``."""

    family: ClassVar[str] = "auth"
    #: Judged once per platform, on its primary URL (the others skip).
    per_platform: ClassVar[bool] = False
    #: Logs in with the test account (its account name is redacted too).
    logs_in: ClassVar[bool] = False

    def applies_to(self, endpoint: Endpoint) -> bool:
        return endpoint.kind == "url" and endpoint.scheme in ("http", "https")

    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        try:
            verdict = self.verdict(endpoint, ctx)
        except CollectionError as exc:
            verdict = Verdict(
                Status.ERROR,
                say(
                    "auth.collection.incomplete",
                    "The requests for {url} did not complete: {reason}",
                    url=endpoint.target,
                    reason=exc.reason,
                ),
                {"url": endpoint.target, "error": shorten(str(exc.reason))},
            )
        secret = secrets_of(ctx.platform, self.logs_in)
        verdict = Verdict(
            verdict.status,
            redact(verdict.detail, secret),
            redact(dict(verdict.evidence), secret),
            verdict.severity,
            redact(verdict.key, secret),
        )
        return [self.from_verdict(endpoint, verdict)]

    def verdict(self, endpoint: Endpoint, ctx: ScanContext) -> Verdict:
        platform = ctx.platform
        primary = primary_url(platform)
        if self.per_platform and endpoint.target != primary:
            return Verdict(
                Status.SKIP,
                say("auth.platform.judged_on_primary", "Judged once per platform, on {url}.", url=str(primary)),
                {"url": endpoint.target, "judged_on": primary},
            )
        early = self.precondition(endpoint, ctx)
        if early is not None:
            return early
        http = self.http_facts(endpoint, ctx)
        if http.delegated_to:
            return Verdict(
                Status.SKIP,
                say(
                    "auth.platform.delegated",
                    "Judged on {url}: this URL redirects there, and that URL is registered too.",
                    url=http.delegated_to,
                ),
                {"url": http.url, "judged_on": http.delegated_to},
            )
        if http.final is None:
            return unreachable(http)
        return self.assess(endpoint, ctx, http)

    def precondition(self, endpoint: Endpoint, ctx: ScanContext) -> Verdict | None:
        """A verdict reached before any request (e.g. no credentials), or None to go on."""
        return None

    @abc.abstractmethod
    def assess(self, endpoint: Endpoint, ctx: ScanContext, http: HttpFacts) -> Verdict:
        """The verdict once the registered URL answered: collect what else is needed, then judge purely."""

    # shared collections --------------------------------------------------------------------------------

    @staticmethod
    def budget(ctx: ScanContext) -> float:
        remaining = max(0.0, ctx.deadline - time.monotonic())
        return max(0.0, remaining - max(1.0, BUDGET_MARGIN * remaining))

    def http_facts(self, endpoint: Endpoint, ctx: ScanContext) -> HttpFacts:
        """The http family's facts for this URL, through its public API: one collection per URL per scan."""
        return http_api.http_facts(ctx, ctx.platform, endpoint.target)

    def auth_facts(self, endpoint: Endpoint, ctx: ScanContext, http: HttpFacts) -> AuthFacts:
        target = auth_target(endpoint, ctx.platform, http)
        facts: AuthFacts = ctx.collect(target.key, collect_auth, target, ctx.settings, self.budget(ctx))
        return facts


def auth_target(endpoint: Endpoint, platform: Platform, http: HttpFacts) -> AuthTarget:
    """What ``collect_auth`` requests for ``endpoint`` (every check builds the same one)."""
    final = http.final
    origin = origin_of(final.url) if final is not None else origin_of(endpoint.target)
    primary = endpoint.target == primary_url(platform)
    auth = auth_settings(platform)
    login_url = twin = None
    protected: tuple[str, ...] = ()
    if primary and auth is not None:
        if auth.login_url:
            if not same_resource(auth.login_url, endpoint.target):
                login_url = auth.login_url
            if urlsplit(auth.login_url).scheme == "https":
                twin = plain_twin(platform, auth.login_url)
        protected = tuple(urljoin(origin + "/", path.lstrip("/")) for path in auth.protected_paths)
    return AuthTarget(
        url=endpoint.target,
        platform=platform,
        origin=origin,
        primary=primary,
        login_url=login_url,
        login_twin=twin,
        protected=protected,
    )
