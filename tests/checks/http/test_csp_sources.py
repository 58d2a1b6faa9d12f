"""CSP source expressions and <meta name=referrer> read as browsers read them (CSP 3 §2.3.1, HTML standard).

``https://*`` and wildcards over a TLD or public suffix admit scripts from any host, like ``https:``;
a malformed hash token is dropped, so it does not neutralise 'unsafe-inline'; a <meta name=referrer> whose
content is a list is ignored and cannot mask a weak header. Each is judged through the real HTTP
collection against a loopback server, and the parsers are tested on their own.
"""

from __future__ import annotations

import pytest

from checks.http._collect import HttpTarget, collect_http
from checks.http.base import HttpCheck
from checks.http.csp import frame_ancestors_restrict, judge_scripts, parse_csp_policy, parse_source
from checks.http.facts import HttpFacts
from checks.http.headers import ContentSecurityPolicy, ReferrerPolicy
from checks.http.html import meta_referrer_policy
from scanner.demo.http_server import LOOPBACK, HttpSiteServer, Reply, Request
from scanner.model import Platform, Status
from scanner.plugin import ScanSettings, Verdict

HOST = "portal.csp.test"
MALFORMED_HASHES = "'sha256-AAA=''sha256-BBB='"
SAFE_REST = "; object-src 'none'; base-uri 'self'"


def _collect(headers: tuple[tuple[str, str], ...], body: bytes = b"<html><title>ok</title></html>") -> HttpFacts:
    def site(request: Request) -> Reply:
        return Reply(200, (("Content-Type", "text/html; charset=utf-8"), *headers), body)

    with HttpSiteServer(site) as server:
        url = f"http://{HOST}:{server.port}/"
        platform = Platform(id="csp", name="CSP", urls=(url,), resolve=((HOST, LOOPBACK),))
        facts = collect_http(HttpTarget(url, platform), ScanSettings(timeout=3.0, retries=0), 20.0)
    assert facts.final is not None and facts.final.status == 200, "the loopback server did not answer"
    return facts


def _judge(check: HttpCheck, headers: tuple[tuple[str, str], ...], body: bytes | None = None) -> Verdict:
    facts = _collect(headers) if body is None else _collect(headers, body)
    return check.evaluate(facts)


# -- through the real collection ---------------------------------------------------------------------


@pytest.mark.parametrize("source", ["https://*", "*.vn", "*.com", "https://*.gov.vn"])
def test_a_wildcard_over_any_host_or_a_public_suffix_fails_like_https(source: str) -> None:
    verdict = _judge(ContentSecurityPolicy(), (("Content-Security-Policy", f"script-src 'self' {source}{SAFE_REST}"),))
    assert verdict.status is Status.FAIL, verdict.detail
    assert f"overly broad sources {source}" in str(verdict.detail)


def test_a_wildcard_under_a_registered_domain_still_passes() -> None:
    policy = f"script-src 'self' https://*.portal.example.vn{SAFE_REST}"
    verdict = _judge(ContentSecurityPolicy(), (("Content-Security-Policy", policy),))
    assert verdict.status is Status.PASS, verdict.detail


def test_unsafe_inline_beside_malformed_hashes_takes_effect() -> None:
    policy = f"script-src 'self' 'unsafe-inline' {MALFORMED_HASHES}{SAFE_REST}"
    verdict = _judge(ContentSecurityPolicy(), (("Content-Security-Policy", policy),))
    assert verdict.status is Status.FAIL, verdict.detail
    assert "'unsafe-inline' without a nonce or hash" in str(verdict.detail)
    assert MALFORMED_HASHES in str(verdict.detail)
    assert verdict.evidence["ignored_sources"] == [MALFORMED_HASHES]


def test_unsafe_inline_beside_one_valid_hash_is_neutralised() -> None:
    policy = f"script-src 'self' 'unsafe-inline' {MALFORMED_HASHES} 'sha256-BBB='{SAFE_REST}"
    verdict = _judge(ContentSecurityPolicy(), (("Content-Security-Policy", policy),))
    assert verdict.status is Status.PASS, verdict.detail
    assert "nonces or hashes" in str(verdict.detail)


def test_a_list_in_meta_referrer_does_not_override_a_weak_header() -> None:
    body = b'<html><head><meta name="referrer" content="no-referrer, strict-origin"></head></html>'
    verdict = _judge(ReferrerPolicy(), (("Referrer-Policy", "unsafe-url"),), body)
    assert verdict.status is Status.FAIL, verdict.detail
    assert verdict.evidence["policy"] == "unsafe-url"
    assert "is ignored" in str(verdict.detail) and verdict.evidence["meta_ignored"] is True


def test_a_single_token_meta_referrer_still_overrides_the_header() -> None:
    body = b'<html><head><meta name="referrer" content="No-Referrer"></head></html>'
    verdict = _judge(ReferrerPolicy(), (("Referrer-Policy", "unsafe-url"),), body)
    assert verdict.status is Status.PASS, verdict.detail
    assert verdict.evidence["policy"] == "no-referrer"


def test_an_ignored_meta_referrer_alone_is_no_policy() -> None:
    body = b'<html><head><meta name="referrer" content="no-referrer, strict-origin"></head></html>'
    verdict = _judge(ReferrerPolicy(), (), body)
    assert verdict.status is Status.FAIL, verdict.detail
    assert "no Referrer-Policy header is sent" in str(verdict.detail)


# -- parsers ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "kind", "broad"),
    [
        ("https://*", "host", True),
        ("*", "host", True),
        ("http://*:8080/js/", "host", True),
        ("*.vn", "host", True),
        ("*.com", "host", True),
        ("*.vn.", "host", True),
        ("*.com.vn", "host", True),
        ("https://*.co.uk", "host", True),
        ("*.example.vn", "host", False),
        ("https://cdn.example.vn:443/lib/", "host", False),
        ("https:", "scheme", True),
        ("data:", "scheme", True),
        ("wss:", "scheme", False),
        ("'SELF'", "keyword", False),
        ("'nonce-cGxhdHNjYW4tbm9uY2U'", "nonce", False),
        ("'sha256-AbC+/_-='", "hash", False),
        ("'SHA512-AbC=='", "hash", False),
    ],
)
def test_source_expression_grammar(token: str, kind: str, broad: bool) -> None:
    source = parse_source(token)
    assert source is not None, token
    assert (source.kind, source.broad) == (kind, broad)


@pytest.mark.parametrize(
    "token",
    [
        MALFORMED_HASHES,
        "'sha256-'",
        "'sha256-AAA==='",
        "'sha1-AAA='",
        "'nonce-'",
        "'nonce-a b'",
        "'nonce-ab$c'",
        "'unknown-keyword'",
        "https://a.example//x",
        "*.",
        "*example.vn",
        "https://ex ample",
    ],
)
def test_malformed_tokens_are_ignored(token: str) -> None:
    assert parse_source(token) is None


@pytest.mark.parametrize(
    ("policy", "safe", "nonce_or_hash"),
    [
        ("script-src https://*", False, False),
        ("script-src *.vn", False, False),
        ("script-src *.com", False, False),
        (f"script-src 'unsafe-inline' {MALFORMED_HASHES}", False, False),
        (f"script-src 'self' 'unsafe-inline' {MALFORMED_HASHES} 'sha256-BBB='", True, True),
        (f"script-src 'nonce-{MALFORMED_HASHES}' 'unsafe-eval'", False, False),
        ("script-src 'self' https://*.portal.example.vn", True, False),
    ],
)
def test_script_judgement_uses_only_valid_sources(policy: str, safe: bool, nonce_or_hash: bool) -> None:
    verdict = judge_scripts(parse_csp_policy(policy))
    assert (verdict.safe, verdict.nonce_or_hash) == (safe, nonce_or_hash), verdict.failures


def test_frame_ancestors_wildcards_follow_the_same_rules() -> None:
    assert not frame_ancestors_restrict(("https://*",))
    assert not frame_ancestors_restrict(("*.vn",))
    assert frame_ancestors_restrict(("https://*.portal.example.vn",))
    assert frame_ancestors_restrict(("'self'", MALFORMED_HASHES))  # the malformed token is dropped


@pytest.mark.parametrize(
    ("values", "policy"),
    [
        (("no-referrer, strict-origin",), None),
        (("no-referrer strict-origin",), None),
        (("nonsense",), None),
        (("",), None),
        (("Strict-Origin",), "strict-origin"),
        (("never",), "no-referrer"),
        (("always",), "unsafe-url"),
        (("unsafe-url", "no-referrer, same-origin"), "unsafe-url"),  # the invalid one leaves the policy
        (("unsafe-url", "same-origin"), "same-origin"),  # the last valid one wins
    ],
)
def test_meta_referrer_takes_one_token(values: tuple[str, ...], policy: str | None) -> None:
    assert meta_referrer_policy(values) == policy
