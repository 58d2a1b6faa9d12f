"""The pure parsers and detectors of the http family, from literal header values and bodies."""

from __future__ import annotations

import datetime as dt

import pytest

from checks.http import detect
from checks.http.csp import frame_ancestors_restrict, judge_scripts, object_src_restricted, parse_csp, parse_csp_policy
from checks.http.facts import HttpResponse
from checks.http.hsts import parse_hsts
from checks.http.html import directories, parse_html
from checks.http.list_headers import nosniff, parse_referrer_policy, parse_xfo
from checks.http.permissions_policy import parse_permissions_policy
from checks.http.security_txt import parse_rfc3339, parse_security_txt
from checks.http.server_versions import end_of_life, versions_in
from checks.http.set_cookie import cookie_problems, parse_set_cookie
from checks.http.structured_fields import SfInnerList, SfItem, parse_sf_dictionary

NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)


# -- CSP -------------------------------------------------------------------------------------------


def test_csp_header_with_several_policies_and_repeated_directives() -> None:
    policies = parse_csp(
        "default-src 'self'; SCRIPT-SRC 'self' https://cdn.example; script-src *;;  , frame-ancestors 'none'"
    )
    assert len(policies) == 2
    first, second = policies
    assert first.names == ("default-src", "script-src")
    assert first.get("script-src") == ("'self'", "https://cdn.example")  # the first occurrence counts
    assert first.duplicates == ("script-src",)
    assert second.get("frame-ancestors") == ("'none'",) and second.get("script-src") is None
    assert first.effective("object-src", "default-src") == ("default-src", ("'self'",))


@pytest.mark.parametrize(
    ("policy", "safe", "failures", "warnings"),
    [
        ("script-src 'self'", True, (), ()),
        ("default-src 'self' 'unsafe-inline'", False, ("'unsafe-inline' without a nonce or hash",), ()),
        ("script-src 'self' 'unsafe-inline' 'nonce-abc'", True, (), ()),  # the nonce disables unsafe-inline
        ("script-src 'self' 'unsafe-inline' 'sha256-AbC='", True, (), ()),
        ("script-src 'unsafe-eval' 'self'", False, ("'unsafe-eval' without a nonce or hash",), ()),
        ("script-src 'nonce-abc' 'unsafe-eval'", True, (), ("'unsafe-eval' (a nonce or hash does not disable it)",)),
        ("script-src https: 'self'", False, ("overly broad sources https:",), ()),
        ("script-src 'self' data:", False, ("overly broad sources data:",), ()),
        ("script-src http://cdn.example", False, ("sources over plain http:// http://cdn.example",), ()),
        ("script-src 'nonce-abc' 'strict-dynamic' https: 'unsafe-inline'", True, (), ()),
        ("script-src 'strict-dynamic' https:", True, (), ()),  # no nonce: no script runs, https: included
    ],
)
def test_script_judgement(policy: str, safe: bool, failures: tuple[str, ...], warnings: tuple[str, ...]) -> None:
    verdict = judge_scripts(parse_csp_policy(policy))
    got = (verdict.safe, tuple(map(str, verdict.failures)), tuple(map(str, verdict.warnings)))
    assert got == (safe, failures, warnings)


def test_a_policy_without_script_or_default_src_does_not_govern_scripts() -> None:
    verdict = judge_scripts(parse_csp_policy("frame-ancestors 'self'; object-src 'none'"))
    assert verdict.directive is None and not verdict.safe


def test_object_src_and_frame_ancestors() -> None:
    assert object_src_restricted(parse_csp_policy("default-src 'self'"))
    assert object_src_restricted(parse_csp_policy("script-src 'self'; object-src 'none'"))
    assert not object_src_restricted(parse_csp_policy("script-src 'self'"))
    assert not object_src_restricted(parse_csp_policy("default-src *"))
    assert frame_ancestors_restrict(("'none'",))
    assert frame_ancestors_restrict(("'self'", "https://portal.example"))
    assert not frame_ancestors_restrict(("*",))
    assert not frame_ancestors_restrict(("https:",))
    assert not frame_ancestors_restrict(("*.example", "'self'"))


# -- HSTS ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "max_age", "subdomains", "preload", "valid"),
    [
        ("max-age=31536000; includeSubDomains; preload", 31536000, True, True, True),
        ('MAX-AGE="63072000"', 63072000, False, False, True),
        ("max-age=300", 300, False, False, True),
        ("includeSubDomains", None, True, False, False),
        ("max-age=abc", None, False, False, False),
        ("max-age=1; max-age=2", 1, False, False, False),
        ("max-age=31536000;; ", 31536000, False, False, True),
    ],
)
def test_hsts(value: str, max_age: int | None, subdomains: bool, preload: bool, valid: bool) -> None:
    hsts = parse_hsts(value)
    assert (hsts.max_age, hsts.include_subdomains, hsts.preload, hsts.valid) == (max_age, subdomains, preload, valid)


# -- X-Frame-Options, nosniff, Referrer-Policy ----------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "protects", "problem"),
    [
        (("DENY",), True, None),
        (("sameorigin",), True, None),
        (("SAMEORIGIN", "SAMEORIGIN"), True, None),
        (("DENY", "SAMEORIGIN"), True, "conflicting values: browsers then refuse all framing"),
        (("ALLOW-FROM https://a.example",), False, "ALLOW-FROM is obsolete: current browsers ignore it"),
        (("SAMEORIGIN;",), False, "'SAMEORIGIN;' is not a valid value (use DENY or SAMEORIGIN)"),
        (("allowall",), False, "'allowall' is not a valid value (use DENY or SAMEORIGIN)"),
    ],
)
def test_x_frame_options(values: tuple[str, ...], protects: bool, problem: str | None) -> None:
    xfo = parse_xfo(values)
    assert xfo is not None and (xfo.protects, xfo.problem and str(xfo.problem)) == (protects, problem)
    assert parse_xfo(()) is None


def test_nosniff_takes_the_first_value() -> None:
    assert nosniff(("nosniff",)) and nosniff(("NoSniff, other",))
    assert not nosniff(("no-sniff",)) and not nosniff(("other, nosniff",)) and not nosniff(())


def test_referrer_policy_last_known_token_wins() -> None:
    assert parse_referrer_policy(("no-referrer, strict-origin-when-cross-origin",)).policy == (
        "strict-origin-when-cross-origin"
    )
    fallback = parse_referrer_policy(("strict-origin, future-policy",))
    assert fallback.policy == "strict-origin" and fallback.unknown == ("future-policy",)
    assert parse_referrer_policy(("<script>alert(1)</script>",)).policy == ""


# -- Permissions-Policy (structured fields) ---------------------------------------------------------------


def test_permissions_policy_dictionary() -> None:
    policy = parse_permissions_policy('camera=(), geolocation=(self "https://map.example"), fullscreen=*')
    assert policy.problem is None
    assert dict(policy.features) == {
        "camera": "()",
        "geolocation": '(self "https://map.example")',
        "fullscreen": "*",
    }
    assert policy.restricted == ("camera", "geolocation")


@pytest.mark.parametrize(
    "value",
    ["camera 'none'; microphone 'none'", "camera=(), ", "Camera=()", 'camera=("unterminated)', "camera=(self"],
)
def test_invalid_permissions_policies(value: str) -> None:
    assert parse_permissions_policy(value).problem


def test_permissions_policy_members_with_bad_values_are_ignored() -> None:
    policy = parse_permissions_policy("camera=?0, microphone=(), usb=(1)")
    assert policy.problem is None and policy.ignored == ("camera", "usb") and policy.restricted == ("microphone",)


def test_structured_field_items() -> None:
    members = dict(parse_sf_dictionary('a=1, b=?0, c="x\\"y";p=2, d=:aGk=:, e=(t1 "s");q, f=-1.5'))
    assert members["a"] == SfItem("integer", 1)
    assert members["b"] == SfItem("boolean", False)
    assert members["c"] == SfItem("string", 'x"y', (("p", 2),))
    assert members["d"] == SfItem("bytes", "aGk=")
    assert members["e"] == SfInnerList((SfItem("token", "t1"), SfItem("string", "s")), (("q", True),))
    assert members["f"] == SfItem("decimal", -1.5)


# -- Set-Cookie ------------------------------------------------------------------------------------------


def test_set_cookie_parsing_redacts_the_value() -> None:
    cookie = parse_set_cookie("SID=31d4d96e407aad42; Path=/; secure; HttpOnly; SameSite=Strict; Domain=a.test")
    assert cookie is not None
    assert (cookie.name, cookie.value_length, cookie.secure, cookie.http_only) == ("SID", 16, True, True)
    assert (cookie.samesite, cookie.domain, cookie.path) == ("Strict", "a.test", "/")
    assert "31d4d96e407aad42" not in cookie.raw and cookie.raw.startswith("SID=[16 characters];")
    assert cookie.looks_like_session
    assert parse_set_cookie("no-equals-sign; Secure") is None


@pytest.mark.parametrize(
    ("header", "over_https", "problems"),
    [
        ("__Host-s=1; Path=/; Secure; HttpOnly; SameSite=Lax", True, []),
        ("theme=dark; Secure; SameSite=Lax", True, []),  # not a session cookie: HttpOnly not required
        ("sessionid=1; HttpOnly; SameSite=Lax", True, [("high", "no Secure attribute")]),
        (
            "PHPSESSID=1; Secure; SameSite=Lax",
            True,
            [("medium", "no HttpOnly attribute (scripts can read this session cookie)")],
        ),
        ("csrftoken=1; Secure; SameSite=Lax", True, []),
        ("sessionid=1; Secure; HttpOnly", True, [("low", "no SameSite attribute")]),
        ("sessionid=1; Secure; HttpOnly; SameSite=Strict2", True, [("low", "SameSite=Strict2 is not a valid value")]),
        (
            "pref=1; SameSite=None",
            True,
            [
                ("medium", "no Secure attribute"),
                ("medium", "SameSite=None without Secure: browsers reject this cookie"),
            ],
        ),
        (
            "__Host-s=1; Path=/app; Domain=a.test; Secure; HttpOnly; SameSite=Lax",
            True,
            [("high", "the __Host- prefix requires Path=/, no Domain: browsers reject this cookie")],
        ),
        (
            "__secure-s=1; HttpOnly; SameSite=Lax",
            True,
            [("high", "the __Secure- prefix requires Secure: browsers reject this cookie")],
        ),
        ("sessionid=1; Secure; HttpOnly; SameSite=Lax", False, [("high", "set over plain HTTP")]),
    ],
)
def test_cookie_problems(header: str, over_https: bool, problems: list[tuple[str, str]]) -> None:
    cookie = parse_set_cookie(header)
    assert cookie is not None
    assert [(level, str(text)) for level, text in cookie_problems(cookie, over_https)] == problems


def test_deleted_cookies() -> None:
    def deleted(header: str) -> bool:
        cookie = parse_set_cookie(header)
        assert cookie is not None
        return cookie.deleted(NOW)

    assert deleted("s=; Max-Age=0")
    assert deleted("s=; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    assert not deleted("s=1; Expires=Fri, 01 Jan 2100 00:00:00 GMT")
    assert not deleted("s=1; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT")  # Max-Age wins
    assert not deleted("s=1")


# -- security.txt ------------------------------------------------------------------------------------------


def test_security_txt_plain_and_signed() -> None:
    plain = parse_security_txt(
        "# comment\nContact: mailto:a@b.example\ncontact: https://b.example/report\nExpires: 2027-01-01T00:00:00Z\n"
    )
    assert plain.contacts == ("mailto:a@b.example", "https://b.example/report")
    assert plain.expires() == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    signed = parse_security_txt(
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nContact: mailto:a@b.example\n"
        "Expires: 2027-01-01T07:00:00+07:00\n- -dash escaped line\n-----BEGIN PGP SIGNATURE-----\nxyz\n"
        "-----END PGP SIGNATURE-----\n"
    )
    assert signed.signed and signed.contacts == ("mailto:a@b.example",)
    assert signed.expires() == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    assert parse_rfc3339("2027-01-01") is None  # no time zone
    assert parse_security_txt("<html>Not found</html>").problems == ("<html>Not found</html>",)


# -- versions ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "versions"),
    [
        ("Server", "Apache/2.2.15 (CentOS)", ["Apache/2.2.15"]),
        ("Server", "Apache", []),
        ("Server", "nginx", []),
        ("Server", "Microsoft-IIS/8.5", ["Microsoft-IIS/8.5"]),
        ("X-Powered-By", "PHP/5.4.16", ["PHP/5.4.16"]),
        ("X-Powered-By", "ASP.NET", []),
        ("X-AspNet-Version", "4.0.30319", ["X-AspNet-Version: 4.0.30319"]),
        ("X-Generator", "Drupal 9 (https://www.drupal.org)", ["Drupal/9"]),
        (
            "Server",
            "Apache/2.4.6 (CentOS) OpenSSL/1.0.2k-fips PHP/7.4.33",
            ["Apache/2.4.6", "OpenSSL/1.0.2k-fips", "PHP/7.4.33"],
        ),
        ("X-Powered-By", "<script>alert(1)</script>", []),
    ],
)
def test_versions_in_headers(name: str, value: str, versions: list[str]) -> None:
    assert versions_in(name, value) == versions


def test_end_of_life() -> None:
    assert end_of_life("Apache/2.2.15") and end_of_life("PHP/8.1.2") and end_of_life("OpenSSL/1.0.2k")
    assert end_of_life("Microsoft-IIS/8.5") and end_of_life("Tomcat/8.5.99")
    assert not end_of_life("Apache/2.4.62") and not end_of_life("PHP/8.3.1")
    assert not end_of_life("nginx/1.18.0") and not end_of_life("Microsoft-IIS/10.0")


# -- detectors ------------------------------------------------------------------------------------------------


def response(
    body: bytes, status: int = 200, url: str = "https://a.test/x", content_type: str = "text/plain"
) -> HttpResponse:
    return HttpResponse("GET", url, status, headers=(("Content-Type", content_type),), body=body)


SAMPLES = {
    "/.git/HEAD": b"ref: refs/heads/main\n",
    "/.git/config": b'[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n[remote "origin"]\n',
    "/.env": b"APP_ENV=production\nDB_PASSWORD=hunter2\n# comment\nexport API_KEY=abc\n",
    "/.svn/entries": b"12\n",
    "/.DS_Store": b"\x00\x00\x00\x01Bud1\x00\x00\x10\x00",
    "/server-status": b"<html><title>Apache Status</title><h1>Apache Server Status for a.test</h1>",
    "/phpinfo.php": b'<html><head><title>phpinfo()</title></head><h1 class="p">PHP Version 7.4.3</h1>',
    "/backup.zip": b"PK\x03\x04\x14\x00\x00\x00",
    "/db.sql": b"-- MySQL dump 10.13  Distrib 8.0.36\n--\nCREATE TABLE `users` (\n",
    "/www.tar.gz": b"\x1f\x8b\x08\x00\x00\x00\x00\x00",
}
NOT_FOUND_HTML = b"<!doctype html><html><body>Not found</body></html>"


@pytest.mark.parametrize("file", detect.SENSITIVE_FILES, ids=lambda f: f.path)
def test_each_sensitive_file_is_recognised_by_content(file: detect.SensitiveFile) -> None:
    baseline = response(b"<h1>Not Found</h1>", 404, "https://a.test/nope")
    assert detect.exposed(file, response(SAMPLES[file.path], url=f"https://a.test{file.path}"), baseline)
    # The same content with an error status, or an HTML soft-404 page with 200, is not an exposure.
    assert not detect.exposed(file, response(SAMPLES[file.path], 403), baseline)
    assert not detect.exposed(file, response(NOT_FOUND_HTML, content_type="text/html"), baseline)


def test_a_server_that_answers_everything_alike_proves_nothing() -> None:
    git = detect.SENSITIVE_FILES[0]
    baseline = response(b"ref: refs/heads/main\n", 200, "https://a.test/platscan-nope")
    assert not detect.exposed(git, response(b"ref: refs/heads/main\n", url="https://a.test/.git/HEAD"), baseline)
    echo = response(b"<p>No page at /.env</p>", url="https://a.test/.env", content_type="text/html")
    assert detect.same_as_baseline(echo, response(b"<p>No page at /platscan-1</p>", url="https://a.test/platscan-1"))


def test_dotenv_needs_assignments_not_prose() -> None:
    env = next(f for f in detect.SENSITIVE_FILES if f.path == "/.env")
    assert not env.detect(b"Welcome to our portal.\nPlease log in.\nA=1\n")
    assert not env.detect(b"<html>A=1\nB=2</html>")


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (
            b"<html><head><title>Index of /static/</title></head><body><h1>Index of /static/</h1>",
            "Apache/nginx/lighttpd autoindex",
        ),
        (
            b'<html><head><title>a.test - /files/</title></head><body><A HREF="/">[To Parent Directory]</A>',
            "IIS directory browsing",
        ),
        (b"<title>Directory listing for /up/</title>", "Python http.server listing"),
        (b"<html><title>Uploads</title><p>Nothing to see</p>", None),
    ],
)
def test_autoindex(body: bytes, kind: str | None) -> None:
    assert detect.autoindex(response(body, content_type="text/html"), None) == kind


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (b'Traceback (most recent call last):\n  File "app.py", line 3', "Python traceback"),
        (b"<b>Fatal error</b>:  Uncaught Error in /var/www/index.php on line <b>12</b>", "PHP error message"),
        (b"<h1>Server Error in '/' Application.</h1>", "ASP.NET error page"),
        (
            b"java.lang.NullPointerException\n\tat org.apache.catalina.core.StandardWrapperValve.invoke(",
            "Java stack trace",
        ),
        (b"You have an error in your SQL syntax; check the manual", "SQL error"),
        (b"goroutine 1 [running]:\nmain.main()", "Go panic"),
        (b"Whoops, looks like something went wrong.", "Laravel / Whoops debug page"),
    ],
)
def test_error_signatures(body: bytes, what: str) -> None:
    found = detect.error_signatures(response(body, 500, content_type="text/html"))
    assert what in [name for name, _ in found]


def test_no_error_signature_in_an_ordinary_page() -> None:
    assert detect.error_signatures(response(b"<h1>Not Found</h1><p>The page does not exist.</p>", 404)) == []


def test_versions_on_default_error_pages() -> None:
    apache = response(b"<hr>\n<address>Apache/2.4.41 (Ubuntu) Server at a.test Port 443</address>", 404)
    nginx = response(b"<hr><center>nginx/1.18.0</center>\n</body>", 404)
    assert detect.page_versions(apache) == ["Apache/2.4.41 (Ubuntu)"]
    assert detect.page_versions(nginx) == ["nginx/1.18.0"]
    assert detect.page_versions(response(b"<hr><center>nginx</center>", 404)) == []


# -- HTML ------------------------------------------------------------------------------------------------------


def test_html_resources_forms_and_meta() -> None:
    info = parse_html(
        """<html><head><base href="http://cdn.a.test/base/"><title> Cổng
        dịch vụ </title><meta http-equiv="Content-Security-Policy" content="script-src 'self'">
        <meta name="referrer" content="no-referrer"><link rel="icon" href="/favicon.ico">
        <link rel="stylesheet" href="s.css"><script src="//a.test/app.js"></script></head>
        <body><img src="logo.png"><iframe src="javascript:void(0)"></iframe><a href="/docs/a.pdf">x</a>
        <form action="/login" method="POST"><input name="u"><input type="password" name="p"></form>
        <form><input type=search name=q></form>""",
        "https://a.test/portal/",
    )
    assert info.title == "Cổng dịch vụ"
    assert info.base == "http://cdn.a.test/base/"
    resources = {(r.tag, r.url, r.active) for r in info.resources}
    assert resources == {
        ("link", "http://cdn.a.test/favicon.ico", False),
        ("link", "http://cdn.a.test/base/s.css", True),
        ("script", "http://a.test/app.js", True),
        ("img", "http://cdn.a.test/base/logo.png", False),
    }
    assert info.csp_meta == ("script-src 'self'",) and info.referrer_meta == ("no-referrer",)
    login, search = info.forms
    assert login.action == "http://cdn.a.test/login" and login.method == "post" and login.has_password
    assert search.action == "https://a.test/portal/" and not search.has_password


def test_directories_from_page_links() -> None:
    info = parse_html(
        '<script src="/static/js/a.js"></script><script src="/static/js/b.js"></script><img src="/img/x.png">'
        '<a href="https://other.test/files/">x</a><a href="/">home</a>',
        "https://a.test/",
    )
    assert directories(info, "https://a.test", 3) == ["/static/js/", "/img/"]
