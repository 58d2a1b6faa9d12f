"""Every tls judge, from recorded sslyze JSON and edited copies of it: at least one pass and one failure each."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from checks.tls.base import TlsCheck
from checks.tls.facts import TlsFacts
from scanner.family import discover_families
from scanner.messages import Message
from scanner.model import Severity, Status
from scanner.plugin import discover_checks
from tests.checks.tls import fixtures as fx
from tests.checks.tls.fixtures import FFDHE2048, RECORDED_AT

CHECKS: dict[str, TlsCheck] = {
    c.id: c for c in discover_checks().checks if c.family == "tls" and isinstance(c, TlsCheck)
}


def _good_leaf_dates() -> tuple[dt.datetime, dt.datetime]:
    """The good leaf's validity: 2026-11-20 .. 2027-02-18 (recorded 2026-11-21)."""
    leaf = fx.recorded("good").deployments[0].leaf
    return leaf.not_before, leaf.not_after


def _root_json() -> dict[str, object]:
    return fx.cert_json(fx.anchors()[0])


def _unrelated_cert_json() -> dict[str, object]:
    return dict(fx.deployment(fx.load("self_signed"))["received_certificate_chain"][0])


@dataclass(frozen=True)
class Case:
    check: str
    name: str
    build: Callable[[], TlsFacts]
    status: Status
    detail: str = ""  # a substring the detail must contain
    severity: Severity | None = None  # the result's severity, when the judge raises or lowers it
    scheme: str = "https"

    def __str__(self) -> str:
        return f"{self.check}:{self.name}"


def good() -> TlsFacts:
    return fx.recorded("good")


def weak() -> TlsFacts:
    return fx.recorded("weak")


RC4 = fx.suite("TLS_RSA_WITH_RC4_128_SHA", "RC4-SHA")
DES3 = fx.suite("TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA", 168)
ANON = fx.suite("TLS_DH_anon_WITH_AES_128_CBC_SHA", "ADH-AES128-SHA", anonymous=True)
EXPORT = fx.suite("TLS_RSA_EXPORT_WITH_RC4_40_MD5", "EXP-RC4-MD5", 40)
SSL3_SUITE = fx.suite("TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA")
SSL2_SUITE = fx.suite("SSL_CK_RC4_128_WITH_MD5", "RC4-MD5")
DHE_2048 = fx.suite(
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "DHE-RSA-AES128-GCM-SHA256", ephemeral=fx.dh_key(2048, FFDHE2048)
)
DHE_BAD_PRIME = fx.suite(
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "DHE-RSA-AES256-GCM-SHA384", 256, ephemeral=fx.dh_key(2048, FFDHE2048 + 1)
)
DHE_NO_KEY = fx.suite("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "DHE-RSA-AES128-GCM-SHA256")


def _drop_intermediate(chain: list[dict[str, object]]) -> list[dict[str, object]]:
    return chain[:1]


def _ocsp_untrusted(doc: fx.Doc) -> None:
    """sslyze could not verify the stapled response against the chain's trust store."""
    fx.deployment(doc)["ocsp_response_is_trusted"] = False


CASES: list[Case] = [
    # -- protocols ------------------------------------------------------------------------------
    Case("tls.https_available", "handshake", good, Status.PASS, "A TLS handshake with good.fleet.test"),
    Case("tls.https_available", "http-url-443", good, Status.PASS, "also serves TLS on port", scheme="http"),
    Case("tls.https_available", "no-tls", lambda: fx.recorded("no_tls"), Status.FAIL, "No usable TLS on"),
    Case(
        "tls.https_available",
        "http-url-nothing-on-443",
        lambda: fx.recorded("refused"),
        Status.FAIL,
        "The URL uses plain http:// and closed.fleet.test offers no TLS on port",
        scheme="http",
    ),
    Case("tls.protocol_ssl", "refused", good, Status.PASS, "SSL 2.0 and SSL 3.0 are refused"),
    Case(
        "tls.protocol_ssl",
        "ssl3",
        lambda: fx.facts("good", fx.accept("ssl_3_0_cipher_suites", SSL3_SUITE)),
        Status.FAIL,
        "SSL 3.0 is accepted",
    ),
    Case(
        "tls.protocol_ssl",
        "ssl2+ssl3",
        lambda: fx.facts(
            "weak", fx.accept("ssl_2_0_cipher_suites", SSL2_SUITE), fx.accept("ssl_3_0_cipher_suites", SSL3_SUITE)
        ),
        Status.FAIL,
        "SSL 2.0 and SSL 3.0 are accepted",
    ),
    Case(
        "tls.protocol_ssl",
        "ssl2-only",
        lambda: fx.facts(
            "good",
            fx.connectivity_error(
                'sslyze.errors.ServerTlsConfigurationNotSupported: x.test:443 -> "WARNING: Server only supports SSL 2.0'
                ' and is therefore affected by critical vulnerabilities.".'
            ),
        ),
        Status.FAIL,
        "accepts only SSL 2.0",
    ),
    Case("tls.protocol_legacy", "modern", good, Status.PASS, "TLS 1.0 and TLS 1.1 are refused"),
    Case("tls.protocol_legacy", "tls10+11", weak, Status.FAIL, "TLS 1.0 and TLS 1.1 are accepted"),
    Case(
        "tls.protocol_legacy",
        "tls10",
        lambda: fx.facts("weak", fx.refuse("tls_1_1_cipher_suites")),
        Status.FAIL,
        "TLS 1.0 is accepted",
    ),
    Case("tls.protocol_tls12", "accepted", good, Status.PASS, "TLS 1.2 is accepted"),
    Case(
        "tls.protocol_tls12",
        "tls13-only",
        lambda: fx.facts("good", fx.refuse("tls_1_2_cipher_suites")),
        Status.FAIL,
        "only TLS 1.3",
        Severity.LOW,
    ),
    Case(
        "tls.protocol_tls12",
        "legacy-only",
        lambda: fx.facts("weak", fx.refuse("tls_1_2_cipher_suites")),
        Status.FAIL,
        "Neither TLS 1.2 nor TLS 1.3 is accepted; the best it accepts is TLS 1.1",
        Severity.HIGH,
    ),
    Case("tls.protocol_tls13", "accepted", good, Status.PASS, "TLS 1.3 is accepted"),
    Case("tls.protocol_tls13", "missing", weak, Status.FAIL, "TLS 1.3 is not accepted"),
    Case("tls.fallback_scsv", "supported", good, Status.PASS, "is refused"),
    Case(
        "tls.fallback_scsv",
        "ignored",
        lambda: fx.facts("weak", fx.set_result("tls_fallback_scsv", supports_fallback_scsv=False)),
        Status.FAIL,
        "accepts a downgraded handshake",
    ),
    Case("tls.compression", "off", good, Status.PASS, "refused"),
    Case(
        "tls.compression",
        "crime",
        lambda: fx.facts("good", fx.set_result("tls_compression", supports_compression=True)),
        Status.FAIL,
        "TLS compression is accepted (CRIME)",
    ),
    Case("tls.renegotiation_insecure", "secure", good, Status.PASS, "client-initiated renegotiation is refused"),
    Case(
        "tls.renegotiation_insecure",
        "insecure",
        lambda: fx.facts("good", fx.set_result("session_renegotiation", supports_secure_renegotiation=False)),
        Status.FAIL,
        "does not support secure renegotiation",
    ),
    Case(
        "tls.renegotiation_insecure",
        "client-initiated",
        lambda: fx.facts(
            "good",
            fx.set_result(
                "session_renegotiation",
                is_vulnerable_to_client_renegotiation_dos=True,
                client_renegotiations_success_count=10,
            ),
        ),
        Status.WARN,
        "honours client-initiated renegotiation",
        Severity.MEDIUM,
    ),
    Case("tls.client_cert_required", "none", good, Status.PASS, "does not ask for a client certificate"),
    Case(
        "tls.client_cert_required",
        "optional",
        lambda: fx.facts("good", fx.client_auth("OPTIONAL")),
        Status.PASS,
        "does not require one",
    ),
    # Info-level: the "failing" verdict of this check is a warning.
    Case(
        "tls.client_cert_required",
        "required",
        lambda: fx.recorded("client_cert"),
        Status.WARN,
        "demands a client certificate; sslyze could not run session_renegotiation",
    ),
    # -- ciphers --------------------------------------------------------------------------------
    Case("tls.cipher_insecure", "aead-only", good, Status.PASS, "None of the 6 accepted suites"),
    Case(
        "tls.cipher_insecure",
        "null",
        weak,
        Status.FAIL,
        "1 insecure suite accepted: TLS_ECDHE_RSA_WITH_NULL_SHA (NULL)",
        Severity.CRITICAL,
    ),
    Case(
        "tls.cipher_insecure",
        "rc4+3des",
        lambda: fx.facts("good", fx.accept("tls_1_2_cipher_suites", RC4, DES3)),
        Status.FAIL,
        "TLS_RSA_WITH_RC4_128_SHA (RC4)",
        Severity.HIGH,
    ),
    Case(
        "tls.cipher_insecure",
        "anon+export",
        lambda: fx.facts("good", fx.accept("tls_1_0_cipher_suites", ANON, EXPORT)),
        Status.FAIL,
        "TLS_RSA_EXPORT_WITH_RC4_40_MD5 (EXPORT, RC4, MD5)",
        Severity.CRITICAL,
    ),
    Case("tls.cipher_no_forward_secrecy", "ecdhe-only", good, Status.PASS, "ephemeral key exchange"),
    Case(
        "tls.cipher_no_forward_secrecy",
        "some-static-rsa",
        weak,
        Status.FAIL,
        "2 static-RSA suites accepted: TLS_RSA_WITH_AES_128_CBC_SHA and TLS_RSA_WITH_AES_128_GCM_SHA256",
        Severity.MEDIUM,
    ),
    Case(
        "tls.cipher_no_forward_secrecy",
        "all-static",
        lambda: fx.facts("weak", fx.keep_suites(lambda name: name.startswith("TLS_RSA_"))),
        Status.FAIL,
        "No accepted suite offers forward secrecy",
        Severity.HIGH,
    ),
    Case("tls.cipher_cbc", "aead-only", good, Status.PASS, "No CBC-mode suite"),
    Case(
        "tls.cipher_cbc",
        "cbc",
        weak,
        Status.FAIL,
        "2 CBC-mode suites accepted (TLS 1.0, TLS 1.1 and TLS 1.2): TLS_RSA_WITH_AES_128_CBC_SHA",
    ),
    Case("tls.dh_weak", "no-dhe", good, Status.PASS, "No DHE suite is accepted"),
    Case(
        "tls.dh_weak",
        "ffdhe2048",
        lambda: fx.facts("good", fx.accept("tls_1_2_cipher_suites", DHE_2048)),
        Status.PASS,
        "DHE suites use 2048-bit groups",
    ),
    Case("tls.dh_weak", "dh1024", weak, Status.FAIL, "(1024-bit group)", Severity.MEDIUM),
    Case(
        "tls.dh_weak",
        "not-prime",
        lambda: fx.facts("good", fx.accept("tls_1_2_cipher_suites", DHE_BAD_PRIME)),
        Status.FAIL,
        "invalid DH group",
        Severity.HIGH,
    ),
    Case(
        "tls.dh_weak",
        "too-small-for-client",
        lambda: fx.facts("good", fx.accept("tls_1_2_cipher_suites", DHE_NO_KEY)),
        Status.FAIL,
        "too small for sslyze's client",
        Severity.HIGH,
    ),
    # -- certificates ---------------------------------------------------------------------------
    Case("tls.cert_expired", "valid", good, Status.PASS, "valid until 2027-02-18"),
    Case(
        "tls.cert_expired",
        "expired",
        lambda: fx.facts("good", now=_good_leaf_dates()[1] + dt.timedelta(days=321, hours=1)),
        Status.FAIL,
        "The certificate expired on 2027-02-18 (321 days ago)",
    ),
    Case("tls.cert_not_yet_valid", "valid", good, Status.PASS, "valid since 2026-11-20"),
    Case(
        "tls.cert_not_yet_valid",
        "future",
        lambda: fx.facts("good", now=_good_leaf_dates()[0] - dt.timedelta(days=10, hours=1)),
        Status.FAIL,
        "is not valid until 2026-11-20 (in 10 days)",
    ),
    Case("tls.cert_expiring", "88-days", good, Status.PASS, "in 88 days"),
    Case(
        "tls.cert_expiring",
        "10-days",
        lambda: fx.facts("good", now=_good_leaf_dates()[1] - dt.timedelta(days=10, hours=1)),
        Status.FAIL,
        "expires on 2027-02-18, in 10 days",
        Severity.MEDIUM,
    ),
    Case(
        "tls.cert_expiring",
        "3-days",
        lambda: fx.facts("good", now=_good_leaf_dates()[1] - dt.timedelta(days=3)),
        Status.FAIL,
        "in 3 days",
        Severity.HIGH,
    ),
    Case(
        "tls.cert_expiring",
        "already-expired",
        lambda: fx.facts("good", now=_good_leaf_dates()[1] + dt.timedelta(days=1)),
        Status.SKIP,
        "see tls.cert_expired",
    ),
    Case("tls.cert_revoked", "good-staple", good, Status.PASS, "says the certificate is good"),
    Case(
        "tls.cert_revoked",
        "revoked-staple",
        lambda: fx.facts("good", fx.ocsp("REVOKED", revocation_time="2026-11-01T08:00:00Z")),
        Status.FAIL,
        "revoked on 2026-11-01",
    ),
    Case(
        "tls.cert_revoked",
        "unknown-staple",
        lambda: fx.facts("good", fx.ocsp("UNKNOWN")),
        Status.WARN,
        "UNKNOWN",
        Severity.MEDIUM,
    ),
    Case("tls.cert_revoked", "no-staple", weak, Status.SKIP, "outside the registered platforms"),
    Case(
        "tls.cert_revoked",
        "good-but-untrusted",
        lambda: fx.facts("good", _ocsp_untrusted),
        Status.WARN,
        "says the certificate is good, but it cannot be relied on (the response does not verify against the "
        "chain's CA)",
        Severity.MEDIUM,
    ),
    Case(
        "tls.cert_revoked",
        "good-but-stale",
        lambda: fx.facts("good", fx.ocsp("GOOD", next_update="2026-11-01T00:00:00Z")),
        Status.WARN,
        "cannot be relied on (the response is stale: it expired on 2026-11-01)",
        Severity.MEDIUM,
    ),
    Case("tls.cert_hostname_mismatch", "match", good, Status.PASS, "covers good.fleet.test"),
    Case(
        "tls.cert_hostname_mismatch",
        "other-host",
        lambda: fx.facts("good", hostname="portal.dvc.test"),
        Status.FAIL,
        "does not cover portal.dvc.test: it names good.fleet.test",
    ),
    Case(
        "tls.cert_hostname_mismatch",
        "ip-host",
        lambda: fx.facts("good", hostname="127.0.0.1"),
        Status.FAIL,
        "does not cover 127.0.0.1",
    ),
    Case("tls.cert_untrusted", "chain-to-anchor", good, Status.PASS, "trusted anchor 'CN=Platscan Fleet Root CA"),
    Case("tls.cert_untrusted", "self-signed", lambda: fx.recorded("self_signed"), Status.FAIL, "self-signed"),
    Case(
        "tls.cert_untrusted",
        "unknown-root",
        lambda: fx.facts("good", trust=()),
        Status.FAIL,
        "No chain to a trusted anchor (system store + ca_bundle): The issuer 'CN=Platscan Fleet Root CA",
    ),
    Case(
        "tls.cert_untrusted",
        "sha1-path",
        weak,
        Status.WARN,
        "a strict RFC 5280 verifier rejects it: validation failed: candidates exhausted: Forbidden signature "
        "algorithm: RsaWithSha1",
        Severity.MEDIUM,
    ),
    Case("tls.cert_chain_incomplete", "complete", good, Status.PASS, "complete up to the trusted anchor"),
    Case(
        "tls.cert_chain_incomplete",
        "self-signed",
        lambda: fx.recorded("self_signed"),
        Status.PASS,
        "complete up to the self-signed",
    ),
    Case(
        "tls.cert_chain_incomplete",
        "leaf-only",
        lambda: fx.facts("good", fx.chain_edit(_drop_intermediate)),
        Status.FAIL,
        "was not sent and is not a trusted anchor. The certificate names its issuer's location: "
        "http://pki.test/int.crt",
    ),
    Case("tls.cert_chain_order", "in-order", good, Status.PASS, "The 2 certificates sent are in order"),
    Case("tls.cert_chain_order", "single", lambda: fx.recorded("self_signed"), Status.PASS, "a single certificate"),
    Case(
        "tls.cert_chain_order",
        "root-before-intermediate",
        lambda: fx.facts("good", fx.chain_edit(lambda chain: [chain[0], _root_json(), *chain[1:]])),
        Status.FAIL,
        "the issuer path runs 0 -> 2 -> 1",
    ),
    Case(
        "tls.cert_chain_order",
        "extra-cert",
        lambda: fx.facts("good", fx.chain_edit(lambda chain: [*chain, _unrelated_cert_json()])),
        Status.FAIL,
        "1 certificate that is not part of the leaf's chain: 'self-signed.fleet.test'",
    ),
    Case("tls.cert_weak_key", "rsa2048", good, Status.PASS, "RSA 2048 bits"),
    Case("tls.cert_weak_key", "rsa1024", weak, Status.FAIL, "weak key: RSA 1024 bits (minimum 2048)", Severity.HIGH),
    Case(
        "tls.cert_weak_key",
        "second-deployment",
        lambda: fx.facts("good", fx.add_deployment_from("weak")),
        Status.FAIL,
        "RSA certificate: The certificate has a weak key",
        Severity.HIGH,
    ),
    Case("tls.cert_weak_signature", "sha256", good, Status.PASS, "signed with sha256"),
    Case("tls.cert_weak_signature", "sha1", weak, Status.FAIL, "The certificate is signed with SHA-1", Severity.HIGH),
    Case("tls.cert_lifetime", "90-days", good, Status.PASS, "valid for 90 days"),
    Case(
        "tls.cert_lifetime",
        "800-days",
        weak,
        Status.FAIL,
        "valid for 800 days (2026-11-20 to 2029-01-28); the limit is 398",
    ),
    Case("tls.ocsp_stapling", "stapled", good, Status.PASS, "staples a current OCSP response"),
    Case("tls.ocsp_stapling", "not-stapled", weak, Status.FAIL, "does not staple"),
    Case(
        "tls.ocsp_stapling",
        "stale",
        lambda: fx.facts("good", fx.ocsp("GOOD", next_update="2026-11-01T00:00:00Z")),
        Status.FAIL,
        "stale: it expired on 2026-11-01",
    ),
    Case(
        "tls.ocsp_stapling",
        "error-response",
        lambda: fx.facts(
            "good",
            fx.ocsp(
                None,
                response_status="TRY_LATER",
                revocation_time=None,
                produced_at=None,
                this_update=None,
                next_update=None,
                serial_number=None,
            ),
        ),
        Status.FAIL,
        "is an error (TRY_LATER)",
    ),
    Case(
        "tls.ocsp_stapling",
        "untrusted",
        lambda: fx.facts("good", _ocsp_untrusted),
        Status.WARN,
        "The stapled OCSP response does not verify against the chain's CA.",
        Severity.LOW,
    ),
    Case(
        "tls.ocsp_stapling", "no-responder", lambda: fx.recorded("self_signed"), Status.SKIP, "names no OCSP responder"
    ),
    # -- vulnerabilities ------------------------------------------------------------------------
    Case("tls.vuln_heartbleed", "patched", good, Status.PASS, "not vulnerable to Heartbleed"),
    Case(
        "tls.vuln_heartbleed",
        "vulnerable",
        lambda: fx.facts("weak", fx.set_result("heartbleed", is_vulnerable_to_heartbleed=True)),
        Status.FAIL,
        "vulnerable to Heartbleed (CVE-2014-0160)",
        Severity.CRITICAL,
    ),
    Case("tls.vuln_robot", "no-rsa", good, Status.PASS, "accepts no RSA key exchange"),
    Case("tls.vuln_robot", "no-oracle", weak, Status.PASS, "shows no padding oracle"),
    Case(
        "tls.vuln_robot",
        "strong-oracle",
        lambda: fx.facts("weak", fx.set_result("robot", robot_result="VULNERABLE_STRONG_ORACLE")),
        Status.FAIL,
        "strong oracle",
        Severity.CRITICAL,
    ),
    Case(
        "tls.vuln_robot",
        "weak-oracle",
        lambda: fx.facts("weak", fx.set_result("robot", robot_result="VULNERABLE_WEAK_ORACLE")),
        Status.FAIL,
        "(weak oracle)",
        Severity.HIGH,
    ),
    Case(
        "tls.vuln_robot",
        "inconsistent",
        lambda: fx.facts("weak", fx.set_result("robot", robot_result="UNKNOWN_INCONSISTENT_RESULTS")),
        Status.WARN,
        "inconsistent",
        Severity.MEDIUM,
    ),
    Case("tls.vuln_ccs_injection", "patched", good, Status.PASS, "not vulnerable to the OpenSSL CCS injection"),
    Case(
        "tls.vuln_ccs_injection",
        "vulnerable",
        lambda: fx.facts("weak", fx.set_result("openssl_ccs_injection", is_vulnerable_to_ccs_injection=True)),
        Status.FAIL,
        "CVE-2014-0224",
        Severity.HIGH,
    ),
]


def test_every_verdict_is_a_message_that_reads_in_vietnamese() -> None:
    """Every judge's every case says a message (its English is the detail the case checks); it and each
    phrase nested in it that has words read differently with the family's Vietnamese templates."""
    vi = discover_families().messages("vi")
    english: list[tuple[str, str]] = []
    said: set[str] = set()
    for case in CASES:
        detail = CHECKS[case.check].evaluate(case.build(), case.scheme).detail
        assert isinstance(detail, Message), (str(case), detail)
        for message in detail.nested():
            said.add(message.id)
            words = re.search(r"[A-Za-z]{2}", re.sub(r"\{\w+(?::[^{}]*)?\}", "", message.text))
            if words and message.render(vi) == str(message):
                english.append((str(case), message.id))
    assert english == []
    assert len(said) > 100


@pytest.mark.parametrize("case", CASES, ids=str)
def test_judge(case: Case) -> None:
    check = CHECKS[case.check]
    verdict = check.evaluate(case.build(), case.scheme)
    assert verdict.status is case.status, verdict.detail
    assert case.detail in str(verdict.detail)
    if case.severity is not None:
        assert (verdict.severity or check.severity) is case.severity
    # Evidence is small, JSON-serialisable data.
    assert len(json.dumps(verdict.evidence)) < 8000


def test_every_tls_check_has_a_passing_and_a_failing_case() -> None:
    failing = {Status.FAIL, Status.WARN}  # WARN is the failure of the info-level client_cert_required
    for check_id in CHECKS:
        statuses = {case.status for case in CASES if case.check == check_id}
        assert Status.PASS in statuses, f"{check_id} has no passing judge test"
        assert statuses & failing, f"{check_id} has no failing judge test"
    assert len(CHECKS) == 28


def test_recorded_at_matches_the_fixtures() -> None:
    # The good leaf was issued the day before the recording: RECORDED_AT must lie inside its validity.
    not_before, not_after = _good_leaf_dates()
    assert not_before < RECORDED_AT < not_after


# -- which certificates the date, key and signature checks judge ------------------------------------------


def _cross_signed_root(not_after: dt.datetime) -> x509.Certificate:
    """The fixtures' root (same name and key) issued by another CA that we make up, valid until ``not_after``:
    what a server sends to reach clients that lack the root (AddTrust, DST Root X3)."""
    root = fx.anchors()[0]
    old_key = ec.generate_private_key(ec.SECP256R1())
    old_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Old Root CA")])
    return (
        x509.CertificateBuilder()
        .subject_name(root.subject)
        .issuer_name(old_name)
        .public_key(root.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - dt.timedelta(days=3000))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(old_key, hashes.SHA256())
    )


def _with_cross_signed_root(not_after: dt.datetime) -> fx.Edit:
    cross = fx.cert_json(_cross_signed_root(not_after))
    return fx.chain_edit(lambda chain: [*chain, cross])


EXPIRED_CROSS_SIGN = RECORDED_AT - dt.timedelta(days=30)


def test_an_expired_cross_signed_root_off_the_trust_path_passes() -> None:
    facts = fx.facts("good", _with_cross_signed_root(EXPIRED_CROSS_SIGN))
    (deployment,) = facts.deployments
    assert deployment.sent_path == (0, 1, 2)  # the intermediate's issuer links run on to the copy...
    assert deployment.trust.path_found and deployment.validation_path == (0, 1)  # ...clients stop at the anchor
    verdict = CHECKS["tls.cert_expired"].evaluate(facts)
    assert verdict.status is Status.PASS, verdict.detail
    assert "The server also sends 'Platscan Fleet Root CA', which expired on" in str(verdict.detail)
    assert verdict.evidence["expired_off_path"][0]["not_after"].startswith(EXPIRED_CROSS_SIGN.date().isoformat())
    for check_id in ("tls.cert_not_yet_valid", "tls.cert_chain_order", "tls.cert_untrusted", "tls.cert_weak_key"):
        assert CHECKS[check_id].evaluate(facts).status is Status.PASS, check_id


def test_without_a_trust_path_the_sent_path_is_judged() -> None:
    """With no anchor to stop at, a client that trusts the chain's end walks all of it: so do we."""
    facts = fx.facts("good", _with_cross_signed_root(EXPIRED_CROSS_SIGN), trust=())
    (deployment,) = facts.deployments
    assert not deployment.trust.path_found and deployment.validation_path == (0, 1, 2)
    verdict = CHECKS["tls.cert_expired"].evaluate(facts)
    assert verdict.status is Status.FAIL
    assert "The intermediate certificate 'Platscan Fleet Root CA' expired on" in str(verdict.detail)


def test_an_expired_intermediate_on_the_trust_path_still_fails() -> None:
    facts = fx.facts("good")
    (deployment,) = facts.deployments
    intermediate = dataclasses.replace(deployment.chain[1], not_after=RECORDED_AT - dt.timedelta(days=2))
    expired = dataclasses.replace(deployment, chain=(deployment.chain[0], intermediate))
    facts = dataclasses.replace(facts, deployments=(expired,))
    verdict = CHECKS["tls.cert_expired"].evaluate(facts)
    assert verdict.status is Status.FAIL
    assert "The intermediate certificate 'Platscan Fleet Issuing CA' expired" in str(verdict.detail)


def test_a_future_dated_certificate_off_the_trust_path_is_not_judged() -> None:
    not_yet = fx.cert_json(_cross_signed_root(RECORDED_AT + dt.timedelta(days=4000)))  # valid in 1000 days
    facts = fx.facts("good", fx.chain_edit(lambda chain: [*chain, not_yet]))
    assert CHECKS["tls.cert_not_yet_valid"].evaluate(facts).status is Status.PASS
    untrusted = fx.facts("good", fx.chain_edit(lambda chain: [*chain, not_yet]), trust=())
    assert CHECKS["tls.cert_not_yet_valid"].evaluate(untrusted).status is Status.FAIL


def test_weak_key_and_signature_judge_the_trust_path_only() -> None:
    """A stray RSA-1024 certificate sent besides the chain is tls.cert_chain_order's business."""
    weak_leaf = fx.deployment(fx.load("weak"))["received_certificate_chain"][0]
    facts = fx.facts("good", fx.chain_edit(lambda chain: [*chain, weak_leaf]))
    assert CHECKS["tls.cert_weak_key"].evaluate(facts).status is Status.PASS
    assert CHECKS["tls.cert_weak_signature"].evaluate(facts).status is Status.PASS
    assert CHECKS["tls.cert_chain_order"].evaluate(facts).status is Status.FAIL
