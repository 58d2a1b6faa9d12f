"""``http.hsts`` names the HTTP client's real TLS problem, against real loopback servers with a valid certificate.

A server the client refuses for its protocol version or cipher suites, not its certificate, must not be told
"the certificate did not verify"; a server whose certificate the client refuses still is.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from checks.http._collect import HttpTarget, collect_http
from checks.http.client import _ssl_reason, certificate_refused
from checks.http.headers import Hsts
from scanner.demo.http_server import LOOPBACK, HttpSiteServer, Reply, Request
from scanner.demo.pki import EXPIRED, IssuerKind, LeafSpec, Pki
from scanner.model import Platform, Status
from scanner.plugin import ScanSettings

#: This OpenSSL deprecates serving TLS 1.0, which is the point of one case.
pytestmark = pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1 is deprecated:DeprecationWarning")
HOST = "legacy.hsts.test"
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def _site(request: Request) -> Reply:
    return Reply(200, (("Content-Type", "text/html"), HSTS), b"<html>ok</html>")


def _context(chain: Path, key: Path, *, tls10: bool = False, ciphers: str | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # Security level 0 lets this OpenSSL serve what a default client refuses.
    context.set_ciphers(ciphers or "DEFAULT:@SECLEVEL=0")
    if tls10:
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1
    else:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(chain), str(key))
    return context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("hsts-pki"), organization="Platscan HSTS Test")


def _judge(pki: Pki, context: ssl.SSLContext) -> tuple[Status, str, tuple[tuple[str, str], ...]]:
    with HttpSiteServer(_site, context=context) as server:
        url = f"https://{HOST}:{server.port}/"
        platform = Platform(id="legacy", name="Legacy", urls=(url,), resolve=((HOST, LOOPBACK),))
        settings = ScanSettings(timeout=3.0, retries=0, ca_bundle=pki.bundle_path)
        facts = collect_http(HttpTarget(url, platform), settings, 20.0)
    verdict = Hsts().judge(facts)
    return verdict.status, str(verdict.detail), tuple((where, str(why)) for where, why in facts.tls_problems)


@pytest.fixture(scope="module")
def valid(pki: Pki) -> tuple[Path, Path]:
    leaf = pki.issue("legacy", LeafSpec(hosts=(HOST,)))
    return pki.write_chain(leaf), leaf.key_path


@pytest.mark.parametrize(
    ("case", "options"),
    [
        ("tls1.0 only", {"tls10": True}),
        ("static RSA only", {"ciphers": "AES128-SHA:@SECLEVEL=0"}),
    ],
)
def test_a_protocol_or_cipher_refusal_is_not_called_a_certificate_problem(
    pki: Pki, valid: tuple[Path, Path], case: str, options: dict[str, object]
) -> None:
    status, message, problems = _judge(pki, _context(*valid, **options))  # type: ignore[arg-type]
    assert problems, f"{case}: the default HTTP client accepted the server; the case proves nothing"
    assert not any(certificate_refused(why) for _, why in problems), problems
    assert status == Status.WARN
    assert "certificate did not verify" not in message
    assert "not about the certificate" in message


def test_a_certificate_refusal_is_still_named(pki: Pki, tmp_path: Path) -> None:
    leaf = pki.issue("rogue", LeafSpec(hosts=(HOST,), issuer=IssuerKind.ROGUE))
    status, message, problems = _judge(pki, _context(pki.write_chain(leaf), leaf.key_path))
    assert status == Status.WARN
    assert "certificate did not verify (No TLS session" in message, message
    assert "certificate not trusted: unable to get local issuer certificate" in message
    assert all(certificate_refused(why) for _, why in problems)


def test_ssl_reasons_are_classified_by_their_cause() -> None:
    version = ssl.SSLError(1, "x")
    version.reason = "UNSUPPORTED_PROTOCOL"
    assert str(_ssl_reason([version])).startswith("the server offers no TLS version")
    dh = ssl.SSLError(1, "x")
    dh.reason = "DH_KEY_TOO_SMALL"
    assert "key exchange is too weak" in str(_ssl_reason([dh]))
    assert not certificate_refused(_ssl_reason([dh]))


def test_an_expired_certificate_from_a_trusted_ca_is_expired_not_untrusted(pki: Pki) -> None:
    """The date is the cause (the tls family's tls.cert_expired), never "not trusted" (tls.cert_untrusted)."""
    leaf = pki.issue("expired", LeafSpec(hosts=(HOST,), validity=EXPIRED))
    status, message, problems = _judge(pki, _context(pki.write_chain(leaf), leaf.key_path))
    assert status == Status.WARN
    assert "certificate outside its validity period: certificate has expired" in message, message
    assert "not trusted" not in message
    assert all(certificate_refused(why) for _, why in problems)
