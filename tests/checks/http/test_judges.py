"""Every http check as a pure judge, from hand-built facts: the connectivity policy and the edge cases."""

from __future__ import annotations

import datetime as dt
import json
import pickle
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from checks.http import cookies, exposure, headers, transport
from checks.http._collect import FOREIGN_ORIGIN, SENSITIVE_PATHS
from checks.http.base import HttpCheck
from checks.http.facts import ErrorKind, Fetch, FetchError, HttpFacts, HttpResponse
from scanner.facts import FactCache, Workers
from scanner.family import discover_families
from scanner.messages import Message, say
from scanner.model import Endpoint, Platform, Severity, Status
from scanner.plugin import ScanContext, ScanSettings

NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
URL = "https://dvc.example/"
ORIGIN = "https://dvc.example"
CSP = "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'"
GOOD_HEADERS = (
    ("Server", "nginx"),
    ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
    ("Content-Security-Policy", CSP),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Permissions-Policy", "camera=()"),
    ("Content-Type", "text/html; charset=utf-8"),
    ("Set-Cookie", "__Host-sid=abc; Path=/; Secure; HttpOnly; SameSite=Lax"),
)
PAGE = b'<!doctype html><html><head><script src="/app.js"></script></head><body>Xin chao</body></html>'
SECURITY_TXT = b"Contact: mailto:sec@dvc.example\nExpires: 2027-03-01T00:00:00Z\n"

Headers = tuple[tuple[str, str], ...]


def resp(
    url: str = URL,
    status: int = 200,
    headers: Headers = (),
    body: bytes = b"",
    method: str = "GET",
    tls_verified: bool | None = None,
) -> HttpResponse:
    verified = tls_verified if tls_verified is not None else (True if url.startswith("https") else None)
    return HttpResponse(method, url, status, headers=headers, body=body, tls_verified=verified)


def fetched(
    *responses: HttpResponse, blocked: str | None = None, error: FetchError | None = None, url: str = ""
) -> Fetch:
    first = responses[0] if responses else None
    return Fetch(
        first.method if first else "GET",
        url or (first.url if first else URL),
        responses,
        blocked_redirect=blocked,
        error=error,
    )


REFUSED = FetchError(ErrorKind.REFUSED, "Connection refused by dvc.example:443.")


def good(**changes: Any) -> HttpFacts:
    """The facts of a well-configured site, with ``changes`` applied."""
    facts = HttpFacts(
        url=URL,
        platform="dvc",
        page=fetched(resp(headers=GOOD_HEADERS, body=PAGE)),
        plain=fetched(resp("http://dvc.example/", 301, (("Location", URL),))),
        origin=ORIGIN,
        not_found=fetched(
            resp(f"{ORIGIN}/platscan-x-not-found", 404, (("Content-Type", "text/html"),), b"<h1>404</h1>")
        ),
        trace=fetched(resp(f"{ORIGIN}/", 405, method="TRACE")),
        cors_preflight=fetched(resp(URL, 204, method="OPTIONS")),
        cors_get=fetched(resp(URL, 200, (("Content-Type", "text/html"),))),
        security_txt=fetched(
            resp(
                f"{ORIGIN}/.well-known/security.txt",
                200,
                (("Content-Type", "text/plain; charset=utf-8"),),
                SECURITY_TXT,
            )
        ),
        sensitive=tuple(fetched(resp(ORIGIN + path, 404, body=b"<h1>404</h1>")) for path in SENSITIVE_PATHS),
        directories=(fetched(resp(f"{ORIGIN}/static/", 403)),),
        foreign_origin=FOREIGN_ORIGIN,
        trace_marker="m4rk3r",
        collected_at=NOW,
    )
    return replace(facts, **changes)


def with_page_headers(changes: Mapping[str, str | None], body: bytes = PAGE, url: str = URL) -> Fetch:
    """The good page with headers replaced (None removes one)."""
    kept = [(n, v) for n, v in GOOD_HEADERS if n not in changes]
    added = [(n, v) for n, v in changes.items() if v is not None]
    return fetched(resp(url, headers=(*kept, *added), body=body))


ALL: tuple[HttpCheck, ...] = (
    transport.HttpsRedirect(),
    transport.MixedContent(),
    headers.Hsts(),
    headers.ContentSecurityPolicy(),
    headers.FrameAncestors(),
    headers.ContentTypeOptions(),
    headers.ReferrerPolicy(),
    headers.PermissionsPolicy(),
    headers.VersionDisclosure(),
    cookies.CookieFlags(),
    exposure.Cors(),
    exposure.TraceEnabled(),
    exposure.DirectoryListing(),
    exposure.SensitiveFiles(),
    exposure.ErrorDisclosure(),
    exposure.SecurityTxt(),
)


def status(check: HttpCheck, facts: HttpFacts) -> Status:
    return check.evaluate(facts).status


# -- the policy ------------------------------------------------------------------------------------


@pytest.mark.parametrize("check", ALL, ids=lambda c: c.id)
def test_a_good_site_passes_everything_with_a_sentence_and_json_evidence(check: HttpCheck) -> None:
    verdict = check.evaluate(good())
    assert verdict.status is Status.PASS, verdict.detail
    assert str(verdict.detail).endswith(".") and len(str(verdict.detail)) < 400
    json.dumps(verdict.evidence)


@pytest.mark.parametrize("check", ALL, ids=lambda c: c.id)
def test_an_unreachable_url_is_an_error_never_a_pass(check: HttpCheck) -> None:
    facts = good(
        page=fetched(error=REFUSED, url=URL),
        plain=fetched(
            error=FetchError(ErrorKind.REFUSED, "Connection refused by dvc.example:80."), url="http://dvc.example/"
        ),
    )
    assert status(check, facts) is Status.ERROR


@pytest.mark.parametrize("check", ALL, ids=lambda c: c.id)
def test_an_http_url_redirecting_to_a_registered_https_url_is_judged_there(check: HttpCheck) -> None:
    first = resp("http://dvc.example/", 301, (("Location", URL),))
    facts = good(
        url="http://dvc.example/", page=fetched(first, resp(headers=GOOD_HEADERS, body=PAGE)), plain=fetched(first)
    )
    facts = replace(facts, delegated_to=URL)
    expected = Status.PASS if check.id == "http.https_redirect" else Status.SKIP
    verdict = check.evaluate(facts)
    assert verdict.status is expected
    if expected is Status.SKIP:
        assert URL in str(verdict.detail)


def test_an_off_platform_redirect_errors_the_page_checks_and_judges_the_rest() -> None:
    redirect = resp(URL, 302, (("Location", "https://sso.other.example/login"), *GOOD_HEADERS[:2]))
    facts = good(page=fetched(redirect, blocked="https://sso.other.example/login"))
    verdicts = {check.id: check.evaluate(facts) for check in ALL}
    page_checks = {c.id for c in ALL if c.needs_page}
    assert page_checks == {
        "http.mixed_content",
        "http.csp",
        "http.frame_ancestors",
        "http.content_type_options",
        "http.referrer_policy",
        "http.permissions_policy",
    }
    for check_id, verdict in verdicts.items():
        if check_id in page_checks:
            # Could not test (the page is off the platform): an error, never a skip counted as tested.
            assert verdict.status is Status.ERROR and "sso.other.example" in str(verdict.detail)
            assert verdict.evidence["not_followed"] == "https://sso.other.example/login"
        else:
            assert verdict.status is Status.PASS, (check_id, verdict.detail)
    assert verdicts["http.hsts"].evidence["max_age"] == 31536000  # judged on the last in-scope HTTPS response


def test_a_broken_redirect_chain_is_an_error_for_page_checks() -> None:
    hop = resp(URL, 302, (("Location", "/login"),))
    facts = good(page=fetched(hop, error=FetchError(ErrorKind.READ_TIMEOUT, "dvc.example:443 did not answer.")))
    assert status(headers.ContentSecurityPolicy(), facts) is Status.ERROR
    assert status(exposure.SensitiveFiles(), facts) is Status.PASS


def test_facts_pickle_and_keep_shared_responses() -> None:
    first = resp("http://dvc.example/", 301, (("Location", URL),))
    facts = good(page=fetched(first, resp(headers=GOOD_HEADERS, body=PAGE)), plain=fetched(first))
    copy = pickle.loads(pickle.dumps(facts))
    assert copy == facts
    assert copy.plain is not None and copy.plain.first is copy.page.first
    assert len(list(copy.responses())) == len(list(facts.responses()))


# -- http.https_redirect ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plain", "expected", "severity"),
    [
        (fetched(resp("http://dvc.example/", 301, (("Location", "https://dvc.example/"),))), Status.PASS, None),
        (fetched(resp("http://dvc.example/", 308, (("Location", "https://DVC.example:8443/a"),))), Status.PASS, None),
        (fetched(resp("http://dvc.example/", 200, body=PAGE)), Status.FAIL, None),
        (fetched(resp("http://dvc.example/", 302, (("Location", "/secure"),))), Status.FAIL, None),
        (
            fetched(resp("http://dvc.example/", 301, (("Location", "https://www.dvc.example/"),))),
            Status.FAIL,
            Severity.MEDIUM,
        ),
        (fetched(resp("http://dvc.example/", 301)), Status.FAIL, None),
        (fetched(resp("http://dvc.example/", 403)), Status.WARN, Severity.LOW),
        (fetched(error=FetchError(ErrorKind.REFUSED, "refused"), url="http://dvc.example/"), Status.PASS, None),
        (
            fetched(error=FetchError(ErrorKind.CONNECT_TIMEOUT, "filtered"), url="http://dvc.example/"),
            Status.PASS,
            None,
        ),
        (fetched(error=FetchError(ErrorKind.READ_TIMEOUT, "silent"), url="http://dvc.example/"), Status.ERROR, None),
    ],
)
def test_https_redirect(plain: Fetch, expected: Status, severity: Severity | None) -> None:
    verdict = transport.HttpsRedirect().evaluate(good(plain=plain))
    assert verdict.status is expected, verdict.detail
    assert verdict.severity == severity


# -- http.mixed_content ----------------------------------------------------------------------------


def test_mixed_content_active_passive_and_upgraded() -> None:
    check = transport.MixedContent()
    active = b'<html><script src="http://cdn.example/a.js"></script><img src="http://cdn.example/i.png"></html>'
    passive = b'<html><img src="http://cdn.example/i.png"><link rel="icon" href="http://cdn.example/f.ico"></html>'
    verdict = check.evaluate(good(page=with_page_headers({}, active)))
    assert verdict.status is Status.FAIL and "http://cdn.example/a.js" in str(verdict.detail)
    assert verdict.evidence["passive"] == ["<img src=http://cdn.example/i.png>"]
    passive_verdict = check.evaluate(good(page=with_page_headers({}, passive)))
    assert passive_verdict.status is Status.WARN and passive_verdict.severity is Severity.LOW
    upgraded = with_page_headers({"Content-Security-Policy": CSP + "; upgrade-insecure-requests"}, active)
    assert status(check, good(page=upgraded)) is Status.PASS
    plain_page = fetched(resp("http://dvc.example/", headers=GOOD_HEADERS, body=active))
    assert status(check, good(url="http://dvc.example/", page=plain_page)) is Status.SKIP
    json_page = with_page_headers({"Content-Type": "application/json"}, b'{"a": "http://x"}')
    assert status(check, good(page=json_page)) is Status.SKIP


# -- http.hsts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("max-age=31536000", Status.PASS),
        ("max-age=31535999; includeSubDomains; preload", Status.FAIL),
        ("max-age=0", Status.FAIL),
        ("max-age=abc", Status.FAIL),
        (None, Status.FAIL),
    ],
)
def test_hsts(value: str | None, expected: Status) -> None:
    verdict = headers.Hsts().evaluate(good(page=with_page_headers({"Strict-Transport-Security": value})))
    assert verdict.status is expected, verdict.detail
    if value:
        assert verdict.evidence["header"] == f"Strict-Transport-Security: {value}"


def test_hsts_is_judged_on_the_final_response_not_the_redirect() -> None:
    redirect = resp(URL, 301, (("Location", f"{ORIGIN}/home"), ("Strict-Transport-Security", "max-age=63072000")))
    final = resp(f"{ORIGIN}/home", headers=(("Strict-Transport-Security", "max-age=300"),), body=PAGE)
    verdict = headers.Hsts().evaluate(good(page=fetched(redirect, final)))
    assert verdict.status is Status.FAIL and "300 seconds (5 minutes)" in str(verdict.detail)


def test_hsts_only_the_first_header_counts_and_untrusted_certificates_warn() -> None:
    two = fetched(
        resp(headers=(("Strict-Transport-Security", "max-age=300"), ("Strict-Transport-Security", "max-age=31536000")))
    )
    assert status(headers.Hsts(), good(page=two)) is Status.FAIL
    unverified = fetched(resp(headers=GOOD_HEADERS, body=PAGE, tls_verified=False))
    verdict = headers.Hsts().evaluate(good(page=unverified, tls_problems=(("dvc.example:443", "self-signed"),)))
    assert verdict.status is Status.WARN and verdict.evidence["tls_verified"] is False


def test_hsts_downgrade_and_plain_pages() -> None:
    down = fetched(resp(URL, 302, (("Location", "http://dvc.example/"),)), resp("http://dvc.example/", body=PAGE))
    verdict = headers.Hsts().evaluate(good(page=down))
    assert verdict.status is Status.FAIL and verdict.severity is Severity.HIGH
    plain = fetched(resp("http://dvc.example/", body=PAGE))
    assert status(headers.Hsts(), good(url="http://dvc.example/", page=plain)) is Status.SKIP


# -- http.csp --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "body", "expected", "fragment"),
    [
        ({}, PAGE, Status.PASS, "to listed sources"),
        ({"Content-Security-Policy": None}, PAGE, Status.FAIL, "No Content-Security-Policy"),
        (
            {"Content-Security-Policy": None, "Content-Security-Policy-Report-Only": CSP},
            PAGE,
            Status.FAIL,
            "Report-Only",
        ),
        ({"Content-Security-Policy": "default-src 'self' 'unsafe-inline'"}, PAGE, Status.FAIL, "'unsafe-inline'"),
        ({"Content-Security-Policy": "script-src 'self' 'unsafe-eval'; object-src 'none'"}, PAGE, Status.FAIL, "eval"),
        ({"Content-Security-Policy": "frame-ancestors 'none'"}, PAGE, Status.FAIL, "does not restrict scripts"),
        (
            {"Content-Security-Policy": "script-src 'nonce-r4nd' 'unsafe-eval'; object-src 'none'"},
            PAGE,
            Status.WARN,
            "eval",
        ),
        ({"Content-Security-Policy": "script-src 'self'"}, PAGE, Status.WARN, "object-src"),
        (
            {"Content-Security-Policy": "script-src 'nonce-r4nd' 'strict-dynamic' https:; object-src 'none'"},
            PAGE,
            Status.PASS,
            "nonces",
        ),
        (
            {"Content-Security-Policy": None},
            b"<html><head><meta http-equiv=Content-Security-Policy content=\"default-src 'self'\"></head></html>",
            Status.PASS,
            "base-uri is not set",
        ),
    ],
)
def test_csp(changes: dict[str, str | None], body: bytes, expected: Status, fragment: str) -> None:
    verdict = headers.ContentSecurityPolicy().evaluate(good(page=with_page_headers(changes, body)))
    assert verdict.status is expected, verdict.detail
    assert fragment in str(verdict.detail)


def test_csp_several_policies_all_enforced_one_safe_is_enough() -> None:
    page = fetched(
        resp(
            headers=(
                ("Content-Security-Policy", "default-src * 'unsafe-inline'"),
                ("Content-Security-Policy", "script-src 'self'; object-src 'none', frame-ancestors 'none'"),
            ),
            body=PAGE,
        )
    )
    verdict = headers.ContentSecurityPolicy().evaluate(good(page=page))
    assert verdict.status is Status.PASS, verdict.detail
    assert len(verdict.evidence["policies"]) == 3
    assert len(verdict.evidence["header"]) == 2


# -- http.frame_ancestors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, Status.PASS),
        ({"X-Frame-Options": None}, Status.PASS),  # frame-ancestors alone is enough
        ({"Content-Security-Policy": "default-src 'self'"}, Status.PASS),  # XFO DENY alone
        (
            {"Content-Security-Policy": "default-src 'self'", "X-Frame-Options": "ALLOW-FROM https://x.example"},
            Status.FAIL,
        ),
        ({"Content-Security-Policy": "default-src 'self'", "X-Frame-Options": "SAMEORIGIN;"}, Status.FAIL),
        ({"Content-Security-Policy": "default-src 'self'", "X-Frame-Options": None}, Status.FAIL),
        ({"Content-Security-Policy": "frame-ancestors *"}, Status.FAIL),  # even though XFO says DENY
        ({"X-Frame-Options": "allowall"}, Status.PASS),  # invalid XFO is ignored when frame-ancestors is right
    ],
)
def test_frame_ancestors(changes: dict[str, str | None], expected: Status) -> None:
    verdict = headers.FrameAncestors().evaluate(good(page=with_page_headers(changes)))
    assert verdict.status is expected, verdict.detail


def test_frame_ancestors_in_a_meta_policy_does_not_count() -> None:
    body = b"<html><head><meta http-equiv=Content-Security-Policy content=\"frame-ancestors 'none'\"></head></html>"
    page = with_page_headers({"Content-Security-Policy": None, "X-Frame-Options": None}, body)
    assert status(headers.FrameAncestors(), good(page=page)) is Status.FAIL


# -- nosniff, Referrer-Policy, Permissions-Policy --------------------------------------------------


@pytest.mark.parametrize(
    ("check", "header", "value", "expected"),
    [
        (headers.ContentTypeOptions(), "X-Content-Type-Options", "NOSNIFF", Status.PASS),
        (headers.ContentTypeOptions(), "X-Content-Type-Options", "no-sniff", Status.FAIL),
        (headers.ContentTypeOptions(), "X-Content-Type-Options", None, Status.FAIL),
        (headers.ReferrerPolicy(), "Referrer-Policy", "same-origin", Status.PASS),
        (headers.ReferrerPolicy(), "Referrer-Policy", "no-referrer, strict-origin-when-cross-origin", Status.PASS),
        (headers.ReferrerPolicy(), "Referrer-Policy", "no-referrer-when-downgrade", Status.FAIL),
        (headers.ReferrerPolicy(), "Referrer-Policy", "origin", Status.FAIL),
        (headers.ReferrerPolicy(), "Referrer-Policy", "nonsense", Status.FAIL),
        (headers.ReferrerPolicy(), "Referrer-Policy", None, Status.FAIL),
        (headers.PermissionsPolicy(), "Permissions-Policy", "geolocation=(self), camera=()", Status.PASS),
        (headers.PermissionsPolicy(), "Permissions-Policy", "geolocation=*, camera=*", Status.FAIL),
        (headers.PermissionsPolicy(), "Permissions-Policy", "camera 'none'", Status.FAIL),
        (headers.PermissionsPolicy(), "Permissions-Policy", None, Status.FAIL),
    ],
)
def test_simple_headers(check: HttpCheck, header: str, value: str | None, expected: Status) -> None:
    verdict = check.evaluate(good(page=with_page_headers({header: value})))
    assert verdict.status is expected, verdict.detail
    if value is not None:
        assert verdict.evidence["header"] == f"{header}: {value}"


def test_referrer_meta_and_feature_policy() -> None:
    body = b'<html><head><meta name="referrer" content="no-referrer"></head></html>'
    assert status(headers.ReferrerPolicy(), good(page=with_page_headers({"Referrer-Policy": "unsafe-url"}, body))) is (
        Status.PASS
    )
    legacy = with_page_headers({"Permissions-Policy": None, "Feature-Policy": "camera 'none'"})
    verdict = headers.PermissionsPolicy().evaluate(good(page=legacy))
    assert verdict.status is Status.FAIL and "Feature-Policy" in str(verdict.detail)


def test_a_script_in_a_header_is_kept_as_data() -> None:
    value = "<script>alert('x')</script>"
    verdict = headers.ReferrerPolicy().evaluate(good(page=with_page_headers({"Referrer-Policy": value})))
    assert verdict.status is Status.FAIL
    assert verdict.evidence["header"] == f"Referrer-Policy: {value}"
    assert value in str(verdict.detail)


def test_long_header_values_are_truncated_in_evidence() -> None:
    verdict = headers.Hsts().evaluate(
        good(page=with_page_headers({"Strict-Transport-Security": "max-age=1; " + "x" * 5000}))
    )
    assert len(verdict.evidence["header"]) <= 300 and verdict.evidence["header"].endswith("…")


# -- http.version_disclosure -----------------------------------------------------------------------


def test_version_disclosure_headers_error_pages_and_end_of_life() -> None:
    check = headers.VersionDisclosure()
    leaky = good(page=with_page_headers({"Server": "Apache/2.4.62 (Debian)", "X-Powered-By": "PHP/8.3.1"}))
    verdict = check.evaluate(leaky)
    assert verdict.status is Status.FAIL and verdict.severity is None
    assert str(verdict.detail) == "Responses reveal Apache/2.4.62 and PHP/8.3.1."
    assert {d["header"] for d in verdict.evidence["disclosed"]} == {
        "Server: Apache/2.4.62 (Debian)",
        "X-Powered-By: PHP/8.3.1",
    }
    old = check.evaluate(good(page=with_page_headers({"X-Powered-By": "PHP/5.4.16"})))
    assert old.status is Status.FAIL and old.severity is Severity.MEDIUM and "out of support" in str(old.detail)
    error_page = fetched(resp(f"{ORIGIN}/x", 404, body=b"<hr><center>nginx/1.18.0</center>"))
    from_page = check.evaluate(good(not_found=error_page))
    assert from_page.status is Status.FAIL and "nginx/1.18.0" in str(from_page.detail)
    assert status(check, good(page=with_page_headers({"X-Powered-By": "ASP.NET"}))) is Status.PASS


# -- http.cookie_flags -----------------------------------------------------------------------------


def test_cookie_flags() -> None:
    check = cookies.CookieFlags()

    def page_with(*set_cookies: str, url: str = URL) -> Fetch:
        return fetched(resp(url, headers=tuple(("Set-Cookie", c) for c in set_cookies), body=PAGE))

    assert status(check, good(page=page_with())) is Status.PASS
    bad = check.evaluate(good(page=page_with("JSESSIONID=abc; Path=/; HttpOnly", "lang=vi; Secure; SameSite=Lax")))
    assert bad.status is Status.FAIL and bad.severity is Severity.HIGH
    assert str(bad.detail) == "Cookie JSESSIONID: no Secure attribute and no SameSite attribute."
    assert all("abc" not in c["header"] for c in bad.evidence["cookies"])
    only_samesite = check.evaluate(good(page=page_with("theme=dark; Secure")))
    assert only_samesite.status is Status.FAIL and only_samesite.severity is Severity.LOW
    deleted = check.evaluate(
        good(page=page_with("sid=; Max-Age=0", "__Host-s=1; Path=/; Secure; HttpOnly; SameSite=Strict"))
    )
    assert deleted.status is Status.PASS and deleted.evidence["deleted_cookies_ignored"] == ["sid"]
    over_http = good(plain=page_with("sessionid=1; Secure; HttpOnly; SameSite=Lax", url="http://dvc.example/"))
    verdict = check.evaluate(over_http)
    assert verdict.status is Status.FAIL and "set over plain HTTP" in str(verdict.detail)


# -- http.cors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers_", "expected", "severity"),
    [
        ((), Status.PASS, None),
        ((("Access-Control-Allow-Origin", "*"),), Status.PASS, None),
        (
            (("Access-Control-Allow-Origin", "https://app.dvc.example"), ("Access-Control-Allow-Credentials", "true")),
            Status.PASS,
            None,
        ),
        (
            (("Access-Control-Allow-Origin", FOREIGN_ORIGIN), ("Access-Control-Allow-Credentials", "true")),
            Status.FAIL,
            Severity.HIGH,
        ),
        (
            (("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Credentials", "true")),
            Status.FAIL,
            Severity.MEDIUM,
        ),
        (
            (("Access-Control-Allow-Origin", "null"), ("Access-Control-Allow-Credentials", "TRUE")),
            Status.FAIL,
            Severity.HIGH,
        ),
        ((("Access-Control-Allow-Origin", FOREIGN_ORIGIN),), Status.WARN, Severity.LOW),
    ],
)
def test_cors(headers_: Headers, expected: Status, severity: Severity | None) -> None:
    facts = good(cors_get=fetched(resp(URL, 200, headers_)))
    verdict = exposure.Cors().evaluate(facts)
    assert verdict.status is expected, verdict.detail
    assert verdict.severity == severity


def test_cors_probes_that_fail_are_an_error() -> None:
    failed = fetched(error=FetchError(ErrorKind.READ_TIMEOUT, "slow"), url=URL)
    assert status(exposure.Cors(), good(cors_get=failed, cors_preflight=failed)) is Status.ERROR


# -- http.trace_enabled ----------------------------------------------------------------------------


def test_trace() -> None:
    check = exposure.TraceEnabled()
    echo = b"TRACE / HTTP/1.1\r\nHost: dvc.example\r\nX-Platscan-Trace: m4rk3r\r\n\r\n"
    assert status(check, good(trace=fetched(resp(f"{ORIGIN}/", 200, body=echo, method="TRACE")))) is Status.FAIL
    soft = fetched(resp(f"{ORIGIN}/", 200, body=PAGE, method="TRACE"))
    assert status(check, good(trace=soft)) is Status.PASS
    assert status(check, good(trace=fetched(error=REFUSED, url=f"{ORIGIN}/"))) is Status.ERROR


# -- http.directory_listing, http.sensitive_files, http.error_disclosure ---------------------------


def test_directory_listing() -> None:
    check = exposure.DirectoryListing()
    listing = fetched(
        resp(f"{ORIGIN}/static/", 200, body=b"<title>Index of /static/</title><h1>Index of /static/</h1>")
    )
    verdict = check.evaluate(good(directories=(listing,)))
    assert verdict.status is Status.FAIL and f"{ORIGIN}/static/" in str(verdict.detail)
    assert verdict.evidence["listings"][0]["title"] == "Index of /static/"
    failed = fetched(error=REFUSED, url=f"{ORIGIN}/static/")
    assert status(check, good(directories=(failed,))) is Status.PASS  # the page itself was checked


def test_sensitive_files_from_content_with_a_soft_404_baseline() -> None:
    check = exposure.SensitiveFiles()
    soft = fetched(resp(f"{ORIGIN}/platscan-nf", 200, (("Content-Type", "text/html"),), b"<p>Not found</p>"))
    everything_200 = tuple(fetched(resp(ORIGIN + p, 200, body=b"<p>Not found</p>")) for p in SENSITIVE_PATHS)
    verdict = check.evaluate(good(not_found=soft, sensitive=everything_200))
    assert (
        verdict.status is Status.PASS
        and "soft 404" not in str(verdict.detail)
        and "content decided" in str(verdict.detail)
    )
    env = list(everything_200)
    env[SENSITIVE_PATHS.index("/.env")] = fetched(resp(f"{ORIGIN}/.env", 200, body=b"DB_HOST=db\nDB_PASSWORD=s3cret\n"))
    verdict = check.evaluate(good(not_found=soft, sensitive=tuple(env)))
    assert verdict.status is Status.FAIL and verdict.severity is Severity.CRITICAL
    assert verdict.evidence["exposed"][0]["proof"] == "variables: DB_HOST, DB_PASSWORD (values not kept)"
    assert "s3cret" not in json.dumps(verdict.evidence)
    partial = list(good().sensitive)
    partial[0] = fetched(error=FetchError(ErrorKind.READ_TIMEOUT, "slow"), url=f"{ORIGIN}/.git/HEAD")
    assert status(check, good(sensitive=tuple(partial))) is Status.ERROR


def test_error_disclosure() -> None:
    check = exposure.ErrorDisclosure()
    trace = fetched(
        resp(f"{ORIGIN}/nf", 500, body=b'<pre>Traceback (most recent call last):\n  File "/srv/app.py"</pre>')
    )
    verdict = check.evaluate(good(not_found=trace))
    assert verdict.status is Status.FAIL and str(verdict.detail).startswith("Python traceback shown at")
    assert status(check, good(not_found=fetched(error=REFUSED, url=f"{ORIGIN}/nf"))) is Status.ERROR


# -- http.security_txt -----------------------------------------------------------------------------


def _security_txt(body: bytes, status_code: int = 200, content_type: str = "text/plain", url: str = "") -> Fetch:
    return fetched(
        resp(url or f"{ORIGIN}/.well-known/security.txt", status_code, (("Content-Type", content_type),), body)
    )


@pytest.mark.parametrize(
    ("probe", "expected", "fragment"),
    [
        (_security_txt(SECURITY_TXT), Status.PASS, "1 contact and expires on 2027-03-01"),
        (_security_txt(b"", 404), Status.FAIL, "answers 404"),
        (_security_txt(b"<html>Not found</html>", content_type="text/html"), Status.FAIL, "HTML page"),
        (_security_txt(b"Expires: 2027-03-01T00:00:00Z\n"), Status.FAIL, "no Contact"),
        (_security_txt(b"Contact: mailto:a@b\n"), Status.FAIL, "no Expires"),
        (_security_txt(b"Contact: mailto:a@b\nExpires: 2026-01-01T00:00:00Z\n"), Status.FAIL, "expired on 2026-01-01"),
        (_security_txt(b"Contact: mailto:a@b\nExpires: soon\n"), Status.FAIL, "not an RFC 3339 date"),
        (_security_txt(SECURITY_TXT, content_type="application/octet-stream"), Status.WARN, "not text/plain"),
        (_security_txt(b"Contact: mailto:a@b\nExpires: 2029-01-01T00:00:00Z\n"), Status.WARN, "more than a year"),
        (_security_txt(SECURITY_TXT, url="http://dvc.example/.well-known/security.txt"), Status.FAIL, "plain HTTP"),
    ],
)
def test_security_txt(probe: Fetch, expected: Status, fragment: str) -> None:
    verdict = exposure.SecurityTxt().evaluate(good(security_txt=probe))
    assert verdict.status is expected, verdict.detail
    assert fragment in str(verdict.detail)


# -- messages --------------------------------------------------------------------------------------


def test_a_collection_that_did_not_run_is_an_error_message_with_its_reason_nested() -> None:
    """The collection error of ``HttpCheck.run`` (here: no time left, so no worker is started) is said as a
    message carrying the core's reason, rendered in Vietnamese by the family's template."""
    platform = Platform(id="dvc", name="DVC", urls=(URL,))
    workers = Workers()
    try:
        ctx = ScanContext(platform, ScanSettings(), FactCache(workers), deadline=0.0)
        (result,) = headers.Hsts().run(Endpoint.for_url(platform, URL), ctx)
    finally:
        workers.kill_all()
    assert result.status is Status.ERROR and result.message is not None
    assert result.message.id == "http.collection_failed"
    assert result.detail.startswith(f"The HTTP requests to {URL} did not complete: ")
    assert result.message.render(discover_families().messages("vi")).startswith(f"Các yêu cầu HTTP tới {URL}")


def test_the_reasons_of_hand_built_facts_and_of_the_client_nest_alike() -> None:
    """A ``FetchError`` carries a message (the client's) or, built by hand, plain text; both nest in a
    check's sentence, and ``message`` is the English either way."""
    said = FetchError(ErrorKind.REFUSED, say("http.fetch.refused", "Connection refused by {where}.", where="x:80"))
    assert said.message == "Connection refused by x:80."
    for error in (said, REFUSED):
        verdict = headers.ContentTypeOptions().evaluate(good(page=fetched(error=error)))
        assert verdict.status is Status.ERROR and isinstance(verdict.detail, Message)
        assert str(verdict.detail).endswith(error.message)
