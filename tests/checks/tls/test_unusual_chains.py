"""Certificate chains that real servers send and that platscan used to misreport, against real loopback servers.

* a certificate list over the 100 KiB that OpenSSL and BoringSSL clients accept: sslyze's only word for it is
  "no TLS version and cipher suite supported"; the real cause is the size, and it is measured;
* a chain longer than platscan's path-length limit (``MAX_CHAIN_DEPTH``): not "the issuer was not sent";
* a leaf with a negative serial number (RFC 5280 4.1.2.2 forbids it; cryptography warns on stderr today and
  will refuse it in a future release): a fact in ``tls.cert_untrusted``, and nothing on stderr;
* a certificate cryptography refuses to parse (as it will refuse a negative serial): a clear error.

The servers are Python ``ssl`` servers (``scanner.demo.tls_server``) with certificates from the test PKI. One
``platscan scan --only tls`` subprocess scans them all, the way the TLS fleet test does; its stored results are
what most tests judge.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.utils import CryptographyDeprecationWarning

from checks.tls._collect import CLIENT_CERT_LIST_LIMIT, TlsTarget, collect_tls
from checks.tls.base import TlsCheck
from checks.tls.certificate_parser import unparseable_sentence
from checks.tls.facts import UNPARSEABLE_CERTIFICATE, Connectivity
from checks.tls.trust_path import MAX_CHAIN_DEPTH
from scanner.demo.pki import IssuedCert, LeafSpec, Pki, resign
from scanner.demo.tls_server import LOOPBACK, TlsServer, TlsServerConfig
from scanner.plugin import ScanSettings, discover_checks
from tests.checks.tls import fixtures as fx
from tests.fleet.tls_fleet import HEALTHY, MODERN_CIPHERS, TLS_CHECKS, UNSCANNABLE

PLATSCAN = [sys.executable, "-m", "scanner"]
DOMAIN = "limits.test"
#: A leaf this much bigger than the client's limit makes the certificate list too big on its own.
PADDING = CLIENT_CERT_LIST_LIMIT + 8 * 1024
#: A Python-served leaf staples nothing, and these leaves name no OCSP responder: nothing to judge there.
UNSTAPLED = {**HEALTHY, "tls.ocsp_stapling": "skip", "tls.cert_revoked": "skip"}
CERT_CHECKS = [c for c in TLS_CHECKS if c.startswith(("tls.cert_", "tls.ocsp_"))]
#: basicConstraints marked critical, as DER has it (BOOLEAN TRUE is 0xFF) and with BOOLEAN 0x01, which OpenSSL
#: reads as true and cryptography refuses.
CRITICAL_BASIC_CONSTRAINTS = bytes.fromhex("0603551d130101ff")
LAX_BASIC_CONSTRAINTS = bytes.fromhex("0603551d13010101")
CHECKS = [c for c in discover_checks().checks if isinstance(c, TlsCheck)]


def _toml(value: str) -> str:
    return json.dumps(value)  # a JSON string is a TOML basic string


@dataclass(frozen=True)
class Site:
    """One loopback server: its case name, host name, port and the chain it sends (DER, leaf first)."""

    name: str
    port: int
    chain: tuple[bytes, ...]

    @property
    def host(self) -> str:
        return f"{self.name.replace('_', '-')}.{DOMAIN}"

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"


def _spec(name: str, **changes: Any) -> LeafSpec:
    return LeafSpec(hosts=(f"{name.replace('_', '-')}.{DOMAIN}",), ocsp_url=None, **changes)


def _chain_file(pki: Pki, name: str, ders: list[bytes]) -> Path:
    path = pki.directory / f"{name}.chain.pem"
    path.write_text("".join(ssl.DER_cert_to_PEM_cert(der) for der in ders), encoding="ascii")
    return path


def _refused_by_cryptography(pki: Pki, leaf: IssuedCert) -> bytes:
    """``leaf`` with basicConstraints' critical flag encoded as BOOLEAN 0x01 instead of DER's 0xFF, signed again:
    OpenSSL serves and reads it, cryptography refuses to parse it, as it will refuse a negative serial one day."""
    tbs = leaf.cert.tbs_certificate_bytes
    assert tbs.count(CRITICAL_BASIC_CONSTRAINTS) == 1
    return resign(tbs.replace(CRITICAL_BASIC_CONSTRAINTS, LAX_BASIC_CONSTRAINTS), pki.intermediate.key)


def _chains(pki: Pki) -> dict[str, tuple[IssuedCert, list[bytes], ssl.TLSVersion]]:
    """Case name -> (leaf, the chain the server sends as DER, the lowest protocol version it accepts)."""
    tls12, tls13 = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3
    intermediate = pki.intermediate.cert.public_bytes(Encoding.DER)

    def with_intermediate(leaf: IssuedCert) -> list[bytes]:
        return [leaf.cert.public_bytes(Encoding.DER), intermediate]

    huge = pki.issue("huge", _spec("huge", padding_bytes=PADDING))
    long = pki.issue("long_chain", _spec("long_chain"), under=pki.ladder(MAX_CHAIN_DEPTH))
    negative = pki.issue("negative_serial", _spec("negative_serial", negative_serial=True))
    refused = pki.issue("refused", _spec("refused"))
    return {
        "huge": (huge, with_intermediate(huge), tls12),
        "huge_tls13": (huge, with_intermediate(huge), tls13),
        "long_chain": (long, [c.public_bytes(Encoding.DER) for c in pki.chain(long)], tls12),
        "negative_serial": (negative, with_intermediate(negative), tls12),
        "refused": (refused, [_refused_by_cryptography(pki, refused), intermediate], tls12),
    }


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("unusual-pki"), organization="Platscan Limits")


@pytest.fixture(scope="module")
def sites(pki: Pki) -> Iterator[dict[str, Site]]:
    with contextlib.ExitStack() as stack:
        running: dict[str, Site] = {}
        for name, (leaf, ders, minimum) in _chains(pki).items():
            config = TlsServerConfig(
                cert_chain=_chain_file(pki, name, ders),
                key=leaf.key_path,
                minimum_version=minimum,
                ciphers=MODERN_CIPHERS,
            )
            running[name] = Site(name, stack.enter_context(TlsServer(config)).port, tuple(ders))
        yield running


@pytest.fixture(scope="module")
def scanned(sites: dict[str, Site], pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One real ``platscan scan --only tls`` of every site, and its JSON report."""
    workdir = tmp_path_factory.mktemp("unusual-scan")
    lines = [
        "[scan]",
        "timeout = 2",
        "retries = 0",
        "endpoint_timeout = 30",
        f"ca_bundle = {_toml(str(pki.bundle_path))}",
    ]
    for site in sites.values():
        lines += [
            "",
            "[[platforms]]",
            f"id = {_toml(site.name)}",
            f"name = {_toml(f'Unusual chain: {site.name}')}",
            'owner = "Test"',
            "level = 3",
            f"urls = [{_toml(f'https://{site.target}/')}]",
            f"resolve = {{ {_toml(site.host)} = {_toml(LOOPBACK)} }}",
        ]
    targets = workdir / "targets.toml"
    targets.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db, report = workdir / "scan.db", workdir / "report.json"
    scan = subprocess.run(
        [*PLATSCAN, "scan", str(targets), "--db", str(db), "--only", "tls"], capture_output=True, text=True, timeout=180
    )
    assert scan.returncode == 0, scan.stderr
    subprocess.run([*PLATSCAN, "report", "--db", str(db), "-o", str(report)], check=True, timeout=60)
    doc = json.loads(report.read_text())
    results = {
        platform["id"]: {result["check"]: result for result in platform["results"]} for platform in doc["platforms"]
    }
    return {"scan": scan, "results": results}


def _statuses(scanned: dict[str, Any], case: str) -> dict[str, str]:
    return {check: result["status"] for check, result in sorted(scanned["results"][case].items())}


def _detail(scanned: dict[str, Any], case: str, check: str) -> str:
    detail: str = scanned["results"][case][check]["detail"]
    return detail


def _openssl_client_error(site: Site, cafile: Path | None = None) -> ssl.SSLError | None:
    """A handshake with Python's OpenSSL client (verifying against ``cafile`` if given): its error, or None."""
    if cafile is None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cafile=str(cafile))
    try:
        with (
            socket.create_connection((LOOPBACK, site.port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=site.host),
        ):
            return None
    except ssl.SSLError as exc:
        return exc


def test_the_scan_prints_no_warning_and_no_traceback(scanned: dict[str, Any]) -> None:
    stderr = scanned["scan"].stderr
    assert "CryptographyDeprecationWarning" not in stderr, stderr
    assert "Traceback" not in stderr, stderr


# -- a certificate list over the client's limit -------------------------------------------------------------------


def _certificate_message_length(site: Site) -> int:
    """The body of the TLS 1.2 Certificate message that carries ``site.chain``: a 3-byte list length, then each
    certificate with its own 3-byte length."""
    return 3 + sum(3 + len(der) for der in site.chain)


def test_a_certificate_list_over_the_clients_limit_fails_https_available_with_its_size(
    sites: dict[str, Site], scanned: dict[str, Any]
) -> None:
    site = sites["huge"]
    # The premise: a standard OpenSSL client cannot connect, and says why.
    refusal = _openssl_client_error(site)
    assert refusal is not None and refusal.reason == "EXCESSIVE_MESSAGE_SIZE"
    size = _certificate_message_length(site)
    assert size > CLIENT_CERT_LIST_LIMIT

    assert _statuses(scanned, "huge") == {**UNSCANNABLE, "tls.https_available": "fail"}
    cause = (
        f"The server's certificate message (its certificate list) is {size:,} bytes, over the 100 KiB "
        f'({CLIENT_CERT_LIST_LIMIT:,}-byte) limit of OpenSSL and BoringSSL clients (OpenSSL: "excessive message size").'
    )
    available = scanned["results"]["huge"]["tls.https_available"]
    assert available["detail"] == f"Standard TLS clients cannot connect to {site.target}. {cause}"
    assert available["evidence"]["connectivity"] == Connectivity.OVERSIZED_HANDSHAKE.value
    assert f"{size} bytes (limit {CLIENT_CERT_LIST_LIMIT})" in available["evidence"]["error"]
    # Every other check could not run: an error that names the same cause, never a skip or a pass.
    for check in TLS_CHECKS:
        if check != "tls.https_available":
            assert _detail(scanned, "huge", check) == f"Could not scan {site.target}: {cause}", check


def test_a_tls13_only_server_over_the_limit_is_recognised_without_a_size(
    sites: dict[str, Site], scanned: dict[str, Any]
) -> None:
    """TLS 1.3 encrypts the certificate message, so its size cannot be read; OpenSSL's reason still can."""
    site = sites["huge_tls13"]
    assert _statuses(scanned, "huge_tls13") == {**UNSCANNABLE, "tls.https_available": "fail"}
    assert _detail(scanned, "huge_tls13", "tls.https_available") == (
        f"Standard TLS clients cannot connect to {site.target}. OpenSSL refuses the server's handshake with "
        '"excessive message size": one of its handshake messages is larger than OpenSSL clients accept; normally '
        f"that is the certificate list, over the 100 KiB ({CLIENT_CERT_LIST_LIMIT:,}-byte) limit of OpenSSL and "
        "BoringSSL clients."
    )


# -- a chain longer than the path-length limit ----------------------------------------------------------------------


def test_a_chain_longer_than_the_path_length_limit_names_the_limit(
    sites: dict[str, Site], pki: Pki, scanned: dict[str, Any]
) -> None:
    site = sites["long_chain"]
    assert len(site.chain) == MAX_CHAIN_DEPTH + 1
    # The premise: the chain is complete and valid; OpenSSL (verify depth 100) trusts it.
    assert _openssl_client_error(site, pki.bundle_path) is None

    undecided = {"tls.cert_untrusted": "error", "tls.cert_chain_incomplete": "error"}
    assert _statuses(scanned, "long_chain") == {**UNSTAPLED, **undecided}
    limit = (
        f"The chain is longer than {MAX_CHAIN_DEPTH} certificates, platscan's path-length limit; platscan does not "
        f"follow it further (the server sends {len(site.chain)}), so whether it leads to a trusted anchor is not known."
    )
    assert (
        _detail(scanned, "long_chain", "tls.cert_untrusted") == f"Could not judge whether the chain is trusted: {limit}"
    )
    incomplete = _detail(scanned, "long_chain", "tls.cert_chain_incomplete")
    assert incomplete == f"Could not judge whether the chain is complete: {limit}"
    for result in scanned["results"]["long_chain"].values():
        assert "not sent" not in result["detail"] and "neither among" not in result["detail"], result


# -- a negative serial number ---------------------------------------------------------------------------------------


def test_a_negative_serial_is_a_finding_of_cert_untrusted(scanned: dict[str, Any]) -> None:
    assert _statuses(scanned, "negative_serial") == {**UNSTAPLED, "tls.cert_untrusted": "warn"}
    result = scanned["results"]["negative_serial"]["tls.cert_untrusted"]
    (bad,) = result["evidence"]["serial_not_positive"]
    assert bad["serial"].startswith("-")
    assert result["detail"].startswith(
        f"The certificate has a negative serial number (hex {bad['serial']}), which RFC 5280 (section 4.1.2.2) "
        "forbids: a serial number must be a positive integer. The chain leads to the trusted anchor "
    )
    assert "a strict RFC 5280 verifier rejects it" in result["detail"]
    assert any("negative" in warning for warning in result["evidence"]["parse_warnings"])
    assert result["severity"] == "medium"


def test_collecting_a_negative_serial_leaks_no_warning(sites: dict[str, Site], pki: Pki) -> None:
    """In-process, with every warning shown each time: sslyze's threads and the facts parse the serial many times."""
    site = sites["negative_serial"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        facts = collect_tls(
            TlsTarget(site.host, site.port, LOOPBACK), ScanSettings(timeout=2, retries=0, ca_bundle=pki.bundle_path)
        )
    assert [w for w in caught if issubclass(w.category, CryptographyDeprecationWarning)] == []
    (deployment,) = facts.deployments
    assert not deployment.leaf.serial_positive and deployment.leaf.parse_warnings


# -- a certificate cryptography refuses -----------------------------------------------------------------------------


def test_a_certificate_cryptography_refuses_is_a_clear_error(sites: dict[str, Site], scanned: dict[str, Any]) -> None:
    site = sites["refused"]
    # The premise: OpenSSL serves it and a client connects; cryptography refuses to parse it.
    assert _openssl_client_error(site) is None
    with pytest.raises(ValueError, match="error parsing asn1 value"):
        x509.load_der_x509_certificate(site.chain[0])

    # ROBOT would parse the leaf too, but these servers offer no RSA key exchange, so it has nothing to test.
    unjudged = {check: "error" for check in CERT_CHECKS}
    assert _statuses(scanned, "refused") == {**HEALTHY, **unjudged}
    for check in unjudged:
        detail = _detail(scanned, "refused", check)
        assert detail.startswith(
            "Could not judge: A certificate the server sent cannot be parsed: the cryptography library refuses it "
            "(ValueError: error parsing asn1 value"
        ), (check, detail)
        assert scanned["results"]["refused"][check]["evidence"]["failed_commands"][0]["reason"] == (
            UNPARSEABLE_CERTIFICATE
        )


def test_a_certificate_the_facts_cannot_parse_is_an_error_not_a_crash(sites: dict[str, Site]) -> None:
    """sslyze parsed the chain, but the facts cannot (a cryptography that refuses what it only warned about when
    sslyze ran): the certificate checks are errors that say so, the others are judged."""
    refused = ssl.DER_cert_to_PEM_cert(sites["refused"].chain[0])

    def serve_the_refused_leaf(doc: fx.Doc) -> None:
        fx.deployment(doc)["received_certificate_chain"][0]["as_pem"] = refused

    facts = fx.facts("good", serve_the_refused_leaf)
    assert facts.deployments == ()
    error = facts.error_for("certificate_info")
    assert error is not None and error.unparseable_certificate
    assert str(error.message).startswith("The certificate the server sent cannot be parsed: the cryptography library")
    for check in CHECKS:
        verdict = check.evaluate(facts)
        assert verdict.status.value == ("error" if check.id in CERT_CHECKS else "pass"), (check.id, verdict.detail)
        if check.id in CERT_CHECKS:
            assert str(verdict.detail) == f"Could not judge: {error.message}"


def test_a_refused_serial_number_is_explained() -> None:
    error = 'error parsing asn1 value: ParseError { kind: InvalidValue, location: ["TbsCertificate::serial"] }'
    assert str(unparseable_sentence("The certificate", error)).endswith(
        "Its serial number is malformed or not positive, which RFC 5280 (section 4.1.2.2) forbids: a serial number "
        "must be a positive integer."
    )
