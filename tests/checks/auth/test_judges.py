"""The auth family's pure parts from hand-built facts: form discovery, console recognition, and every judge."""

from __future__ import annotations

import datetime as dt
import pickle
from typing import Any

import pytest

from checks.auth import access, active, login, session
from checks.auth._collect_active import (
    ENUMERATION,
    FINAL,
    LOCKOUT,
    OUT_OF_TIME,
    TEST_ACCOUNT,
    UNKNOWN_USER,
    lockout_limit,
)
from checks.auth._collect_login import credentials_unset
from checks.auth.base import credentials_missing, primary_url, redact, secrets_of
from checks.auth.consoles import HTTP_AUTH, LOGIN_FORM, OPEN, SIGN_IN_REDIRECT, identify, like_baseline
from checks.auth.facts import (
    ActiveFacts,
    Attempt,
    AuthFacts,
    LoginFacts,
    LoginForm,
    LoginOutcome,
    SeenCookie,
    Step,
)
from checks.auth.forms import (
    choose_login_form,
    login_data,
    normalise_lines,
    replace_all,
    username_input,
    visible_lines,
)
from checks.auth.settings import AuthSettings, auth_settings
from checks.http.api import parse_set_cookie
from checks.http.facts import ErrorKind, Fetch, FetchError, HttpFacts, HttpResponse
from checks.http.html import parse_html
from scanner.messages import say
from scanner.model import Platform, Severity, Status
from scanner.plugin import ScanContext, ScanSettings
from scanner.reasons import network_error

ORIGIN = "https://dvc.example"
URL = f"{ORIGIN}/"
LOGIN_URL = f"{ORIGIN}/dang-nhap"
HTML = (("Content-Type", "text/html; charset=utf-8"),)
LOGIN_PAGE = (
    b'<html><head><title>Dang nhap</title></head><body><form method="post" action="/dang-nhap">'
    b'<input type="hidden" name="csrf" value="t0k"><input name="tai_khoan"><input type="password" name="mk">'
    b"</form></body></html>"
)
NOT_FOUND = b"<html><head><title>404</title></head><body>Not Found</body></html>"
PLATFORM = Platform(
    id="dvc",
    name="DVC",
    urls=(URL, "http://dvc.example/"),
    families=(("auth", AuthSettings(login_url=LOGIN_URL, protected_paths=("/quan-tri/",))),),
)


def resp(
    url: str = URL, status: int = 200, headers: tuple[tuple[str, str], ...] = HTML, body: bytes = b"", **kw: Any
) -> HttpResponse:
    return HttpResponse(kw.pop("method", "GET"), url, status, headers=headers, body=body, **kw)


def fetched(
    *responses: HttpResponse, blocked: str | None = None, error: FetchError | None = None, url: str = ""
) -> Fetch:
    first = responses[0] if responses else None
    return Fetch("GET", url or (first.url if first else URL), responses, blocked_redirect=blocked, error=error)


def redirect(url: str, location: str, status: int = 302) -> HttpResponse:
    return resp(url, status, (("Location", location),))


def http_facts(
    page: Fetch | None = None, plain: Fetch | None = None, not_found: HttpResponse | None = None
) -> HttpFacts:
    baseline = not_found or resp(f"{ORIGIN}/platscan-abc-not-found", 404, body=NOT_FOUND)
    return HttpFacts(
        url=URL,
        platform="dvc",
        page=page or fetched(resp(body=b"<html><title>Trang chu</title><body>Xin chao</body></html>")),
        plain=plain or fetched(redirect("http://dvc.example/", URL, 301)),
        origin=ORIGIN,
        not_found=fetched(baseline),
    )


def auth_facts(**kw: Any) -> AuthFacts:
    defaults: dict[str, Any] = {
        "url": URL,
        "platform": "dvc",
        "origin": ORIGIN,
        "primary": True,
        "login_url": LOGIN_URL,
        "login_page": fetched(resp(LOGIN_URL, body=LOGIN_PAGE)),
        "login_plain": fetched(redirect("http://dvc.example/dang-nhap", LOGIN_URL, 301)),
    }
    return AuthFacts(**{**defaults, **kw})


# -- forms ------------------------------------------------------------------------------------------------


def test_the_login_form_is_the_one_with_a_single_password_field() -> None:
    info = parse_html(
        '<form action="/dang-ky"><input name="email" type="email"><input type="password" name="p1">'
        '<input type="password" name="p2"></form>'
        '<form action="/dang-nhap" method="post"><input type="hidden" name="__RequestVerificationToken" value="abc">'
        '<input name="email" type="email"><input type="password" name="pw"><input type="checkbox" name="remember">'
        '<button type="submit" name="go" value="1">Đăng nhập</button><button name="other">x</button></form>',
        "https://a.test/",
    )
    form = choose_login_form(info.forms)
    assert form is not None and form.action == "https://a.test/dang-nhap"
    assert choose_login_form(info.forms, password_field="p2") is info.forms[0]
    assert username_input(form) == "email"
    data = login_data(form, "email", "pw", "user@a.test", "secret")
    assert data == [("email", "user@a.test"), ("pw", "secret"), ("__RequestVerificationToken", "abc"), ("go", "1")]


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ('<input name="q"><input name="tai_khoan"><input type="password" name="mk">', "tai_khoan"),
        ('<input name="j_username"><input type="password" name="j_password">', "j_username"),
        ('<input name="x1"><input name="x2"><input type="password" name="x3">', "x2"),
        ('<input type="password" name="x3">', None),
    ],
)
def test_the_account_field_is_found_by_type_name_and_position(markup: str, expected: str | None) -> None:
    (form,) = parse_html(f"<form>{markup}</form>", "https://a.test/").forms
    assert username_input(form) == expected
    assert username_input(form, "override") == "override"


def test_inputs_after_a_form_closes_are_not_its_own() -> None:
    info = parse_html('<form><input type="password" name="p"></form><input name="stray">', "https://a.test/")
    assert [i.name for i in info.forms[0].inputs] == ["p"]


def test_visible_text_and_normalisation() -> None:
    lines = visible_lines(
        "<html><head><title>T</title><script>var x = 1;</script></head><body><p>Sai mật khẩu cho CanBo-1</p>"
        "<div>Còn 4 lần thử</div></body></html>"
    )
    assert lines == ["Sai mật khẩu cho CanBo-1", "Còn 4 lần thử"]
    assert normalise_lines(lines, ["canbo-1"]) == ("Sai mật khẩu cho ‹user›", "Còn # lần thử")


def test_secrets_are_replaced_in_any_case_and_encoding() -> None:
    text = "user=Can%20Bo%21 & pw=p%40ss word CAN BO!"
    assert replace_all(text, ["Can Bo!", "p@ss"]) == "user=[redacted] & pw=[redacted] word [redacted]"
    assert redact({"a": ["p@ss", {"p@ss": 1}], "n": 3}, ("p@ss",)) == {"a": ["[redacted]", {"[redacted]": 1}], "n": 3}


# -- the platform's primary URL, secrets, limits ---------------------------------------------------------------


def test_the_primary_url_is_the_first_https_url_on_the_login_host() -> None:
    platform = Platform(
        id="p",
        name="p",
        urls=("http://a.example/", "https://b.example/", "https://a.example/portal/"),
        families=(("auth", AuthSettings(login_url="https://a.example/login")),),
    )
    assert primary_url(platform) == "https://a.example/portal/"
    assert primary_url(Platform(id="p", name="p", urls=("http://a.example/", "https://b.example/"))) == (
        "https://b.example/"
    )
    assert primary_url(Platform(id="p", name="p", urls=("http://a.example/",))) == "http://a.example/"


def test_secrets_and_missing_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    platform = Platform(
        id="p", name="p", families=(("auth", AuthSettings(username_env="P_USER", password_env="P_PASS")),)
    )
    monkeypatch.delenv("P_USER", raising=False)
    monkeypatch.delenv("P_PASS", raising=False)
    assert (
        str(credentials_missing(platform)) == "the test account's environment variables P_USER and P_PASS are not set"
    )
    monkeypatch.setenv("P_USER", "canbo")
    assert str(credentials_missing(platform)) == "the test account's environment variable P_PASS is not set"
    monkeypatch.setenv("P_PASS", "hunter22")
    assert credentials_missing(platform) is None
    assert secrets_of(platform, with_account=False) == ("hunter22",)
    assert secrets_of(platform, with_account=True) == ("hunter22", "canbo")
    assert "no test account is declared" in str(credentials_missing(Platform(id="q", name="q")))


def test_the_lockout_limit_follows_the_level() -> None:
    assert [lockout_limit(level) for level in (1, 2, 3, 5)] == [10, 5, 5, 5]


def test_active_phases_follow_the_selection() -> None:
    ctx = ScanContext(PLATFORM, ScanSettings(active=True), None, 0.0, checks=["auth.lockout"])  # type: ignore[arg-type]
    assert active.Lockout().phases(ctx) == (LOCKOUT,)
    assert active.UserEnumeration().phases(ctx) == (ENUMERATION, LOCKOUT)
    both = ScanContext(PLATFORM, ScanSettings(), None, 0.0, checks=["auth.user_enumeration"])  # type: ignore[arg-type]
    assert active.UserEnumeration().phases(both) == (ENUMERATION,)
    assert active.Lockout().phases(both) == (ENUMERATION, LOCKOUT)


# -- admin consoles ------------------------------------------------------------------------------------


BASELINE = resp(f"{ORIGIN}/platscan-abc-not-found", 404, body=NOT_FOUND)


def console(path: str, *responses: HttpResponse, baseline: HttpResponse = BASELINE, **kw: Any) -> Any:
    return identify(path, fetched(*responses, **kw), baseline, resp(body=b"<html>home</html>")).console


@pytest.mark.parametrize(
    ("path", "response", "product", "access_"),
    [
        (
            "/phpmyadmin",
            resp(
                body=b"<html><head><title>phpMyAdmin</title></head><body><form><input name='pma_username'>"
                b"<input type='password' name='pma_password'></form></body></html>"
            ),
            "phpMyAdmin",
            LOGIN_FORM,
        ),
        (
            "/actuator",
            resp(
                headers=(("Content-Type", "application/vnd.spring-boot.actuator.v3+json"),),
                body=b'{"_links":{"self":{"href":"https://dvc.example/actuator"}}}',
            ),
            "Spring Boot Actuator",
            OPEN,
        ),
        (
            "/actuator/env",
            resp(headers=(("Content-Type", "application/json"),), body=b'{"activeProfiles":[],"propertySources":[]}'),
            "Spring Boot Actuator",
            OPEN,
        ),
        (
            "/api-docs",
            resp(headers=(("Content-Type", "application/json"),), body=b'{"openapi":"3.0.1","paths":{}}'),
            "OpenAPI description",
            OPEN,
        ),
        (
            "/swagger-ui",
            resp(body=b'<html><head><title>Swagger UI</title></head><div id="swagger-ui"></div></html>'),
            "Swagger UI",
            OPEN,
        ),
        (
            "/jenkins",
            resp(status=403, headers=(*HTML, ("X-Jenkins", "2.440")), body=b"<html>Authentication required</html>"),
            "Jenkins",
            LOGIN_FORM,
        ),
        (
            "/quantri",
            resp(body="<html><head><title>Trang quản trị</title></head><body>Bảng tin</body></html>".encode()),
            "admin page",
            OPEN,
        ),
        (
            "/manager/html",
            resp(status=401, headers=(("WWW-Authenticate", 'Basic realm="Tomcat Manager Application"'),)),
            "Tomcat Manager",
            HTTP_AUTH,
        ),
    ],
)
def test_consoles_are_recognised_by_content(path: str, response: HttpResponse, product: str, access_: str) -> None:
    found = console(path, resp(f"{ORIGIN}{path}", response.status, response.headers, response.body))
    assert found is not None and (found.product, found.access) == (product, access_)
    assert found.demands_auth is (access_ != OPEN)


def test_wordpress_behind_a_redirect_is_an_exposed_login() -> None:
    login_page = resp(
        f"{ORIGIN}/wp-login.php?redirect_to=x",
        body=b'<form name="loginform" action="/wp-login.php" method="post"><input name="log">'
        b'<input type="password" name="pwd"><input type="submit" name="wp-submit"></form>',
    )
    found = console("/wp-admin", redirect(f"{ORIGIN}/wp-admin", "/wp-login.php?redirect_to=x"), login_page)
    assert found is not None and (found.product, found.access) == ("WordPress", LOGIN_FORM)


def test_soft_404_answers_are_not_consoles() -> None:
    shell = b"<html><head><title>Admin portal</title></head><body><form><input type=password></form></body></html>"
    soft = resp(f"{ORIGIN}/platscan-abc-not-found", body=shell)
    assert console("/admin", resp(f"{ORIGIN}/admin", body=shell), baseline=soft) is None
    # Every unknown path redirects to the login page, with the path in the query: not a console.
    base = redirect(f"{ORIGIN}/platscan-abc-not-found", "/login?next=/platscan-abc-not-found")
    assert like_baseline(redirect(f"{ORIGIN}/quantri", "/login?next=%2Fquantri"), base)
    assert console("/quantri", redirect(f"{ORIGIN}/quantri", "/login?next=/quantri"), baseline=base) is None
    # ... but a redirect the unknown path does not get is followed and judged.
    assert console("/admin", redirect(f"{ORIGIN}/admin", "/admin/"), resp(f"{ORIGIN}/admin/", body=shell)) is not None


@pytest.mark.parametrize(
    "response",
    [
        resp(f"{ORIGIN}/admin", 404, body=b"nope"),
        resp(f"{ORIGIN}/admin", 403, body=b"<h1>Forbidden</h1>"),
        resp(f"{ORIGIN}/admin", body=b"<html><head><title>Tin tuc</title></head><body>News</body></html>"),
        resp(f"{ORIGIN}/admin", body=b"<html>home</html>"),  # the registered URL's own page
    ],
)
def test_answers_that_are_not_consoles(response: HttpResponse) -> None:
    assert console("/admin", response) is None


def test_off_platform_redirects() -> None:
    hop = redirect(f"{ORIGIN}/admin", "https://sso.gov.example/cas/login?service=x")
    found = console("/admin", hop, blocked="https://sso.gov.example/cas/login?service=x")
    assert found is not None and found.access == SIGN_IN_REDIRECT
    assert console("/admin", redirect(f"{ORIGIN}/admin", "https://x.example/"), blocked="https://x.example/") is None


def test_judge_admin_severity_and_errors() -> None:
    from checks.auth.consoles import ADMIN_PATHS

    none = tuple(fetched(resp(f"{ORIGIN}{p}", 404, body=NOT_FOUND)) for p in ADMIN_PATHS)
    verdict = access.judge_admin(http_facts(), auth_facts(admin=none))
    assert verdict.status is Status.PASS and "13 well-known admin paths" in str(verdict.detail)
    login_only = (fetched(resp(f"{ORIGIN}/admin", body=OWN_LOGIN)), *none[1:])
    verdict = access.judge_admin(http_facts(), auth_facts(admin=login_only))
    assert (verdict.status, verdict.severity) == (Status.FAIL, Severity.MEDIUM)
    assert verdict.evidence["consoles"][0]["access"] == LOGIN_FORM
    refused = FetchError(ErrorKind.REFUSED, "Connection refused.")
    verdict = access.judge_admin(http_facts(), auth_facts(admin=tuple(fetched(error=refused) for _ in ADMIN_PATHS)))
    assert verdict.status is Status.ERROR


# -- an admin path that only leads to the ordinary login ----------------------------------------------

#: A login form of /admin's own: it posts to /admin/login, not to the ordinary login URL.
OWN_LOGIN = (
    b'<html><head><title>Sign in</title></head><body><form method="post" action="/admin/login">'
    b'<input name="tai_khoan"><input type="password" name="mk"></form></body></html>'
)


def admin_verdict(*responses: HttpResponse, blocked: str | None = None, **kw: Any) -> Any:
    """judge_admin with /admin answering ``responses`` and every other admin path 404."""
    from checks.auth.consoles import ADMIN_PATHS

    rest = tuple(fetched(resp(f"{ORIGIN}{p}", 404, body=NOT_FOUND)) for p in ADMIN_PATHS[1:])
    http = kw.pop("http", None) or http_facts()
    declared = kw.pop("declared", None)  # the platform's login_url, as the check passes it
    return access.judge_admin(http, auth_facts(admin=(fetched(*responses, blocked=blocked), *rest), **kw), declared)


def to_login(query: str = "?next=/admin/") -> tuple[HttpResponse, HttpResponse]:
    return redirect(f"{ORIGIN}/admin", f"/dang-nhap{query}"), resp(f"{LOGIN_URL}{query}", body=LOGIN_PAGE)


def test_a_redirect_to_the_declared_login_url_warns_and_names_the_requirement() -> None:
    verdict = admin_verdict(*to_login())
    assert (verdict.status, verdict.severity) == (Status.WARN, Severity.MEDIUM)
    assert "TCVN 14423 x.6.2.4" in str(verdict.detail) and "QĐ 742 II.4.1" in str(verdict.detail)
    assert "verify that" in str(verdict.detail) and verdict.evidence["verify_one_of"]
    (found,) = verdict.evidence["consoles"]
    assert (found["path"], found["access"], found["ordinary_login"]) == ("/admin", LOGIN_FORM, "the declared login_url")
    assert found["product"] == "ordinary user login"
    # The declared login_url alone decides it (another URL's facts, where the login page was not fetched).
    verdict = admin_verdict(*to_login(), login_page=None, login_url=None, declared=LOGIN_URL, primary=False)
    assert verdict.status is Status.WARN


def test_the_same_login_form_as_the_main_page_warns() -> None:
    main = fetched(resp(body=b"<html><title>Trang chu</title><body>" + LOGIN_PAGE + b"</body></html>"))
    # No login_url declared: the form on the registered page is the ordinary login.
    verdict = admin_verdict(
        resp(f"{ORIGIN}/admin", body=LOGIN_PAGE.replace(b"t0k", b"other")),
        http=http_facts(page=main),
        login_url=None,
        login_page=None,
    )
    assert verdict.status is Status.WARN
    assert verdict.evidence["consoles"][0]["ordinary_login"] == f"the same login form as {URL}"


@pytest.mark.parametrize(
    "body",
    [
        OWN_LOGIN,  # posts elsewhere
        LOGIN_PAGE.replace(b'name="tai_khoan"', b'name="admin_user"'),  # other fields
        LOGIN_PAGE.replace(b'method="post"', b'method="get"'),
    ],
)
def test_a_login_of_its_own_at_admin_is_still_an_exposed_console(body: bytes) -> None:
    verdict = admin_verdict(resp(f"{ORIGIN}/admin", body=body))
    assert (verdict.status, verdict.severity) == (Status.FAIL, Severity.MEDIUM)
    assert "ordinary_login" not in verdict.evidence["consoles"][0]


def test_without_an_ordinary_login_to_compare_a_login_page_stays_a_finding() -> None:
    verdict = admin_verdict(*to_login(), login_url=None, login_page=None)
    assert verdict.status is Status.FAIL  # nothing shows /dang-nhap is the ordinary login


def test_a_product_login_or_admin_content_fails_even_beside_the_ordinary_login() -> None:
    pma = resp(
        f"{ORIGIN}/phpmyadmin",
        body=b"<html><head><title>phpMyAdmin</title></head><body><form method='post' action='/dang-nhap'>"
        b"<input name='tai_khoan'><input type='password' name='mk'><input type='hidden' name='pma_x'></form></body>"
        b"</html>",
    )
    assert console("/phpmyadmin", pma).product == "phpMyAdmin"  # same fields as the ordinary form: a product wins
    dashboard = resp(f"{ORIGIN}/admin", body="<html><head><title>Quản trị hệ thống</title></head></html>".encode())
    verdict = admin_verdict(dashboard)
    assert (verdict.status, verdict.severity) == (Status.FAIL, Severity.HIGH)
    from checks.auth.consoles import ADMIN_PATHS

    fetches = [fetched(resp(f"{ORIGIN}{p}", 404, body=NOT_FOUND)) for p in ADMIN_PATHS]
    fetches[0] = fetched(*to_login())
    fetches[ADMIN_PATHS.index("/phpmyadmin")] = fetched(pma)
    verdict = access.judge_admin(http_facts(), auth_facts(admin=tuple(fetches)))
    assert (verdict.status, verdict.severity) == (Status.FAIL, Severity.MEDIUM)
    assert "/phpmyadmin (phpMyAdmin, login form)" in str(verdict.detail)
    assert "/admin (login form: the declared login_url) only lead" in str(verdict.detail)
    assert verdict.key == access.finding_key(["/phpmyadmin:login"])  # the ordinary login is no part of the finding


def test_single_sign_on_off_the_platform() -> None:
    sso = "https://sso.gov.example/cas/login"
    hop = redirect(f"{ORIGIN}/admin", f"{sso}?service=admin")
    login = fetched(redirect(LOGIN_URL, f"{sso}?service=dvc"), blocked=f"{sso}?service=dvc")
    verdict = admin_verdict(hop, blocked=f"{sso}?service=admin", login_page=login)
    assert verdict.status is Status.WARN  # the same sign-in page as the declared login_url
    other = "https://sso.gov.example/admin-login"
    verdict = admin_verdict(redirect(f"{ORIGIN}/admin", other), blocked=other, login_page=login)
    assert verdict.status is Status.FAIL


# -- protected paths -----------------------------------------------------------------------------------


def protected(*fetches: Fetch, paths: tuple[str, ...] | None = None) -> Any:
    platform = PLATFORM
    if paths is not None:
        assert auth_settings(platform) is not None
        platform = Platform(
            id="dvc", name="DVC", urls=PLATFORM.urls, families=(("auth", AuthSettings(LOGIN_URL, paths)),)
        )
    return access.judge_protected(platform, http_facts(), auth_facts(protected=fetches))


def test_protected_paths_closed() -> None:
    to_login = fetched(redirect(f"{ORIGIN}/quan-tri/", "/dang-nhap?next=/quan-tri/"), resp(LOGIN_URL, body=LOGIN_PAGE))
    verdict = protected(to_login)
    assert verdict.status is Status.PASS and "redirects to the login page" in str(verdict.detail)
    denied = fetched(resp(f"{ORIGIN}/api/", 401, (("WWW-Authenticate", "Bearer"),)))
    verdict = protected(to_login, denied, paths=("/quan-tri/", "/api/"))
    assert verdict.status is Status.PASS and verdict.evidence["paths"][1]["challenge"] == "Bearer"


def test_a_protected_path_served_anonymously_is_critical() -> None:
    page = b"<html><head><title>Quan tri he thong</title></head><body>Danh sach can bo ...</body></html>"
    verdict = protected(fetched(resp(f"{ORIGIN}/quan-tri/", body=page)))
    assert verdict.status is Status.FAIL
    assert "(200, title 'Quan tri he thong', 91 bytes)" in str(verdict.detail)
    (entry,) = verdict.evidence["paths"]
    assert (entry["status"], entry["size"], entry["title"], entry["verdict"]) == (200, 91, "Quan tri he thong", "open")


@pytest.mark.parametrize(
    ("fetch", "status"),
    [
        (fetched(resp(f"{ORIGIN}/quan-tri/", 404, body=NOT_FOUND)), Status.WARN),
        (fetched(resp(f"{ORIGIN}/quan-tri/", 500, body=b"oops")), Status.WARN),
        (fetched(error=FetchError(ErrorKind.READ_TIMEOUT, "timed out")), Status.ERROR),
        (
            fetched(redirect(f"{ORIGIN}/quan-tri/", "https://sso.example/login"), blocked="https://sso.example/login"),
            Status.PASS,
        ),
    ],
)
def test_protected_paths_that_are_not_clear(fetch: Fetch, status: Status) -> None:
    assert protected(fetch).status is status


def test_a_protected_path_like_any_unknown_path_cannot_be_judged() -> None:
    shell = b"<html><head><title>App</title></head><body><div id=app></div></body></html>"
    facts = http_facts(not_found=resp(f"{ORIGIN}/platscan-abc-not-found", body=shell))
    verdict = access.judge_protected(
        PLATFORM, facts, auth_facts(protected=(fetched(resp(f"{ORIGIN}/quan-tri/", body=shell)),))
    )
    assert verdict.status is Status.WARN and "like any unknown path" in str(verdict.detail)


# -- credentials in transit -----------------------------------------------------------------------------


def test_login_https_passes_when_the_twin_redirects() -> None:
    verdict = login.judge_login_https(PLATFORM, http_facts(), auth_facts())
    assert verdict.status is Status.PASS and "redirects to HTTPS (301)" in str(verdict.detail)


@pytest.mark.parametrize(
    ("twin", "status", "severity"),
    [
        (fetched(resp("http://dvc.example/dang-nhap", body=LOGIN_PAGE)), Status.FAIL, Severity.CRITICAL),
        (fetched(resp("http://dvc.example/dang-nhap", body=b"<html>app</html>")), Status.WARN, Severity.MEDIUM),
        (fetched(redirect("http://dvc.example/dang-nhap", "http://dvc.example/login")), Status.WARN, Severity.MEDIUM),
        (fetched(resp("http://dvc.example/dang-nhap", 404, body=b"")), Status.PASS, None),
        (
            fetched(error=FetchError(ErrorKind.REFUSED, "Connection refused."), url="http://dvc.example/dang-nhap"),
            Status.PASS,
            None,
        ),
        (
            fetched(error=FetchError(ErrorKind.READ_TIMEOUT, "No answer."), url="http://dvc.example/dang-nhap"),
            Status.ERROR,
            None,
        ),
    ],
)
def test_login_https_judges_the_plain_twin(twin: Fetch, status: Status, severity: Severity | None) -> None:
    verdict = login.judge_login_https(PLATFORM, http_facts(), auth_facts(login_plain=twin))
    assert verdict.status is status
    if severity is not None:
        assert verdict.severity is severity


def test_a_password_form_on_a_plain_http_page_fails() -> None:
    page = fetched(resp("http://dvc.example/", body=LOGIN_PAGE))
    verdict = login.judge_login_https(PLATFORM, http_facts(page=page), auth_facts(primary=False, login_url=None))
    assert (verdict.status, verdict.severity) == (Status.FAIL, Severity.CRITICAL)
    skipped = login.judge_login_https(
        PLATFORM, http_facts(), auth_facts(primary=False, login_url=None, login_page=None)
    )
    assert skipped.status is Status.SKIP


@pytest.mark.parametrize(
    ("action", "status", "severity"),
    [
        ("/dang-nhap", Status.PASS, None),
        ("http://dvc.example/dang-nhap", Status.FAIL, Severity.CRITICAL),
        ("https://sso.elsewhere.example/login", Status.FAIL, Severity.HIGH),
        ("javascript:void(0)", Status.SKIP, None),
    ],
)
def test_form_actions(action: str, status: Status, severity: Severity | None) -> None:
    body = LOGIN_PAGE.replace(b'action="/dang-nhap"', f'action="{action}"'.encode())
    verdict = login.judge_form_action(
        PLATFORM, http_facts(), auth_facts(login_page=fetched(resp(LOGIN_URL, body=body)))
    )
    assert verdict.status is status
    if severity is not None:
        assert verdict.severity is severity


def test_form_action_skips_when_there_is_no_form() -> None:
    verdict = login.judge_form_action(
        PLATFORM, http_facts(), auth_facts(login_page=fetched(resp(LOGIN_URL, body=b"<div id=app>")))
    )
    assert verdict.status is Status.SKIP and "no password field in its HTML" in str(verdict.detail)


@pytest.mark.parametrize(
    ("challenge", "status"),
    [('Basic realm="x"', Status.FAIL), ('Negotiate, Basic realm="x"', Status.FAIL), ("Bearer", Status.PASS)],
)
def test_basic_over_plain_http(challenge: str, status: Status) -> None:
    plain = fetched(resp("http://dvc.example/", 401, (("WWW-Authenticate", challenge),)))
    assert login.judge_basic(http_facts(plain=plain), auth_facts()).status is status


def test_basic_over_https_only_passes_and_closed_ports_pass() -> None:
    admin = (fetched(resp(f"{ORIGIN}/admin", 401, (("WWW-Authenticate", 'Basic realm="a"'),))),)
    verdict = login.judge_basic(http_facts(), auth_facts(admin=admin))
    assert verdict.status is Status.PASS and "HTTPS only" in str(verdict.detail)
    refused = fetched(error=FetchError(ErrorKind.REFUSED, "Connection refused."), url="http://dvc.example/")
    closed = login.judge_basic(http_facts(plain=refused), auth_facts(login_plain=None))
    assert closed.status is Status.PASS and "not served" in str(closed.detail)
    slow = fetched(error=FetchError(ErrorKind.READ_TIMEOUT, "No answer."), url="http://dvc.example/")
    assert login.judge_basic(http_facts(plain=slow), auth_facts(login_plain=None)).status is Status.ERROR


# -- the session cookie ---------------------------------------------------------------------------------


def seen(header: str, phase: str = "login", https: bool = True) -> SeenCookie:
    cookie = parse_set_cookie(header)
    assert cookie is not None
    return SeenCookie(cookie, LOGIN_URL, https, phase)


FORM = LoginForm(LOGIN_URL, LOGIN_URL, "post", "tai_khoan", "mk", ("csrf",))


def logged_in(*cookies: SeenCookie, outcome: LoginOutcome = LoginOutcome.LOGGED_IN) -> LoginFacts:
    steps = (
        Step("GET", LOGIN_URL, 200),
        Step("POST", LOGIN_URL, 302, "/trang-chu"),
        Step("GET", f"{ORIGIN}/trang-chu", 200),
    )
    return LoginFacts(outcome, "logged in", LOGIN_URL, FORM, steps, cookies, ("no password field",), requests=3)


def test_a_good_session_cookie_passes() -> None:
    verdict = session.judge_session(
        logged_in(
            seen("csrftoken=abc; Path=/; Secure"),
            seen("__Host-sid=" + "x" * 32 + "; Path=/; Secure; HttpOnly; SameSite=Lax"),
        )
    )
    assert verdict.status is Status.PASS and "__Host-sid" in str(verdict.detail)
    assert verdict.evidence["form"]["username_field"] == "tai_khoan"


@pytest.mark.parametrize(
    ("header", "status", "severity", "words"),
    [
        ("PHPSESSID=abc; Path=/; HttpOnly; SameSite=Lax", Status.FAIL, Severity.HIGH, "no Secure"),
        ("PHPSESSID=abc; Path=/; Secure; SameSite=Strict", Status.FAIL, Severity.MEDIUM, "no HttpOnly"),
        ("PHPSESSID=abc; Path=/; Secure; HttpOnly", Status.FAIL, Severity.MEDIUM, "no SameSite"),
        ("PHPSESSID=abc; Path=/; Secure; HttpOnly; SameSite=None", Status.WARN, Severity.LOW, "SameSite=None"),
    ],
)
def test_session_cookie_flaws(header: str, status: Status, severity: Severity, words: str) -> None:
    verdict = session.judge_session(logged_in(seen(header)))
    assert (verdict.status, verdict.severity) == (status, severity)
    assert words in str(verdict.detail)


def test_session_cookie_kept_from_before_the_login_is_judged_and_noted() -> None:
    verdict = session.judge_session(
        logged_in(seen("JSESSIONID=abc; Path=/; Secure; HttpOnly; SameSite=Lax", "login page"))
    )
    assert verdict.status is Status.PASS and "session fixation" in verdict.evidence["note"]


def test_session_cookie_needs_a_login() -> None:
    assert session.judge_session(logged_in(outcome=LoginOutcome.REJECTED)).status is Status.ERROR
    verdict = session.judge_session(logged_in())
    assert verdict.status is Status.WARN and "no session cookie" in str(verdict.detail)


# -- lockout and enumeration -----------------------------------------------------------------------------


def attempt(
    number: int,
    phase: str = LOCKOUT,
    account: str = TEST_ACCOUNT,
    password: str = "wrong",
    outcome: LoginOutcome = LoginOutcome.REJECTED,
    **kw: Any,
) -> Attempt:
    base: dict[str, Any] = {"status": 200, "statuses": (200,), "final_path": "/dang-nhap", "length": 700}
    base["elapsed"] = 0.02
    base["text"] = ("Đăng nhập", "Tên đăng nhập hoặc mật khẩu không đúng.")
    return Attempt(number, phase, account, password, outcome, **{**base, **kw})


def series(final: Attempt, failures: int = 6, **kw: Any) -> ActiveFacts:
    attempts = [attempt(n + 1, **kw) for n in range(failures)]
    return ActiveFacts((LOCKOUT,), 3, 5, (*attempts, replace_number(final, failures + 1)), "platscan-x")


def replace_number(a: Attempt, number: int) -> Attempt:
    from dataclasses import replace

    return replace(a, number=number)


CORRECT_OK = attempt(0, FINAL, password="correct", outcome=LoginOutcome.LOGGED_IN, status=200, final_path="/trang-chu")
CORRECT_REFUSED = attempt(0, FINAL, password="correct", locked_words=True)


def test_lockout_verdicts() -> None:
    ok = logged_in()
    locked = active.judge_lockout(ok, series(CORRECT_REFUSED))
    assert locked.status is Status.PASS and "the account is locked" in str(locked.detail)
    assert locked.evidence["sent"] == {
        "failed_logins_test_account": 6,
        "failed_logins_unknown_user": 0,
        "correct_password_logins": 2,
        "requests": 3,
    }
    assert all("password" in a and a["password"] in ("wrong", "correct") for a in locked.evidence["attempts"])
    open_ = active.judge_lockout(ok, series(CORRECT_OK))
    assert (open_.status, open_.severity) == (Status.FAIL, None)
    assert "6 failed logins (N = 5 at level 3)" in str(open_.detail)


def test_throttling_passes() -> None:
    ok = logged_in()
    attempts = [attempt(1), attempt(2), attempt(3, status=429, retry_after="60")]
    facts = ActiveFacts(
        (LOCKOUT,), 3, 5, (*attempts, replace_number(CORRECT_OK, 4)), stopped=say("auth.x.throttled", "throttled")
    )
    verdict = active.judge_lockout(ok, facts)
    assert verdict.status is Status.PASS and "attempt 3 was answered 429" in str(verdict.detail)
    captcha = ActiveFacts((LOCKOUT,), 3, 5, (attempt(1), attempt(2, captcha=True), replace_number(CORRECT_OK, 3)))
    assert "CAPTCHA appeared at attempt 2" in str(active.judge_lockout(ok, captcha).detail)
    slow = [attempt(n + 1, elapsed=e) for n, e in enumerate((0.05, 0.06, 0.5, 1.0, 2.0, 4.0))]
    slowed = active.judge_lockout(ok, ActiveFacts((LOCKOUT,), 3, 5, (*slow, replace_number(CORRECT_OK, 7))))
    assert slowed.status is Status.PASS and "slowed from 50 ms to 4000 ms" in str(slowed.detail)


def test_lockout_cannot_be_judged() -> None:
    ok = logged_in()
    fooled = series(CORRECT_OK, outcome=LoginOutcome.LOGGED_IN)
    assert active.judge_lockout(ok, fooled).status is Status.ERROR
    silent = attempt(
        0, FINAL, password="correct", outcome=LoginOutcome.UNREACHABLE, status=None, error=network_error(TimeoutError())
    )
    assert active.judge_lockout(ok, series(silent)).status is Status.WARN
    assert active.judge_lockout(logged_in(outcome=LoginOutcome.REJECTED), series(CORRECT_OK)).status is Status.ERROR
    missing = ActiveFacts((LOCKOUT,), 3, 5, message=credentials_unset())
    assert active.judge_lockout(ok, missing).status is Status.ERROR
    cut = ActiveFacts((LOCKOUT,), 3, 5, (attempt(1), attempt(2)), stopped=OUT_OF_TIME)
    verdict = active.judge_lockout(ok, cut)
    assert verdict.status is Status.ERROR and str(OUT_OF_TIME) in str(verdict.detail)


def pairs(unknown: dict[str, Any], known: dict[str, Any]) -> ActiveFacts:
    out = []
    for n in range(3):
        out.append(attempt(2 * n + 1, ENUMERATION, UNKNOWN_USER, **unknown))
        out.append(attempt(2 * n + 2, ENUMERATION, TEST_ACCOUNT, **known))
    return ActiveFacts((ENUMERATION,), 3, 5, tuple(out), "platscan-x")


@pytest.mark.parametrize(
    ("unknown", "known", "status", "words"),
    [
        ({}, {}, Status.PASS, "the same answer"),
        (
            {"text": ("Tài khoản không tồn tại.",)},
            {"text": ("Mật khẩu không đúng.",)},
            Status.FAIL,
            "page text differs",
        ),
        ({"status": 404}, {}, Status.FAIL, "status 404 for an unknown account"),
        ({"final_path": "/dang-ky"}, {}, Status.FAIL, "ends at /dang-ky"),
        ({"length": 690}, {}, Status.WARN, "690 bytes for an unknown account"),
        ({"elapsed": 0.01}, {"elapsed": 0.35}, Status.WARN, "a wrong password takes 350 ms"),
        ({"elapsed": 0.01}, {"elapsed": 0.05}, Status.PASS, "median times 10 ms and 50 ms"),
    ],
)
def test_user_enumeration(unknown: dict[str, Any], known: dict[str, Any], status: Status, words: str) -> None:
    verdict = active.judge_enumeration(logged_in(), pairs(unknown, known))
    assert verdict.status is status and words in str(verdict.detail)
    assert verdict.evidence["unknown_user"] == "platscan-x"


def test_user_enumeration_cannot_be_judged() -> None:
    fooled = pairs({"outcome": LoginOutcome.LOGGED_IN}, {})
    assert active.judge_enumeration(logged_in(), fooled).status is Status.ERROR
    cut = pairs(
        {"outcome": LoginOutcome.UNREACHABLE, "error": network_error(ConnectionRefusedError(111, "refused"))}, {}
    )
    assert active.judge_enumeration(logged_in(), cut).status is Status.ERROR


def test_facts_pickle_and_say_nothing_secret() -> None:
    facts = series(CORRECT_REFUSED)
    assert pickle.loads(pickle.dumps(facts)) == facts
    assert pickle.loads(pickle.dumps(logged_in(seen("a=b; Secure")))) == logged_in(seen("a=b; Secure"))
    assert dt.datetime.now(dt.UTC)  # the judges use no clock
