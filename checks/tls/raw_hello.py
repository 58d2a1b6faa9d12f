"""Hand-built ClientHellos for servers that sslyze (nassl) and OpenSSL cannot negotiate with.

A server that accepts only suites or protocols today's TLS libraries refuse to offer (NULL, anonymous, EXPORT,
SSL 2.0 ...) fails every library handshake and looks merely broken, although it is the worst case. Like testssl.sh,
platscan then writes the ClientHello itself: it offers only those insecure suites and reads what the server
chooses from its ServerHello (SSL 2.0: SERVER-HELLO). Nothing more of the handshake is needed: the choice is the
finding.

The reply is hostile data: reads are bounded in bytes and time, every length is checked against what arrived,
and a reply is believed only if it chooses a suite and a version that were offered. Reports name a chosen suite
from this module's own table, never with bytes the server sent.
"""

from __future__ import annotations

import functools
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from checks.tls.facts import RawServerHello, TlsVersion

#: Insecure TLS suites (IANA code, IANA name, symmetric key bits): NULL, EXPORT, anonymous, RC4, DES, 3DES.
TLS_SUITES: dict[int, tuple[str, int]] = {
    0x0001: ("TLS_RSA_WITH_NULL_MD5", 0),
    0x0002: ("TLS_RSA_WITH_NULL_SHA", 0),
    0x003B: ("TLS_RSA_WITH_NULL_SHA256", 0),
    0xC001: ("TLS_ECDH_ECDSA_WITH_NULL_SHA", 0),
    0xC006: ("TLS_ECDHE_ECDSA_WITH_NULL_SHA", 0),
    0xC00B: ("TLS_ECDH_RSA_WITH_NULL_SHA", 0),
    0xC010: ("TLS_ECDHE_RSA_WITH_NULL_SHA", 0),
    0xC015: ("TLS_ECDH_anon_WITH_NULL_SHA", 0),
    0x0003: ("TLS_RSA_EXPORT_WITH_RC4_40_MD5", 40),
    0x0006: ("TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5", 40),
    0x0008: ("TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", 40),
    0x000B: ("TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA", 40),
    0x000E: ("TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA", 40),
    0x0011: ("TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA", 40),
    0x0014: ("TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA", 40),
    0x0017: ("TLS_DH_anon_EXPORT_WITH_RC4_40_MD5", 40),
    0x0019: ("TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA", 40),
    0x0062: ("TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA", 56),
    0x0063: ("TLS_DHE_DSS_EXPORT1024_WITH_DES_CBC_SHA", 56),
    0x0064: ("TLS_RSA_EXPORT1024_WITH_RC4_56_SHA", 56),
    0x0065: ("TLS_DHE_DSS_EXPORT1024_WITH_RC4_56_SHA", 56),
    0x0018: ("TLS_DH_anon_WITH_RC4_128_MD5", 128),
    0x001A: ("TLS_DH_anon_WITH_DES_CBC_SHA", 56),
    0x001B: ("TLS_DH_anon_WITH_3DES_EDE_CBC_SHA", 168),
    0x0034: ("TLS_DH_anon_WITH_AES_128_CBC_SHA", 128),
    0x003A: ("TLS_DH_anon_WITH_AES_256_CBC_SHA", 256),
    0x006C: ("TLS_DH_anon_WITH_AES_128_CBC_SHA256", 128),
    0x006D: ("TLS_DH_anon_WITH_AES_256_CBC_SHA256", 256),
    0x00A6: ("TLS_DH_anon_WITH_AES_128_GCM_SHA256", 128),
    0x00A7: ("TLS_DH_anon_WITH_AES_256_GCM_SHA384", 256),
    0xC016: ("TLS_ECDH_anon_WITH_RC4_128_SHA", 128),
    0xC017: ("TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA", 168),
    0xC018: ("TLS_ECDH_anon_WITH_AES_128_CBC_SHA", 128),
    0xC019: ("TLS_ECDH_anon_WITH_AES_256_CBC_SHA", 256),
    0x0004: ("TLS_RSA_WITH_RC4_128_MD5", 128),
    0x0005: ("TLS_RSA_WITH_RC4_128_SHA", 128),
    0xC002: ("TLS_ECDH_ECDSA_WITH_RC4_128_SHA", 128),
    0xC007: ("TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", 128),
    0xC00C: ("TLS_ECDH_RSA_WITH_RC4_128_SHA", 128),
    0xC011: ("TLS_ECDHE_RSA_WITH_RC4_128_SHA", 128),
    0x0009: ("TLS_RSA_WITH_DES_CBC_SHA", 56),
    0x000C: ("TLS_DH_DSS_WITH_DES_CBC_SHA", 56),
    0x000F: ("TLS_DH_RSA_WITH_DES_CBC_SHA", 56),
    0x0012: ("TLS_DHE_DSS_WITH_DES_CBC_SHA", 56),
    0x0015: ("TLS_DHE_RSA_WITH_DES_CBC_SHA", 56),
    0x000A: ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", 168),
    0x000D: ("TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA", 168),
    0x0010: ("TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA", 168),
    0x0013: ("TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA", 168),
    0x0016: ("TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", 168),
    0xC003: ("TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA", 168),
    0xC008: ("TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA", 168),
    0xC00D: ("TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA", 168),
    0xC012: ("TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", 168),
}
#: Every SSL 2.0 cipher kind (3-byte code, name, key bits); all of them are insecure (MD5 at least).
SSL2_SUITES: dict[int, tuple[str, int]] = {
    0x010080: ("SSL_CK_RC4_128_WITH_MD5", 128),
    0x020080: ("SSL_CK_RC4_128_EXPORT40_WITH_MD5", 40),
    0x030080: ("SSL_CK_RC2_128_CBC_WITH_MD5", 128),
    0x040080: ("SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5", 40),
    0x050080: ("SSL_CK_IDEA_128_CBC_WITH_MD5", 128),
    0x060040: ("SSL_CK_DES_64_CBC_WITH_MD5", 56),
    0x0700C0: ("SSL_CK_DES_192_EDE3_CBC_WITH_MD5", 168),
}
#: Some servers refuse a renegotiation-unaware client; the SCSV is offered, but choosing it is no answer.
_RENEGOTIATION_SCSV = 0x00FF
_WIRE_VERSIONS = {TlsVersion.SSL_3_0: 0x0300, TlsVersion.TLS_1_0: 0x0301, TlsVersion.TLS_1_1: 0x0302}
_WIRE_VERSIONS[TlsVersion.TLS_1_2] = 0x0303
_BY_WIRE = {wire: version for version, wire in _WIRE_VERSIONS.items()}
#: The ClientHellos sent, in order; SSL 2.0 is sent last, in its own format.
PROBED_VERSIONS = (TlsVersion.TLS_1_2, TlsVersion.TLS_1_0, TlsVersion.SSL_3_0)
_HANDSHAKE, _ALERT = 0x16, 0x15
_SERVER_HELLO = 2
_MAX_RECORD = 2**14  # RFC 5246 6.2.1: a plaintext record carries at most 2^14 bytes
#: Bytes read at most for one reply: a ServerHello is small, and a server may not make us read more.
MAX_REPLY_BYTES = 5 + _MAX_RECORD + 5 + _MAX_RECORD
_SSL2_SERVER_HELLO, _SSL2_ERROR = 4, 0
_SSL2_MAX_RECORD = 0x7FFF
#: The supported_groups a client offering ECDH(E) suites must send (RFC 4492): P-256, P-384, P-521, X25519.
_GROUPS = (23, 24, 25, 29)
_SIGNATURE_ALGORITHMS = (0x0401, 0x0501, 0x0601, 0x0201, 0x0403, 0x0503, 0x0603, 0x0203, 0x0402, 0x0202)


@dataclass(frozen=True)
class Refused:
    """The server answered the hand-built hello with an alert, an SSL 2.0 ERROR, or by closing."""

    why: str


@dataclass(frozen=True)
class Invalid:
    """The reply breaks the protocol (a length that does not add up, a suite or version never offered)."""

    why: str


Reply = RawServerHello | Refused | Invalid


def _vector(data: bytes, length_bytes: int) -> bytes:
    return len(data).to_bytes(length_bytes, "big") + data


def _extension(kind: int, body: bytes) -> bytes:
    return kind.to_bytes(2, "big") + _vector(body, 2)


def _extensions(version: TlsVersion, server_name: str | None) -> bytes:
    if version is TlsVersion.SSL_3_0:
        return b""  # SSL 3.0 servers may choke on extensions
    parts = [
        _extension(10, _vector(b"".join(g.to_bytes(2, "big") for g in _GROUPS), 2)),
        _extension(11, _vector(b"\x00", 1)),
    ]
    if server_name:
        name = server_name.encode("idna") if not server_name.isascii() else server_name.encode("ascii")
        parts.insert(0, _extension(0, _vector(b"\x00" + _vector(name, 2), 2)))
    if version is TlsVersion.TLS_1_2:
        parts.append(_extension(13, _vector(b"".join(a.to_bytes(2, "big") for a in _SIGNATURE_ALGORITHMS), 2)))
    return _vector(b"".join(parts), 2)


def tls_client_hello(version: TlsVersion, server_name: str | None, suites: tuple[int, ...] = ()) -> bytes:
    """A ClientHello record for ``version`` offering ``suites`` (default: every suite of ``TLS_SUITES``)."""
    offered = suites or tuple(TLS_SUITES)
    body = (
        _WIRE_VERSIONS[version].to_bytes(2, "big")
        + os.urandom(32)
        + _vector(b"", 1)
        + _vector(b"".join(s.to_bytes(2, "big") for s in (*offered, _RENEGOTIATION_SCSV)), 2)
        + _vector(b"\x00", 1)
        + _extensions(version, server_name)
    )
    handshake = bytes([1]) + _vector(body, 3)
    # Record version TLS 1.0 (SSL 3.0 for an SSL 3.0 hello): what old servers expect (RFC 5246 appendix E.1).
    record_version = min(_WIRE_VERSIONS[version], 0x0301)
    return bytes([_HANDSHAKE]) + record_version.to_bytes(2, "big") + _vector(handshake, 2)


def ssl2_client_hello() -> bytes:
    """An SSL 2.0 CLIENT-HELLO offering every SSL 2.0 cipher kind."""
    specs = b"".join(code.to_bytes(3, "big") for code in SSL2_SUITES)
    challenge = os.urandom(16)
    body = (
        bytes([1])
        + (0x0002).to_bytes(2, "big")
        + len(specs).to_bytes(2, "big")
        + (0).to_bytes(2, "big")
        + len(challenge).to_bytes(2, "big")
        + specs
        + challenge
    )
    return (0x8000 | len(body)).to_bytes(2, "big") + body


def parse_tls_reply(data: bytes, offered: TlsVersion, suites: tuple[int, ...] = ()) -> Reply | None:
    """What the server's reply to a hand-built ClientHello says; None while more bytes are needed."""
    payload = bytearray()
    offset = 0
    while offset + 5 <= len(data):
        kind, major, length = data[offset], data[offset + 1], int.from_bytes(data[offset + 3 : offset + 5], "big")
        if major != 3 or not 0 < length <= _MAX_RECORD:
            return Invalid(f"a record header that is not TLS ({data[offset : offset + 5].hex()})")
        end = offset + 5 + length
        if end > len(data):
            return None
        if kind == _ALERT:
            if payload or length != 2:
                return Invalid("a malformed alert record")
            return Refused(f"a TLS alert (description {data[offset + 6]})")
        if kind != _HANDSHAKE:
            return Invalid(f"a TLS record of type {kind} before the ServerHello")
        payload += data[offset + 5 : end]
        offset = end
        hello = _server_hello(bytes(payload), offered, suites or tuple(TLS_SUITES))
        if hello is not None:
            return hello
    return None


def _server_hello(payload: bytes, offered: TlsVersion, suites: tuple[int, ...]) -> Reply | None:
    """The ServerHello at the start of the handshake ``payload``; None if it has not all arrived."""
    if len(payload) < 4:
        return None
    if payload[0] != _SERVER_HELLO:
        return Invalid(f"handshake message type {payload[0]} instead of a ServerHello")
    length = int.from_bytes(payload[1:4], "big")
    if length > _MAX_RECORD:
        return Invalid(f"a ServerHello of {length} bytes")
    if len(payload) < 4 + length:
        return None
    return _server_hello_body(payload[4 : 4 + length], offered, suites)


def _server_hello_body(body: bytes, offered: TlsVersion, suites: tuple[int, ...]) -> Reply:
    if len(body) < 38:
        return Invalid("a ServerHello too short to hold its fields")
    wire = int.from_bytes(body[0:2], "big")
    session_length = body[34]
    if session_length > 32 or len(body) < 35 + session_length + 3:
        return Invalid("a ServerHello whose session id length does not add up")
    position = 35 + session_length
    suite = int.from_bytes(body[position : position + 2], "big")
    compression = body[position + 2]
    rest = body[position + 3 :]
    if rest and (len(rest) < 2 or int.from_bytes(rest[:2], "big") != len(rest) - 2):
        return Invalid("a ServerHello whose extensions length does not add up")
    version = _BY_WIRE.get(wire)
    if version is None or wire > _WIRE_VERSIONS[offered]:
        return Invalid(f"a ServerHello choosing protocol version 0x{wire:04x}, which was not offered")
    if suite not in suites or suite not in TLS_SUITES:
        return Invalid(f"a ServerHello choosing suite 0x{suite:04x}, which was not offered")
    if compression != 0:
        return Invalid(f"a ServerHello choosing compression method {compression}, which was not offered")
    name, bits = TLS_SUITES[suite]
    return RawServerHello(offered=offered, version=version, suite=name, code=f"0x{suite:04X}", key_size=bits)


def parse_ssl2_reply(data: bytes) -> Reply | tuple[RawServerHello, ...] | None:
    """What the server's reply to an SSL 2.0 CLIENT-HELLO says: the cipher kinds it shares; None if incomplete."""
    if not data:
        return None
    if not data[0] & 0x80:
        if data[0] in (_ALERT, _HANDSHAKE):
            return Refused("a TLS record instead of an SSL 2.0 SERVER-HELLO")
        return Invalid("a reply that is not SSL 2.0")
    if len(data) < 2:
        return None
    length = ((data[0] & 0x7F) << 8) | data[1]
    if len(data) < 2 + length:
        return None
    message = data[2 : 2 + length]
    if message[:1] == bytes([_SSL2_ERROR]):
        return Refused("an SSL 2.0 ERROR message")
    if len(message) < 11 or message[0] != _SSL2_SERVER_HELLO:
        return Invalid("an SSL 2.0 message that is not a SERVER-HELLO")
    version = int.from_bytes(message[3:5], "big")
    cert_length, specs_length, id_length = (int.from_bytes(message[i : i + 2], "big") for i in (5, 7, 9))
    if version != 0x0002:
        return Invalid(f"an SSL 2.0 SERVER-HELLO with version 0x{version:04x}")
    if 11 + cert_length + specs_length + id_length != len(message) or not 16 <= id_length <= 32:
        return Invalid("an SSL 2.0 SERVER-HELLO whose lengths do not add up")
    if specs_length == 0 or specs_length % 3:
        return Invalid("an SSL 2.0 SERVER-HELLO with a malformed cipher list")
    start = 11 + cert_length
    codes = [int.from_bytes(message[i : i + 3], "big") for i in range(start, start + specs_length, 3)]
    if any(code not in SSL2_SUITES for code in codes):
        return Invalid("an SSL 2.0 SERVER-HELLO naming a cipher kind that was not offered")
    return tuple(
        RawServerHello(TlsVersion.SSL_2_0, TlsVersion.SSL_2_0, SSL2_SUITES[c][0], f"0x{c:06X}", SSL2_SUITES[c][1])
        for c in dict.fromkeys(codes)
    )


def _exchange(address: str, port: int, hello: bytes, timeout: float, done: Callable[[bytes], object]) -> object:
    """Send ``hello``, read until ``done`` parses the reply (bounded in bytes and by ``timeout`` in all)."""
    deadline = time.monotonic() + timeout
    data = b""
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            sock.sendall(hello)
            while len(data) < MAX_REPLY_BYTES:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return Refused("no complete reply in time")
                sock.settimeout(remaining)
                chunk = sock.recv(min(65536, MAX_REPLY_BYTES - len(data)))
                if not chunk:
                    break
                data += chunk
                parsed = done(data)
                if parsed is not None:
                    return parsed
    except OSError as exc:
        if not data:
            return Refused(f"{type(exc).__name__}")
    parsed = done(data)
    return parsed if parsed is not None else Refused("the connection closed without a complete reply")


def probe_insecure(
    address: str, port: int, server_name: str | None, timeout: float, budget: float
) -> tuple[tuple[RawServerHello, ...], tuple[str, ...]]:
    """Send each hand-built hello in turn (one connection each) within ``budget`` seconds in all.

    Returns what the server chose, and one note per reply that broke the protocol (for the evidence).
    """
    deadline = time.monotonic() + budget
    chosen: list[RawServerHello] = []
    invalid: list[str] = []
    probes: list[tuple[bytes, TlsVersion | None, Callable[[bytes], object]]] = [
        (tls_client_hello(v, server_name), v, functools.partial(parse_tls_reply, offered=v)) for v in PROBED_VERSIONS
    ]
    probes.append((ssl2_client_hello(), None, parse_ssl2_reply))
    for hello, offered, parse in probes:
        remaining = deadline - time.monotonic()
        if remaining <= 0.05:
            break
        reply = _exchange(address, port, hello, min(timeout, remaining), parse)
        if isinstance(reply, RawServerHello):
            chosen.append(reply)
        elif isinstance(reply, tuple):
            chosen.extend(r for r in reply if isinstance(r, RawServerHello))
        elif isinstance(reply, Invalid):
            label = offered.value if offered else TlsVersion.SSL_2_0.value
            invalid.append(f"{label} ClientHello: {reply.why}")
    unique: dict[tuple[TlsVersion, str], RawServerHello] = {}
    for answer in chosen:
        unique.setdefault((answer.version, answer.suite), answer)  # the first (highest) answer that led there
    return tuple(unique.values()), tuple(invalid)
