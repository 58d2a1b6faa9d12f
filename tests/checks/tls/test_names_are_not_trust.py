"""A certificate's names are not its trust: against real loopback TLS servers with leaves from the test CA.

A leaf from the trusted CA that does not name the host is ``tls.cert_hostname_mismatch``'s finding and nobody
else's: ``tls.cert_untrusted`` passes, and the HTTP client names the cause (the host name), not trust. Host names
with an underscore are legal in DNS; cryptography's verifier (which sslyze uses) refuses them, so the collector
fetches the chains itself, and every certificate check still judges them. The whole path runs through the CLI too,
with such a host registered in a targets file.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from checks.http._collect import HttpTarget, collect_http
from checks.http.client import CERTIFICATE_NOT_FOR_HOST, certificate_refused
from checks.http.facts import HttpFacts
from checks.http.headers import Hsts
from checks.tls import certificates
from checks.tls._collect import TlsTarget, collect_tls
from checks.tls.certificates import CertificateCheck
from checks.tls.facts import TlsFacts
from scanner.demo.pki import LeafSpec, OcspStatus, Pki
from scanner.demo.tls_server import LOOPBACK, TlsServer, TlsServerConfig
from scanner.model import Platform, Status
from scanner.plugin import ScanSettings
from tests.fleet.nginx import NginxFleet, NginxSite
from tests.fleet.tls_fleet import MODERN_CIPHERS

CERTIFICATE_CHECKS: tuple[type[CertificateCheck], ...] = tuple(
    sorted(
        (
            c
            for c in vars(certificates).values()
            if inspect.isclass(c) and issubclass(c, CertificateCheck) and not inspect.isabstract(c)
        ),
        key=lambda c: c.id,
    )
)
#: What a Python-served leaf from the test CA gets when nothing is wrong: Python's ssl staples no OCSP response.
HEALTHY = {c.id: "pass" for c in CERTIFICATE_CHECKS} | {"tls.ocsp_stapling": "fail", "tls.cert_revoked": "skip"}
HSTS = {"Strict-Transport-Security": "max-age=31536000"}


@dataclass(frozen=True)
class Case:
    """A leaf issued for ``san`` served for ``host``; ``hostname`` is the verdict of the host-name check.
    Without ``has_san`` the leaf has no subjectAltName at all (its CN is ``san[0]``)."""

    name: str
    host: str
    san: tuple[str, ...]
    hostname: str
    has_san: bool = True

    @property
    def expect(self) -> dict[str, str]:
        return HEALTHY | {"tls.cert_hostname_mismatch": self.hostname}


CASES = (
    Case("other-name", "portal.names.test", ("other.names.test",), "fail"),
    Case("underscore", "my_portal.nghean.example", ("my_portal.nghean.example",), "pass"),
    Case("underscore-san-elsewhere", "portal.nghean.example", ("my_portal.nghean.example",), "fail"),
    Case("wildcard", "portal.names.test", ("*.names.test",), "pass"),
    Case("wildcard-two-labels", "a.portal.names.test", ("*.names.test",), "fail"),
    Case("wildcard-apex", "names.test", ("*.names.test",), "fail"),
    # Browsers accept it, OpenSSL's host-name check does not: a warning that says so.
    Case("wildcard-underscore", "my_portal.names.test", ("*.names.test",), "warn"),
    # Names nothing (clients ignore the CN): a host-name finding, not a trust one.
    Case("no-san", "portal.names.test", ("portal.names.test",), "fail", has_san=False),
)


@dataclass(frozen=True)
class Scanned:
    case: Case
    tls: TlsFacts
    http: HttpFacts


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("names-pki"), organization="Platscan Names Test")


def _server(pki: Pki, case: Case) -> TlsServer:
    leaf = pki.issue(case.name.replace("-", "_"), LeafSpec(hosts=case.san))
    chain = pki.write_chain(leaf)
    if not case.has_san:
        chain = chain.with_name(f"{leaf.name}.no-san.pem")
        chain.write_bytes(_without_san(leaf.cert, pki) + pki.intermediate.cert.public_bytes(Encoding.PEM))
    config = TlsServerConfig(cert_chain=chain, key=leaf.key_path, ciphers=MODERN_CIPHERS, headers=HSTS)
    return TlsServer(config)


def _without_san(cert: x509.Certificate, pki: Pki) -> bytes:
    """``cert`` issued again by the same intermediate, with every extension but the subjectAltName (PEM)."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(cert.subject)
        .issuer_name(cert.issuer)
        .public_key(cert.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(cert.not_valid_before_utc)
        .not_valid_after(cert.not_valid_after_utc)
    )
    for extension in cert.extensions:
        if not isinstance(extension.value, x509.SubjectAlternativeName):
            builder = builder.add_extension(extension.value, extension.critical)
    return builder.sign(pki.intermediate.key, hashes.SHA256()).public_bytes(Encoding.PEM)


def _settings(pki: Pki) -> ScanSettings:
    return ScanSettings(timeout=2, retries=0, ca_bundle=pki.bundle_path)


@pytest.fixture(scope="module")
def scanned(pki: Pki) -> dict[str, Scanned]:
    found = {}
    for case in CASES:
        with _server(pki, case) as server:
            tls = collect_tls(TlsTarget(case.host, server.port, LOOPBACK), _settings(pki))
            url = f"https://{case.host}:{server.port}/"
            platform = Platform(id="names", name="Names", urls=(url,), resolve=((case.host, LOOPBACK),))
            http = collect_http(HttpTarget(url, platform), _settings(pki), 20.0)
        found[case.name] = Scanned(case, tls, http)
    return found


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_only_the_host_name_check_judges_the_names(scanned: dict[str, Scanned], case: Case) -> None:
    facts = scanned[case.name].tls
    assert facts.deployments, facts.errors
    verdicts = {c.id: c().evaluate(facts) for c in CERTIFICATE_CHECKS}
    got = {check: verdict.status.value for check, verdict in verdicts.items()}
    assert got == case.expect, {c: v.detail for c, v in verdicts.items() if got[c] != case.expect[c]}
    mismatch = str(verdicts["tls.cert_hostname_mismatch"].detail)
    assert case.host in mismatch


def test_a_host_cryptography_refuses_is_judged_from_the_chains_the_collector_fetched(
    scanned: dict[str, Scanned],
) -> None:
    facts = scanned["underscore"].tls
    (deployment,) = facts.deployments
    assert not facts.errors
    assert deployment.sslyze_error is not None and "refuses 'my_portal.nghean.example'" in deployment.sslyze_error
    assert deployment.leaf.san_dns == ("my_portal.nghean.example",)
    assert deployment.trust.path_found and deployment.trust.strict_ok
    # sslyze validates every other host itself.
    assert scanned["other-name"].tls.deployments[0].sslyze_error is not None
    assert "refuses" not in (scanned["other-name"].tls.deployments[0].sslyze_error or "")


def test_the_wildcard_over_an_underscore_says_who_refuses_it(scanned: dict[str, Scanned]) -> None:
    verdict = certificates.CertHostnameMismatch().evaluate(scanned["wildcard-underscore"].tls)
    detail = str(verdict.detail)
    assert detail.startswith("The certificate covers my_portal.names.test only through the wildcard *.names.test")
    assert "OpenSSL" in detail
    # ... and it is true: the HTTP client, on OpenSSL, refused the name.
    (problem,) = (str(why) for _, why in scanned["wildcard-underscore"].http.tls_problems)
    assert CERTIFICATE_NOT_FOR_HOST in problem


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_http_client_names_a_name_mismatch_as_such(scanned: dict[str, Scanned], case: Case) -> None:
    http = scanned[case.name].http
    hsts = Hsts().judge(http)
    if case.hostname == "pass":
        assert http.tls_problems == ()
        assert hsts.status == Status.PASS, hsts.detail
        return
    (problem,) = (str(why) for _, why in http.tls_problems)
    assert f"({CERTIFICATE_NOT_FOR_HOST}: Hostname mismatch" in problem, problem
    assert certificate_refused(problem)  # still the certificate's problem: no body goes there
    assert hsts.status == Status.WARN
    assert "not trusted" not in str(hsts.detail) and CERTIFICATE_NOT_FOR_HOST in str(hsts.detail)


def test_a_stapled_response_is_read_from_the_fetched_chain(pki: Pki, tmp_path: Path) -> None:
    host = "my_portal.staple.test"
    leaf = pki.issue("staple_underscore", LeafSpec(hosts=(host,)))
    staple = pki.write_ocsp_response(leaf, OcspStatus.REVOKED)
    site = NginxSite(
        name="staple",
        server_name=host,
        directives=(
            f"ssl_certificate {pki.write_chain(leaf)}",
            f"ssl_certificate_key {leaf.key_path}",
            "ssl_protocols TLSv1.2 TLSv1.3",
            "ssl_stapling on",
            f"ssl_stapling_file {staple}",
        ),
    )
    with NginxFleet(tmp_path / "nginx", [site]) as nginx:
        facts = collect_tls(TlsTarget(host, nginx.ports["staple"], LOOPBACK), _settings(pki))
    (deployment,) = facts.deployments
    assert deployment.ocsp is not None and deployment.ocsp.certificate_status == "REVOKED"
    assert certificates.CertRevoked().evaluate(facts).status == Status.FAIL
    assert certificates.OcspStapling().evaluate(facts).status == Status.PASS


# -- the whole path: a targets file, `platscan scan`, `platscan report --format json` --------------------------

PLATSCAN = [sys.executable, "-m", "scanner"]
CLI_CASES = ("underscore", "other-name", "wildcard-underscore")
CLI_CHECKS = ("tls.cert_hostname_mismatch", "tls.cert_untrusted", "http.hsts")


@pytest.fixture(scope="module")
def reported(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("names-cli")
    by_name = {c.name: c for c in CASES}
    servers = [_server(pki, by_name[name]) for name in CLI_CASES]
    for server in servers:
        server.start()
    try:
        lines = ["[scan]", "timeout = 2", "retries = 0", f"ca_bundle = {json.dumps(str(pki.bundle_path))}"]
        for name, server in zip(CLI_CASES, servers, strict=True):
            host = by_name[name].host
            lines += [
                "",
                "[[platforms]]",
                f'id = "{name}"',
                f'name = "Names case {name}"',
                'owner = "Test"',
                "level = 3",
                f'urls = ["https://{host}:{server.port}/"]',
                f'resolve = {{ "{host}" = "{LOOPBACK}" }}',
            ]
        targets = workdir / "targets.toml"
        targets.write_text("\n".join(lines) + "\n", encoding="utf-8")
        db = workdir / "scan.db"
        scan = subprocess.run(
            [*PLATSCAN, "scan", str(targets), "--db", str(db), "--only", ",".join(CLI_CHECKS), "--quiet"],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert scan.returncode == 0, scan.stderr
        report = workdir / "report.json"
        subprocess.run([*PLATSCAN, "report", "--db", str(db), "--format", "json", "-o", str(report)], check=True)
        yield json.loads(report.read_text())
    finally:
        for server in servers:
            server.stop()


def test_an_underscore_host_is_registered_and_judged_end_to_end(reported: dict[str, Any]) -> None:
    statuses = {
        platform["id"]: {r["check"]: r["status"] for r in platform["results"]} for platform in reported["platforms"]
    }
    assert statuses == {
        "underscore": {"tls.cert_hostname_mismatch": "pass", "tls.cert_untrusted": "pass", "http.hsts": "pass"},
        "other-name": {"tls.cert_hostname_mismatch": "fail", "tls.cert_untrusted": "pass", "http.hsts": "warn"},
        "wildcard-underscore": {
            "tls.cert_hostname_mismatch": "warn",
            "tls.cert_untrusted": "pass",
            "http.hsts": "warn",
        },
    }
