"""Collect the auth family's anonymous facts about one registered URL (``collect_auth``).

Runs in a worker process (``ScanContext.collect``) through the http family's scoped ``HttpClient``
(platform hosts only, ``resolve``, caps, deadlines), and sends nothing but anonymous requests, so that
every passive auth check can run without a test account. The main page of a registered URL is **not**
requested again: the http family's collection (same fact-cache key) already has it.

Requests per registered URL: the 13 admin paths on the page's origin; and on the platform's primary URL
only, the declared ``login_url`` and its plain-HTTP first hop, each declared protected path (anonymous,
no cookies), and plain-HTTP first hops of the protected paths and of the admin paths that asked for
authentication (for ``auth.basic_over_http``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from checks.auth.consoles import ADMIN_PATHS
from checks.auth.facts import AuthFacts
from checks.http.api import PAGE_CAP, PROBE_CAP, Fetch, HttpClient, plain_twin
from scanner.model import Platform
from scanner.plugin import ScanSettings

#: Body cap for admin and protected-path probes (markers sit near the top of a page).
CONSOLE_CAP = 2 * PROBE_CAP


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
