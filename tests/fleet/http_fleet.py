"""The HTTP fleet: one local site per case the http checks must judge, each breaking one rule.

Usage (a conftest fixture is a thin wrapper)::

    with start_http_fleet(tmp_path) as fleet:
        fleet["hsts_short"].https_url, fleet["hsts_short"].expect
        targets = fleet.write_targets(tmp_path / "targets.toml")

Every case is one :class:`Site` (a copy of ``GOOD`` with one thing changed) served by two
:class:`~scanner.demo.http_server.HttpSiteServer` on 127.0.0.1: HTTPS on one port and plain HTTP on
another. Each case is a platform with both URLs registered (``https://<case>.httpfleet.test:P/`` and
``http://<case>.httpfleet.test:Q/``) and ``resolve`` to 127.0.0.1: the registered http:// URL is
how the https:// URL's plain-HTTP twin gets its port. ``expect`` gives every http check's verdict
for the https:// endpoint, ``expect_plain`` for the http:// one (mostly skips: an http:// URL that
redirects to the registered https:// URL is judged there).

A canary HTTPS server stands for "another host": ``main_offsite`` redirects to it, and it must never
see a connection (the scanner does not follow redirects off the platform).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from scanner.demo.http_server import LOOPBACK, Handler, HttpSiteServer, Reply, Request
from scanner.demo.pki import IssuerKind, LeafSpec, Pki

DOMAIN = "httpfleet.test"
NONCE = "cGxhdHNjYW4tbm9uY2U"
OFFSITE = "https://elsewhere.example"

HTTP_CHECKS = (
    "http.https_redirect",
    "http.mixed_content",
    "http.hsts",
    "http.csp",
    "http.frame_ancestors",
    "http.content_type_options",
    "http.referrer_policy",
    "http.permissions_policy",
    "http.version_disclosure",
    "http.cookie_flags",
    "http.cors",
    "http.trace_enabled",
    "http.directory_listing",
    "http.sensitive_files",
    "http.error_disclosure",
    "http.security_txt",
)
PAGE_CHECKS = (
    "http.mixed_content",
    "http.csp",
    "http.frame_ancestors",
    "http.content_type_options",
    "http.referrer_policy",
    "http.permissions_policy",
)

GOOD_CSP = (
    f"default-src 'self'; script-src 'self' 'nonce-{NONCE}'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'self'; form-action 'self'"
)
GOOD_HEADERS: tuple[tuple[str, str], ...] = (
    ("Server", "nginx"),
    ("Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload"),
    ("Content-Security-Policy", GOOD_CSP),
    ("X-Frame-Options", "SAMEORIGIN"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"),
)
GOOD_COOKIES = (
    "__Host-session=3f2a9c81d0e4b7a6; Path=/; Secure; HttpOnly; SameSite=Lax",
    "lang=vi; Path=/; Max-Age=31536000; Secure; SameSite=Lax",
)
PAGE = f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>Cổng dịch vụ công – fleet</title>
<link rel="stylesheet" href="/static/site.css">
<script nonce="{NONCE}" src="/static/app.js"></script></head>
<body><h1>Cổng dịch vụ công</h1><img src="/images/logo.png" alt="logo">
<form method="post" action="/login"><input name="username"><input type="password" name="password">
<input type="hidden" name="csrf" value="x"><button>Đăng nhập</button></form>
<a href="/huong-dan/">Hướng dẫn</a></body></html>
"""
NOT_FOUND = "<!doctype html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"
SOFT_404 = "<!doctype html><html><head><title>Trang</title></head><body><p>Not found</p></body></html>"
DJANGO_DEBUG_404 = (
    "<!DOCTYPE html><html lang=en><head><title>Page not found at /x</title></head><body>"
    "<div id=summary><h1>Page not found <span>(404)</span></h1></div><div id=info><p>Using the URLconf defined in "
    "<code>portal.urls</code>, Django tried these URL patterns, in this order:</p></div><div id=explanation><p>"
    "You&#x27;re seeing this error because you have <code>DEBUG = True</code> in your Django settings file. Change "
    "that to <code>False</code>, and Django will display a standard 404 page.</p></div></body></html>"
)
AUTOINDEX = """<html>
<head><title>Index of /static/</title></head>
<body>
<h1>Index of /static/</h1><hr><pre><a href="../">../</a>
<a href="app.js">app.js</a>                                             21-Nov-2026 10:00     120
<a href="site.css">site.css</a>                                           21-Nov-2026 10:00      88
<a href="ho-so-cong-dan.xlsx">ho-so-cong-dan.xlsx</a>                                21-Nov-2026 10:00   48213
</pre><hr></body>
</html>
"""


def security_txt(expires: dt.datetime) -> bytes:
    return (
        f"Contact: mailto:security@{DOMAIN}\n"
        f"Contact: https://{DOMAIN}/bao-cao-lo-hong\n"
        f"Expires: {expires.strftime('%Y-%m-%dT%H:%M:%S.000Z')}\n"
        "Preferred-Languages: vi, en\n"
    ).encode()


@dataclass(frozen=True)
class Site:
    """How one fleet site behaves.

    Attributes:
        headers: headers on every HTTPS response (HSTS left out over plain HTTP).
        page: the HTML at "/".
        cookies: Set-Cookie values on the page (HTTPS only).
        plain: what plain HTTP does: "redirect" (to the same host over HTTPS), "serve" (the site, in clear),
            "offsite" (redirects to another host).
        main_offsite: "/" redirects to the canary (another host).
        cors: "none" or "reflect" (echo any Origin with Access-Control-Allow-Credentials: true).
        trace: TRACE echoes the request.
        autoindex: /static/ is an nginx autoindex page.
        soft404: unknown paths answer 200 "Not found".
        not_found: the 404 page.
        security_txt: "good", "expired" or None.
        files: extra (path, content type, body) served with 200.
        huge: the page is followed by 50 MB of filler.
        self_signed: the HTTPS certificate is self-signed.
    """

    headers: tuple[tuple[str, str], ...] = GOOD_HEADERS
    page: str = PAGE
    cookies: tuple[str, ...] = GOOD_COOKIES
    plain: str = "redirect"
    main_offsite: bool = False
    cors: str = "none"
    trace: bool = False
    autoindex: bool = False
    soft404: bool = False
    not_found: str = NOT_FOUND
    security_txt: str | None = "good"
    files: tuple[tuple[str, str, bytes], ...] = ()
    huge: bool = False
    self_signed: bool = False

    def with_header(self, name: str, value: str | None) -> Site:
        """A copy with header ``name`` replaced (or removed when ``value`` is None)."""
        kept = tuple((n, v) for n, v in self.headers if n.lower() != name.lower())
        return replace(self, headers=kept if value is None else (*kept, (name, value)))


GOOD = Site()


def handler(site: Site, *, host: str, https_port: int, canary: str, secure: bool) -> Handler:
    """The request handler of ``site`` (HTTPS when ``secure``)."""
    now = dt.datetime.now(dt.UTC)

    def respond(request: Request) -> Reply:
        if not secure and site.plain == "redirect":
            return Reply(301, (("Server", "nginx"), ("Location", f"https://{host}:{https_port}{request.target}")))
        if not secure and site.plain == "offsite":
            return Reply(301, (("Server", "nginx"), ("Location", f"{OFFSITE}{request.target}")))
        common = tuple((n, v) for n, v in site.headers if secure or n.lower() != "strict-transport-security")
        html = (*common, ("Content-Type", "text/html; charset=utf-8"))
        if request.method == "TRACE":
            if site.trace:
                return Reply(200, (("Server", "nginx"), ("Content-Type", "message/http")), request.head)
            return Reply(405, (*html, ("Allow", "GET, HEAD, POST, OPTIONS")), b"<h1>405 Not Allowed</h1>")
        origin = request.header("Origin")
        cors: tuple[tuple[str, str], ...] = ()
        if site.cors == "reflect" and origin:
            cors = (
                ("Access-Control-Allow-Origin", origin),
                ("Access-Control-Allow-Credentials", "true"),
                ("Vary", "Origin"),
            )
        if request.method == "OPTIONS":
            return Reply(204, (*common, *cors, ("Allow", "GET, HEAD, POST, OPTIONS")))
        if request.method not in ("GET", "HEAD", "POST"):
            return Reply(405, html, b"<h1>405 Not Allowed</h1>")
        path = request.path
        if path == "/":
            if site.main_offsite:
                return Reply(302, (*html, ("Location", canary)), b"")
            cookies = tuple(("Set-Cookie", c) for c in site.cookies) if secure else ()
            body = site.page.encode()
            return Reply(200, (*html, *cookies, *cors), body, filler=50_000_000 if site.huge else 0)
        if path == "/.well-known/security.txt" and site.security_txt:
            expires = now + (dt.timedelta(days=180) if site.security_txt == "good" else dt.timedelta(days=-30))
            return Reply(200, (*common, ("Content-Type", "text/plain; charset=utf-8")), security_txt(expires))
        for file_path, content_type, content in site.files:
            if path == file_path:
                return Reply(200, (*common, ("Content-Type", content_type)), content)
        if path == "/static/app.js":
            return Reply(200, (*common, ("Content-Type", "text/javascript")), b"console.log('ok');\n")
        if path == "/static/site.css":
            return Reply(200, (*common, ("Content-Type", "text/css")), b"body { margin: 0 }\n")
        if path == "/images/logo.png":
            return Reply(200, (*common, ("Content-Type", "image/png")), b"\x89PNG\r\n\x1a\n")
        if path == "/static/":
            if site.autoindex:
                return Reply(200, html, AUTOINDEX.encode())
            return Reply(403, html, b"<h1>403 Forbidden</h1>")
        if site.soft404:
            return Reply(200, html, SOFT_404.encode())
        if path.startswith(("/.git", "/.svn", "/.env", "/.DS_Store")):
            return Reply(403, html, b"<h1>403 Forbidden</h1>")
        return Reply(404, html, site.not_found.encode())

    return respond


# -- expectations -----------------------------------------------------------------------------------

ALL_PASS: Mapping[str, str] = {check: "pass" for check in HTTP_CHECKS}


def _expect(changes: Mapping[str, str] | None = None, base: Mapping[str, str] = ALL_PASS) -> dict[str, str]:
    return {check: {**base, **(changes or {})}[check] for check in HTTP_CHECKS}


def _delegated(https_redirect: str = "pass") -> dict[str, str]:
    return _expect({check: "skip" for check in HTTP_CHECKS} | {"http.https_redirect": https_redirect})


@dataclass(frozen=True)
class Case:
    """One fleet case: a site, and the verdict of every http check on its https:// and http:// URLs."""

    name: str
    description: str
    site: Site
    expect: dict[str, str]
    expect_plain: dict[str, str] = field(default_factory=_delegated)
    closed: bool = False

    @property
    def host(self) -> str:
        return f"{self.name.replace('_', '-')}.{DOMAIN}"


CASES: tuple[Case, ...] = (
    Case("good", "every header right; HTTP redirects to HTTPS; security.txt", GOOD, _expect()),
    Case(
        "no_redirect",
        "plain HTTP serves the site instead of redirecting",
        replace(GOOD, plain="serve"),
        _expect({"http.https_redirect": "fail"}),
        _expect(
            {
                "http.https_redirect": "fail",
                "http.hsts": "skip",
                "http.mixed_content": "skip",
                "http.security_txt": "fail",
            }
        ),
    ),
    Case(
        "offsite_redirect",
        f"plain HTTP redirects to another host ({OFFSITE})",
        replace(GOOD, plain="offsite"),
        _expect({"http.https_redirect": "fail"}),
        _expect(
            {"http.https_redirect": "fail", "http.hsts": "skip", "http.security_txt": "warn"}
            | {check: "error" for check in PAGE_CHECKS}  # could not test: the page is off the platform
        ),
    ),
    Case(
        "main_offsite",
        "the HTTPS page redirects to another host (the canary): recorded, not followed",
        replace(GOOD, main_offsite=True),
        _expect({check: "error" for check in PAGE_CHECKS}),  # could not test: the page is off the platform
    ),
    Case(
        "hsts_short",
        "HSTS max-age=300",
        GOOD.with_header("Strict-Transport-Security", "max-age=300"),
        _expect({"http.hsts": "fail"}),
    ),
    Case(
        "csp_report_only",
        "CSP only as Content-Security-Policy-Report-Only",
        GOOD.with_header("Content-Security-Policy", None).with_header("Content-Security-Policy-Report-Only", GOOD_CSP),
        _expect({"http.csp": "fail"}),
    ),
    Case(
        "csp_unsafe_inline",
        "script-src 'self' 'unsafe-inline' without nonce or hash",
        GOOD.with_header(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; "
            "frame-ancestors 'self'",
        ),
        _expect({"http.csp": "fail"}),
    ),
    Case(
        "frame_ancestors_only",
        "no X-Frame-Options, but CSP frame-ancestors 'self' (passes)",
        GOOD.with_header("X-Frame-Options", None),
        _expect(),
    ),
    Case(
        "cookie_insecure",
        "session cookie without Secure",
        replace(GOOD, cookies=("sessionid=8c1e5b2f9a; Path=/; HttpOnly; SameSite=Lax",)),
        _expect({"http.cookie_flags": "fail"}),
    ),
    Case(
        "cors_reflect",
        "reflects any Origin with Access-Control-Allow-Credentials: true",
        replace(GOOD, cors="reflect"),
        _expect({"http.cors": "fail"}),
    ),
    Case(
        "server_version",
        "Server: Apache/2.2.15 (CentOS)",
        GOOD.with_header("Server", "Apache/2.2.15 (CentOS)"),
        _expect({"http.version_disclosure": "fail"}),
    ),
    Case("trace", "TRACE echoes the request", replace(GOOD, trace=True), _expect({"http.trace_enabled": "fail"})),
    Case(
        "autoindex",
        "/static/ is an autoindex listing",
        replace(GOOD, autoindex=True),
        _expect({"http.directory_listing": "fail"}),
    ),
    Case(
        "git_exposed",
        "/.git/HEAD is readable",
        replace(GOOD, files=(("/.git/HEAD", "text/plain", b"ref: refs/heads/main\n"),)),
        _expect({"http.sensitive_files": "fail"}),
    ),
    Case(
        "soft404",
        "answers 200 'Not found' to every unknown path (no false positives)",
        replace(GOOD, soft404=True),
        _expect(),
    ),
    Case(
        "huge_body",
        "the page is followed by a 50 MB body",
        replace(GOOD, huge=True),
        _expect(),
    ),
    Case(
        "script_header",
        "a header value containing <script> (Referrer-Policy), kept as data",
        GOOD.with_header("Referrer-Policy", "<script>alert('platscan')</script>"),
        _expect({"http.referrer_policy": "fail"}),
    ),
    Case(
        "mixed_content",
        "the HTTPS page loads a script over http://",
        replace(GOOD, page=PAGE.replace('src="/static/app.js"', f'src="http://cdn.{DOMAIN}/app.js"')),
        _expect({"http.mixed_content": "fail"}),
    ),
    Case(
        "bare",
        "no security headers and no security.txt",
        replace(GOOD, headers=(("Server", "nginx"),), security_txt=None),
        _expect(
            {
                check: "fail"
                for check in (
                    "http.hsts",
                    "http.csp",
                    "http.frame_ancestors",
                    "http.content_type_options",
                    "http.referrer_policy",
                    "http.permissions_policy",
                    "http.security_txt",
                )
            }
        ),
    ),
    Case(
        "invalid_headers",
        "headers present but invalid: HSTS, X-Frame-Options ALLOW-FROM, no-sniff, unsafe-url, Feature-Policy syntax",
        replace(
            GOOD,
            headers=(
                ("Server", "nginx"),
                ("Strict-Transport-Security", 'max-age="one year"; includeSubDomains'),
                ("Content-Security-Policy", "default-src 'self'; object-src 'none'; base-uri 'self'"),
                ("X-Frame-Options", f"ALLOW-FROM https://portal.{DOMAIN}"),
                ("X-Content-Type-Options", "no-sniff"),
                ("Referrer-Policy", "unsafe-url"),
                ("Permissions-Policy", "camera 'none'; microphone 'none'"),
            ),
        ),
        _expect(
            {
                check: "fail"
                for check in (
                    "http.hsts",
                    "http.frame_ancestors",
                    "http.content_type_options",
                    "http.referrer_policy",
                    "http.permissions_policy",
                )
            }
        ),
    ),
    Case(
        "debug_errors",
        "the 404 page is Django's debug page",
        replace(GOOD, not_found=DJANGO_DEBUG_404),
        _expect({"http.error_disclosure": "fail"}),
    ),
    Case(
        "security_txt_expired",
        "security.txt expired 30 days ago",
        replace(GOOD, security_txt="expired"),
        _expect({"http.security_txt": "fail"}),
    ),
    Case(
        "self_signed",
        "self-signed certificate: headers still judged, HSTS warns (browsers ignore it)",
        replace(GOOD, self_signed=True),
        _expect({"http.hsts": "warn"}),
    ),
    Case(
        "closed",
        "nothing listens on either port",
        GOOD,
        _expect({check: "error" for check in HTTP_CHECKS}),
        _expect({check: "error" for check in HTTP_CHECKS}),
        closed=True,
    ),
)
CASE_NAMES: tuple[str, ...] = tuple(case.name for case in CASES)


# -- the running fleet --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FleetSite:
    """One running case.

    Attributes:
        case: what it is.
        https_port, http_port: its ports on 127.0.0.1.
        servers: its servers (HTTPS, plain), for request counts; empty when closed.
    """

    case: Case
    https_port: int
    http_port: int
    servers: tuple[HttpSiteServer, ...] = ()

    @property
    def name(self) -> str:
        return self.case.name

    @property
    def host(self) -> str:
        return self.case.host

    @property
    def https_url(self) -> str:
        return f"https://{self.host}:{self.https_port}/"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}/"

    @property
    def expect(self) -> dict[str, str]:
        return self.case.expect

    @property
    def expect_plain(self) -> dict[str, str]:
        return self.case.expect_plain


@dataclass(frozen=True)
class HttpFleet:
    """The running fleet (valid inside ``start_http_fleet``)."""

    workdir: Path
    pki: Pki
    sites: tuple[FleetSite, ...]
    canary: HttpSiteServer

    def __getitem__(self, name: str) -> FleetSite:
        for site in self.sites:
            if site.name == name:
                return site
        raise KeyError(name)

    def __iter__(self) -> Iterator[FleetSite]:
        return iter(self.sites)

    @property
    def ca_bundle(self) -> Path:
        return self.pki.bundle_path

    def write_targets(
        self, path: Path | None = None, *, timeout: float = 2, names: Iterable[str] | None = None
    ) -> Path:
        """A targets file with one platform per case: both URLs, ``resolve`` to 127.0.0.1."""
        path = path or self.workdir / "targets.toml"
        wanted = set(names) if names is not None else None
        lines = [
            "# Generated by tests/fleet/http_fleet.py: one platform per HTTP fleet case.",
            "[scan]",
            f"timeout = {timeout:g}",
            "retries = 0",
            "endpoint_timeout = 30",
            f"ca_bundle = {json.dumps(str(self.ca_bundle.resolve()))}",
        ]
        for site in self.sites:
            if wanted is not None and site.name not in wanted:
                continue
            lines += [
                "",
                "[[platforms]]",
                f"id = {json.dumps(site.name)}",
                f"name = {json.dumps(f'HTTP fleet case {site.name}: {site.case.description}', ensure_ascii=False)}",
                'owner = "Test"',
                "level = 3",
                f"urls = [{json.dumps(site.https_url)}, {json.dumps(site.http_url)}]",
                f"resolve = {{ {json.dumps(site.host)} = {json.dumps(LOOPBACK)} }}",
            ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path


def _reserved_port(stack: contextlib.ExitStack) -> int:
    """A port that refuses connections for the fleet's lifetime: bound (so nothing else takes it, not even
    as the local end of a connection) but never listening."""
    sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    sock.bind((LOOPBACK, 0))
    port: int = sock.getsockname()[1]
    return port


@contextlib.contextmanager
def start_http_fleet(workdir: Path, cases: Iterable[str] | None = None) -> Iterator[HttpFleet]:
    """Create the PKI in ``workdir`` and start every case (or ``cases``); stop everything on exit."""
    chosen = [c for c in CASES if cases is None or c.name in set(cases)]
    workdir.mkdir(parents=True, exist_ok=True)
    pki = Pki.create(workdir / "pki", organization="Platscan HTTP Fleet")
    leaf = pki.issue("http-fleet", LeafSpec(hosts=tuple(c.host for c in CASES)))
    chain = pki.write_chain(leaf)
    with contextlib.ExitStack() as stack:
        canary = stack.enter_context(
            HttpSiteServer(lambda request: Reply(200, (), b"canary"), tls=(chain, leaf.key_path))
        )
        canary_url = f"https://{LOOPBACK}:{canary.port}/"
        running: list[FleetSite] = []
        for case in chosen:
            if case.closed:
                running.append(FleetSite(case, _reserved_port(stack), _reserved_port(stack)))
                continue
            cert, key = chain, leaf.key_path
            if case.site.self_signed:
                own = pki.issue(
                    case.name, LeafSpec(hosts=(case.host,), issuer=IssuerKind.SELF, ca_issuers_url=None, ocsp_url=None)
                )
                cert, key = pki.write_chain(own), own.key_path
            https = stack.enter_context(
                HttpSiteServer(lambda r: Reply(500), tls=(cert, key))  # handler set below, once the port is known
            )
            https.handler = handler(case.site, host=case.host, https_port=https.port, canary=canary_url, secure=True)
            plain = stack.enter_context(HttpSiteServer(lambda r: Reply(500)))
            plain.handler = handler(case.site, host=case.host, https_port=https.port, canary=canary_url, secure=False)
            running.append(FleetSite(case, https.port, plain.port, (https, plain)))
        yield HttpFleet(workdir=workdir, pki=pki, sites=tuple(running), canary=canary)
