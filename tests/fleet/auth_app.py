"""The auth fleet: small stateful login applications, one per case the auth checks must judge.

Usage (a fixture is a thin wrapper)::

    with start_auth_fleet(tmp_path) as fleet:
        targets = fleet.write_targets()          # one platform per case, [platforms.auth] included
        env = fleet.environ()                    # the test accounts' environment variables
        fleet["good"].app.failed_logins          # what the application saw

Each case is an :class:`AuthSite` served by two :class:`~scanner.demo.http_server.HttpSiteServer` on
127.0.0.1 (HTTPS and plain HTTP, both registered, ``resolve`` to 127.0.0.1). The application has a
home page, a login page at ``/dang-nhap`` with a CSRF token bound to a cookie (so field discovery
and the cookie jar are exercised), a page behind the login, the case's protected paths and admin
pages, and one test account whose credentials reach the scanner only through environment
variables. It counts every login it sees, so tests can prove what the scanner sent.
"""

from __future__ import annotations

import contextlib
import html
import json
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qs

from scanner.demo.http_server import LOOPBACK, HttpSiteServer, Reply, Request
from scanner.demo.pki import LeafSpec, Pki

DOMAIN = "authfleet.test"
LOGIN = "/dang-nhap"
HOME = "/trang-chu"
PASSIVE = (
    "auth.login_https",
    "auth.form_action_https",
    "auth.basic_over_http",
    "auth.protected_paths",
    "auth.admin_exposed",
    "auth.session_cookie",
)
ACTIVE = ("auth.lockout", "auth.user_enumeration")
AUTH_CHECKS = PASSIVE + ACTIVE

GENERIC = "Tên đăng nhập hoặc mật khẩu không đúng."
NO_SUCH_USER = "Tài khoản không tồn tại."
WRONG_PASSWORD = "Mật khẩu không đúng."
LOCKED = "Tài khoản đã bị khóa do đăng nhập sai quá nhiều lần."
NOT_FOUND = "<!doctype html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"
DASHBOARD = """<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Quản trị hệ thống</title></head>
<body><h1>Quản trị hệ thống</h1><table><tr><th>Tài khoản</th><th>Vai trò</th></tr>
<tr><td>nguyenvana</td><td>Quản trị</td></tr><tr><td>tranthib</td><td>Cán bộ một cửa</td></tr></table></body></html>
"""
PHPMYADMIN = """<!doctype html><html lang="en" dir="ltr"><head><meta charset="utf-8">
<title>localhost / 127.0.0.1 | phpMyAdmin 5.2.1</title><link rel="stylesheet" href="themes/pmahomme/css/theme.css">
</head><body><div id="pma_navigation"><div id="pma_navigation_tree">information_schema hoso_congdan mysql</div></div>
<div id="serverinfo">Server: localhost:3306</div></body></html>
"""
PHPMYADMIN_LOGIN = """<!doctype html><html lang="en" dir="ltr"><head><meta charset="utf-8">
<title>phpMyAdmin</title><link rel="stylesheet" href="themes/pmahomme/css/theme.css"></head><body>
<div class="container"><h1>Welcome to <bdo dir="ltr" lang="en">phpMyAdmin</bdo></h1>
<form method="post" id="login_form" action="index.php?route=/" name="login_form" class="disableAjax">
<input type="text" name="pma_username" id="input_username" autocomplete="username">
<input type="password" name="pma_password" id="input_password" autocomplete="current-password">
<input type="hidden" name="server" value="1"><input type="hidden" name="token" value="5a3f9c">
<input class="btn btn-primary" value="Log in" type="submit" id="input_go"></form></div></body></html>
"""
SPA_SHELL = """<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Cổng dịch vụ công</title>
<script src="/static/app.js"></script></head><body><div id="app"></div>
<form method="post" action="/dang-nhap"><input name="ten_dang_nhap"><input type="password" name="mat_khau"></form>
</body></html>
"""


@dataclass(frozen=True)
class AuthSite:
    """How one application behaves.

    Attributes:
        plain: plain HTTP "redirect"s every request to HTTPS, or "serve"s the application in clear.
        action: the login form's action; "{plain}" stands for the application's plain-HTTP origin.
        user_field, pass_field: the login form's field names.
        session_cookie: the Set-Cookie of a successful login ("{sid}" is the session id).
        success: after a login, "redirect" (302 to /trang-chu) or "page" (200 "Xin chào" at once).
        lock_after: failed logins after which the account is locked (None: never).
        throttle_after: failed logins after which every login of the account answers 429 (None: never).
        enumerable: an unknown account and a wrong password get different messages.
        protected: (path, behaviour): "redirect" (302 to the login page), "401" (Bearer challenge),
            "401basic" (Basic challenge), "open" (200 admin dashboard).
        plain_basic: paths that answer 401 with a Basic challenge over plain HTTP.
        pages: extra (path, status, headers, body) answers.
        spa: every unknown path answers 200 with the same page shell (which has a login form).
        login_at: more paths that serve the ordinary login page itself (its form posts to the login URL).
    """

    plain: str = "redirect"
    action: str = LOGIN
    user_field: str = "ten_dang_nhap"
    pass_field: str = "mat_khau"
    session_cookie: str = "__Host-phien={sid}; Path=/; Secure; HttpOnly; SameSite=Lax"
    success: str = "redirect"
    lock_after: int | None = 5
    throttle_after: int | None = None
    enumerable: bool = False
    protected: tuple[tuple[str, str], ...] = (("/quan-tri/", "redirect"), ("/api/noi-bo/", "401"))
    plain_basic: tuple[str, ...] = ()
    pages: tuple[tuple[str, int, tuple[tuple[str, str], ...], bytes], ...] = ()
    spa: bool = False
    login_at: tuple[str, ...] = ()


GOOD = AuthSite()


class App:
    """One running application: the site's behaviour plus its state (failures, locks, sessions)."""

    def __init__(self, site: AuthSite, host: str, username: str, password: str) -> None:
        self.site = site
        self.host = host
        self.username = username
        self.password = password
        self.https_port = 0
        self.plain_port = 0
        self._lock = threading.Lock()
        self.failures = 0  # consecutive failed logins of the test account
        self.locked = False
        self.sessions: set[str] = set()
        self.logins_ok = 0
        self.failed_logins: dict[str, int] = {"test account": 0, "other": 0}
        self.posts = 0

    # pages ------------------------------------------------------------------------------------------

    def _login_page(self, secure: bool, token: str, message: str = "", prefill: str = "") -> bytes:
        site = self.site
        action = site.action.replace("{plain}", f"http://{self.host}:{self.plain_port}")
        note = f'<p class="loi">{html.escape(message)}</p>' if message else ""
        return f"""<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Đăng nhập</title>
<link rel="stylesheet" href="/static/site.css"></head><body><h1>Đăng nhập hệ thống</h1>{note}
<form method="post" action="{html.escape(action)}">
<input type="hidden" name="csrf_token" value="{token}">
<label>Tên đăng nhập <input type="text" name="{site.user_field}" value="{html.escape(prefill)}"></label>
<label>Mật khẩu <input type="password" name="{site.pass_field}"></label>
<label><input type="checkbox" name="ghi_nho" value="1"> Ghi nhớ đăng nhập</label>
<button type="submit" name="dang_nhap" value="1">Đăng nhập</button>
</form><form action="/tim-kiem"><input type="search" name="q"></form></body></html>
""".encode()

    def _html(self, body: bytes | str, status: int = 200, *extra: tuple[str, str]) -> Reply:
        data = body.encode() if isinstance(body, str) else body
        return Reply(status, (("Content-Type", "text/html; charset=utf-8"), *extra), data)

    def _cookie(self, request: Request, name: str) -> str | None:
        for value in [v for k, v in request.headers if k.lower() == "cookie"]:
            for part in value.split(";"):
                key, _, val = part.strip().partition("=")
                if key == name:
                    return val
        return None

    # the handler -----------------------------------------------------------------------------------

    def handle(self, request: Request, secure: bool) -> Reply:
        site = self.site
        path = request.path
        if not secure:
            if path in site.plain_basic:
                return self._html(
                    "<h1>401 Authorization Required</h1>", 401, ("WWW-Authenticate", 'Basic realm="Quan tri"')
                )
            if site.plain == "redirect":
                return Reply(301, (("Location", f"https://{self.host}:{self.https_port}{request.target}"),))
        if path == "/":
            if site.spa:
                return self._html(SPA_SHELL)
            return self._html(
                '<!doctype html><html lang="vi"><head><title>Cổng thông tin</title></head><body><h1>Cổng thông tin'
                f'</h1><a href="{LOGIN}">Đăng nhập</a></body></html>'
            )
        if path == LOGIN or (path in site.login_at and request.method == "GET"):
            return self._login(request, secure)
        if path == HOME:
            sid = self._cookie(request, _cookie_name(site.session_cookie))
            if sid and sid in self.sessions:
                return self._html(f"<h1>Xin chào, {html.escape(self.username)}</h1><a href='/dang-xuat'>Thoát</a>")
            return Reply(302, (("Location", LOGIN),))
        for protected, behaviour in site.protected:
            if path == protected.rstrip("/") and protected.endswith("/"):
                return Reply(301, (("Location", protected),))
            if path == protected:
                return self._protected(behaviour)
        for page_path, status, headers, body in site.pages:
            if path == page_path:
                return Reply(status, headers, body)
        if site.spa:
            return self._html(SPA_SHELL)
        return self._html(NOT_FOUND, 404)

    def _protected(self, behaviour: str) -> Reply:
        if behaviour == "redirect":
            return Reply(302, (("Location", f"{LOGIN}?next=/quan-tri/"),))
        if behaviour == "401":
            return Reply(401, (("WWW-Authenticate", 'Bearer realm="api"'), ("Content-Type", "application/json")), b"{}")
        if behaviour == "401basic":
            return self._html("<h1>401</h1>", 401, ("WWW-Authenticate", 'Basic realm="Quan tri"'))
        return self._html(DASHBOARD)

    def _login(self, request: Request, secure: bool) -> Reply:
        site = self.site
        csrf_flags = "Path=/; Secure; SameSite=Lax" if secure else "Path=/; SameSite=Lax"
        if request.method != "POST":
            token = secrets.token_hex(16)
            return self._html(self._login_page(secure, token), 200, ("Set-Cookie", f"csrftoken={token}; {csrf_flags}"))
        fields = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        user = fields.get(site.user_field, [""])[0]
        password = fields.get(site.pass_field, [""])[0]
        token = fields.get("csrf_token", [""])[0]
        with self._lock:
            self.posts += 1
            if not token or token != self._cookie(request, "csrftoken"):
                return self._html("<h1>403 CSRF token missing or incorrect</h1>", 403)
            fresh = secrets.token_hex(16)
            cookie = ("Set-Cookie", f"csrftoken={fresh}; {csrf_flags}")
            if user == self.username:
                if site.throttle_after is not None and self.failures >= site.throttle_after:
                    self.failed_logins["test account"] += password != self.password
                    return Reply(
                        429, (("Retry-After", "60"), ("Content-Type", "text/html")), b"<h1>Too Many Requests</h1>"
                    )
                if self.locked:
                    self.failed_logins["test account"] += password != self.password
                    return self._html(self._login_page(secure, fresh, LOCKED, user), 200, cookie)
                if password == self.password:
                    self.failures = 0
                    self.logins_ok += 1
                    sid = secrets.token_urlsafe(24)
                    self.sessions.add(sid)
                    session = ("Set-Cookie", site.session_cookie.format(sid=sid))
                    if site.success == "page":
                        return self._html(f"<h1>Xin chào, {html.escape(user)}</h1>", 200, session)
                    return Reply(302, (("Location", HOME), session))
                self.failures += 1
                self.failed_logins["test account"] += 1
                if site.lock_after is not None and self.failures >= site.lock_after:
                    self.locked = True
                message = WRONG_PASSWORD if site.enumerable else GENERIC
            else:
                self.failed_logins["other"] += 1
                message = NO_SUCH_USER if site.enumerable else GENERIC
        return self._html(self._login_page(secure, fresh, message, user), 200, cookie)


def _cookie_name(set_cookie: str) -> str:
    return set_cookie.split("=", 1)[0]


# -- cases ----------------------------------------------------------------------------------------------


def _expect(changes: Mapping[str, str] | None = None) -> dict[str, str]:
    base = {check: "pass" for check in AUTH_CHECKS}
    return {**base, **(changes or {})}


SKIP_ALL = {check: "skip" for check in AUTH_CHECKS}


@dataclass(frozen=True)
class AuthCase:
    """One fleet case: an application and the verdict of every auth check on its https:// and http:// URLs
    (``expect`` with ``--active``; without it the two active checks are not run at all).

    Attributes:
        protected_paths: what the targets file declares.
        account: declare username_env/password_env in the targets file.
        credentials: set those variables in ``environ()``.
        overrides: extra [platforms.auth] keys (username_field, password_field, success_marker).
    """

    name: str
    description: str
    site: AuthSite
    expect: dict[str, str]
    expect_plain: dict[str, str] = field(default_factory=lambda: dict(SKIP_ALL))
    protected_paths: tuple[str, ...] = ("/quan-tri/", "/api/noi-bo/")
    account: bool = True
    credentials: bool = True
    level: int = 3
    overrides: tuple[tuple[str, str], ...] = ()

    @property
    def host(self) -> str:
        return f"{self.name.replace('_', '-')}.{DOMAIN}"

    @property
    def env_prefix(self) -> str:
        return f"AUTHFLEET_{self.name.upper()}"

    @property
    def username(self) -> str:
        return f"canbo-{self.name.replace('_', '-')}-7f3a"

    @property
    def password(self) -> str:
        return f"Mk!{self.name}-s3cr3t-9d81e2"


# Without a test account the login checks apply but cannot run: untested (error), never "does not apply".
NO_ACCOUNT = {"auth.session_cookie": "error", "auth.lockout": "error", "auth.user_enumeration": "error"}
#: The login checks run once per platform, on its primary URL; on its other URLs they do not apply.
JUDGED_ON_PRIMARY = dict.fromkeys(NO_ACCOUNT, "skip")

CASES: tuple[AuthCase, ...] = (
    AuthCase(
        "good",
        "login only over HTTPS, protected paths closed, no consoles, good session cookie, locks after 5 failures",
        GOOD,
        _expect(),
    ),
    AuthCase(
        "plain_login",
        "plain HTTP serves the application, login form included (account declared, variables not set)",
        replace(GOOD, plain="serve"),
        _expect({"auth.login_https": "fail"} | NO_ACCOUNT),
        _expect(
            {
                "auth.login_https": "skip",
                "auth.form_action_https": "skip",
                "auth.protected_paths": "skip",
            }
            | JUDGED_ON_PRIMARY
        ),
        protected_paths=("/quan-tri/",),
        credentials=False,
    ),
    AuthCase(
        "http_action",
        "the HTTPS login form posts to http:// (platscan refuses to send the password there)",
        replace(GOOD, action="{plain}" + LOGIN),
        _expect(
            {
                "auth.form_action_https": "fail",
                "auth.protected_paths": "skip",
                "auth.session_cookie": "error",
                "auth.lockout": "error",
                "auth.user_enumeration": "error",
            }
        ),
        protected_paths=(),
    ),
    AuthCase(
        "basic_http",
        "/quan-tri/ asks for Basic credentials over plain HTTP (and over HTTPS)",
        replace(GOOD, protected=(("/quan-tri/", "401basic"),), plain_basic=("/quan-tri/",)),
        _expect({"auth.basic_over_http": "fail"} | NO_ACCOUNT),
        protected_paths=("/quan-tri/",),
        account=False,
        credentials=False,
    ),
    AuthCase(
        "admin_open",
        "the protected /admin/ answers 200 with the admin dashboard",
        replace(GOOD, protected=(("/admin/", "open"),)),
        _expect({"auth.protected_paths": "fail", "auth.admin_exposed": "fail"} | NO_ACCOUNT),
        protected_paths=("/admin/",),
        account=False,
        credentials=False,
    ),
    AuthCase(
        "admin_closed",
        "the protected /admin/ redirects to the ordinary login page (closed; no console of its own: a warning)",
        replace(GOOD, protected=(("/admin/", "redirect"),)),
        _expect({"auth.admin_exposed": "warn"} | NO_ACCOUNT),
        protected_paths=("/admin/",),
        account=False,
        credentials=False,
    ),
    AuthCase(
        "admin_login_form",
        "/admin serves the ordinary login form itself (posting to the login URL): a warning, not a console",
        replace(GOOD, login_at=("/admin",)),
        _expect({"auth.admin_exposed": "warn", "auth.protected_paths": "skip"} | NO_ACCOUNT),
        protected_paths=(),
        account=False,
        credentials=False,
    ),
    AuthCase(
        "pma_login",
        "/phpmyadmin/ shows phpMyAdmin's own login form: a console product, exposed even though it asks for a login",
        replace(
            GOOD,
            pages=(
                ("/phpmyadmin", 301, (("Location", "/phpmyadmin/"),), b""),
                ("/phpmyadmin/", 200, (("Content-Type", "text/html; charset=utf-8"),), PHPMYADMIN_LOGIN.encode()),
            ),
        ),
        _expect({"auth.admin_exposed": "fail", "auth.protected_paths": "skip"} | NO_ACCOUNT),
        protected_paths=(),
        account=False,
        credentials=False,
    ),
    AuthCase(
        "phpmyadmin",
        "an open phpMyAdmin at /phpmyadmin/ and a Tomcat Manager asking for Basic credentials",
        replace(
            GOOD,
            pages=(
                ("/phpmyadmin", 301, (("Location", "/phpmyadmin/"),), b""),
                ("/phpmyadmin/", 200, (("Content-Type", "text/html; charset=utf-8"),), PHPMYADMIN.encode()),
                (
                    "/manager/html",
                    401,
                    (("WWW-Authenticate", 'Basic realm="Tomcat Manager Application"'), ("Content-Type", "text/html")),
                    b"<html><body><h1>401 Unauthorized</h1></body></html>",
                ),
            ),
        ),
        _expect({"auth.admin_exposed": "fail", "auth.protected_paths": "skip"} | NO_ACCOUNT),
        protected_paths=(),
        account=False,
        credentials=False,
    ),
    AuthCase(
        "soft404",
        "a single-page app: every unknown path answers 200 with the same shell, which has a login form",
        replace(GOOD, spa=True),
        _expect({"auth.protected_paths": "warn"} | NO_ACCOUNT),
        protected_paths=("/admin/",),
        account=False,
        credentials=False,
    ),
    AuthCase(
        "cookie_flags",
        "unusual field names (overrides), success shown in place, session cookie without HttpOnly",
        replace(
            GOOD,
            user_field="tk",
            pass_field="mk",
            success="page",
            session_cookie="sessionid={sid}; Path=/; Secure; SameSite=Lax",
        ),
        _expect({"auth.session_cookie": "fail", "auth.protected_paths": "skip"}),
        protected_paths=(),
        overrides=(("username_field", "tk"), ("password_field", "mk"), ("success_marker", "Xin chào")),
    ),
    AuthCase(
        "nolock",
        "level 1: the account never locks, and an unknown account gets another message than a wrong password",
        replace(GOOD, lock_after=None, enumerable=True),
        _expect({"auth.lockout": "fail", "auth.user_enumeration": "fail", "auth.protected_paths": "skip"}),
        protected_paths=(),
        level=1,
    ),
    AuthCase(
        "throttle",
        "after 4 failed logins the account's logins answer 429 with Retry-After",
        replace(GOOD, lock_after=None, throttle_after=4),
        _expect({"auth.protected_paths": "skip"}),
        protected_paths=(),
    ),
)
CASE_NAMES: tuple[str, ...] = tuple(case.name for case in CASES)


# -- the running fleet ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FleetApp:
    """One running case: its application, ports and servers."""

    case: AuthCase
    app: App
    https: HttpSiteServer
    plain: HttpSiteServer

    @property
    def name(self) -> str:
        return self.case.name

    @property
    def https_url(self) -> str:
        return f"https://{self.case.host}:{self.https.port}/"

    @property
    def http_url(self) -> str:
        return f"http://{self.case.host}:{self.plain.port}/"

    @property
    def login_url(self) -> str:
        return f"https://{self.case.host}:{self.https.port}{LOGIN}"


@dataclass(frozen=True)
class AuthFleet:
    """The running fleet (valid inside ``start_auth_fleet``)."""

    workdir: Path
    pki: Pki
    apps: tuple[FleetApp, ...]

    def __getitem__(self, name: str) -> FleetApp:
        for app in self.apps:
            if app.name == name:
                return app
        raise KeyError(name)

    def __iter__(self) -> Iterator[FleetApp]:
        return iter(self.apps)

    def environ(self) -> dict[str, str]:
        """The test accounts' environment variables (only for cases with ``credentials``)."""
        env: dict[str, str] = {}
        for app in self.apps:
            if app.case.credentials:
                env[f"{app.case.env_prefix}_USER"] = app.case.username
                env[f"{app.case.env_prefix}_PASS"] = app.case.password
        return env

    def secrets(self) -> list[str]:
        """Every credential of the fleet (set or not), for tests that prove none is stored."""
        return [value for app in self.apps for value in (app.case.username, app.case.password)]

    def write_targets(
        self, path: Path | None = None, *, timeout: float = 2, names: Iterable[str] | None = None
    ) -> Path:
        path = path or self.workdir / "targets.toml"
        wanted = set(names) if names is not None else None
        lines = [
            "# Generated by tests/fleet/auth_app.py: one platform per auth fleet case.",
            "[scan]",
            f"timeout = {timeout:g}",
            "retries = 0",
            "endpoint_timeout = 60",
            f"ca_bundle = {json.dumps(str(self.pki.bundle_path.resolve()))}",
        ]
        for app in self.apps:
            case = app.case
            if wanted is not None and case.name not in wanted:
                continue
            lines += [
                "",
                "[[platforms]]",
                f"id = {json.dumps(case.name)}",
                f"name = {json.dumps(f'Auth fleet case {case.name}: {case.description}', ensure_ascii=False)}",
                'owner = "Test"',
                f"level = {case.level}",
                f"urls = [{json.dumps(app.https_url)}, {json.dumps(app.http_url)}]",
                f"resolve = {{ {json.dumps(case.host)} = {json.dumps(LOOPBACK)} }}",
                "",
                "[platforms.auth]",
                f"login_url = {json.dumps(app.login_url)}",
                f"protected_paths = {json.dumps(list(case.protected_paths))}",
            ]
            if case.account:
                lines += [
                    f"username_env = {json.dumps(case.env_prefix + '_USER')}",
                    f"password_env = {json.dumps(case.env_prefix + '_PASS')}",
                ]
            lines += [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in case.overrides]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path


@contextlib.contextmanager
def start_auth_fleet(workdir: Path, cases: Iterable[str] | None = None) -> Iterator[AuthFleet]:
    """Create the PKI in ``workdir`` and start every case (or ``cases``); stop everything on exit."""
    chosen = [c for c in CASES if cases is None or c.name in set(cases)]
    workdir.mkdir(parents=True, exist_ok=True)
    pki = Pki.create(workdir / "pki", organization="Platscan Auth Fleet")
    leaf = pki.issue("auth-fleet", LeafSpec(hosts=tuple(c.host for c in CASES)))
    chain = pki.write_chain(leaf)
    with contextlib.ExitStack() as stack:
        running: list[FleetApp] = []
        for case in chosen:
            app = App(case.site, case.host, case.username, case.password)
            https = stack.enter_context(HttpSiteServer(lambda r, a=app: a.handle(r, True), tls=(chain, leaf.key_path)))
            plain = stack.enter_context(HttpSiteServer(lambda r, a=app: a.handle(r, False)))
            app.https_port, app.plain_port = https.port, plain.port
            running.append(FleetApp(case, app, https, plain))
        yield AuthFleet(workdir=workdir, pki=pki, apps=tuple(running))
