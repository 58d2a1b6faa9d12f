"""CSP 3 'strict-dynamic' judged as browsers apply it (CSP 3 §8.2, §6.7.2.5, §6.7.3.3).

With 'strict-dynamic' in the script directive, browsers ignore its host and scheme sources, 'self' and
'unsafe-inline': with a nonce or hash only nonce/hash-approved scripts (and what they load) run, so the
recommended backward-compatible policy ``'nonce-…' 'strict-dynamic' https: 'unsafe-inline'`` is restricted by its
nonce; without a nonce or hash no script of the page runs at all, which is strict, not weak. The parser is tested
on its own, and the check through the real HTTP collection against a loopback server.
"""

from __future__ import annotations

import pytest

from checks.http._collect import HttpTarget, collect_http
from checks.http.csp import judge_scripts, parse_csp_policy
from checks.http.headers import ContentSecurityPolicy
from scanner.demo.http_server import LOOPBACK, HttpSiteServer, Reply, Request
from scanner.model import Platform, Status
from scanner.plugin import ScanSettings

HOST = "portal.strict-dynamic.test"
REST = "; object-src 'none'; base-uri 'none'"
BACKWARD_COMPATIBLE = "script-src 'nonce-r4nd0m' 'strict-dynamic' https: 'unsafe-inline'"


@pytest.mark.parametrize(
    ("policy", "failures", "warnings", "runs_nothing"),
    [
        # With a nonce or hash: host/scheme sources, 'self' and 'unsafe-inline' are ignored.
        (BACKWARD_COMPATIBLE, (), (), False),
        ("script-src 'sha256-AbCd' 'strict-dynamic' http://cdn.example * 'self'", (), (), False),
        ("default-src 'nonce-abc' 'strict-dynamic' https: data:", (), (), False),  # the fallback reads the same
        (
            "script-src 'nonce-abc' 'strict-dynamic' 'unsafe-eval'",
            (),
            ("'unsafe-eval' (a nonce or hash does not disable it)",),
            False,
        ),
        # Without one: nothing that could admit a script counts, so none runs.
        ("script-src 'strict-dynamic' https:", (), (), True),
        ("script-src 'strict-dynamic' 'unsafe-inline' 'self' *", (), (), True),
        ("script-src 'strict-dynamic' 'unsafe-eval'", (), (), True),  # no script runs that could call eval
        # A malformed nonce is dropped: still no script runs.
        ("script-src 'strict-dynamic' 'nonce-a%b' https:", (), (), True),
        # 'strict-dynamic' is a keyword of the script directive only: in another directive it changes nothing.
        (
            "script-src https: 'unsafe-inline'; style-src 'strict-dynamic'",
            ("'unsafe-inline' without a nonce or hash", "overly broad sources https:"),
            (),
            False,
        ),
    ],
)
def test_strict_dynamic_is_read_as_browsers_read_it(
    policy: str, failures: tuple[str, ...], warnings: tuple[str, ...], runs_nothing: bool
) -> None:
    verdict = judge_scripts(parse_csp_policy(policy))
    got = (tuple(map(str, verdict.failures)), tuple(map(str, verdict.warnings)), verdict.runs_nothing)
    assert got == (failures, warnings, runs_nothing)
    assert verdict.safe is not bool(failures)


def test_the_keyword_is_case_insensitive() -> None:
    verdict = judge_scripts(parse_csp_policy("script-src 'Strict-Dynamic' 'NONCE-abc' HTTPS:"))
    assert verdict.strict_dynamic and verdict.nonce_or_hash and verdict.safe


def _csp_verdict(policy: str) -> tuple[Status, str]:
    def site(request: Request) -> Reply:
        headers = (("Content-Type", "text/html; charset=utf-8"), ("Content-Security-Policy", policy))
        return Reply(200, headers, b"<html><title>ok</title><script nonce=r4nd0m>1</script></html>")

    with HttpSiteServer(site) as server:
        url = f"http://{HOST}:{server.port}/"
        platform = Platform(id="csp", name="CSP", urls=(url,), resolve=((HOST, LOOPBACK),))
        facts = collect_http(HttpTarget(url, platform), ScanSettings(timeout=3.0, retries=0), 20.0)
    assert facts.final is not None and facts.final.status == 200, "the loopback server did not answer"
    verdict = ContentSecurityPolicy().evaluate(facts)
    return verdict.status, str(verdict.detail)


@pytest.mark.parametrize(
    ("policy", "status", "fragment"),
    [
        (BACKWARD_COMPATIBLE + REST, Status.PASS, "restricts scripts with nonces or hashes"),
        ("script-src 'strict-dynamic' https: 'unsafe-inline'" + REST, Status.PASS, "restricts scripts"),
        # Without 'strict-dynamic' the same sources are what they say.
        ("script-src https: 'unsafe-inline'" + REST, Status.FAIL, "'unsafe-inline' without a nonce or hash"),
    ],
)
def test_the_csp_check_over_real_http(policy: str, status: Status, fragment: str) -> None:
    got, detail = _csp_verdict(policy)
    assert got is status, detail
    assert fragment in detail
