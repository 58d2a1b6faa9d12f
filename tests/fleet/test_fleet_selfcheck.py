"""The fleet is what it claims: checked with Python's own ssl/socket and the openssl CLI, not the scanner."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
import time
import tomllib
import warnings
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dh, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from scanner.demo.fleet import DEMO_PLATFORMS, DemoFleet
from scanner.demo.pki import (
    EXPIRED,
    ChainLayout,
    IssuerKind,
    KeyType,
    LeafSpec,
    OcspStatus,
    Pki,
    SignatureHash,
)
from scanner.demo.tls_server import SilentServer, TlsServer, TlsServerConfig
from tests.fleet.nginx import NginxFleet, NginxSite
from tests.fleet.tls_fleet import CASES, Backend, FleetEndpoint, TlsFleet, start_tls_fleet

OPENSSL = shutil.which("openssl")
STATUSES = {"pass", "fail", "warn", "skip", "error"}


# -- helpers --------------------------------------------------------------------------------------


def verifying_context(bundle: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(bundle))


def lenient_context(
    minimum: ssl.TLSVersion | None = None, maximum: ssl.TLSVersion | None = None, ciphers: str = "ALL:@SECLEVEL=0"
) -> ssl.SSLContext:
    """No verification, everything OpenSSL can do (TLS 1.0, NULL suites, small keys)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers(ciphers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = minimum or ssl.TLSVersion.TLSv1
        if maximum is not None:
            ctx.maximum_version = maximum
    return ctx


def fetch(
    endpoint: FleetEndpoint, ctx: ssl.SSLContext, timeout: float = 3.0, at: str | None = None
) -> tuple[str, str, bytes, bytes]:
    """TLS handshake with SNI = the endpoint's host, GET /; returns (version, cipher, peer DER, response).
    ``at``: the loopback address it listens on, when not 127.0.0.1 (the demo's webmail)."""
    with (
        socket.create_connection((at, endpoint.port) if at else endpoint.address, timeout=timeout) as raw,
        ctx.wrap_socket(raw, server_hostname=endpoint.host) as tls,
    ):
        request = f"GET / HTTP/1.1\r\nHost: {endpoint.host}\r\nConnection: close\r\n\r\n"
        tls.sendall(request.encode())
        response = b""
        while chunk := tls.recv(65536):
            response += chunk
        version, cipher = tls.version(), tls.cipher()
        der = tls.getpeercert(binary_form=True)
        assert version and cipher and der
        return version, cipher[0], der, response


def peer_cert(endpoint: FleetEndpoint) -> x509.Certificate:
    return x509.load_der_x509_certificate(fetch(endpoint, lenient_context())[2])


def s_client(endpoint: FleetEndpoint, *args: str) -> str:
    assert OPENSSL, "openssl CLI missing"
    command = [OPENSSL, "s_client", "-connect", f"127.0.0.1:{endpoint.port}", "-servername", endpoint.host]
    done = subprocess.run(
        [*command, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10, check=False
    )
    return done.stdout + done.stderr


def verify_code(endpoint: FleetEndpoint, bundle: Path) -> int:
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        fetch(endpoint, verifying_context(bundle))
    return info.value.verify_code


# -- PKI ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


def test_normal_leaf_passes_the_strict_rfc5280_verifier(pki: Pki) -> None:
    leaf = pki.issue("strict", LeafSpec(hosts=("strict.fleet.test", "127.0.0.1")))
    for subject in (x509.DNSName("strict.fleet.test"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))):
        verifier = PolicyBuilder().store(Store([pki.root.cert])).build_server_verifier(subject)
        chain = verifier.verify(leaf.cert, [pki.intermediate.cert])
        assert chain == [leaf.cert, pki.intermediate.cert, pki.root.cert]
    assert 0 < leaf.cert.serial_number < 2**159
    assert leaf.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical is False
    assert leaf.cert.extensions.get_extension_for_class(x509.BasicConstraints).critical is True
    assert leaf.cert.extensions.get_extension_for_class(x509.KeyUsage).critical is True
    aia = leaf.cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert {d.access_location.value for d in aia} == {"http://pki.test/int.crt", "http://ocsp.pki.test/"}
    assert leaf.cert.not_valid_after_utc - leaf.cert.not_valid_before_utc == dt.timedelta(days=90)


@pytest.mark.parametrize(
    "spec",
    [
        LeafSpec(hosts=("ec.fleet.test",), key_type=KeyType.EC_P256),
        LeafSpec(hosts=("ec384.fleet.test",), key_type=KeyType.EC_P384, must_staple=True),
        LeafSpec(hosts=("direct.fleet.test",), issuer=IssuerKind.ROOT),
    ],
)
def test_leaf_variants_verify(pki: Pki, spec: LeafSpec) -> None:
    leaf = pki.issue("variant", spec)
    verifier = PolicyBuilder().store(Store([pki.root.cert])).build_server_verifier(x509.DNSName(spec.hosts[0]))
    verifier.verify(leaf.cert, list(leaf.intermediates))


def test_flawed_leaves_fail_the_verifier(pki: Pki) -> None:
    store = Store([pki.root.cert])
    expired = pki.issue("expired", LeafSpec(hosts=("expired.fleet.test",), validity=EXPIRED))
    rogue = pki.issue("rogue-leaf", LeafSpec(hosts=("rogue.fleet.test",), issuer=IssuerKind.ROGUE))
    with pytest.raises(VerificationError, match="not valid"):
        PolicyBuilder().store(store).build_server_verifier(x509.DNSName("expired.fleet.test")).verify(
            expired.cert, [pki.intermediate.cert]
        )
    with pytest.raises(VerificationError):
        PolicyBuilder().store(store).build_server_verifier(x509.DNSName("rogue.fleet.test")).verify(
            rogue.cert, [pki.rogue.cert]
        )


def test_sha1_leaf_is_properly_signed_with_sha1(pki: Pki) -> None:
    leaf = pki.issue("sha1", LeafSpec(hosts=("sha1.fleet.test",), signature_hash=SignatureHash.SHA1))
    assert isinstance(leaf.cert.signature_hash_algorithm, hashes.SHA1)
    issuer_key = pki.intermediate.cert.public_key()
    assert isinstance(issuer_key, rsa.RSAPublicKey)
    issuer_key.verify(leaf.cert.signature, leaf.cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA1())
    assert OPENSSL
    untrusted = ("-untrusted", str(pki.intermediate.cert_path), str(leaf.cert_path))
    done = subprocess.run(
        [OPENSSL, "verify", "-auth_level", "0", "-CAfile", str(pki.bundle_path), *untrusted],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_chain_files_and_ocsp_responses(pki: Pki) -> None:
    leaf = pki.issue("chained", LeafSpec(hosts=("chained.fleet.test",)))
    layouts = {
        ChainLayout.LEAF: [leaf.cert],
        ChainLayout.FULL: [leaf.cert, pki.intermediate.cert],
        ChainLayout.WITH_ROOT: [leaf.cert, pki.intermediate.cert, pki.root.cert],
        ChainLayout.OUT_OF_ORDER: [leaf.cert, pki.root.cert, pki.intermediate.cert],
        ChainLayout.EXTRA: [leaf.cert, pki.intermediate.cert, pki.rogue.cert],
    }
    for layout, certs in layouts.items():
        assert x509.load_pem_x509_certificates(pki.write_chain(leaf, layout).read_bytes()) == certs
    assert x509.load_pem_x509_certificates(pki.bundle_path.read_bytes()) == [pki.root.cert]
    for status, expected in (
        (OcspStatus.GOOD, ocsp.OCSPCertStatus.GOOD),
        (OcspStatus.REVOKED, ocsp.OCSPCertStatus.REVOKED),
    ):
        response = ocsp.load_der_ocsp_response(pki.write_ocsp_response(leaf, status).read_bytes())
        assert response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
        assert response.certificate_status is expected
        assert response.serial_number == leaf.cert.serial_number
        assert response.certificates == [pki.intermediate.cert]


def test_dh_params_are_the_weak_1024_bit_group(pki: Pki) -> None:
    params = pki.write_dh_params(1024).read_bytes()
    from cryptography.hazmat.primitives.serialization import load_pem_parameters

    loaded = load_pem_parameters(params)
    assert isinstance(loaded, dh.DHParameters)
    assert loaded.parameter_numbers().p.bit_length() == 1024


def test_pki_is_fast(tmp_path: Path) -> None:
    started = time.perf_counter()
    fresh = Pki.create(tmp_path)
    for index in range(20):
        fresh.issue(f"leaf{index}", LeafSpec(hosts=(f"l{index}.fleet.test",)))
    assert time.perf_counter() - started < 2.0


# -- the TLS fleet --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsFleet]:
    with start_tls_fleet(tmp_path_factory.mktemp("fleet")) as running:
        yield running


def test_cases_are_well_formed() -> None:
    check_ids = {ep.name for ep in entry_points(group="platscan.checks")}
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))
    for case in CASES:
        assert case.expect, case.name
        assert set(case.expect.values()) <= STATUSES, case.name
        breaks = {"fail", "error"} & set(case.expect.values())
        assert breaks if case.name != "good" else not breaks, case.name
        if check_ids:  # the catalogue is registered through entry points
            assert set(case.expect) <= check_ids, f"{case.name}: {set(case.expect) - check_ids}"


def test_targets_file(fleet: TlsFleet) -> None:
    data = tomllib.loads(fleet.write_targets().read_text(encoding="utf-8"))
    assert data["scan"]["timeout"] == 3
    assert Path(data["scan"]["ca_bundle"]).read_bytes() == fleet.pki.bundle_path.read_bytes()
    platforms = {p["id"]: p for p in data["platforms"]}
    assert list(platforms) == [e.name for e in fleet.endpoints]
    good = platforms["good"]
    assert good["urls"] == [f"https://good.fleet.test:{fleet['good'].port}/"]
    assert good["resolve"] == {"good.fleet.test": "127.0.0.1"}
    assert good["level"] == 3 and good["owner"] == "Test"


def test_good_is_tls13_verified_and_staples_a_good_response(fleet: TlsFleet) -> None:
    version, _, _, response = fetch(fleet["good"], verifying_context(fleet.ca_bundle))
    assert version == "TLSv1.3"
    assert response.startswith(b"HTTP/1.1 200")
    _, cipher12, _, _ = fetch(fleet["good"], lenient_context(maximum=ssl.TLSVersion.TLSv1_2))
    assert cipher12.startswith("ECDHE-") and ("GCM" in cipher12 or "CHACHA20" in cipher12)
    with pytest.raises(ssl.SSLError):
        fetch(fleet["good"], lenient_context(maximum=ssl.TLSVersion.TLSv1_1))
    out = s_client(fleet["good"], "-status", "-CAfile", str(fleet.ca_bundle))
    assert "Cert Status: good" in out and "Verify return code: 0 (ok)" in out


def test_revoked_staples_a_revoked_response(fleet: TlsFleet) -> None:
    out = s_client(fleet["revoked"], "-status", "-CAfile", str(fleet.ca_bundle))
    assert "OCSP Response Status: successful" in out and "Cert Status: revoked" in out


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_legacy_speaks_tls10_and_tls11(fleet: TlsFleet, version: ssl.TLSVersion) -> None:
    negotiated, _, _, response = fetch(fleet["legacy"], lenient_context(version, version))
    assert negotiated == {ssl.TLSVersion.TLSv1: "TLSv1", ssl.TLSVersion.TLSv1_1: "TLSv1.1"}[version]
    assert response.startswith(b"HTTP/1.1 200")


def test_protocol_only_endpoints(fleet: TlsFleet) -> None:
    assert fetch(fleet["tls13_only"], verifying_context(fleet.ca_bundle))[0] == "TLSv1.3"
    with pytest.raises(ssl.SSLError):
        fetch(fleet["tls13_only"], lenient_context(maximum=ssl.TLSVersion.TLSv1_2))
    assert fetch(fleet["tls12_only"], verifying_context(fleet.ca_bundle))[0] == "TLSv1.2"


@pytest.mark.parametrize(
    ("name", "cipher"),
    [
        ("null_cipher", "ECDHE-RSA-NULL-SHA"),
        ("no_fs", "AES128-GCM-SHA256"),
        ("cbc", "ECDHE-RSA-AES128-SHA256"),
        ("small_dh", "DHE-RSA-AES128-GCM-SHA256"),
    ],
)
def test_weak_suites_are_accepted(fleet: TlsFleet, name: str, cipher: str) -> None:
    ctx = lenient_context(maximum=ssl.TLSVersion.TLSv1_2, ciphers=f"{cipher}:@SECLEVEL=0")
    assert fetch(fleet[name], ctx)[1] == cipher


def test_no_fs_refuses_ecdhe_and_small_dh_uses_1024_bits(fleet: TlsFleet) -> None:
    with pytest.raises(ssl.SSLError):
        fetch(fleet["no_fs"], lenient_context(maximum=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE:DHE:@SECLEVEL=0"))
    out = s_client(fleet["small_dh"], "-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0")
    assert "Server Temp Key: DH, 1024 bits" in out


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("expired", 10),  # X509_V_ERR_CERT_HAS_EXPIRED
        ("not_yet_valid", 9),  # X509_V_ERR_CERT_NOT_YET_VALID
        ("wrong_host", 62),  # X509_V_ERR_HOSTNAME_MISMATCH
        ("self_signed", 18),  # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
        ("untrusted_root", 19),  # X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
        ("missing_intermediate", 20),  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    ],
)
def test_certificate_failures(fleet: TlsFleet, name: str, code: int) -> None:
    assert verify_code(fleet[name], fleet.ca_bundle) == code


def test_certificate_properties(fleet: TlsFleet) -> None:
    now = dt.datetime.now(dt.UTC)
    expiring = peer_cert(fleet["expiring"])
    assert dt.timedelta(days=9) < expiring.not_valid_after_utc - now <= dt.timedelta(days=10)
    long_lived = peer_cert(fleet["long_lifetime"])
    assert long_lived.not_valid_after_utc - long_lived.not_valid_before_utc == dt.timedelta(days=800)
    weak = peer_cert(fleet["rsa1024"]).public_key()
    assert isinstance(weak, rsa.RSAPublicKey) and weak.key_size == 1024
    assert isinstance(peer_cert(fleet["sha1"]).signature_hash_algorithm, hashes.SHA1)
    assert peer_cert(fleet["wrong_host"]).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.DNSName) == ["other.fleet.test"]
    # these are only weak, not broken: a verifying client still accepts them
    for name in ("expiring", "long_lifetime", "chain_order"):
        assert fetch(fleet[name], verifying_context(fleet.ca_bundle))[3].startswith(b"HTTP/1.1 200")


def test_sent_chains(fleet: TlsFleet) -> None:
    def subjects(name: str) -> list[str]:
        out = s_client(fleet[name], "-showcerts")
        return [line.split("s:", 1)[1] for line in out.splitlines() if line.startswith(" ") and " s:" in line]

    assert len(subjects("missing_intermediate")) == 1
    order = subjects("chain_order")
    assert len(order) == 3 and "Root CA" in order[1] and "Issuing CA" in order[2]
    rogue = subjects("untrusted_root")
    assert len(rogue) == 2 and "Rogue Root CA" in rogue[1]


def test_client_cert_is_required(fleet: TlsFleet) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError)):
        fetch(fleet["client_cert"], verifying_context(fleet.ca_bundle))
    ctx = verifying_context(fleet.ca_bundle)
    ctx.load_cert_chain(str(fleet.client_cert), str(fleet.client_key))
    assert fetch(fleet["client_cert"], ctx)[3].startswith(b"HTTP/1.1 200")


def test_plain_http_closed_silent_trickle(fleet: TlsFleet) -> None:
    with socket.create_connection(fleet["plain_http"].address, timeout=2) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: plain-http.fleet.test\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 200 OK")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(fleet["closed"].address, timeout=2).close()
    with socket.create_connection(fleet["silent"].address, timeout=1) as sock:
        sock.sendall(b"\x16\x03\x01\x00\x05hello")
        with pytest.raises(TimeoutError):
            sock.recv(1)
    with socket.create_connection(fleet["trickle"].address, timeout=1.5) as sock:
        sock.sendall(b"\x16\x03\x01\x00\x05hello")
        assert sock.recv(16) == b"\x16"  # a TLS handshake record starts...
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(16)  # ...and the next byte is a second away


def test_endpoints_have_distinct_ports_and_test_names(fleet: TlsFleet) -> None:
    ports = [e.port for e in fleet.endpoints]
    assert len(set(ports)) == len(ports)
    assert all(e.host.endswith(".fleet.test") and e.url.startswith("https://") for e in fleet.endpoints)


# -- the servers themselves ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(pki: Pki) -> TlsServerConfig:
    leaf = pki.issue("served", LeafSpec(hosts=("served.fleet.test",)))
    return TlsServerConfig(cert_chain=pki.write_chain(leaf), key=leaf.key_path)


def _endpoint(port: int) -> FleetEndpoint:
    return FleetEndpoint("served", "served.fleet.test", port, {}, Backend.PYTHON)


def test_tls_server_survives_garbage_and_aborts(served: TlsServerConfig, capfd: pytest.CaptureFixture[str]) -> None:
    with TlsServer(served) as server:

        def abuse(index: int) -> None:
            try:
                with socket.create_connection(("127.0.0.1", server.port), timeout=3) as sock:
                    if index % 3 == 0:
                        sock.sendall(b"\x16\x03\x01\x02\x00" + b"\xff" * 300)
                    elif index % 3 == 1:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    else:
                        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
                        sock.recv(64)
            except OSError:
                pass

        threads = [threading.Thread(target=abuse, args=(i,)) for i in range(150)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert fetch(_endpoint(server.port), lenient_context())[3].startswith(b"HTTP/1.1 200")
        held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(10)]
        started = time.perf_counter()
    assert time.perf_counter() - started < 1.5
    for sock in held:
        sock.close()
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err and "Exception" not in captured.err


def test_tls13_suites_and_port_release(served: TlsServerConfig) -> None:
    from dataclasses import replace

    config = replace(served, tls13_ciphersuites="TLS_CHACHA20_POLY1305_SHA256")
    with TlsServer(config) as server:
        assert fetch(_endpoint(server.port), lenient_context())[1] == "TLS_CHACHA20_POLY1305_SHA256"
        port = server.port
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_silent_server_stops_with_connections_held() -> None:
    with SilentServer() as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=1)
        started = time.perf_counter()
    assert time.perf_counter() - started < 1.0
    # closed by the server on stop, or reset when stop() came before the accept
    with sock, contextlib.suppress(ConnectionResetError):
        assert sock.recv(1) == b""


def test_nginx_runner_stops_its_process(tmp_path: Path) -> None:
    site = NginxSite("plain", "plain.fleet.test", ssl=False, body="hello")
    with NginxFleet(tmp_path, [site]) as nginx:
        pid = nginx.pid
        assert pid is not None
        with socket.create_connection(("127.0.0.1", nginx.ports["plain"]), timeout=2) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: plain.fleet.test\r\nConnection: close\r\n\r\n")
            assert b"hello" in sock.recv(4096)
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]


# -- the demo fleet ---------------------------------------------------------------------------------


def test_demo_fleet_starts_and_writes_parsable_targets(tmp_path: Path) -> None:
    started = time.perf_counter()
    with DemoFleet(tmp_path) as demo:
        assert time.perf_counter() - started < 2.0
        data = tomllib.loads(demo.targets_path.read_text(encoding="utf-8"))
        assert Path(data["scan"]["ca_bundle"]) == demo.ca_bundle.resolve()
        assert [p["id"] for p in data["platforms"]] == [p.id for p in DEMO_PLATFORMS]
        for item, entry in zip(demo.platforms, data["platforms"], strict=True):
            assert entry["urls"] == [item.url]
            assert entry["resolve"] == {item.platform.host: item.platform.address}
            assert entry["level"] in (2, 3)
            assert item.platform.host.endswith(".nghean.example")
            endpoint = FleetEndpoint(item.platform.id, item.platform.host, item.port, {}, Backend.PYTHON)
            assert fetch(endpoint, lenient_context(), at=item.platform.address)[3].startswith(b"HTTP/1.1 200")
        dvc = demo.platforms[0]
        good = FleetEndpoint("dvc", dvc.platform.host, dvc.port, {}, Backend.PYTHON)
        version, _, _, response = fetch(good, verifying_context(demo.ca_bundle))
        assert version == "TLSv1.3" and b"Strict-Transport-Security" in response
        ports = [(p.platform.address, p.port) for p in demo.platforms]
    for address, port in ports:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((address, port), timeout=1).close()
