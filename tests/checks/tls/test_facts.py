"""From sslyze's JSON model to TlsFacts: fixtures, certificate parsing, trust, host names, suites."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import pickle
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import ValidationError
from sslyze.json.json_output import ServerScanResultAsJson

from checks.tls import trust_path
from checks.tls._collect import TlsTarget, classify_first_bytes, handshake_headers
from checks.tls.certificates import hostname_matches
from checks.tls.ciphers import has_forward_secrecy, key_exchange, weaknesses
from checks.tls.facts import CipherSuite, Connectivity, TlsVersion
from checks.tls.sslyze_adapter import facts_from_sslyze_json
from checks.tls.trust_path import MAX_CHAIN_CERTS, MAX_CHAIN_DEPTH, assess_trust
from scanner.model import Endpoint, Platform
from tests.checks.tls import fixtures as fx
from tests.checks.tls.fixtures import DATA, FIXTURES, RECORDED_AT


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_is_valid_sslyze_json(name: str) -> None:
    """The recorded files are sslyze's own model, unchanged by a round trip through it."""
    doc = fx.load(name)
    assert ServerScanResultAsJson.model_validate(doc).model_dump(mode="json") == doc


def test_every_data_file_is_a_known_fixture() -> None:
    assert {p.stem for p in DATA.glob("*.json")} == set(FIXTURES)


def test_edits_are_validated() -> None:
    def break_it(doc: fx.Doc) -> None:
        fx.result(doc, "heartbleed")["is_vulnerable_to_heartbleed"] = "very"

    with pytest.raises(ValidationError):
        fx.facts("good", break_it)


def test_good_facts() -> None:
    facts = fx.recorded("good")
    assert facts.connectivity.status is Connectivity.OK
    assert (facts.host, facts.address) == ("good.fleet.test", "127.0.0.1")
    assert facts.scanned_at == RECORDED_AT
    assert facts.accepted_versions() == (TlsVersion.TLS_1_2, TlsVersion.TLS_1_3)
    assert facts.highest_version is TlsVersion.TLS_1_3
    assert facts.client_auth == "disabled"
    assert facts.errors == ()
    assert (facts.heartbleed, facts.ccs_injection, facts.compression) == (False, False, False)
    assert (facts.fallback_scsv, facts.secure_renegotiation, facts.client_renegotiation) == (True, True, False)
    assert facts.robot == "NOT_VULNERABLE_RSA_NOT_SUPPORTED"
    tls13 = facts.protocol(TlsVersion.TLS_1_3)
    assert tls13 is not None and all(s.ephemeral and s.ephemeral.kind == "ECDH" for s in tls13.accepted)

    (deployment,) = facts.deployments
    leaf, intermediate = deployment.chain
    assert leaf.subject == "CN=good.fleet.test,O=Platscan Fleet"
    assert leaf.common_name == "good.fleet.test"
    assert leaf.san_dns == ("good.fleet.test",) and leaf.has_san
    assert (leaf.key_type, leaf.key_size, leaf.signature_hash) == ("RSA", 2048, "sha256")
    assert leaf.ca_issuers_urls == ("http://pki.test/int.crt",)
    assert leaf.ocsp_urls == ("http://ocsp.pki.test/",)
    assert not leaf.self_signed and not leaf.is_ca
    assert round(leaf.lifetime_days) == 90
    assert len(leaf.sha256) == 64
    assert intermediate.is_ca and not intermediate.self_signed
    assert leaf.issuer == intermediate.subject
    assert deployment.sent_path == (0, 1) and deployment.extra == () and deployment.in_order
    assert deployment.trust.path_found and deployment.trust.strict_ok
    assert deployment.trust.anchor == "CN=Platscan Fleet Root CA,O=Platscan Fleet"
    assert deployment.ocsp is not None and deployment.ocsp.certificate_status == "GOOD"
    assert "Supplied CA file" in deployment.sslyze_trusted_by


def test_weak_facts() -> None:
    facts = fx.recorded("weak")
    assert facts.accepted_versions() == (TlsVersion.TLS_1_0, TlsVersion.TLS_1_1, TlsVersion.TLS_1_2)
    dhe = [s for _, s in facts.accepted_suites() if s.name.startswith("TLS_DHE_")]
    assert dhe and all(s.ephemeral and (s.ephemeral.kind, s.ephemeral.size) == ("DH", 1024) for s in dhe)
    assert all(s.ephemeral and s.ephemeral.group_valid for s in dhe)  # a real (if small) prime
    leaf = facts.deployments[0].leaf
    assert (leaf.key_size, leaf.signature_hash) == (1024, "sha1")
    trust = facts.deployments[0].trust
    # A path exists (SHA-1 is verified by hand); the strict verifier forbids SHA-1.
    assert trust.path_found and not trust.strict_ok
    assert trust.strict_error and "RsaWithSha1" in trust.strict_error
    assert facts.deployments[0].sslyze_error is not None


def test_self_signed_facts() -> None:
    deployment = fx.recorded("self_signed").deployments[0]
    assert deployment.leaf.self_signed
    assert not deployment.trust.path_found
    assert deployment.trust.reason and "self-signed" in str(deployment.trust.reason)


def test_client_cert_facts() -> None:
    facts = fx.recorded("client_cert")
    assert facts.client_auth == "required"
    error = facts.error_for("session_renegotiation")
    assert error is not None and error.client_certificate_needed
    assert "ClientCertificateRequested" in error.message
    assert facts.secure_renegotiation is None
    assert facts.deployments  # the certificate was still retrieved


@pytest.mark.parametrize(
    ("name", "status", "reason"),
    [
        ("no_tls", Connectivity.HANDSHAKE_FAILED, "No TLS handshake with port 48887 succeeded"),
        ("refused", Connectivity.REFUSED, "Connection refused on port 44365."),
    ],
)
def test_recorded_connectivity_failures(name: str, status: Connectivity, reason: str) -> None:
    facts = fx.recorded(name)
    assert facts.connectivity.status is status
    assert str(facts.connectivity.reason).startswith(reason)
    assert facts.connectivity.error and "sslyze.errors." in facts.connectivity.error
    assert facts.deployments == () and facts.protocols == ()


@pytest.mark.parametrize(
    ("line", "status"),
    [
        ('sslyze.errors.ConnectionToServerTimedOut: a.test:443 -> "Connection to the server timed out".', "timeout"),
        (
            'sslyze.errors.TlsHandshakeTimedOut: a.test:443 -> "Connection to server timed out during the handshake".',
            "timeout",
        ),
        ('sslyze.errors.ServerRejectedTlsHandshake: a.test:443 -> "TLS alert: handshake failure".', "handshake_failed"),
        ('sslyze.errors.ConnectionToServerFailed: a.test:443 -> "Connection to the server failed".', "unreachable"),
        (
            'sslyze.errors.ServerTlsConfigurationNotSupported: a.test:443 -> "WARNING: Server only supports SSL 2.0".',
            "ssl2_only",
        ),
        ("RuntimeError: something unexpected", "error"),
    ],
)
def test_connectivity_trace_classification(line: str, status: str) -> None:
    facts = fx.facts("good", fx.connectivity_error(line))
    assert facts.connectivity.status.value == status
    assert str(facts.connectivity.reason).endswith(".")


def test_facts_pickle_and_are_frozen() -> None:
    facts = fx.recorded("good")
    assert pickle.loads(pickle.dumps(facts)) == facts
    with pytest.raises(dataclasses.FrozenInstanceError):
        facts.host = "x"  # type: ignore[misc]
    # Small enough to travel between processes: the raw sslyze JSON stays behind.
    assert len(pickle.dumps(facts)) < 20_000


def test_facts_need_an_aware_time_and_valid_json() -> None:
    doc = fx.load("good")
    with pytest.raises(ValueError):
        facts_from_sslyze_json(doc, hostname="good.fleet.test", anchors=(), now=dt.datetime(2026, 11, 21))
    del doc["scan_result"]["heartbleed"]
    with pytest.raises(ValueError):
        facts_from_sslyze_json(doc, hostname="good.fleet.test", anchors=(), now=RECORDED_AT)


def test_command_errors_become_facts() -> None:
    facts = fx.facts("good", fx.command_error("certificate_info"), fx.command_error("tls_1_0_cipher_suites"))
    assert facts.deployments == ()
    assert {e.command for e in facts.errors} == {"certificate_info", "tls_1_0_cipher_suites"}
    tls10 = facts.protocol(TlsVersion.TLS_1_0)
    assert tls10 is not None and tls10.supported is None
    assert facts.errors[0].message.startswith("sslyze.errors.ConnectionToServerTimedOut")


# -- trust ----------------------------------------------------------------------------------------


def _good_chain() -> list[x509.Certificate]:
    return [
        x509.load_pem_x509_certificate(c["as_pem"].encode())
        for c in fx.deployment(fx.load("good"))["received_certificate_chain"]
    ]


def test_trust_is_independent_of_time_and_host() -> None:
    chain = _good_chain()
    later = chain[0].not_valid_after_utc + dt.timedelta(days=400)
    trust = assess_trust(chain, fx.anchors(), later)
    assert trust.path_found and trust.strict_ok  # expired, yet the path is fine
    assert trust.validated_at is not None and trust.validated_at <= chain[0].not_valid_after_utc


def test_an_intermediate_can_be_the_anchor() -> None:
    chain = _good_chain()
    trust = assess_trust(chain[:1], [chain[1]], RECORDED_AT)
    assert trust.path_found and trust.anchor == chain[1].subject.rfc4514_string()
    assert trust.path == (0,)


def test_no_anchor_no_path() -> None:
    trust = assess_trust(_good_chain(), [], RECORDED_AT)
    assert not trust.path_found and not trust.strict_ok
    assert str(trust.strict_error) == "no trust anchors available"
    assert trust.reason and "Platscan Fleet Root CA" in str(trust.reason)


def test_a_leaf_cannot_act_as_issuer() -> None:
    """Name chaining alone is not enough: the issuer's key must verify the signature."""
    chain = _good_chain()
    unrelated_root = x509.load_pem_x509_certificate(
        fx.deployment(fx.load("self_signed"))["received_certificate_chain"][0]["as_pem"].encode()
    )
    trust = assess_trust([chain[0], unrelated_root], [unrelated_root], RECORDED_AT)
    assert not trust.path_found


# -- the path search on hostile chains -----------------------------------------------------------------


_LOOP_KEY = ec.generate_private_key(ec.SECP256R1())
_ANCHOR_KEY = ec.generate_private_key(ec.SECP256R1())
_LOOP_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Look-alike CA")])
_ANCHOR_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Path Test Anchor")])


def _strict_cert(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey, signer: ec.EllipticCurvePrivateKey
) -> x509.Certificate:
    """A certificate that cryptography's strict verifier would accept as a CA or (with a SAN) a leaf."""
    is_ca = subject != x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf.path.test")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(RECORDED_AT - dt.timedelta(days=1))
        .not_valid_after(RECORDED_AT + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, is_ca, is_ca, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
    )
    if not is_ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("leaf.path.test")]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(signer, hashes.SHA256())


def _look_alike_chain(count: int, *, cross_signed_at_end: bool) -> tuple[list[x509.Certificate], x509.Certificate]:
    """A leaf, then ``count`` self-signed CA certificates with one name and one key (each verifies every other),
    and, if asked, last, that name and key cross-signed by the anchor; and the anchor."""
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _strict_cert(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf.path.test")]), _LOOP_NAME, leaf_key, _LOOP_KEY
    )
    look_alikes = [_strict_cert(_LOOP_NAME, _LOOP_NAME, _LOOP_KEY, _LOOP_KEY) for _ in range(count)]
    anchor = _strict_cert(_ANCHOR_NAME, _ANCHOR_NAME, _ANCHOR_KEY, _ANCHOR_KEY)
    tail = [_strict_cert(_LOOP_NAME, _ANCHOR_NAME, _LOOP_KEY, _ANCHOR_KEY)] if cross_signed_at_end else []
    return [leaf, *look_alikes, *tail], anchor


@pytest.fixture
def count_signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    real = trust_path.issued_by

    def counting(child: x509.Certificate, issuer: x509.Certificate) -> bool:
        calls[0] += 1
        return real(child, issuer)

    monkeypatch.setattr(trust_path, "issued_by", counting)
    return calls


@pytest.mark.parametrize("cross_signed_at_end", [False, True], ids=["no-path", "path-through-the-last"])
def test_many_look_alike_ca_certificates_are_searched_quickly(
    cross_signed_at_end: bool, count_signature_checks: list[int]
) -> None:
    """12 CA certificates with one name and key: a search without a visited set walks 12! orders of them
    (7 took 1.5 s, 12 would take days), and cryptography's own path builder, given them all, n ** 8."""
    certs, anchor = _look_alike_chain(12, cross_signed_at_end=cross_signed_at_end)
    started = time.perf_counter()
    trust = assess_trust(certs, [anchor], RECORDED_AT)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.25, elapsed
    # Each issuer question asked once at most: (n + 1) ** 2 pairs among the sent certificates, plus anchors.
    assert count_signature_checks[0] <= len(certs) ** 2 + len(certs)
    if cross_signed_at_end:
        assert trust.path_found and trust.strict_ok, trust.strict_error
        assert trust.path == (0, len(certs) - 1)  # the shortest path: straight to the cross-signed copy
        assert trust.anchor == "CN=Path Test Anchor"
    else:
        assert not trust.path_found and not trust.strict_ok
        assert trust.reason and "self-signed certificate 'CN=Look-alike CA'" in str(trust.reason)


def test_only_the_first_sent_certificates_are_considered() -> None:
    certs, anchor = _look_alike_chain(MAX_CHAIN_CERTS, cross_signed_at_end=True)  # the way out is number 21
    started = time.perf_counter()
    trust = assess_trust(certs, [anchor], RECORDED_AT)
    assert time.perf_counter() - started < 0.25
    assert not trust.path_found and trust.search_limited
    assert str(trust.reason) == (
        f"The issuer of 'CN=leaf.path.test' is among the 2 certificates the server sends after the first "
        f"{MAX_CHAIN_CERTS}, and platscan considers only the first {MAX_CHAIN_CERTS}; whether the chain leads to a "
        "trusted anchor is not known."
    )
    shorter, anchor = _look_alike_chain(MAX_CHAIN_CERTS - 2, cross_signed_at_end=True)  # number 19
    assert assess_trust(shorter, [anchor], RECORDED_AT).path_found


def test_paths_are_at_most_max_chain_depth_long() -> None:
    """A ladder of distinct CAs, each issued by the next: found while it fits in MAX_CHAIN_DEPTH, not beyond."""

    def ladder(rungs: int) -> tuple[list[x509.Certificate], x509.Certificate]:
        keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(rungs + 1)]
        names = [x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Rung {i}")]) for i in range(rungs + 1)]
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf = _strict_cert(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf.path.test")]), names[0], leaf_key, keys[0]
        )
        rungs_certs = [_strict_cert(names[i], names[i + 1], keys[i], keys[i + 1]) for i in range(rungs)]
        top = _strict_cert(names[rungs], names[rungs], keys[rungs], keys[rungs])
        return [leaf, *reversed(rungs_certs)], top  # sent in reverse order: the search must not rely on order

    certs, top = ladder(MAX_CHAIN_DEPTH - 1)
    trust = assess_trust(certs, [top], RECORDED_AT)
    assert trust.path_found and len(trust.path) == MAX_CHAIN_DEPTH
    certs, top = ladder(MAX_CHAIN_DEPTH)
    trust = assess_trust(certs, [top], RECORDED_AT)
    assert not trust.path_found and trust.search_limited
    # Every issuer was sent: the reason is the limit, not a missing issuer.
    assert trust.reason and str(trust.reason).startswith(
        f"The chain is longer than {MAX_CHAIN_DEPTH} certificates, platscan's path-length limit;"
    )
    certs, _ = ladder(MAX_CHAIN_DEPTH - 1)
    trust = assess_trust(certs, [], RECORDED_AT)  # within the limit, but the top is no anchor: a real finding
    assert not trust.search_limited and trust.reason
    assert str(trust.reason).startswith("The issuer 'CN=Rung 9' of 'CN=Rung 8' is neither among the certificates sent")


# -- host names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "dns", "ip", "expected"),
    [
        ("portal.dvc.example", ["portal.dvc.example"], [], "portal.dvc.example"),
        ("Portal.DVC.example.", ["portal.dvc.example"], [], "portal.dvc.example"),
        ("portal.dvc.example", ["*.dvc.example"], [], "*.dvc.example"),
        ("dvc.example", ["*.dvc.example"], [], None),  # the wildcard needs a label
        ("a.b.dvc.example", ["*.dvc.example"], [], None),  # ... exactly one
        ("portal.dvc.example", ["p*.dvc.example"], [], None),  # partial-label wildcards are refused
        ("portal.dvc.example", ["portal.*.example"], [], None),  # only the left-most label
        ("dvc.example", ["*.example"], [], None),  # too broad
        ("other.dvc.example", ["portal.dvc.example"], [], None),
        ("cổng.dvc.example", ["xn--cng-qmz.dvc.example"], [], "xn--cng-qmz.dvc.example"),  # IDNA
        ("10.20.0.5", [], ["10.20.0.5"], "10.20.0.5"),
        ("10.20.0.5", ["10.20.0.5"], [], None),  # an IP host needs an IP SAN
        ("[2001:db8::1]", [], ["2001:db8:0:0::1"], "2001:db8:0:0::1"),
        ("portal.dvc.example", [], ["10.20.0.5"], None),
    ],
)
def test_hostname_matches(host: str, dns: list[str], ip: list[str], expected: str | None) -> None:
    assert hostname_matches(host, dns, ip) == expected


def test_no_cn_fallback() -> None:
    facts = fx.facts("good")
    leaf = dataclasses.replace(facts.deployments[0].leaf, san_dns=(), has_san=False)
    facts = dataclasses.replace(facts, deployments=(dataclasses.replace(facts.deployments[0], chain=(leaf,)),))
    from checks.tls.certificates import CertHostnameMismatch

    verdict = CertHostnameMismatch().evaluate(facts)
    assert verdict.status.value == "fail"
    assert "no subjectAltName" in str(verdict.detail) and "ignored the CN" in str(verdict.detail)


# -- cipher suites --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kx", "fs"),
    [
        ("TLS_AES_128_GCM_SHA256", "TLS1.3", True),
        ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE", True),
        ("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "DHE", True),
        ("TLS_RSA_WITH_AES_128_CBC_SHA", "RSA", False),
        ("TLS_RSA_EXPORT_WITH_RC4_40_MD5", "RSA", False),
        ("TLS_DH_RSA_WITH_AES_128_CBC_SHA", "DH", False),
        ("TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA", "ECDH", False),
        ("TLS_DH_anon_WITH_AES_128_CBC_SHA", "DH_anon", True),
        ("SSL_CK_RC4_128_WITH_MD5", "RSA", False),
    ],
)
def test_key_exchange(name: str, kx: str, fs: bool) -> None:
    assert key_exchange(name) == kx
    assert has_forward_secrecy(CipherSuite(name, name, 128, False)) is fs


@pytest.mark.parametrize(
    ("name", "key_size", "anonymous", "expected"),
    [
        ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 128, False, []),
        ("TLS_RSA_WITH_NULL_SHA", 0, False, ["NULL"]),
        ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", 168, False, ["3DES"]),
        ("TLS_RSA_WITH_DES_CBC_SHA", 56, False, ["DES"]),
        ("TLS_RSA_WITH_RC4_128_MD5", 128, False, ["RC4", "MD5"]),
        ("TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", 40, False, ["EXPORT", "DES"]),
        ("TLS_ECDH_anon_WITH_AES_128_CBC_SHA", 128, True, ["anonymous"]),
        ("SSL_CK_DES_192_EDE3_CBC_WITH_MD5", 168, False, ["3DES", "MD5"]),
    ],
)
def test_weaknesses(name: str, key_size: int, anonymous: bool, expected: list[str]) -> None:
    assert weaknesses(CipherSuite(name, name, key_size, anonymous)) == expected


# -- the collector's pure parts -------------------------------------------------------------------


def test_tls_target_for_endpoints() -> None:
    platform = Platform(id="dvc", name="DVC", resolve=(("dvc.nghean.example", "10.20.0.5"),))
    https = Endpoint.for_url(platform, "https://dvc.nghean.example:8443/portal")
    http = Endpoint.for_url(platform, "http://dvc.nghean.example:8080/")
    assert TlsTarget.for_endpoint(https) == TlsTarget("dvc.nghean.example", 8443, "10.20.0.5")
    assert TlsTarget.for_endpoint(http) == TlsTarget("dvc.nghean.example", 443, "10.20.0.5")
    assert TlsTarget.for_endpoint(https).key == ("tls", "dvc.nghean.example", 8443, "10.20.0.5", None, False)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (bytes.fromhex("160303007a020000"), None),  # a handshake record
        (bytes.fromhex("15030100020228"), None),  # an alert: TLS, just not our offer
        (bytes.fromhex("8003000100"), None),  # an SSL 2.0 record header
        (b"", None),
        (b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n", "no_tls"),
        (b"SSH-2.0-OpenSSH_9.2\r\n", "no_tls"),
        (b"\x00\x01\x02\x03\x04\x05\x06\x07", "no_tls"),
    ],
)
def test_classify_first_bytes(data: bytes, status: str | None) -> None:
    facts = classify_first_bytes(data, 443)
    assert (facts.status.value if facts else None) == status


def _record(kind: int, payload: bytes) -> bytes:
    return bytes([kind, 3, 3]) + len(payload).to_bytes(2, "big") + payload


def test_handshake_headers_span_records() -> None:
    """A ServerHello and a Certificate message cut over two records, then an alert: only the headers are read."""
    hello = b"\x02" + (4).to_bytes(3, "big") + b"\x03\x03\x00\x00"
    certificate = b"\x0b" + (200_000).to_bytes(3, "big") + b"\x00" * 10  # only its start has arrived
    flight = hello + certificate
    data = _record(0x16, flight[:6]) + _record(0x16, flight[6:]) + _record(0x15, b"\x02\x28")
    assert handshake_headers(data) == [(2, 4), (11, 200_000)]
    assert handshake_headers(data[:8]) == []  # the first record is not complete yet
    assert handshake_headers(_record(0x15, b"\x02\x46")) == []  # TLS 1.2 refused: an alert, no handshake


def test_evidence_is_json() -> None:
    facts = fx.recorded("weak")
    json.dumps(dataclasses.asdict(facts), default=str)
