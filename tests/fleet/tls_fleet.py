"""The TLS fleet: one loopback endpoint per case the TLS checks must judge, each breaking one rule.

Usage (a conftest fixture is a thin wrapper)::

    with start_tls_fleet(tmp_path) as fleet:
        fleet["legacy"].port, fleet["legacy"].expect
        targets = fleet.write_targets(tmp_path / "targets.toml")

Endpoints are served by Python's ``ssl`` (:class:`scanner.demo.tls_server.TlsServer`) where that
can express the case, and by one nginx process where it cannot (OCSP stapling). A case's TLS
profile is backend-neutral, so any TLS case can be moved to nginx by changing ``backend``.

Every endpoint's ``host`` is a ``*.fleet.test`` name that its certificate is issued for (except
``wrong_host``); the scanner reaches it through ``resolve = {host = "127.0.0.1"}``, so SNI and the
hostname check use the ``.test`` name.

``expect`` maps every TLS check id -> the status that case must produce: the check it breaks fails,
and every other check has its stated verdict too (the integration test asserts all of them).

Debian's OpenSSL 3 (libssl 3.0, used by Python and nginx here) has no DES/3DES/RC4/EXPORT suites
at all, even at ``@SECLEVEL=0``: the insecure-cipher case uses a NULL-encryption suite instead.
"""

from __future__ import annotations

import contextlib
import enum
import json
import socket
import ssl
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from scanner.demo.pki import (
    DEFAULT_CA_ISSUERS_URL,
    DEFAULT_OCSP_URL,
    EXPIRED,
    EXPIRING,
    LONG_LIFETIME,
    NORMAL,
    NOT_YET_VALID,
    ChainLayout,
    IssuedCert,
    IssuerKind,
    KeyType,
    LeafSpec,
    OcspStatus,
    Pki,
    SignatureHash,
    Validity,
)
from scanner.demo.tls_server import (
    ListenerBase,
    PlainHttpServer,
    SilentServer,
    TlsServer,
    TlsServerConfig,
    TrickleServer,
)
from tests.fleet.nginx import LOOPBACK, NginxFleet, NginxSite, free_port

DOMAIN = "fleet.test"

TLS10 = ssl.TLSVersion.TLSv1
TLS11 = ssl.TLSVersion.TLSv1_1
TLS12 = ssl.TLSVersion.TLSv1_2
TLS13 = ssl.TLSVersion.TLSv1_3

MODERN_CIPHERS = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305"
WEAK_OK = ":@SECLEVEL=0"  # Debian's OpenSSL 3 refuses TLS 1.0/1.1, RSA-1024, SHA-1 and DH-1024 above level 0


class Backend(enum.StrEnum):
    PYTHON = "python"  # TlsServer
    NGINX = "nginx"
    PLAIN = "plain"  # PlainHttpServer: HTTP where TLS was expected
    SILENT = "silent"  # SilentServer
    TRICKLE = "trickle"  # TrickleServer
    CLOSED = "closed"  # a free port nobody listens on
    RESET = "reset"  # ResetServer: every connection is reset (a firewall or IPS blocking the scanner)


class ResetServer(ListenerBase):
    """Accepts TCP connections and resets each one at once: closed with ``SO_LINGER`` 0, which sends a TCP
    RST, as a firewall or IPS that blocks the scanner does. With ``read_first`` it first waits (up to 2 s)
    for the client's opening bytes, the ClientHello in which an IPS sees the SNI, and resets then."""

    def __init__(self, *, read_first: bool = False, port: int = 0, io_timeout: float = 10.0) -> None:
        super().__init__(port=port, io_timeout=io_timeout)
        self.read_first = read_first

    def handle(self, conn: socket.socket) -> None:
        if self.read_first:
            conn.settimeout(2.0)
            with contextlib.suppress(TimeoutError):
                conn.recv(65536)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # ListenerBase closes the connection when this returns: with linger 0 that close is the RST.


# -- expectations ---------------------------------------------------------------------------------

TLS_CHECKS = [
    "tls.https_available",
    "tls.protocol_ssl",
    "tls.protocol_legacy",
    "tls.protocol_tls12",
    "tls.protocol_tls13",
    "tls.cipher_insecure",
    "tls.cipher_no_forward_secrecy",
    "tls.cipher_cbc",
    "tls.dh_weak",
    "tls.cert_expired",
    "tls.cert_not_yet_valid",
    "tls.cert_expiring",
    "tls.cert_revoked",
    "tls.cert_hostname_mismatch",
    "tls.cert_untrusted",
    "tls.cert_chain_incomplete",
    "tls.cert_chain_order",
    "tls.cert_weak_key",
    "tls.cert_weak_signature",
    "tls.cert_lifetime",
    "tls.ocsp_stapling",
    "tls.vuln_heartbleed",
    "tls.vuln_robot",
    "tls.vuln_ccs_injection",
    "tls.renegotiation_insecure",
    "tls.compression",
    "tls.fallback_scsv",
    "tls.client_cert_required",
]
# Every case states the verdict of every TLS check. nginx staples OCSP; Python's ssl cannot, so a
# Python-served leaf fails tls.ocsp_stapling and tls.cert_revoked has nothing to judge (skip).
HEALTHY: Mapping[str, str] = {check: "pass" for check in TLS_CHECKS}
NOT_STAPLED: Mapping[str, str] = {**HEALTHY, "tls.ocsp_stapling": "fail", "tls.cert_revoked": "skip"}
UNSCANNABLE: Mapping[str, str] = {check: "error" for check in TLS_CHECKS}
# An https:// URL whose port answers but not in TLS: a finding, and the rest could not be tested (error).
NO_TLS: Mapping[str, str] = {**{check: "error" for check in TLS_CHECKS}, "tls.https_available": "fail"}


def _expect(base: Mapping[str, str], changes: Mapping[str, str] | None = None) -> dict[str, str]:
    return dict(sorted({**base, **(changes or {})}.items()))


# -- cases ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """How to build one fleet endpoint.

    Attributes:
        name: the case id.
        description: what is wrong with it, in one line.
        expect: check id -> expected status.
        backend: what serves it.
        cert_hosts: the SAN of its certificate (None: its own host).
        issuer, validity, key_type, signature_hash: the leaf (see ``scanner.demo.pki.LeafSpec``).
        layout: the chain the server sends.
        min_version, max_version: protocol range.
        ciphers: OpenSSL cipher string for TLS <= 1.2.
        dh1024: serve DHE with a 1024-bit group.
        client_cert: require a client certificate.
        ocsp: staple an OCSP response with this status (nginx only).
        cross_signed_root: append to the chain a copy of the trusted root (same name and key) cross-signed
            by another, untrusted root, valid for this window (the AddTrust / DST Root X3 pattern).
    """

    name: str
    description: str
    expect: dict[str, str]
    backend: Backend = Backend.PYTHON
    cert_hosts: tuple[str, ...] | None = None
    issuer: IssuerKind = IssuerKind.INTERMEDIATE
    validity: Validity = NORMAL
    key_type: KeyType = KeyType.RSA_2048
    signature_hash: SignatureHash = SignatureHash.SHA256
    layout: ChainLayout = ChainLayout.FULL
    min_version: ssl.TLSVersion = TLS12
    max_version: ssl.TLSVersion = TLS13
    ciphers: str = MODERN_CIPHERS
    dh1024: bool = False
    client_cert: bool = False
    ocsp: OcspStatus | None = None
    cross_signed_root: Validity | None = None

    @property
    def host(self) -> str:
        return f"{self.name.replace('_', '-')}.{DOMAIN}"

    @property
    def serves_tls(self) -> bool:
        return self.backend in (Backend.PYTHON, Backend.NGINX)


CASES: tuple[Case, ...] = (
    Case(
        "good",
        "TLS 1.2+1.3, ECDHE+AEAD only, leaf+intermediate, RSA-2048/SHA-256, 90 days, OCSP stapled (good)",
        _expect(HEALTHY),
        backend=Backend.NGINX,
        ocsp=OcspStatus.GOOD,
    ),
    Case(
        "legacy",
        "also accepts TLS 1.0 and TLS 1.1 (which need CBC suites)",
        _expect(NOT_STAPLED, {"tls.protocol_legacy": "fail", "tls.cipher_cbc": "fail"}),
        min_version=TLS10,
        ciphers="ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA" + WEAK_OK,
    ),
    Case(
        "tls13_only",
        "TLS 1.3 only",
        _expect(NOT_STAPLED, {"tls.protocol_tls12": "fail"}),
        min_version=TLS13,
    ),
    Case(
        "tls12_only",
        "TLS 1.2 only",
        _expect(NOT_STAPLED, {"tls.protocol_tls13": "fail"}),
        max_version=TLS12,
    ),
    Case(
        "null_cipher",
        "accepts ECDHE-RSA-NULL-SHA (no encryption); stands in for 3DES, which Debian's OpenSSL lacks",
        _expect(NOT_STAPLED, {"tls.cipher_insecure": "fail"}),
        ciphers=MODERN_CIPHERS + ":ECDHE-RSA-NULL-SHA" + WEAK_OK,
    ),
    Case(
        "no_fs",
        "TLS 1.2 only, static-RSA suites only (no forward secrecy at all)",
        _expect(NOT_STAPLED, {"tls.cipher_no_forward_secrecy": "fail", "tls.protocol_tls13": "fail"}),
        max_version=TLS12,
        ciphers="AES128-GCM-SHA256:AES256-GCM-SHA384",
    ),
    Case(
        "cbc",
        "accepts ECDHE-RSA-AES128-SHA256 (CBC) besides GCM",
        _expect(NOT_STAPLED, {"tls.cipher_cbc": "fail"}),
        ciphers="ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA256",
    ),
    Case(
        "small_dh",
        "accepts DHE-RSA-AES128-GCM-SHA256 with a 1024-bit group (RFC 2409 group 2)",
        _expect(NOT_STAPLED, {"tls.dh_weak": "fail"}),
        ciphers="ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256" + WEAK_OK,
        dh1024=True,
    ),
    Case(
        "expired",
        "leaf expired 10 days ago",
        _expect(NOT_STAPLED, {"tls.cert_expired": "fail", "tls.cert_expiring": "skip"}),
        validity=EXPIRED,
    ),
    Case(
        "not_yet_valid",
        "leaf valid from 10 days from now",
        _expect(NOT_STAPLED, {"tls.cert_not_yet_valid": "fail"}),
        validity=NOT_YET_VALID,
    ),
    Case(
        "expiring",
        "leaf expires in 10 days",
        _expect(NOT_STAPLED, {"tls.cert_expiring": "fail"}),
        validity=EXPIRING,
    ),
    Case(
        "wrong_host",
        f"leaf issued for other.{DOMAIN}",
        _expect(NOT_STAPLED, {"tls.cert_hostname_mismatch": "fail"}),
        cert_hosts=(f"other.{DOMAIN}",),
    ),
    Case(
        "self_signed",
        "self-signed leaf",
        _expect(NOT_STAPLED, {"tls.cert_untrusted": "fail", "tls.ocsp_stapling": "skip"}),
        issuer=IssuerKind.SELF,
    ),
    Case(
        "untrusted_root",
        "leaf under a root that is not in the bundle; sends leaf + that root",
        _expect(NOT_STAPLED, {"tls.cert_untrusted": "fail"}),
        issuer=IssuerKind.ROGUE,
        layout=ChainLayout.WITH_ROOT,
    ),
    Case(
        "missing_intermediate",
        "sends the leaf only (issued by the intermediate; the leaf has AIA caIssuers)",
        _expect(NOT_STAPLED, {"tls.cert_chain_incomplete": "fail", "tls.cert_untrusted": "fail"}),
        layout=ChainLayout.LEAF,
    ),
    Case(
        "chain_order",
        "sends leaf, root, intermediate (out of order; still verifiable)",
        _expect(NOT_STAPLED, {"tls.cert_chain_order": "fail"}),
        layout=ChainLayout.OUT_OF_ORDER,
    ),
    Case(
        "rsa1024",
        "RSA-1024 leaf key",
        _expect(NOT_STAPLED, {"tls.cert_weak_key": "fail"}),  # cryptography still verifies RSA-1024
        key_type=KeyType.RSA_1024,
        ciphers=MODERN_CIPHERS + WEAK_OK,
    ),
    Case(
        "cross_signed_expired",
        "sends leaf + intermediate + an EXPIRED copy of the root cross-signed by an old root (AddTrust / DST "
        "Root X3); clients stop at the trusted root, so nothing on their path is expired",
        _expect(NOT_STAPLED),
        cross_signed_root=EXPIRED,
    ),
    Case(
        "sha1",
        "leaf signed with SHA-1 (sha1WithRSAEncryption)",
        _expect(NOT_STAPLED, {"tls.cert_weak_signature": "fail", "tls.cert_untrusted": "warn"}),
        signature_hash=SignatureHash.SHA1,
        ciphers=MODERN_CIPHERS + WEAK_OK,
    ),
    Case(
        "long_lifetime",
        "leaf valid for 800 days",
        _expect(NOT_STAPLED, {"tls.cert_lifetime": "fail"}),
        validity=LONG_LIFETIME,
    ),
    Case(
        "revoked",
        "staples an OCSP response saying the leaf is revoked",
        _expect(HEALTHY, {"tls.cert_revoked": "fail"}),
        backend=Backend.NGINX,
        ocsp=OcspStatus.REVOKED,
    ),
    Case(
        "client_cert",
        "requires a client certificate issued under the test root",
        # sslyze's renegotiation test cannot run without a client certificate: could not test (error).
        _expect(NOT_STAPLED, {"tls.client_cert_required": "warn", "tls.renegotiation_insecure": "error"}),
        client_cert=True,
    ),
    Case(
        "null_only",
        "accepts only TLS 1.2 with NULL-SHA256: sslyze completes no handshake, a hand-built ClientHello does",
        # Standard clients cannot connect (https_available fails, the rest could not test), but the suite the
        # server chose from a hand-built hello offering only insecure suites is judged: tls.cipher_insecure fails.
        _expect(NO_TLS, {"tls.cipher_insecure": "fail"}),
        min_version=TLS12,
        max_version=TLS12,
        ciphers="NULL-SHA256" + WEAK_OK,
    ),
    Case(
        "plain_http",
        "plain HTTP/1.1 where HTTPS was expected",
        dict(NO_TLS),
        backend=Backend.PLAIN,
    ),
    Case(
        "closed",
        "nothing listens (connection refused)",
        dict(UNSCANNABLE),
        backend=Backend.CLOSED,
    ),
    Case(
        "silent",
        "accepts TCP and never sends a byte",
        dict(UNSCANNABLE),
        backend=Backend.SILENT,
    ),
    Case(
        "trickle",
        "accepts and sends a TLS-looking record one byte per second",
        dict(UNSCANNABLE),
        backend=Backend.TRICKLE,
    ),
    Case(
        "reset",
        "accepts TCP and resets every connection at once (SO_LINGER 0), as a firewall or IPS would",
        dict(UNSCANNABLE),
        backend=Backend.RESET,
    ),
)
CASE_NAMES: tuple[str, ...] = tuple(case.name for case in CASES)


# -- the running fleet ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FleetEndpoint:
    """One running endpoint of the fleet.

    Attributes:
        name: case id.
        host: the ``.test`` host name (SNI, Host header, the URL's host).
        port: its port on 127.0.0.1.
        expect: check id -> expected status.
        backend: what serves it.
        description: what is wrong with it.
    """

    name: str
    host: str
    port: int
    expect: dict[str, str]
    backend: Backend
    description: str = ""

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}/"

    @property
    def address(self) -> tuple[str, int]:
        return (LOOPBACK, self.port)

    @property
    def resolve(self) -> dict[str, str]:
        return {self.host: LOOPBACK}


@dataclass(frozen=True)
class TlsFleet:
    """The running fleet (valid inside ``start_tls_fleet``).

    Attributes:
        workdir: where the PKI, nginx prefix and targets live.
        pki: the test PKI; ``pki.bundle_path`` is the scan's ``ca_bundle``.
        endpoints: one per case, in case order.
        client_cert: PEM (leaf + intermediate) of a client certificate ``client_cert`` accepts.
        client_key: its key.
    """

    workdir: Path
    pki: Pki
    endpoints: tuple[FleetEndpoint, ...]
    client_cert: Path
    client_key: Path
    _by_name: dict[str, FleetEndpoint] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {e.name: e for e in self.endpoints})

    def __getitem__(self, name: str) -> FleetEndpoint:
        return self._by_name[name]

    def __iter__(self) -> Iterator[FleetEndpoint]:
        return iter(self.endpoints)

    @property
    def ca_bundle(self) -> Path:
        return self.pki.bundle_path

    def write_targets(
        self, path: Path | None = None, *, timeout: float = 3, names: Iterable[str] | None = None
    ) -> Path:
        """Write a targets TOML with one platform per endpoint (or per ``names``)."""
        return write_targets(self, path or self.workdir / "targets.toml", timeout=timeout, names=names)


def write_targets(fleet: TlsFleet, path: Path, *, timeout: float = 3, names: Iterable[str] | None = None) -> Path:
    """Write ``path``: ``[scan]`` with ``timeout`` and ``ca_bundle``, then one ``[[platforms]]`` per
    endpoint with ``resolve`` mapping its host to 127.0.0.1."""
    wanted = list(names) if names is not None else [e.name for e in fleet.endpoints]
    lines = [
        "# Generated by tests/fleet/tls_fleet.py: one platform per TLS fleet case.",
        "[scan]",
        f"timeout = {_toml_number(timeout)}",
        f"ca_bundle = {_toml_str(str(fleet.ca_bundle.resolve()))}",
    ]
    for name in wanted:
        endpoint = fleet[name]
        lines += [
            "",
            "[[platforms]]",
            f"id = {_toml_str(endpoint.name)}",
            f"name = {_toml_str(f'Fleet case {endpoint.name}: {endpoint.description}')}",
            'owner = "Test"',
            "level = 3",
            f"urls = [{_toml_str(endpoint.url)}]",
            f"resolve = {{ {_toml_str(endpoint.host)} = {_toml_str(LOOPBACK)} }}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@contextlib.contextmanager
def start_tls_fleet(workdir: Path, cases: Iterable[str] | None = None) -> Iterator[TlsFleet]:
    """Create the PKI in ``workdir`` and start one endpoint per case (all of them by default);
    stop everything on exit."""
    chosen = _select(cases)
    workdir.mkdir(parents=True, exist_ok=True)
    pki = Pki.create(workdir / "pki", organization="Platscan Fleet")
    client = pki.issue("client", LeafSpec(hosts=(f"client.{DOMAIN}",), client=True))
    client_chain = pki.write_chain(client)
    dh_params = pki.write_dh_params(1024)

    with contextlib.ExitStack() as stack:
        ports: dict[str, int] = {}
        nginx_sites: list[NginxSite] = []
        for case in chosen:
            if case.backend is Backend.NGINX:
                nginx_sites.append(_nginx_site(pki, case, dh_params))
            elif case.backend is Backend.PYTHON:
                config = _tls_config(pki, case, dh_params)
                ports[case.name] = stack.enter_context(TlsServer(config)).port
            elif case.backend is Backend.CLOSED:
                ports[case.name] = free_port()
            else:
                ports[case.name] = stack.enter_context(_raw_server(case.backend)).port
        if nginx_sites:
            nginx = stack.enter_context(NginxFleet(workdir / "nginx", nginx_sites))
            ports.update(nginx.ports)
        endpoints = tuple(
            FleetEndpoint(
                name=case.name,
                host=case.host,
                port=ports[case.name],
                expect=dict(case.expect),
                backend=case.backend,
                description=case.description,
            )
            for case in chosen
        )
        yield TlsFleet(
            workdir=workdir, pki=pki, endpoints=endpoints, client_cert=client_chain, client_key=client.key_path
        )


def _select(names: Iterable[str] | None) -> list[Case]:
    if names is None:
        return list(CASES)
    by_name = {case.name: case for case in CASES}
    wanted = list(names)
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise KeyError(f"unknown fleet cases {unknown}; known: {list(by_name)}")
    return [by_name[n] for n in wanted]


def _issue(pki: Pki, case: Case) -> tuple[IssuedCert, Path]:
    """Issue the case's leaf; return it and the chain file the server sends."""
    self_signed = case.issuer is IssuerKind.SELF
    spec = LeafSpec(
        hosts=case.cert_hosts or (case.host,),
        issuer=case.issuer,
        key_type=case.key_type,
        signature_hash=case.signature_hash,
        validity=case.validity,
        # a self-signed leaf has no issuer to point at
        ca_issuers_url=None if self_signed else DEFAULT_CA_ISSUERS_URL,
        ocsp_url=None if self_signed else DEFAULT_OCSP_URL,
    )
    leaf = pki.issue(case.name, spec)
    chain = pki.write_chain(leaf, case.layout)
    if case.cross_signed_root is not None:
        cross = cross_signed_root(pki, case.cross_signed_root)
        chain = chain.with_name(f"{case.name}.cross-signed.pem")
        chain.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in [*pki.chain(leaf, case.layout), cross]))
    return leaf, chain


def cross_signed_root(pki: Pki, validity: Validity) -> x509.Certificate:
    """The trusted root's name and key in a certificate issued by ``pki.rogue`` (an old root that is not
    trusted): what a CA ships to reach clients that lack its new root. Valid for ``validity``."""
    root, old = pki.root, pki.rogue
    not_before, not_after = validity.window(pki.now)
    root_ski = root.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    old_ski = old.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(root.cert.subject)
        .issuer_name(old.cert.subject)
        .public_key(root.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(root.cert.extensions.get_extension_for_class(x509.KeyUsage).value, critical=True)
        .add_extension(root_ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(old_ski), critical=False)
        .sign(old.key, hashes.SHA256())
    )


def _tls_config(pki: Pki, case: Case, dh_params: Path) -> TlsServerConfig:
    if case.ocsp is not None:
        raise ValueError(f"{case.name}: OCSP stapling needs the nginx backend")
    leaf, chain = _issue(pki, case)
    return TlsServerConfig(
        cert_chain=chain,
        key=leaf.key_path,
        minimum_version=case.min_version,
        maximum_version=case.max_version,
        ciphers=case.ciphers,
        dh_params=dh_params if case.dh1024 else None,
        client_ca=pki.bundle_path if case.client_cert else None,
    )


_NGINX_PROTOCOLS = {TLS10: "TLSv1", TLS11: "TLSv1.1", TLS12: "TLSv1.2", TLS13: "TLSv1.3"}


def _nginx_site(pki: Pki, case: Case, dh_params: Path) -> NginxSite:
    leaf, chain = _issue(pki, case)
    versions = [name for version, name in _NGINX_PROTOCOLS.items() if case.min_version <= version <= case.max_version]
    directives = [
        f"ssl_certificate {chain}",
        f"ssl_certificate_key {leaf.key_path}",
        f"ssl_protocols {' '.join(versions)}",
        f'ssl_ciphers "{case.ciphers}"',
        "ssl_prefer_server_ciphers on",
    ]
    if case.dh1024:
        directives.append(f"ssl_dhparam {dh_params}")
    if case.client_cert:
        directives += [f"ssl_client_certificate {pki.bundle_path}", "ssl_verify_client on"]
    if case.ocsp is not None:
        staple = pki.write_ocsp_response(leaf, case.ocsp)
        directives += ["ssl_stapling on", f"ssl_stapling_file {staple}"]
    return NginxSite(name=case.name, server_name=case.host, directives=tuple(directives))


def _raw_server(backend: Backend) -> ListenerBase:
    if backend is Backend.PLAIN:
        return PlainHttpServer()
    if backend is Backend.SILENT:
        return SilentServer()
    if backend is Backend.TRICKLE:
        return TrickleServer(interval=1.0)
    if backend is Backend.RESET:
        return ResetServer()
    raise ValueError(f"not a raw backend: {backend}")


def _toml_str(value: str) -> str:
    # A JSON string is a valid TOML basic string (same escapes; \uXXXX for control characters).
    return json.dumps(value, ensure_ascii=False)


def _toml_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
