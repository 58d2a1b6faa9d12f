"""Tiny loopback servers and a test PKI for the collector tests (127.0.0.1, a port the OS picks)."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK = "127.0.0.1"
HOST = "portal.dvc.test"


@dataclass(frozen=True)
class LocalPki:
    ca: Path  # the root (the scan's ca_bundle)
    chain: Path  # leaf + intermediate
    key: Path


def make_pki(directory: Path, host: str = HOST) -> LocalPki:
    """Root -> intermediate -> leaf for ``host`` (EC P-256, SHA-256, 90 days, AIA)."""
    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Platscan Test"),
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
            ]
        )

    def build(
        subject: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: x509.Certificate | None,
        issuer_key: ec.EllipticCurvePrivateKey,
        ca: bool,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(issuer.subject if issuer else name(subject))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650 if ca else 89))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=ca,
                    crl_sign=ca,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        )
        if not ca:
            builder = (
                builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(
                    x509.AuthorityInformationAccess(
                        [
                            x509.AccessDescription(
                                x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
                                x509.UniformResourceIdentifier("http://pki.dvc.test/int.crt"),
                            )
                        ]
                    ),
                    critical=False,
                )
            )
        return builder.sign(issuer_key, hashes.SHA256())

    root_key, int_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = build("Platscan Test Root", root_key, None, root_key, ca=True)
    intermediate = build("Platscan Test Issuing CA", int_key, root, root_key, ca=True)
    leaf = build(host, leaf_key, intermediate, int_key, ca=False)

    def pem(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    directory.mkdir(parents=True, exist_ok=True)
    pki = LocalPki(ca=directory / "ca.pem", chain=directory / "chain.pem", key=directory / "key.pem")
    pki.ca.write_bytes(pem(root))
    pki.chain.write_bytes(pem(leaf) + pem(intermediate))
    pki.key.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return pki


class Listener:
    """Accepts on 127.0.0.1 and hands each connection to ``handle`` in a daemon thread."""

    def __init__(self, handle: Callable[[socket.socket], None]) -> None:
        self._handle = handle
        self._sock = socket.create_server((LOOPBACK, 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        port: int = self._sock.getsockname()[1]
        return port

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()
        for conn in list(self._conns):
            with contextlib.suppress(OSError):
                conn.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError, ssl.SSLError), conn:
            conn.settimeout(5)
            self._handle(conn)


def tls_server(pki: LocalPki, minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2) -> Listener:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = minimum
    context.load_cert_chain(pki.chain, pki.key)

    def handle(conn: socket.socket) -> None:
        with context.wrap_socket(conn, server_side=True) as tls:
            tls.recv(4096)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    return Listener(handle)


def silent_server() -> Listener:
    """Accepts, reads, never answers."""
    listener: Listener

    def handle(conn: socket.socket) -> None:
        conn.settimeout(0.2)
        while not listener.stopping:
            try:
                if not conn.recv(4096):
                    return
            except TimeoutError:
                continue

    listener = Listener(handle)
    return listener


def eager_http_server() -> Listener:
    """Answers anything at once with 400 (what nginx does to a ClientHello on a plain HTTP port)."""

    def handle(conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    return Listener(handle)


def patient_http_server() -> Listener:
    """Waits for a complete HTTP request head before answering: silent to a ClientHello."""

    def handle(conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    return Listener(handle)


def trickle_server(interval: float = 0.5) -> Listener:
    """Sends a TLS handshake record header announcing 16 KiB, then one byte per ``interval``."""
    listener: Listener

    def handle(conn: socket.socket) -> None:
        conn.recv(4096)
        for byte in bytes.fromhex("1603034000020000fc0303") + bytes(64):
            if listener.stopping:
                return
            conn.sendall(bytes([byte]))
            time.sleep(interval)

    listener = Listener(handle)
    return listener


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
    return port
