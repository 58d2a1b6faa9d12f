"""Collect the TLS facts about one endpoint: one probe connection, then one sslyze scan.

Runs in a worker process (``ScanContext.collect``): the arguments and the returned ``TlsFacts`` pickle.
All network I/O of the tls family happens here; ``sslyze_adapter.facts_from_sslyze_json`` and the checks are pure.

Before sslyze, one plain connection sends a TLS ClientHello and looks at the first bytes that come back.
That answers in one round trip what sslyze would take many seconds to conclude: refused, nothing
answering (sslyze retries every protocol version against a silent listener: ~14 s with a 2 s timeout),
or a server that answers in plain text (HTTP on 443).

Resets: sslyze reports a server (or a firewall / IPS in front of it) that resets every connection as
"no TLS version and cipher suite supported", exactly as it reports a TLS server that rejects every
handshake with an alert. Only the second is a finding. So a reset is told apart here, by what the
probe saw: when sslyze's connectivity test fails and the probe (or, if the probe was not reset, a
second probe after sslyze's attempts) was reset, the endpoint is RESET (not reached, "could not scan").
HANDSHAKE_FAILED is left for servers that answered: with TLS (an alert), or by closing the connection
cleanly after reading the ClientHello, as some TLS stacks do.

Insecure-only servers: a server that accepts only suites or protocols sslyze cannot negotiate (NULL, EXPORT,
SSL 2.0 ...) also ends as HANDSHAKE_FAILED (or SSL2_ONLY). Then, and only then, hand-built hellos offering only
insecure suites (``raw_hello``) ask which one it chooses; the cipher and SSL checks judge that choice.

Oversized handshakes: sslyze also reports a server whose certificate list is larger than OpenSSL accepts
(100 KiB by default, in OpenSSL and BoringSSL alike) as "no TLS version and cipher suite supported": the
"excessive message size" its OpenSSL raised is lost on the way. So when sslyze's handshakes all failed, one
handshake with Python's OpenSSL asks for the reason, and if it is that one, the headers of the server's TLS 1.2
handshake messages (sent in the clear) measure which message is too big and by how much: OVERSIZED_HANDSHAKE.

Mail services (``smtp://host:25``, ``imaps://host:993``...): a family declares them on every registered host of a
mail platform, so the port may well be closed, and mail servers count a scanner's sessions. So: the whole
collection (probe and sslyze) holds ``scanner.politeness.one_at_a_time`` on the server's address; sslyze opens one
connection at a time and never retries; nothing listening, or nothing answering, is NO_SERVICE (the service is not
offered), never a failure to scan. Implicit TLS (smtps, imaps, pop3s) is probed as above. STARTTLS sessions (smtp,
imap, pop3) cannot be sent a ClientHello first: one plain session (``starttls.open_session``) reads the greeting
and the capabilities instead, which tells a plain-text-only server (NO_STARTTLS) and one that answers 421/450
(RATE_LIMITED) from one that can be scanned; then sslyze scans through its own STARTTLS support.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import ipaddress
import socket
import ssl
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import verification
from nassl._nassl import OpenSSLError
from sslyze.__version__ import __version__ as SSLYZE_VERSION
from sslyze.connection_helpers.opportunistic_tls_helpers import ProtocolWithOpportunisticTlsEnum as Opportunistic
from sslyze.errors import ConnectionToServerFailed, TlsHandshakeFailed
from sslyze.json.json_output import ServerScanResultAsJson
from sslyze.plugins.certificate_info.implementation import (
    CertificateInfoExtraArgument,
    CertificateInfoImplementation,
)
from sslyze.plugins.scan_commands import ScanCommand
from sslyze.scanner.models import ScanCommandsExtraArguments, ServerScanRequest, ServerScanResult
from sslyze.scanner.scanner import Scanner
from sslyze.server_connectivity import ServerConnectivityInfo
from sslyze.server_setting import ServerNetworkConfiguration, ServerNetworkLocation

from checks.tls.certificate_parser import CertificateParseError, load_certificate
from checks.tls.facts import (
    SCAN_COMMANDS,
    Connectivity,
    ConnectivityFacts,
    TlsFacts,
    TlsVersion,
    connection_refused,
    could_not_connect,
    failed_connectivity,
    no_tcp,
)
from checks.tls.raw_hello import probe_insecure
from checks.tls.sslyze_adapter import FetchedChains, facts_from_sslyze_json
from checks.tls.starttls import open_session, protocol_name, starttls_command
from scanner.evidence import shorten
from scanner.messages import Message, Text, say
from scanner.model import Endpoint
from scanner.plugin import ScanSettings
from scanner.politeness import Busy, one_at_a_time
from scanner.reasons import network_error

#: The hand-built hellos (four connections) may take this many ``timeout``s in all: a server that lets each one
#: time out cannot hold the scan for four.
RAW_HELLO_BUDGET_TIMEOUTS = 2
#: sslyze outcomes after which, if the server answered the probe, the hand-built hellos are sent.
RAW_HELLO_AFTER = frozenset({Connectivity.HANDSHAKE_FAILED, Connectivity.SSL2_ONLY, Connectivity.UNREACHABLE})
#: Connections sslyze may open at once to one server (politeness); to a mail server, one.
CONNECTIONS_PER_SERVER = 5
#: The mail services the tls family judges, by scheme: how their TLS starts (None: implicit TLS, RFC 8314).
MAIL_SESSIONS: dict[str, Opportunistic | None] = {
    "smtp": Opportunistic.SMTP,
    "imap": Opportunistic.IMAP,
    "pop3": Opportunistic.POP3,
    "smtps": None,
    "imaps": None,
    "pop3s": None,
}
PROBE_READ_BYTES = 512
#: sslyze connectivity outcomes that a reset produces too (sslyze maps a reset during its handshakes to
#: "no TLS version and cipher suite", a reset while connecting to "rejected", other socket errors to
#: "failed"): when the probe saw a reset, these mean RESET.
MAYBE_RESET = frozenset({Connectivity.HANDSHAKE_FAILED, Connectivity.REFUSED, Connectivity.UNREACHABLE})
#: Socket errors that mean the peer (or something in between) reset or aborted the connection.
_RESET_ERRORS = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)
#: The largest handshake message carrying certificates (the certificate list; a certificate request's list
#: of CA names) that OpenSSL and BoringSSL clients accept by default: SSL_MAX_CERT_LIST_DEFAULT, 100 KiB.
CLIENT_CERT_LIST_LIMIT = 100 * 1024
#: How much of the server's TLS 1.2 flight is read at most to find the oversized message's header.
_MAX_FLIGHT_READ = 4 * CLIENT_CERT_LIST_LIMIT
_HANDSHAKE_RECORD = 0x16
_SERVER_HELLO_DONE = 14
#: Handshake messages that OpenSSL limits to CLIENT_CERT_LIST_LIMIT, as a report names them.
_LIMITED_MESSAGES = {
    11: say("tls.oversized.certificate", "certificate message (its certificate list)"),
    13: say("tls.oversized.request", "certificate request (its list of acceptable client-certificate authorities)"),
}


@dataclass(frozen=True)
class TlsTarget:
    """The TLS endpoint behind a URL or a mail service.

    Attributes:
        host: the host name; SNI and certificate validation use it.
        port: the TLS port: the URL's port for https://, 443 for http://, the service's port.
        address: the address to connect to instead of resolving ``host`` (``resolve`` in the targets file).
        opportunistic: the plain-text protocol whose STARTTLS (STLS) starts the TLS; None for TLS from the first
            byte.
        mail: a mail service: a port that may be closed, on a server that sees one session at a time.
    """

    host: str
    port: int = 443
    address: str | None = None
    opportunistic: Opportunistic | None = None
    mail: bool = False

    @classmethod
    def for_endpoint(cls, endpoint: Endpoint) -> TlsTarget:
        if endpoint.kind == "service" and endpoint.scheme in MAIL_SESSIONS and endpoint.port:
            return cls(
                host=endpoint.host,
                port=endpoint.port,
                address=endpoint.address,
                opportunistic=MAIL_SESSIONS[endpoint.scheme],
                mail=True,
            )
        port = endpoint.port if endpoint.scheme == "https" and endpoint.port else 443
        return cls(host=endpoint.host, port=port, address=endpoint.address)

    @property
    def key(self) -> tuple[str, str, int, str | None, str | None, bool]:
        """The fact-cache key: every URL on the same TLS endpoint shares one scan; a STARTTLS session is another
        endpoint than TLS on the same port."""
        protocol = None if self.opportunistic is None else self.opportunistic.value
        return ("tls", self.host, self.port, self.address, protocol, self.mail)


def collect_tls(target: TlsTarget, settings: ScanSettings, wait: float = 0.0) -> TlsFacts:
    """Scan one TLS endpoint and return its facts; connection failures are facts, not exceptions.

    ``wait``: the seconds a mail service's scan may wait for another session with its server to end."""
    started = time.monotonic()
    now = dt.datetime.now(dt.UTC)
    address = target.address
    if address is None:
        try:
            address = resolve(target.host, target.port)
        except OSError as exc:
            unresolved = say("tls.connect.unresolved", "The host name {host} does not resolve.", host=target.host)
            return _failed(target, None, now, started, Connectivity.DNS_FAILURE, unresolved, str(exc))
    if not target.mail:
        return _scan(target, address, settings, now, started)
    try:
        with one_at_a_time(address, wait):
            if target.opportunistic is not None:
                return _scan_starttls(target, target.opportunistic, address, settings, now, started)
            return _scan(target, address, settings, now, started)
    except Busy as exc:
        busy = say(
            "tls.session.lock_wait",
            "Another session with the server at {address} did not end within {seconds:g} s (platscan "
            "opens one session at a time with a mail server).",
            address=address,
            seconds=round(wait),
        )
        return _failed(target, address, now, started, Connectivity.ERROR, busy, str(exc))


def _failed(
    target: TlsTarget,
    address: str | None,
    now: dt.datetime,
    started: float,
    status: Connectivity,
    reason: Text,
    error: str | None = None,
) -> TlsFacts:
    return failed_connectivity(
        target.host, target.port, address, status, reason, error, now=now, duration=time.monotonic() - started
    )


def _scan_starttls(
    target: TlsTarget, protocol: Opportunistic, address: str, settings: ScanSettings, now: dt.datetime, started: float
) -> TlsFacts:
    """A STARTTLS session's facts: its plain-text start, then sslyze through STARTTLS.

    No ClientHello probe, no second probe after a failure, no hand-built hellos and no oversized-message
    measurement here: all of them speak TLS from the first byte, which a STARTTLS port does not answer; and each
    would be one more session with a server that counts them. sslyze's own errors say the rest."""
    timeout = max(0.5, float(settings.timeout))
    session = open_session(address, target.port, protocol, timeout, ehlo_name())
    if session.problem is not None:
        problem = session.problem
        return _failed(target, address, now, started, problem.status, problem.reason, problem.error)
    anchors = load_anchors(settings.ca_bundle)
    doc, fetched = run_sslyze(
        target.host,
        target.port,
        address,
        settings,
        validate=sslyze_validates(target.host, address, anchors),
        opportunistic=protocol,
    )
    facts = facts_from_sslyze_json(
        doc,
        hostname=target.host,
        anchors=anchors,
        now=now,
        duration=time.monotonic() - started,
        sslyze_version=SSLYZE_VERSION,
        fetched=fetched,
    )
    if facts.connectivity.status is Connectivity.STARTTLS_REFUSED and session.advertised is not True:
        # The server listed no capabilities, and refused the command: it has no STARTTLS.
        plain = say(
            "tls.session.refused_command",
            "The {protocol} server on port {port} refused {command}: its session stays in plain text.",
            protocol=protocol_name(protocol),
            port=target.port,
            command=starttls_command(protocol),
        )
        no_starttls = ConnectivityFacts(Connectivity.NO_STARTTLS, plain, facts.connectivity.error)
        return dataclasses.replace(facts, connectivity=no_starttls)
    return facts


def ehlo_name() -> str:
    """The name platscan gives in SMTP's EHLO: the scanning machine's (RFC 5321 4.1.4). Its host name as the system
    knows it, not ``socket.getfqdn()``: that asks DNS, and a scan's lookups go only to its own resolvers."""
    return socket.gethostname() or "localhost"


def _scan(target: TlsTarget, address: str, settings: ScanSettings, now: dt.datetime, started: float) -> TlsFacts:
    """The facts of TLS from the first byte: the probe, sslyze, and the fallbacks described in the module."""
    timeout = max(0.5, float(settings.timeout))

    def failed(status: Connectivity, reason: Text, error: str | None = None) -> TlsFacts:
        return _failed(target, address, now, started, status, reason, error)

    problem = probe(address, target.port, target.host, timeout, speculative=target.mail)
    # A reset is not the last word: some TLS stacks reset a ClientHello they dislike, and sslyze tries others.
    if problem is not None and problem.status is not Connectivity.RESET:
        return failed(problem.status, problem.reason, problem.error)

    anchors = load_anchors(settings.ca_bundle)
    doc, fetched = run_sslyze(
        target.host,
        target.port,
        address,
        settings,
        validate=sslyze_validates(target.host, address, anchors),
        polite=target.mail,
    )
    facts = facts_from_sslyze_json(
        doc,
        hostname=target.host,
        anchors=anchors,
        now=now,
        duration=time.monotonic() - started,
        sslyze_version=SSLYZE_VERSION,
        fetched=fetched,
    )
    if facts.connectivity.status is Connectivity.SSL2_ONLY:
        return _with_raw_hellos(facts, address, target, timeout)
    if facts.connectivity.status not in MAYBE_RESET:
        return facts
    if problem is None:
        # The probe was not reset, yet every sslyze attempt failed: an IPS may have started resetting. Ask again.
        again = probe(address, target.port, target.host, timeout, speculative=target.mail)
        if again is None or again.status is not Connectivity.RESET:
            oversized = _oversized_instead(facts, address, target, timeout)
            if oversized is not None:
                return failed(oversized.status, oversized.reason, oversized.error)
            return _with_raw_hellos(facts, address, target, timeout)
        problem = dataclasses.replace(
            again,
            reason=say(
                "tls.connect.reset_later",
                "The server on port {port} answered the first TLS ClientHello, then reset the scanner's connections "
                "(a firewall or IPS that blocks scanners?).",
                port=target.port,
            ),
        )
    error = f"{problem.error}; sslyze: {facts.connectivity.error}" if facts.connectivity.error else problem.error
    return failed(Connectivity.RESET, problem.reason, error)


def _with_raw_hellos(facts: TlsFacts, address: str, target: TlsTarget, timeout: float) -> TlsFacts:
    """``facts`` with what the server chose from hand-built hellos offering only insecure suites, when sslyze's
    handshakes all failed against a server that answers in TLS (see ``raw_hello``); else ``facts`` unchanged.

    sslyze reports some of those servers as unreachable (its legacy OpenSSL chokes on what they send: "Unexpected
    connection error"); when a hand-built hello is answered, such a server is reached and offers no usable TLS.
    """
    status = facts.connectivity.status
    if status not in RAW_HELLO_AFTER:
        return facts
    chosen, invalid = probe_insecure(
        address, target.port, _server_name(target.host), timeout, RAW_HELLO_BUDGET_TIMEOUTS * timeout
    )
    facts = dataclasses.replace(facts, raw_hellos=chosen, raw_probed=True, raw_invalid=invalid)
    if status is not Connectivity.UNREACHABLE or not chosen:
        return facts
    only_ssl2 = all(h.version is TlsVersion.SSL_2_0 for h in chosen)
    reason = say(
        "tls.connect.insecure_only",
        "No handshake of sslyze's with port {port} succeeded, but the server answers hand-built hellos that offer "
        "only insecure suites.",
        port=target.port,
    )
    if only_ssl2:
        reason = say(
            "tls.connect.ssl2_hello_only",
            "The server on port {port} accepts only SSL 2.0 (it answers only an SSL 2.0 CLIENT-HELLO).",
            port=target.port,
        )
    connectivity = ConnectivityFacts(
        Connectivity.SSL2_ONLY if only_ssl2 else Connectivity.HANDSHAKE_FAILED, reason, facts.connectivity.error
    )
    return dataclasses.replace(facts, connectivity=connectivity)


def _oversized_instead(facts: TlsFacts, address: str, target: TlsTarget, timeout: float) -> ConnectivityFacts | None:
    """OVERSIZED_HANDSHAKE, with sslyze's error appended, if sslyze's failed handshakes were an oversized message's
    doing; else None."""
    if facts.connectivity.status is not Connectivity.HANDSHAKE_FAILED:
        return None
    found = oversized_handshake(address, target.port, target.host, timeout)
    if found is None:
        return None
    return dataclasses.replace(found, error=f"{found.error}; sslyze: {facts.connectivity.error}")


def resolve(host: str, port: int) -> str:
    """The address to connect to: the IP literal itself, else the first IPv4 address, else the first one."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not infos:
        raise OSError(f"no address for {host}")
    for family, _, _, _, sockaddr in infos:
        if family == socket.AF_INET:
            return str(sockaddr[0])
    return str(infos[0][4][0])


def _lenient_context(maximum_version: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED) -> ssl.SSLContext:
    """A client context of Python's OpenSSL that offers everything it can and verifies nothing."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.maximum_version = maximum_version
        context.set_ciphers("ALL:@SECLEVEL=0")
    except (ssl.SSLError, ValueError):
        pass
    return context


def client_hello(server_name: str | None, maximum_version: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED) -> bytes:
    """A TLS ClientHello as Python's OpenSSL would send it, offering everything it can (up to ``maximum_version``)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = _lenient_context(maximum_version).wrap_bio(incoming, outgoing, server_hostname=server_name)
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def _server_name(host: str) -> str | None:
    """The SNI to send for ``host``: none for IP literals (RFC 6066)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    return None


def _reset(port: int, exc: OSError, *, connecting: bool) -> ConnectivityFacts:
    """RESET: the connection was reset while connecting, or instead of an answer to the ClientHello."""
    if connecting:
        reason = say(
            "tls.connect.reset_connecting",
            "The server on port {port} reset the connection while connecting (a firewall or IPS, or a server that "
            "refuses every TLS handshake this way).",
            port=port,
        )
    else:
        reason = say(
            "tls.connect.reset_hello",
            "The server on port {port} reset the connection instead of answering a TLS ClientHello (a firewall or "
            "IPS, or a server that refuses every TLS handshake this way).",
            port=port,
        )
    return ConnectivityFacts(Connectivity.RESET, reason, f"{type(exc).__name__}: {exc}")


def probe(address: str, port: int, host: str, timeout: float, *, speculative: bool = False) -> ConnectivityFacts | None:
    """One connection and one ClientHello. None if the server may speak TLS (sslyze decides the rest).

    The first TLS record of the answer must arrive complete within ``timeout``: a server that trickles
    its answer would otherwise hold sslyze for minutes, since sslyze's timeouts are per read.
    RESET if the connection was reset or aborted before the server sent a byte; the caller decides
    whether that stands (``collect_tls``).
    ``speculative``: the port may be closed (a mail service): refused, no TCP connection and silent are
    NO_SERVICE, and a silent server is not asked whether it speaks HTTP.
    """
    absent = Connectivity.NO_SERVICE if speculative else None
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except ConnectionRefusedError as exc:
        return ConnectivityFacts(absent or Connectivity.REFUSED, connection_refused(port), str(exc))
    except _RESET_ERRORS as exc:
        return _reset(port, exc, connecting=True)
    except TimeoutError as exc:
        return ConnectivityFacts(absent or Connectivity.TIMEOUT, no_tcp(port, timeout), str(exc) or "timed out")
    except OSError as exc:
        return ConnectivityFacts(Connectivity.UNREACHABLE, could_not_connect(port, network_error(exc)), str(exc))
    with sock:
        server_name = _server_name(host)
        deadline = time.monotonic() + timeout
        data = b""
        try:
            sock.sendall(client_hello(server_name))
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                sock.settimeout(remaining)
                chunk = sock.recv(PROBE_READ_BYTES)
                if not chunk:
                    break
                data += chunk
                verdict = classify_first_bytes(data, port)
                if verdict is not None or _first_record_complete(data):
                    return verdict
        except TimeoutError:
            if not data:
                # Some plain HTTP servers wait for a request line that a ClientHello never ends; ask them.
                silent = say(
                    "tls.connect.silent",
                    "The server accepted a connection on port {port} but did not answer a TLS ClientHello within "
                    "{seconds:g} s.",
                    port=port,
                    seconds=timeout,
                )
                asked = None if speculative else http_probe(address, port, host, timeout)
                return asked or ConnectivityFacts(
                    absent or Connectivity.SILENT, silent, "timed out waiting for the ServerHello"
                )
            unfinished = say(
                "tls.connect.unfinished_record",
                "The server on port {port} started answering but did not finish its first TLS record within "
                "{seconds:g} s.",
                port=port,
                seconds=timeout,
            )
            return ConnectivityFacts(
                Connectivity.TIMEOUT, unfinished, f"received {len(data)} bytes ({data[:8].hex()}…) before the timeout"
            )
        except _RESET_ERRORS as exc:
            if not data:
                return _reset(port, exc, connecting=False)
            return classify_first_bytes(data, port)  # answered, then reset: judge the answer
        except OSError:
            return None  # another socket error mid-handshake: let sslyze decide
    return classify_first_bytes(data, port)


def oversized_handshake(address: str, port: int, host: str, timeout: float) -> ConnectivityFacts | None:
    """OVERSIZED_HANDSHAKE if OpenSSL refuses the server's handshake because a message is too large, else None.

    Called when every sslyze handshake failed: sslyze's error no longer says why (see the module docstring).
    """
    server_name = _server_name(host)
    refusal = _excessive_message_size(address, port, server_name, timeout)
    if refusal is None:
        return None
    measured = measure_oversized_message(address, port, server_name, timeout)
    if measured is None:
        unmeasured = say(
            "tls.connect.oversized_unmeasured",
            'OpenSSL refuses the server\'s handshake with "excessive message size": one of its handshake messages is '
            "larger than OpenSSL clients accept; normally that is the certificate list, over the 100 KiB "
            "({limit:,}-byte) limit of OpenSSL and BoringSSL clients.",
            limit=CLIENT_CERT_LIST_LIMIT,
        )
        return ConnectivityFacts(Connectivity.OVERSIZED_HANDSHAKE, unmeasured, refusal)
    kind, length = measured
    name = _LIMITED_MESSAGES.get(kind) or say("tls.oversized.other", "handshake message of type {kind}", kind=kind)
    reason = say(
        "tls.connect.oversized",
        "The server's {message} is {length:,} bytes, over the 100 KiB ({limit:,}-byte) limit of OpenSSL and "
        'BoringSSL clients (OpenSSL: "excessive message size").',
        message=name,
        length=length,
        limit=CLIENT_CERT_LIST_LIMIT,
    )
    error = f"{refusal}; TLS 1.2 handshake message type {kind}: {length} bytes (limit {CLIENT_CERT_LIST_LIMIT})"
    return ConnectivityFacts(Connectivity.OVERSIZED_HANDSHAKE, reason, error)


def _excessive_message_size(address: str, port: int, server_name: str | None, timeout: float) -> str | None:
    """The error of a handshake with Python's OpenSSL (whose limits are OpenSSL's defaults) if it fails because
    a message of the server's is too large; None if it fails otherwise, or succeeds."""
    try:
        with (
            socket.create_connection((address, port), timeout=timeout) as sock,
            _lenient_context().wrap_socket(sock, server_hostname=server_name),
        ):
            return None
    except ssl.SSLError as exc:
        if exc.reason == "EXCESSIVE_MESSAGE_SIZE" or "excessive message size" in str(exc).lower():
            return f"{type(exc).__name__}: {exc}"
        return None
    except OSError:
        return None


def measure_oversized_message(
    address: str, port: int, server_name: str | None, timeout: float
) -> tuple[int, int] | None:
    """The first message of the server's TLS 1.2 handshake over CLIENT_CERT_LIST_LIMIT, as (type, length in bytes).

    TLS 1.2 sends the server's handshake messages in the clear, and each one starts with its type and length:
    reading up to that header is enough. None if the server does not speak TLS 1.2 (TLS 1.3 encrypts them),
    no message is over the limit, or nothing readable arrives within ``timeout``.
    """
    deadline = time.monotonic() + timeout
    data = b""
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            sock.sendall(client_hello(server_name, ssl.TLSVersion.TLSv1_2))
            while len(data) < _MAX_FLIGHT_READ and (remaining := deadline - time.monotonic()) > 0:
                sock.settimeout(remaining)
                chunk = sock.recv(65536)
                if not chunk:
                    return None
                data += chunk
                for kind, length in handshake_headers(data):
                    if length > CLIENT_CERT_LIST_LIMIT:
                        return kind, length
                    if kind == _SERVER_HELLO_DONE:
                        return None
    except OSError:
        return None
    return None


def handshake_headers(data: bytes) -> list[tuple[int, int]]:
    """(type, length) of each handshake message whose header has arrived in ``data``, the server's TLS records as
    received; the records that follow a record of another kind (an alert, or encrypted ones) are not read."""
    payload = bytearray()
    offset = 0
    while offset + 5 <= len(data) and data[offset] == _HANDSHAKE_RECORD:
        end = offset + 5 + int.from_bytes(data[offset + 3 : offset + 5], "big")
        payload += data[offset + 5 : end]
        offset = end
    headers = []
    position = 0
    while position + 4 <= len(payload):
        length = int.from_bytes(payload[position + 1 : position + 4], "big")
        headers.append((payload[position], length))
        position += 4 + length
    return headers


def http_probe(address: str, port: int, host: str, timeout: float) -> ConnectivityFacts | None:
    """NO_TLS if the port answers a plain HTTP request with an HTTP response, else None."""
    authority = f"[{host}]" if ":" in host else host
    request = f"HEAD / HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: platscan\r\n\r\n".encode("ascii", "replace")
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            sock.sendall(request)
            data = sock.recv(PROBE_READ_BYTES)
    except OSError:
        return None
    if not data.startswith(b"HTTP/"):
        return None
    line = data.split(b"\r\n", 1)[0].decode("ascii", "replace")
    return ConnectivityFacts(
        Connectivity.NO_TLS,
        _plain_http(port),
        f"ignored a TLS ClientHello and answered an HTTP request with {shorten(repr(line), 100)}",
    )


def _plain_http(port: int) -> Message:
    return say("tls.connect.plain_http", "The server on port {port} answers in plain HTTP, not TLS.", port=port)


def _first_record_complete(data: bytes) -> bool:
    """Whether ``data`` holds a whole TLS record (or an SSL 2.0 record)."""
    if len(data) < 5:
        return False
    if data[0] & 0x80:  # SSL 2.0: 2-byte header with a 15-bit length
        return len(data) >= 2 + (((data[0] & 0x7F) << 8) | data[1])
    return len(data) >= 5 + int.from_bytes(data[3:5], "big")


def classify_first_bytes(data: bytes, port: int) -> ConnectivityFacts | None:
    """None if ``data`` (the server's answer to a ClientHello) may be TLS; else why it is not."""
    if not data:
        return None  # closed without a word: a TLS server that dislikes our hello does that too
    first = data[0]
    if 0x14 <= first <= 0x18 or first & 0x80:  # a TLS record type, or an SSL 2.0 record header
        return None
    if len(data) < 5 and not data.endswith(b"\n"):
        return None  # wait for more before judging a text answer
    sample = data[:80]
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in sample) >= 0.9 * len(sample)
    if printable:
        text = sample.decode("ascii", "replace")
        line = text.splitlines()[0].strip() if text.strip() else text
        answer = (
            _plain_http(port)
            if line.startswith(("HTTP/", "<"))
            else say("tls.connect.plain_text", "The server on port {port} answers in plain text, not TLS.", port=port)
        )
        return ConnectivityFacts(
            Connectivity.NO_TLS, answer, f"answered the ClientHello with {shorten(repr(line), 100)}"
        )
    return ConnectivityFacts(
        Connectivity.NO_TLS,
        say("tls.connect.not_tls", "The server on port {port} does not speak TLS.", port=port),
        f"answered the ClientHello with bytes {data[:16].hex()}",
    )


def load_anchors(ca_bundle: Path | None) -> list[x509.Certificate]:
    """The trust anchors: the system store (sslyze's Mozilla store if there is none) plus ``ca_bundle``."""
    paths: list[Path] = []
    cafile = ssl.get_default_verify_paths().cafile
    if cafile and Path(cafile).is_file():
        paths.append(Path(cafile))
    else:
        from sslyze.plugins.certificate_info.trust_stores.trust_store_repository import TrustStoresRepository

        paths.append(TrustStoresRepository.get_default().get_main_store().path)
    if ca_bundle is not None:
        paths.append(Path(ca_bundle))
    anchors: list[x509.Certificate] = []
    for path in paths:
        anchors.extend(read_pem_certificates(path.read_bytes()))
    return anchors


def read_pem_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle; one malformed entry (or one cryptography refuses) does not lose the
    others."""
    marker = b"-----BEGIN CERTIFICATE-----"
    certs: list[x509.Certificate] = []
    for block in data.split(marker)[1:]:
        try:
            certs.append(load_certificate(marker + block).cert)
        except CertificateParseError:
            continue
    return certs


def sslyze_validates(host: str, address: str, anchors: Sequence[x509.Certificate]) -> bool:
    """Whether sslyze's certificate_info can run for ``host``: it validates each chain for the SNI name (the
    address when the SNI is the address) with cryptography's server verifier, which refuses names outside its
    syntax, such as a label with an underscore, though DNS and browsers allow them; then the whole command
    fails and no certificate would be judged."""
    if host == address or not anchors:
        return True
    try:
        verification.PolicyBuilder().store(verification.Store(list(anchors[:1]))).build_server_verifier(
            x509.DNSName(host)
        )
    except ValueError:
        return False
    return True


def run_sslyze(
    host: str,
    port: int,
    address: str,
    settings: ScanSettings,
    *,
    validate: bool = True,
    opportunistic: Opportunistic | None = None,
    polite: bool = False,
) -> tuple[dict[str, Any], FetchedChains | None]:
    """One sslyze scan with every command the tls checks need, as sslyze's own JSON model.

    Without ``validate`` (``sslyze_validates``), certificate_info is left out and the certificate chains are
    fetched as it fetches them (``fetch_chains``); else the second value is None. ``opportunistic``: start each
    connection's TLS with that protocol's STARTTLS. ``polite`` (a mail server, and every STARTTLS session): one
    connection at a time and no retries, since such servers answer extra sessions with 421."""
    polite = polite or opportunistic is not None
    extra = ScanCommandsExtraArguments()
    if settings.ca_bundle is not None and validate:
        extra = ScanCommandsExtraArguments(
            certificate_info=CertificateInfoExtraArgument(custom_ca_file=Path(settings.ca_bundle))
        )
    commands = set(SCAN_COMMANDS) if validate else set(SCAN_COMMANDS) - {ScanCommand.CERTIFICATE_INFO}
    request = ServerScanRequest(
        server_location=ServerNetworkLocation(hostname=host, port=port, ip_address=address),
        network_configuration=ServerNetworkConfiguration(
            # For an IP literal this sends the IP as SNI, which RFC 6066 (section 3) forbids and the probe
            # avoids. sslyze 6 leaves no choice: the field is a required str, nassl refuses an empty name
            # ("Error setting the SNI extension"), so every handshake would fail, and sslyze has no switch to
            # turn SNI off for a whole scan. Its own CLI does the same for an IP target (SNI = the IP), and
            # its certificate_info validates against an IP SAN only when SNI equals the IP address.
            # Servers ignore such a name; our own trust and host-name checks do not depend on it.
            tls_server_name_indication=host,
            network_timeout=int(max(1, settings.timeout)),
            # sslyze treats this as the number of attempts (1 = no retry); ours counts retries.
            network_max_retries=1 if polite else max(1, settings.retries + 1),
            tls_opportunistic_encryption=opportunistic,
            smtp_ehlo_hostname=ehlo_name() if opportunistic is Opportunistic.SMTP else None,
        ),
        scan_commands=commands,
        scan_commands_extra_arguments=extra,
    )
    connections = 1 if polite else CONNECTIONS_PER_SERVER
    scanner = Scanner(per_server_concurrent_connections_limit=connections, concurrent_server_scans_limit=1)
    scanner.queue_scans([request])
    # sslyze parses the server's certificates and reads their serial numbers (in its threads, then for its JSON),
    # and cryptography warns on stderr about a negative one each time. The facts parse every certificate again
    # and record that warning as a finding (certificate_parser.load_certificate); here it is only noise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        results = list(scanner.get_results())
        if len(results) != 1:
            raise RuntimeError(f"sslyze returned {len(results)} results for one request")
        fetched = None if validate else fetch_chains(results[0])
        return ServerScanResultAsJson.model_validate(results[0]).model_dump(mode="json"), fetched


def fetch_chains(result: ServerScanResult) -> FetchedChains:
    """The certificate chains the server sends with SNI, fetched by the handshakes sslyze's certificate_info makes
    (looking like different clients, so that an RSA and an ECDSA certificate are both seen), for a host name it
    cannot validate (``sslyze_validates``). The chain sent without SNI is not fetched: the facts judge what
    clients get, as they do from certificate_info's result."""
    host = result.server_location.hostname
    reason = (
        f"sslyze did not validate the chain: the verifier it uses (cryptography's) refuses {host!r} as a host name, "
        "which DNS allows; platscan fetched the certificates and judged them itself."
    )
    if result.connectivity_result is None:
        return FetchedChains(reason, error=say("tls.fetch.no_connection", "sslyze could not connect"))
    info = ServerConnectivityInfo(
        server_location=result.server_location,
        network_configuration=result.network_configuration,
        tls_probing_result=result.connectivity_result,
    )
    chains: dict[str, tuple[tuple[str, ...], bytes | None]] = {}
    failures: list[str] = []
    for job in CertificateInfoImplementation.scan_jobs_for_scan_command(info):
        if not job.function_arguments[-1]:  # the handshake without SNI
            continue
        try:
            pems, ocsp, *_ = job.function_to_call(*job.function_arguments)
        except (TlsHandshakeFailed, ConnectionToServerFailed, OpenSSLError, OSError, ValueError) as exc:
            # As in certificate_info: a handshake that looks like another client may fail (no RSA suite, ...);
            # a server with anonymous suites only sends no certificate ("peer did not present a certificate").
            failures.append(f"{type(exc).__name__}: {exc}")
            continue
        if pems:
            chains.setdefault(pems[0], (tuple(pems), None if ocsp is None else ocsp.as_der_bytes()))
    error: Text | None = None
    if not chains and not any("peer did not present a certificate" in f for f in failures):
        error = shorten(failures[0]) if failures else say("tls.fetch.no_chain", "no certificate chain was received")
    return FetchedChains(reason, tuple(chains.values()), error)
