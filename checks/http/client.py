"""The scoped HTTP client of the http and auth families.

``HttpClient`` wraps one ``requests.Session`` for one platform and enforces what a compliance
scanner owes the systems it looks at and itself:

* **Scope.** It contacts only the platform's registered hosts (``scanner.urls.in_scope``).
  Redirects are followed by hand, hop by hop, while they stay on those hosts; a redirect anywhere
  else is recorded with its target (``Fetch.blocked_redirect``) and not followed.
* **resolve.** A host with a ``resolve`` address is dialled at that address while the URL keeps
  its host name, so SNI, certificate validation, the Host header and cookies all use the name
  (a connection-level override: ``_PinnedHTTPConnection._new_conn``). In a scan the engine fills
  ``resolve`` with the scan resolver's address of every registered host (``scanner.resolver``), so
  the http family dials what tls and ports test, redirects included; a host it found no address for
  (``Platform.unresolved``) fails as "does not resolve" without being looked up again.
* **Trust.** The system store plus ``settings.ca_bundle``; ``REQUESTS_CA_BUNDLE`` and other
  environment settings are ignored (``trust_env = False``). When a host's certificate does not
  verify, or its TLS is too old for a default client, the client retries that host once without
  verification (and with OpenSSL's legacy protocols allowed), records why in ``tls_problems`` and
  marks those responses ``tls_verified=False``: the tls family judges certificates, the http
  family judges what the server says once connected.
* **Bounds.** Connect and read time out after ``settings.timeout``; every request also has a
  wall-clock budget (a watchdog shuts its socket down, so a server trickling one byte a second
  cannot hold it), and the client as a whole has an optional deadline. Bodies are read with
  ``stream=True`` up to a byte cap; the rest is never read (the connection is dropped).
  An origin that refuses connections, does not resolve, cannot do TLS, trickles past the budget or
  times out twice is not asked again: later requests to it fail at once with the first error.
* **One connection pool per host** (keep-alive), a User-Agent naming platscan, no proxies.

Usage (the auth family's view)::

    with HttpClient(platform, settings, deadline=time.monotonic() + 60) as client:
        page = client.fetch("GET", "https://dvc.example/login")            # a Fetch
        if page.final is not None: html = page.final.text
        sent = client.fetch("POST", action, data={"user": u, "password": p})  # body never recorded

The client is not thread-safe: one client per thread (the collectors run one per process).
Nothing the client returns contains request bodies or request headers, so credentials sent with
``data=`` never reach facts, evidence or logs.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    InsecureRequestWarning,
    NameResolutionError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.poolmanager import PoolManager
from urllib3.util import connection as urllib3_connection
from urllib3.util.retry import Retry

from checks.http.facts import ErrorKind, Fetch, FetchError, HttpResponse
from scanner import __version__
from scanner.evidence import shorten
from scanner.messages import Message, Text, say
from scanner.model import Platform
from scanner.plugin import ScanSettings
from scanner.urls import DEFAULT_PORTS, UnusableUrl, in_scope, normalize_host, parse, resolve_reference, scheme_of

__all__ = [
    "HEAD_CAP",
    "MAX_REDIRECTS",
    "PAGE_CAP",
    "PROBE_CAP",
    "USER_AGENT",
    "HttpClient",
    "lenient_context",
    "trust_context",
]

USER_AGENT = f"platscan/{__version__} (security compliance scanner; +https://github.com/platscan/platscan)"
#: Body caps: pages (kept for HTML checks and the auth family), probes, header-only requests.
PAGE_CAP = 256 * 1024
PROBE_CAP = 32 * 1024
HEAD_CAP = 8 * 1024
MAX_REDIRECTS = 5
#: A request's wall-clock budget, as a multiple of ``settings.timeout`` (connect + headers + capped body).
REQUEST_BUDGET_FACTOR = 2.0
#: Consecutive read timeouts after which an origin is considered silent and not asked again.
SILENT_AFTER = 2
_CHUNK = 16 * 1024
#: The standard library's HTTP parsing limits (private names, hence the defaults), for error messages.
_MAX_LINE: int = getattr(http.client, "_MAXLINE", 65536)
_MAX_HEADERS: int = getattr(http.client, "_MAXHEADERS", 100)

#: A request body: form fields (a mapping, or pairs for repeated names) or raw bytes.
FormData = Mapping[str, str] | list[tuple[str, str]] | bytes

DEFAULT_HEADERS: Mapping[str, str] = {
    "User-Agent": USER_AGENT,
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "vi-VN,vi;q=0.9,en;q=0.8",
    "Accept-Encoding": "gzip, deflate",
}


# -- TLS contexts ---------------------------------------------------------------------------------


def trust_context(ca_bundle: Path | None = None) -> ssl.SSLContext:
    """A verifying client context: the system store (certifi's if the system has none) plus ``ca_bundle``."""
    context = ssl.create_default_context()
    # Browsers match the host against the subjectAltName only (since 2017); Python would fall back to the CN of a
    # certificate without one, and call verified what browsers refuse.
    context.hostname_checks_common_name = False
    paths = ssl.get_default_verify_paths()
    have_system = any(p and Path(p).exists() for p in (paths.cafile, paths.capath))
    if not have_system:
        context.load_verify_locations(cafile=DEFAULT_CA_BUNDLE_PATH)
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    return context


def lenient_context() -> ssl.SSLContext:
    """A context that talks to anything that speaks TLS: no verification, legacy protocols allowed."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with contextlib.suppress(ValueError, ssl.SSLError):
            context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


# -- connection-level resolve and abort -----------------------------------------------------------


class OffScopeConnection(ValueError):
    """A connection to a host outside the platform was about to be dialled, and was not."""

    def __init__(self, host: str) -> None:
        super().__init__(f"{host} is not a registered host of the platform; not contacted.")
        self.host = host


class _Pinned:
    """What the pinned connections share: the hosts they may dial, the address to dial, and registration
    for the watchdog."""

    _dial_address: str | None
    _dial_failure: str | None
    _allowed: frozenset[str]
    _live: weakref.WeakSet[Any] | None
    _platscan_fd: int | None

    def __init__(
        self,
        *args: Any,
        allowed: frozenset[str] = frozenset(),
        dial_address: str | None = None,
        dial_failure: str | None = None,
        live: weakref.WeakSet[Any] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)
        self._allowed = allowed
        self._dial_address = dial_address
        self._dial_failure = dial_failure
        self._live = live
        self._platscan_fd = None

    def _new_conn(self) -> socket.socket:
        # The last word on scope, taken on the host urllib3 is about to dial: whatever parsed the URL
        # before (and however it disagreed with urllib3), nothing off the platform is connected to.
        host = normalize_host(self._dns_host)  # type: ignore[attr-defined]
        if host not in self._allowed:
            raise OffScopeConnection(host)
        if self._dial_failure is not None:  # the scan's resolver found no address: not looked up again
            raise NameResolutionError(host, self, socket.gaierror(self._dial_failure))  # type: ignore[arg-type]
        return self._registered(_dial(self, self._dial_address))  # type: ignore[arg-type]

    def close(self) -> None:
        self._platscan_fd = None
        super().close()  # type: ignore[misc]

    def _registered(self, sock: socket.socket) -> socket.socket:
        self._platscan_fd = sock.fileno()
        if self._live is not None:
            self._live.add(self)
        return sock

    def abort(self) -> None:
        """Shut the connection's socket down (from another thread): a blocked read returns at once."""
        sock = getattr(self, "sock", None)
        with contextlib.suppress(OSError, ValueError):
            if sock is not None and sock.fileno() >= 0:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
                return
        # During the TLS handshake the raw socket is already detached and the wrapped one not yet
        # assigned: shut the descriptor down through a temporary socket object that never closes it.
        fd = self._platscan_fd
        if fd is None or fd < 0:
            return
        with contextlib.suppress(OSError, ValueError):
            temporary = socket.socket(fileno=fd)
            try:
                temporary.shutdown(socket.SHUT_RDWR)
            finally:
                temporary.detach()


def _dial(conn: HTTPConnection, address: str | None) -> socket.socket:
    """``HTTPConnection._new_conn`` with the address to connect to overridden (the host name is kept)."""
    target = address or conn._dns_host
    try:
        sock = urllib3_connection.create_connection(
            (target, conn.port),
            conn.timeout,
            source_address=conn.source_address,
            socket_options=conn.socket_options,
        )
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    except TimeoutError as exc:
        raise ConnectTimeoutError(
            conn, f"Connection to {conn.host} timed out. (connect timeout={conn.timeout})"
        ) from exc
    except OSError as exc:
        raise NewConnectionError(conn, f"Failed to establish a new connection: {exc}") from exc
    return sock


class _PinnedHTTPConnection(_Pinned, HTTPConnection):
    pass


class _PinnedHTTPSConnection(_Pinned, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


class _PinnedPoolManager(PoolManager):
    """A PoolManager whose pools dial ``resolve`` addresses and register connections for the watchdog."""

    def __init__(
        self,
        allowed: frozenset[str],
        addresses: Mapping[str, str],
        live: weakref.WeakSet[Any],
        failures: Mapping[str, str] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
        self._allowed = allowed
        self._addresses = dict(addresses)
        self._failures = dict(failures or {})
        self._live = live

    def _new_pool(
        self, scheme: str, host: str, port: int, request_context: dict[str, Any] | None = None
    ) -> HTTPConnectionPool:
        context = dict(request_context if request_context is not None else self.connection_pool_kw)
        context["allowed"] = self._allowed
        context["dial_address"] = self._addresses.get(normalize_host(host))
        context["dial_failure"] = self._failures.get(normalize_host(host))
        context["live"] = self._live
        return super()._new_pool(scheme, host, port, context)


class _ScopedAdapter(HTTPAdapter):
    """requests' adapter on the pinned pool manager; trust comes from our two SSL contexts."""

    def __init__(
        self,
        allowed: frozenset[str],
        addresses: Mapping[str, str],
        live: weakref.WeakSet[Any],
        trust: ssl.SSLContext,
        lenient: ssl.SSLContext,
        retries: int,
        failures: Mapping[str, str] | None = None,
    ) -> None:
        self._allowed = allowed
        self._addresses = dict(addresses)
        self._failures = dict(failures or {})
        self._live = live
        self._trust = trust
        self._lenient = lenient
        # read=False: read errors are raised as they are (a ReadTimeout, not a ConnectionError wrapping it).
        retry = Retry(
            total=retries, connect=retries, read=False, redirect=0, status=0, other=0, raise_on_redirect=False
        )
        super().__init__(pool_connections=16, pool_maxsize=1, max_retries=retry)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        self._pool_connections = connections
        self._pool_maxsize = maxsize
        self._pool_block = block
        self.poolmanager = _PinnedPoolManager(
            self._allowed,
            self._addresses,
            self._live,
            self._failures,
            num_pools=connections,
            maxsize=maxsize,
            block=block,
            **pool_kwargs,
        )

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> tuple[Any, Any]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        kwargs: dict[str, Any] = dict(pool_kwargs)
        if host_params.get("scheme") == "https":
            kwargs["ssl_context"] = self._trust if verify else self._lenient
            kwargs.pop("ca_certs", None)
            kwargs.pop("ca_cert_dir", None)
        return host_params, kwargs

    def cert_verify(self, conn: Any, url: str, verify: bool | str, cert: Any) -> None:
        # Trust is in the SSL context (system store + ca_bundle); no CA file is loaded per connection.
        conn.cert_reqs = "CERT_REQUIRED" if verify and url.lower().startswith("https") else "CERT_NONE"
        conn.ca_certs = None
        conn.ca_cert_dir = None


class _Session(requests.Session):
    """A Session that never looks at redirects itself.

    Even with ``allow_redirects=False``, ``Session.send`` runs ``resolve_redirects`` on a 3xx to prepare
    ``Response.next``: that reads the whole redirect body into memory (no cap: a 50 MB or endless body
    behind a 302 would be read to the end) and raises on a malformed Location, losing the response.
    ``HttpClient.fetch`` follows redirects itself, so the session sees none.
    """

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        return None


# -- the client -----------------------------------------------------------------------------------


def origin_of(url: str) -> str:
    """scheme://host[:port] of ``url`` with the default port left out and the host normalised."""
    parts = urlsplit(url)
    host = normalize_host(parts.hostname or "")
    port = parts.port
    default = 443 if parts.scheme == "https" else 80
    netloc = f"[{host}]" if ":" in host else host
    if port and port != default:
        netloc += f":{port}"
    return f"{parts.scheme}://{netloc}"


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    return f"{normalize_host(parts.hostname or '')}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


class HttpClient:
    """A bounded, scoped HTTP client for one platform (see the module docstring).

    Attributes:
        platform: whose hosts may be contacted.
        timeout: seconds for a connection and for each read.
        request_budget: wall-clock seconds for one request (headers and capped body).
        deadline: ``time.monotonic()`` value after which no request is started, or None.
        sent: how many requests were sent (attempts that reached the network).
        tls_problems: "host:port" -> why its TLS did not verify (those hosts were then read unverified).
    """

    def __init__(
        self,
        platform: Platform,
        settings: ScanSettings,
        *,
        deadline: float | None = None,
        request_budget: float | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.platform = platform
        self.timeout = max(0.5, float(settings.timeout))
        self.request_budget = request_budget or self.timeout * REQUEST_BUDGET_FACTOR
        self.deadline = deadline
        self.sent = 0
        self.tls_problems: dict[str, Message] = {}
        self._dead: dict[str, FetchError] = {}
        self._read_timeouts: dict[str, int] = {}
        self._live: weakref.WeakSet[Any] = weakref.WeakSet()
        self._session = _Session()
        self._session.trust_env = False  # REQUESTS_CA_BUNDLE, proxies and .netrc must not change a scan
        self._session.headers.clear()
        self._session.headers.update({**DEFAULT_HEADERS, "User-Agent": user_agent})
        adapter = _ScopedAdapter(
            frozenset(platform.all_hosts),
            dict(platform.resolve),
            self._live,
            trust_context(settings.ca_bundle),
            lenient_context(),
            settings.retries,
            {host: str(reason) for host, reason in platform.unresolved},
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    # lifecycle ------------------------------------------------------------------------------------

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def cookies(self) -> requests.cookies.RequestsCookieJar:
        """The session's cookie jar (cookies persist across requests, as in a browser)."""
        return self._session.cookies

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    # requests -------------------------------------------------------------------------------------

    def get(self, url: str, **kwargs: Any) -> Fetch:
        return self.fetch("GET", url, **kwargs)

    def fetch(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: FormData | None = None,
        cap: int = PAGE_CAP,
        follow: bool = True,
        max_redirects: int = MAX_REDIRECTS,
    ) -> Fetch:
        """Send ``method url``; follow redirects on the platform's hosts when ``follow``; never raises.

        POST data is re-sent on 307/308 only; 301/302/303 turn a POST into a GET, as browsers do.
        """
        method = method.upper()
        responses: list[HttpResponse] = []
        try:
            current_url = parse(url).url
        except UnusableUrl as exc:
            error = FetchError(
                ErrorKind.INVALID, say("http.fetch.unusable", "Not a usable URL: {error}.", error=str(exc))
            )
            return Fetch(method, url, (), error=error)
        current_method, current_data = method, data
        seen = {current_url}
        for _ in range(max_redirects + 1):
            problem = self._unusable(current_url)
            if problem is not None:
                return Fetch(method, url, tuple(responses), error=problem)
            outcome = self._send(current_method, current_url, headers, current_data, cap)
            if isinstance(outcome, FetchError):
                return Fetch(method, url, tuple(responses), error=outcome)
            responses.append(outcome)
            if not follow or not outcome.is_redirect:
                return Fetch(method, url, tuple(responses))
            resolved = resolve_reference(current_url, outcome.location or "")
            try:
                target = parse(resolved)
            except UnusableUrl as exc:
                if scheme_of(resolved) not in DEFAULT_PORTS:  # mailto:, a custom app scheme…: not ours to follow
                    return Fetch(method, url, tuple(responses), blocked_redirect=resolved)
                error = FetchError(
                    ErrorKind.INVALID,
                    say("http.fetch.unusable_redirect", "Unusable redirect target: {error}.", error=str(exc)),
                )
                return Fetch(method, url, tuple(responses), error=error)
            if not target.web or not in_scope(self.platform, target.host):
                return Fetch(method, url, tuple(responses), blocked_redirect=target.url)
            if target.url in seen:
                return Fetch(
                    method,
                    url,
                    tuple(responses),
                    error=FetchError(
                        ErrorKind.INVALID,
                        say(
                            "http.fetch.redirect_loop",
                            "Redirect loop: {url} was already visited.",
                            url=shorten(target.url, 200),
                        ),
                    ),
                )
            seen.add(target.url)
            if outcome.status == 303 or (outcome.status in (301, 302) and current_method == "POST"):
                current_method = "GET" if current_method != "HEAD" else "HEAD"
                current_data = None
            elif current_data is not None and target.scheme != "https":
                # A 307/308 would resend the body (perhaps credentials) in clear: stop here instead.
                return Fetch(method, url, tuple(responses), blocked_redirect=target.url)
            current_url = target.url
        return Fetch(
            method,
            url,
            tuple(responses),
            error=FetchError(
                ErrorKind.INVALID,
                say("http.fetch.too_many_redirects", "More than {count} redirects.", count=max_redirects),
            ),
        )

    def _unusable(self, url: str) -> FetchError | None:
        """Why the canonical ``url`` must not or cannot be requested now, or None."""
        target = parse(url)
        if not target.web:
            return FetchError(
                ErrorKind.INVALID, say("http.fetch.not_web", "Not an http(s) URL: {url}.", url=shorten(url, 200))
            )
        if not in_scope(self.platform, target.host):
            return FetchError(
                ErrorKind.OFF_SCOPE,
                say(
                    "http.fetch.off_scope",
                    "{host} is not one of platform {platform}'s registered hosts; not contacted.",
                    host=target.host,
                    platform=self.platform.id,
                ),
            )
        dead = self._dead.get(origin_of(url))
        if dead is not None:
            return FetchError(
                dead.kind, say("http.fetch.not_attempted", "Not attempted: {reason}", reason=dead.reason), dead.detail
            )
        remaining = self.remaining()
        if remaining is not None and remaining <= 0.05:
            return FetchError(
                ErrorKind.SKIPPED,
                say("http.fetch.budget_spent", "Not attempted: the collection's time budget was spent."),
            )
        return None

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        data: FormData | None,
        cap: int,
    ) -> HttpResponse | FetchError:
        hostport = _host_port(url)
        if data is not None and hostport in self.tls_problems:
            # A body may carry credentials: it never goes to a server whose certificate failed.
            return FetchError(
                ErrorKind.TLS,
                say(
                    "http.fetch.not_sent_unverified",
                    "Not sent: {where}'s certificate does not verify ({problem}).",
                    where=hostport,
                    problem=self.tls_problems[hostport],
                ),
            )
        verify = hostport not in self.tls_problems
        outcome = self._attempt(method, url, headers, data, cap, verify)
        if isinstance(outcome, _TlsFailure) and verify and data is None:
            # Not verifiable, or too old for a default client: read it anyway, and say so.
            first = outcome.problem
            outcome = self._attempt(method, url, headers, data, cap, verify=False)
            if isinstance(outcome, HttpResponse):
                self.tls_problems[hostport] = first
        if isinstance(outcome, _TlsFailure):
            outcome = outcome.error
        if isinstance(outcome, FetchError):
            self._note_failure(url, outcome)
        elif outcome.cut_at is not None:
            # What was read is kept for this request, but a server that trickled once trickles again:
            # every later probe would cost the whole budget too (16 probes, minutes per URL).
            self._dead[origin_of(url)] = FetchError(
                ErrorKind.DEADLINE,
                say(
                    "http.fetch.trickling",
                    "{where} sends its answers too slowly: the answer to {method} {path} was cut at the {budget:g} s "
                    "request budget.",
                    where=hostport,
                    method=method,
                    path=shorten(urlsplit(url).path, 80),
                    budget=outcome.cut_at,
                ),
            )
        else:
            self._read_timeouts.pop(origin_of(url), None)
        return outcome

    def _note_failure(self, url: str, error: FetchError) -> None:
        origin = origin_of(url)
        if error.kind.unreachable or error.kind is ErrorKind.DEADLINE:  # a trickling server trickles again
            self._dead[origin] = error
        elif error.kind is ErrorKind.READ_TIMEOUT:
            count = self._read_timeouts.get(origin, 0) + 1
            self._read_timeouts[origin] = count
            if count >= SILENT_AFTER:
                self._dead[origin] = error

    def _attempt(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        data: FormData | None,
        cap: int,
        verify: bool,
    ) -> HttpResponse | FetchError | _TlsFailure:
        started = time.monotonic()
        budget = self.request_budget
        remaining = self.remaining()
        if remaining is not None:
            budget = max(0.05, min(budget, remaining))
        per_operation = min(self.timeout, budget)
        fired = threading.Event()

        def abort() -> None:
            fired.set()
            for conn in list(self._live):
                conn.abort()

        watchdog = threading.Timer(budget, abort)
        watchdog.daemon = True
        watchdog.start()
        self.sent += 1
        response: requests.Response | None = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", InsecureRequestWarning)
                try:
                    response = self._session.request(
                        method,
                        url,
                        headers=dict(headers or {}),
                        data=data,
                        timeout=(per_operation, per_operation),
                        allow_redirects=False,
                        stream=True,
                        verify=verify,
                    )
                except requests.exceptions.SSLError as exc:
                    error = classify(exc, url, self.timeout, budget, fired.is_set())
                    if error.kind is not ErrorKind.TLS:
                        return error
                    return _TlsFailure(error, no_tls_session(_host_port(url), list(_causes(exc))))
                except (requests.RequestException, OSError, ValueError) as exc:
                    return classify(exc, url, self.timeout, budget, fired.is_set())
                body, complete = _read_body(response, cap, fired)
            if fired.is_set() and not body and not complete:
                return FetchError(
                    ErrorKind.DEADLINE,
                    say(
                        "http.fetch.unfinished",
                        "{where} did not finish its answer within {budget:g} s.",
                        where=_host_port(url),
                        budget=budget,
                    ),
                )
            return HttpResponse(
                method=method,
                url=url,
                status=response.status_code,
                reason=shorten(str(response.reason or ""), 100),
                version=_version(response),
                headers=_received_headers(response),
                body=body,
                body_complete=complete,
                elapsed=time.monotonic() - started,
                tls_verified=verify if url.lower().startswith("https") else None,
                address=self.platform.address_for(urlsplit(url).hostname or ""),
                cut_at=budget if fired.is_set() else None,
            )
        finally:
            watchdog.cancel()
            if response is not None:
                with contextlib.suppress(Exception):
                    response.close()


class _TlsFailure:
    """A TLS-level failure of a verifying attempt: the caller may retry without verification.

    ``problem`` is why, as a phrase (no final period) that other sentences quote.
    """

    def __init__(self, error: FetchError, problem: Message) -> None:
        self.error = error
        self.problem = problem


def _read_body(response: requests.Response, cap: int, fired: threading.Event) -> tuple[bytes, bool]:
    """Up to ``cap`` bytes of the (decoded) body, and whether that is all of it. Never raises."""
    raw = response.raw
    chunks: list[bytes] = []
    size = 0
    try:
        while size < cap:
            if fired.is_set():
                return b"".join(chunks), False
            chunk = raw.read1(min(_CHUNK, cap - size), decode_content=True)
            if not chunk:
                return b"".join(chunks), True
            chunks.append(chunk)
            size += len(chunk)
        more = raw.read1(1, decode_content=True)
        return b"".join(chunks)[:cap], not more
    except Exception:  # a reset, a bad chunk, the watchdog: keep what arrived
        return b"".join(chunks)[:cap], False


def _version(response: requests.Response) -> str:
    version = getattr(response.raw, "version", 11)
    return {9: "HTTP/0.9", 10: "HTTP/1.0", 11: "HTTP/1.1", 20: "HTTP/2"}.get(version, f"HTTP/{version}")


def _received_headers(response: requests.Response) -> tuple[tuple[str, str], ...]:
    """Every header line in the order and spelling received (http.client keeps them)."""
    original = getattr(response.raw, "_original_response", None)
    message = getattr(original, "msg", None)
    items: list[tuple[str, str]] = list(message.items()) if message is not None else list(response.raw.headers.items())
    return tuple((str(name), str(value)) for name, value in items)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps (causes, contexts, urllib3's ``reason``, requests' args)."""
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for nested in (current.__cause__, current.__context__, getattr(current, "reason", None), *current.args):
            if isinstance(nested, BaseException):
                pending.append(nested)


def classify(exc: BaseException, url: str, timeout: float, budget: float, fired: bool) -> FetchError:
    """A ``FetchError`` for an exception raised by requests/urllib3 while requesting ``url``."""
    where = _host_port(url)
    detail = shorten(f"{type(exc).__name__}: {exc}")
    causes = list(_causes(exc))
    if fired:
        return FetchError(
            ErrorKind.DEADLINE,
            say(
                "http.fetch.incomplete",
                "{where} did not answer completely within {budget:g} s.",
                where=where,
                budget=budget,
            ),
            detail,
        )
    off_scope = next((c for c in causes if isinstance(c, OffScopeConnection)), None)
    if off_scope is not None:
        said = say(
            "http.fetch.off_scope_dial",
            "{host} is not a registered host of the platform; not contacted.",
            host=off_scope.host,
        )
        return FetchError(ErrorKind.OFF_SCOPE, said, detail)
    if any(isinstance(c, NameResolutionError | socket.gaierror) for c in causes):
        host = urlsplit(url).hostname or ""
        return FetchError(
            ErrorKind.DNS, say("http.fetch.dns", "The host name {host} does not resolve.", host=host), detail
        )
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return FetchError(
            ErrorKind.REFUSED, say("http.fetch.refused", "Connection refused by {where}.", where=where), detail
        )
    if isinstance(exc, requests.exceptions.ConnectTimeout) or any(isinstance(c, ConnectTimeoutError) for c in causes):
        said = say(
            "http.fetch.connect_timeout",
            "No TCP connection to {where} within {timeout:g} s.",
            where=where,
            timeout=timeout,
        )
        return FetchError(ErrorKind.CONNECT_TIMEOUT, said, detail)
    if isinstance(exc, requests.exceptions.ReadTimeout) or any(isinstance(c, ReadTimeoutError) for c in causes):
        said = say(
            "http.fetch.read_timeout",
            "{where} accepted the connection but did not answer within {timeout:g} s.",
            where=where,
            timeout=timeout,
        )
        return FetchError(ErrorKind.READ_TIMEOUT, said, detail)
    if isinstance(exc, requests.exceptions.SSLError) or any(isinstance(c, ssl.SSLError) for c in causes):
        said = say("http.fetch.tls", "{problem}.", problem=no_tls_session(where, causes))
        return FetchError(ErrorKind.TLS, said, detail)
    if any(isinstance(c, NewConnectionError) for c in causes):
        return FetchError(
            ErrorKind.UNREACHABLE, say("http.fetch.unreachable", "Could not connect to {where}.", where=where), detail
        )
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.InvalidSchema | ValueError):
        return FetchError(
            ErrorKind.INVALID, say("http.fetch.unusable_url", "Not a usable URL: {url}.", url=shorten(url, 200)), detail
        )
    return FetchError(ErrorKind.PROTOCOL, _protocol_reason(where, causes), detail)


def _protocol_reason(where: str, causes: list[BaseException]) -> Message:
    """Which HTTP-level limit or rule the answer broke, as one sentence (the standard library's words are terse)."""
    for cause in causes:
        if isinstance(cause, http.client.LineTooLong):
            kib = _MAX_LINE // 1024
            if "status line" in str(cause):
                return say(
                    "http.fetch.status_line_too_long",
                    "{where} sent a status line longer than {kib} KiB, the HTTP client's limit: its answer could not "
                    "be read.",
                    where=where,
                    kib=kib,
                )
            return say(
                "http.fetch.header_line_too_long",
                "{where} sent a header line longer than {kib} KiB, the HTTP client's limit: its answer could not "
                "be read.",
                where=where,
                kib=kib,
            )
        if isinstance(cause, http.client.RemoteDisconnected):
            return say("http.fetch.closed", "{where} closed the connection without answering.", where=where)
        if isinstance(cause, http.client.BadStatusLine):
            first = shorten(str(cause.args[0]) if cause.args else "", 60)
            return say(
                "http.fetch.not_http",
                "{where} did not answer with an HTTP status line (it sent {sent}): an HTTP/0.9 answer or another "
                "protocol.",
                where=where,
                sent=repr(first),
            )
        if isinstance(cause, http.client.HTTPException) and "more than" in str(cause) and "headers" in str(cause):
            return say(
                "http.fetch.too_many_headers",
                "{where} sent more than {count} header lines, the HTTP client's limit: its answer could not be read.",
                where=where,
                count=_MAX_HEADERS,
            )
    return say("http.fetch.protocol", "{where} closed the connection or did not answer in HTTP.", where=where)


#: OpenSSL's reason codes for a refusal that is not about the certificate, with what they mean for a client
#: (the server's TLS version, cipher suites or key exchange, which the tls family judges), given OpenSSL's code.
_HANDSHAKE_CAUSES: tuple[tuple[tuple[str, ...], Callable[[str], Message]], ...] = (
    (
        ("UNSUPPORTED_PROTOCOL", "WRONG_SSL_VERSION", "PROTOCOL_VERSION", "VERSION_TOO_LOW", "NO_PROTOCOLS"),
        lambda code: say(
            "http.tls.no_version", "the server offers no TLS version the HTTP client accepts ({code})", code=code
        ),
    ),
    (
        ("DH_KEY_TOO_SMALL", "EE_KEY_TOO_SMALL", "KEY_TOO_SMALL"),
        lambda code: say(
            "http.tls.weak_key", "the server's key exchange is too weak for the HTTP client ({code})", code=code
        ),
    ),
    (
        ("NO_SHARED_CIPHER", "NO_CIPHERS_AVAILABLE", "HANDSHAKE_FAILURE", "INSUFFICIENT_SECURITY", "NO_SUITABLE"),
        lambda code: say(
            "http.tls.no_shared_cipher",
            "the server and the HTTP client share no cipher suite or key exchange ({code})",
            code=code,
        ),
    ),
)
#: Starts every reason that is about the certificate's trust (``certificate_refused`` reads it back).
CERTIFICATE_REFUSED = "certificate not trusted"
#: Starts a reason that is about the certificate's names: it is not valid for the host dialled.
CERTIFICATE_NOT_FOR_HOST = "certificate not valid for this host name"
#: OpenSSL's verify codes for a certificate that does not name the host (X509_V_ERR_HOSTNAME_MISMATCH,
#: X509_V_ERR_IP_ADDRESS_MISMATCH). OpenSSL reports them once it has built the chain to a trusted anchor (an
#: untrusted chain is reported as that), so the certificate is trusted but issued for other names.
_NAME_MISMATCH_CODES = frozenset({62, 64})
#: Starts a reason that is about the certificate's dates: trusted or not, it is expired or not yet valid.
CERTIFICATE_NOT_NOW = "certificate outside its validity period"
#: X509_V_ERR_CERT_NOT_YET_VALID, X509_V_ERR_CERT_HAS_EXPIRED: a date, not trust (the tls family judges trust).
_VALIDITY_CODES = frozenset({9, 10})


def certificate_refused(reason: Text) -> bool:
    """Whether a TLS problem recorded by the client is the certificate's (not the protocol's or cipher's)."""
    text = str(reason)
    return any(
        f"({prefix}: " in text or text.startswith(prefix)
        for prefix in (CERTIFICATE_REFUSED, CERTIFICATE_NOT_FOR_HOST, CERTIFICATE_NOT_NOW)
    )


def tls_problem(url: str, problems: Sequence[tuple[str, Text]]) -> Text | None:
    """Why the client could not verify TLS with ``url``'s host (``HttpFacts.tls_problems``), or None."""
    hostport = _host_port(url)
    return next((why for where, why in problems if where == hostport), None)


def no_tls_session(where: str, causes: list[BaseException]) -> Message:
    """Why no TLS session with ``where`` verified, as a phrase other sentences quote (no final period)."""
    return say(
        "http.fetch.no_tls_session", "No TLS session with {where} ({reason})", where=where, reason=_ssl_reason(causes)
    )


def _ssl_reason(causes: list[BaseException]) -> Text:
    """The client's TLS failure by its cause: the certificate only when its verification failed.

    The certificate reasons start with ``CERTIFICATE_REFUSED`` or ``CERTIFICATE_NOT_FOR_HOST`` in English
    (``certificate_refused`` reads them back); OpenSSL's own words are data.
    """
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            error = str(cause.verify_message)
            if cause.verify_code in _NAME_MISMATCH_CODES:
                return say("http.tls.not_for_host", "certificate not valid for this host name: {error}", error=error)
            if cause.verify_code in _VALIDITY_CODES:
                return say("http.tls.not_now", "certificate outside its validity period: {error}", error=error)
            return say("http.tls.not_trusted", "certificate not trusted: {error}", error=error)
        if isinstance(cause, ssl.SSLError) and cause.reason:
            code = str(cause.reason).upper()
            for markers, meaning in _HANDSHAKE_CAUSES:
                if any(marker in code for marker in markers):
                    return meaning(code.lower().replace("_", " "))
            return code.lower().replace("_", " ")
    return say("http.tls.handshake_failed", "handshake failed")
