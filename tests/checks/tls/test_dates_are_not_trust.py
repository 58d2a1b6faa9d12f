"""A certificate's dates are not its trust: against a real loopback TLS server with leaves from the test CA.

An expired (or not-yet-valid) leaf from the trusted CA is ``tls.cert_expired``'s (``tls.cert_not_yet_valid``'s)
finding; ``tls.cert_untrusted`` passes for it, also when the leaf's validity and its issuer's share no moment
(a leaf that expired before the issuing CA's current certificate began), where the strict verifier, which always
checks the time, would otherwise refuse it "for time".
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from checks.tls._collect import TlsTarget, collect_tls
from checks.tls.certificates import CertExpired, CertNotYetValid, CertUntrusted
from checks.tls.facts import TlsFacts
from checks.tls.trust_path import NO_COMMON_VALIDITY
from scanner.demo.pki import EXPIRED, IssuerKind, LeafSpec, Pki, Validity
from scanner.demo.tls_server import LOOPBACK, TlsServer, TlsServerConfig
from scanner.model import Status
from scanner.plugin import ScanSettings
from tests.fleet.tls_fleet import MODERN_CIPHERS

#: Before the test PKI's intermediate (valid from 365 days ago) began: no moment is inside both.
BEFORE_ISSUER = Validity(-1000, -900)
#: After the intermediate ends (1825 days from now).
AFTER_ISSUER = Validity(1900, 2000)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("dates-pki"), organization="Platscan Dates Test")


def _scan(pki: Pki, name: str, validity: Validity) -> Iterator[TlsFacts]:
    host = f"{name}.dates.test"
    leaf = pki.issue(name, LeafSpec(hosts=(host,), validity=validity))
    config = TlsServerConfig(cert_chain=pki.write_chain(leaf), key=leaf.key_path, ciphers=MODERN_CIPHERS)
    with TlsServer(config) as server:
        settings = ScanSettings(timeout=2, retries=0, ca_bundle=pki.bundle_path)
        yield collect_tls(TlsTarget(host, server.port, LOOPBACK), settings)


@pytest.mark.parametrize(
    ("name", "validity", "date_check", "shared"),
    [
        ("expired", EXPIRED, CertExpired, True),
        ("expired-before-issuer", BEFORE_ISSUER, CertExpired, False),
        ("valid-after-issuer", AFTER_ISSUER, CertNotYetValid, False),
    ],
)
def test_dates_are_the_date_checks_finding_not_trust(
    pki: Pki, name: str, validity: Validity, date_check: type[CertExpired | CertNotYetValid], shared: bool
) -> None:
    (facts,) = _scan(pki, name, validity)
    (deployment,) = facts.deployments
    assert deployment.trust.path_found
    assert (deployment.trust.strict_error == NO_COMMON_VALIDITY) is not shared
    untrusted = CertUntrusted().judge(facts)
    assert untrusted.status == Status.PASS, untrusted.detail
    assert date_check().judge(facts).status == Status.FAIL


def test_a_rogue_expired_leaf_is_still_untrusted(pki: Pki) -> None:
    """The dates being set aside must not make an unknown CA trusted."""
    host = "rogue.dates.test"
    leaf = pki.issue("rogue", LeafSpec(hosts=(host,), validity=BEFORE_ISSUER, issuer=IssuerKind.ROGUE))
    config = TlsServerConfig(cert_chain=pki.write_chain(leaf), key=leaf.key_path, ciphers=MODERN_CIPHERS)
    with TlsServer(config) as server:
        settings = ScanSettings(timeout=2, retries=0, ca_bundle=pki.bundle_path)
        facts = collect_tls(TlsTarget(host, server.port, LOOPBACK), settings)
    assert CertUntrusted().judge(facts).status == Status.FAIL
