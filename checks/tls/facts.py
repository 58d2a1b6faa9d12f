"""The TLS facts about one endpoint: the frozen, typed values the tls checks judge.

They are a model of their own, apart from how they are made, so that the checks depend on nothing but
these values: a collector builds them in a worker process and sends them back pickled (hence frozen
dataclasses and enums only), and the unit tests build them from recorded sslyze JSON. How they are made:
``sslyze_adapter`` (sslyze's scan result), ``certificate_parser`` (the certificates sent) and
``trust_path`` (whether the chain leads to a trust anchor).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from sslyze.plugins.scan_commands import ScanCommand

from scanner.evidence import shorten
from scanner.messages import Message, Text, say

MAX_ERROR_CHARS = 300


class TlsVersion(enum.StrEnum):
    """A protocol version; the value is how a report names it."""

    SSL_2_0 = "SSL 2.0"
    SSL_3_0 = "SSL 3.0"
    TLS_1_0 = "TLS 1.0"
    TLS_1_1 = "TLS 1.1"
    TLS_1_2 = "TLS 1.2"
    TLS_1_3 = "TLS 1.3"

    @property
    def command(self) -> ScanCommand:
        """The sslyze scan command that tests this version's cipher suites."""
        return _VERSION_COMMANDS[self]


_VERSION_COMMANDS = {
    TlsVersion.SSL_2_0: ScanCommand.SSL_2_0_CIPHER_SUITES,
    TlsVersion.SSL_3_0: ScanCommand.SSL_3_0_CIPHER_SUITES,
    TlsVersion.TLS_1_0: ScanCommand.TLS_1_0_CIPHER_SUITES,
    TlsVersion.TLS_1_1: ScanCommand.TLS_1_1_CIPHER_SUITES,
    TlsVersion.TLS_1_2: ScanCommand.TLS_1_2_CIPHER_SUITES,
    TlsVersion.TLS_1_3: ScanCommand.TLS_1_3_CIPHER_SUITES,
}

CIPHER_COMMANDS: tuple[ScanCommand, ...] = tuple(_VERSION_COMMANDS.values())

#: Every scan command the tls checks need; one sslyze scan runs them all.
SCAN_COMMANDS: tuple[ScanCommand, ...] = (
    ScanCommand.CERTIFICATE_INFO,
    *CIPHER_COMMANDS,
    ScanCommand.TLS_COMPRESSION,
    ScanCommand.TLS_FALLBACK_SCSV,
    ScanCommand.HEARTBLEED,
    ScanCommand.OPENSSL_CCS_INJECTION,
    ScanCommand.ROBOT,
    ScanCommand.SESSION_RENEGOTIATION,
)


class Connectivity(enum.StrEnum):
    """Whether a TLS conversation with the endpoint was possible, and if not, why."""

    OK = "ok"
    DNS_FAILURE = "dns_failure"  # the host name does not resolve
    REFUSED = "refused"  # nothing listens on the port (connection refused)
    UNREACHABLE = "unreachable"  # another network error (no route to host, ...)
    TIMEOUT = "timeout"  # no TCP connection, or the server stopped answering, within the timeout
    SILENT = "silent"  # the TCP connection was accepted but a TLS ClientHello got no answer
    RESET = "reset"  # the server (or a firewall / IPS in front of it) reset the connection instead of answering
    NO_TLS = "no_tls"  # the server answered, but not in TLS (e.g. plain HTTP)
    HANDSHAKE_FAILED = "handshake_failed"  # the server answered in TLS (e.g. an alert) but no handshake completed
    SSL2_ONLY = "ssl2_only"  # the only protocol the server accepts is SSL 2.0
    # the server answered in TLS, but sends a handshake message (normally its certificate list) larger than
    # clients accept, so no client built on OpenSSL or BoringSSL, sslyze included, completes a handshake
    OVERSIZED_HANDSHAKE = "oversized_handshake"
    # Mail services only (a port that may be closed, a session in plain text before STARTTLS):
    NO_SERVICE = "no_service"  # nothing listens or answers on the port (refused, no TCP connection, silent)
    NO_STARTTLS = "no_starttls"  # the plain-text session offers no STARTTLS (STLS for POP3): no TLS to judge
    STARTTLS_REFUSED = "starttls_refused"  # it offers STARTTLS, but did not start TLS when asked
    RATE_LIMITED = "rate_limited"  # the server answered 421/450 ("too many connections"): not tested, no retry
    ERROR = "error"  # anything else (a bug, an unexpected library error)


#: Cases where the endpoint answered but offers no usable TLS: a finding, not a scan failure.
NO_USABLE_TLS = frozenset({Connectivity.NO_TLS, Connectivity.HANDSHAKE_FAILED, Connectivity.SSL2_ONLY})
#: Cases where nothing answered on the port at all (a reset is no answer: it says nothing about TLS).
NOT_REACHED = frozenset(
    {Connectivity.REFUSED, Connectivity.UNREACHABLE, Connectivity.TIMEOUT, Connectivity.SILENT, Connectivity.RESET}
)


@dataclass(frozen=True)
class ConnectivityFacts:
    """How the connection went.

    Attributes:
        status: the outcome.
        reason: one sentence for a report ("Connection refused on port 443."), a message (plain text in facts
            built by hand).
        error: the underlying error, shortened (exception line or sslyze's message); None when status is OK.
    """

    status: Connectivity
    reason: Text
    error: str | None = None


@dataclass(frozen=True)
class CommandError:
    """A sslyze scan command that did not complete.

    Attributes:
        command: the sslyze scan command, e.g. "heartbleed".
        reason: sslyze's error reason: CLIENT_CERTIFICATE_NEEDED, CONNECTIVITY_ISSUE, BUG_IN_SSLYZE, WRONG_USAGE;
            or ``UNPARSEABLE_CERTIFICATE`` when the command (or platscan reading its result) could not parse a
            certificate the server sent.
        message: the last line of the error trace, shortened (sslyze's words: data); for
            ``UNPARSEABLE_CERTIFICATE`` and ``NOT_RUN`` a message.
    """

    command: str
    reason: str
    message: Text

    @property
    def client_certificate_needed(self) -> bool:
        return self.reason == "CLIENT_CERTIFICATE_NEEDED"

    @property
    def unparseable_certificate(self) -> bool:
        return self.reason == UNPARSEABLE_CERTIFICATE

    @property
    def not_run(self) -> bool:
        return self.reason == NOT_RUN


#: ``CommandError.reason`` of a command that could not judge a certificate because it cannot be parsed.
UNPARSEABLE_CERTIFICATE = "UNPARSEABLE_CERTIFICATE"
#: ``CommandError.reason`` of a command platscan scheduled that sslyze reports it did not run (NOT_SCHEDULED).
NOT_RUN = "NOT_RUN"


def rfc5280_serial() -> Message:
    """What RFC 5280 says of serial numbers, to follow "which"."""
    return say("tls.serial.rfc5280", "RFC 5280 (section 4.1.2.2) forbids: a serial number must be a positive integer")


def connection_refused(port: int) -> Message:
    return say("tls.connect.refused", "Connection refused on port {port}.", port=port)


def no_tcp(port: int, seconds: float) -> Message:
    return say(
        "tls.connect.no_tcp", "No TCP connection to port {port} within {seconds:g} s.", port=port, seconds=seconds
    )


def could_not_connect(port: int, error: Text) -> Message:
    return say("tls.connect.failed", "Could not connect to port {port} ({error}).", port=port, error=error)


@dataclass(frozen=True)
class EphemeralKey:
    """The ephemeral key exchange of an accepted suite.

    Attributes:
        kind: "DH" or "ECDH".
        size: key size in bits (the DH prime's size for DH).
        curve: the curve's name for ECDH (e.g. "X25519", "prime256v1").
        group_valid: DH only: whether the prime is a (probable) prime and the generator is in range;
            None for ECDH.
    """

    kind: str
    size: int
    curve: str | None = None
    group_valid: bool | None = None


@dataclass(frozen=True)
class CipherSuite:
    """One cipher suite the server accepted.

    Attributes:
        name: the IANA name, e.g. "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".
        openssl_name: OpenSSL's name, e.g. "ECDHE-RSA-AES128-GCM-SHA256".
        key_size: the symmetric key size in bits (0 for NULL ciphers).
        anonymous: True for suites without server authentication (aNULL).
        ephemeral: the negotiated ephemeral key; None for static key exchanges, or when sslyze could not
            read it (sslyze reports a DHE suite with no key when the DH group was too small to accept).
    """

    name: str
    openssl_name: str
    key_size: int
    anonymous: bool
    ephemeral: EphemeralKey | None = None


@dataclass(frozen=True)
class RawServerHello:
    """What a server chose in answer to a hand-built hello (``raw_hello``), sent when sslyze could not negotiate.

    Attributes:
        offered: the highest version the hello offered (SSL 2.0 for the SSL 2.0 CLIENT-HELLO).
        version: the version the server chose.
        suite: the IANA name of the suite it chose (SSL 2.0: the cipher kind, "SSL_CK_...").
        code: the suite's code in hex, as on the wire ("0x0003"; SSL 2.0: three bytes).
        key_size: the suite's symmetric key size in bits (0 for NULL).
    """

    offered: TlsVersion
    version: TlsVersion
    suite: str
    code: str
    key_size: int

    @property
    def as_suite(self) -> CipherSuite:
        return CipherSuite(self.suite, "", self.key_size, anonymous="_anon_" in self.suite)


@dataclass(frozen=True)
class ProtocolFacts:
    """What the server accepted for one protocol version.

    Attributes:
        version: the protocol version.
        supported: True if at least one suite was accepted; None if the scan errored or did not run.
        accepted: the accepted suites.
    """

    version: TlsVersion
    supported: bool | None
    accepted: tuple[CipherSuite, ...] = ()


@dataclass(frozen=True)
class CertificateFacts:
    """One certificate the server sent, parsed.

    Attributes:
        subject: RFC 4514 subject ("CN=portal.dvc.example,O=..."); "" if it could not be parsed.
        common_name: the subject's CN, if any.
        issuer: RFC 4514 issuer.
        serial: serial number in hex.
        not_before: start of validity (UTC).
        not_after: end of validity (UTC).
        san_dns: DNS names in the subjectAltName extension.
        san_ip: IP addresses in the subjectAltName extension.
        has_san: whether a subjectAltName extension is present at all.
        key_type: "RSA", "EC", "DSA", "Ed25519", "Ed448" or the key class's name.
        key_size: key size in bits (None for Ed25519/Ed448).
        key_curve: the curve for EC keys ("secp256r1").
        signature_hash: the signature's hash ("sha256", "sha1", "md5"); None for Ed25519/Ed448.
        self_signed: issuer equals subject and the certificate's own key verifies its signature.
        is_ca: basicConstraints says CA.
        ocsp_urls: OCSP responder URLs from authorityInfoAccess.
        ca_issuers_urls: CA issuer URLs from authorityInfoAccess (where a client may fetch a missing issuer).
        must_staple: the TLS feature extension demands a stapled OCSP response.
        sha256: SHA-256 fingerprint, lower-case hex.
        parse_warnings: what cryptography warned about while parsing it (encodings a future release will
            refuse, such as a negative serial number).
    """

    subject: str
    common_name: str | None
    issuer: str
    serial: str
    not_before: dt.datetime
    not_after: dt.datetime
    san_dns: tuple[str, ...]
    san_ip: tuple[str, ...]
    has_san: bool
    key_type: str
    key_size: int | None
    key_curve: str | None
    signature_hash: str | None
    self_signed: bool
    is_ca: bool
    ocsp_urls: tuple[str, ...]
    ca_issuers_urls: tuple[str, ...]
    must_staple: bool
    sha256: str
    parse_warnings: tuple[str, ...] = ()

    @property
    def serial_positive(self) -> bool:
        """RFC 5280 (4.1.2.2) requires a positive serial number; some CAs have issued negative ones."""
        return not self.serial.startswith("-") and self.serial != "0"

    @property
    def lifetime_days(self) -> float:
        return (self.not_after - self.not_before).total_seconds() / 86400

    @property
    def label(self) -> str:
        """How a report names it: the CN, else the subject, else the fingerprint."""
        return self.common_name or self.subject or f"sha256 {self.sha256[:16]}…"


@dataclass(frozen=True)
class TrustFacts:
    """Whether the chain leads to a trust anchor (system store + ca_bundle), host name and time aside.

    Attributes:
        path_found: a chain of valid signatures from the leaf to an anchor exists, using the certificates
            sent (the first ``trust_path.MAX_CHAIN_CERTS``) and the anchors (intermediates must be CAs).
        strict_ok: cryptography's strict RFC 5280 / CA/B Forum verifier also accepts that path, when asked
            for no host name (that is the host-name check's question) at a time inside the path's validity.
        anchor: subject of the anchor the path ends at.
        path: indices, in the sent chain, of the sent certificates the path uses (leaf first); it stops
            below the anchor (a sent copy of the anchor is not on it). When no path was found: the sent path.
        reason: why no path was found (one sentence, a message); None if found.
        strict_error: the strict verifier's error text (cryptography's words), or why it was not run (a
            message); None if it accepted the path.
        validated_at: the time the strict verifier was asked about.
        anchors: how many anchors were available.
        search_limited: no path was found within platscan's limits (``trust_path.MAX_CHAIN_DEPTH``
            certificates on a path, the first ``trust_path.MAX_CHAIN_CERTS`` sent), but the chain goes on
            beyond them: whether it leads to an anchor is not known. ``reason`` names the limit.
    """

    path_found: bool
    strict_ok: bool
    anchor: str | None
    path: tuple[int, ...]
    reason: Text | None
    strict_error: Text | None
    validated_at: dt.datetime | None
    anchors: int
    search_limited: bool = False


@dataclass(frozen=True)
class OcspFacts:
    """The OCSP response the server stapled to its handshake.

    Attributes:
        response_status: "SUCCESSFUL", "UNAUTHORIZED", "TRY_LATER", ...
        certificate_status: "GOOD", "REVOKED" or "UNKNOWN" (only for successful responses).
        revocation_time: when the certificate was revoked.
        this_update: when the response was produced.
        next_update: when the response stops being fresh.
        trusted: whether sslyze could verify the response against the chain's store; None if not checked.
    """

    response_status: str
    certificate_status: str | None
    revocation_time: dt.datetime | None
    this_update: dt.datetime | None
    next_update: dt.datetime | None
    trusted: bool | None


@dataclass(frozen=True)
class Deployment:
    """One certificate deployment (most servers have one; some serve an RSA and an ECDSA leaf).

    Attributes:
        chain: the certificates as sent, leaf first.
        trust: whether the chain leads to an anchor.
        sent_path: indices of the sent certificates that follow the leaf's issuer links, leaf first.
        extra: indices of sent certificates that are not on that path.
        ocsp: the stapled OCSP response, if any.
        sslyze_trusted_by: names of sslyze's trust stores (or "Supplied CA file") that validated the chain
            for the host name at scan time.
        sslyze_error: one of sslyze's validation errors when none validated.
    """

    chain: tuple[CertificateFacts, ...]
    trust: TrustFacts
    sent_path: tuple[int, ...]
    extra: tuple[int, ...]
    ocsp: OcspFacts | None
    sslyze_trusted_by: tuple[str, ...] = ()
    sslyze_error: str | None = None

    @property
    def leaf(self) -> CertificateFacts:
        return self.chain[0]

    @property
    def validation_path(self) -> tuple[int, ...]:
        """The sent certificates a client relies on, leaf first: the path to the trusted anchor when there
        is one (certificates the server sends besides it, such as an expired cross-signed copy of the root,
        play no part, and the anchor's own dates are the trust store's business, as in browsers); else the
        sent path, since a client that trusts the chain's end would walk that."""
        return self.trust.path if self.trust.path_found else self.sent_path

    @property
    def chain_end(self) -> CertificateFacts:
        """The last certificate on the leaf's path through the sent chain."""
        return self.chain[self.sent_path[-1]]

    @property
    def in_order(self) -> bool:
        return self.sent_path == tuple(range(len(self.sent_path)))


@dataclass(frozen=True)
class TlsFacts:
    """Everything the tls checks judge about one TLS endpoint (host:port).

    Attributes:
        host: the host name (SNI and validation use it).
        port: the TCP port.
        address: the IP address connected to.
        scanned_at: when the facts were collected (UTC); the checks judge dates against it.
        connectivity: whether a TLS conversation was possible.
        client_auth: "disabled", "optional" or "required" (client certificate).
        highest_version: the highest protocol version found while probing.
        protocols: per protocol version, what was accepted (only versions that were scanned).
        deployments: the certificate deployments (empty if certificate_info failed or no certificate was sent).
        heartbleed: vulnerable to Heartbleed; None if unknown.
        ccs_injection: vulnerable to the OpenSSL CCS injection; None if unknown.
        robot: sslyze's ROBOT result ("NOT_VULNERABLE_NO_ORACLE", "VULNERABLE_STRONG_ORACLE", ...).
        compression: TLS compression accepted (CRIME); None if unknown.
        fallback_scsv: TLS_FALLBACK_SCSV honoured; None if unknown.
        secure_renegotiation: RFC 5746 secure renegotiation supported; None if unknown.
        client_renegotiation: client-initiated renegotiation honoured (a DoS vector); None if unknown.
        errors: sslyze scan commands that did not complete.
        raw_hellos: what the server chose when offered only insecure suites in hand-built hellos; these run only
            when sslyze could not negotiate at all (``raw_probed``).
        raw_probed: whether the hand-built hellos were sent.
        raw_invalid: replies to them that broke the protocol, one sentence each (not believed).
        duration: seconds the collection took.
        sslyze_version: the sslyze version that scanned.
    """

    host: str
    port: int
    address: str | None
    scanned_at: dt.datetime
    connectivity: ConnectivityFacts
    client_auth: str = "disabled"
    highest_version: TlsVersion | None = None
    protocols: tuple[ProtocolFacts, ...] = ()
    deployments: tuple[Deployment, ...] = ()
    heartbleed: bool | None = None
    ccs_injection: bool | None = None
    robot: str | None = None
    compression: bool | None = None
    fallback_scsv: bool | None = None
    secure_renegotiation: bool | None = None
    client_renegotiation: bool | None = None
    errors: tuple[CommandError, ...] = ()
    raw_hellos: tuple[RawServerHello, ...] = ()
    raw_probed: bool = False
    raw_invalid: tuple[str, ...] = ()
    duration: float = 0.0
    sslyze_version: str = ""

    @property
    def target(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def error_for(self, command: ScanCommand | str) -> CommandError | None:
        name = command.value if isinstance(command, ScanCommand) else command
        for error in self.errors:
            if error.command == name:
                return error
        return None

    def protocol(self, version: TlsVersion) -> ProtocolFacts | None:
        for protocol in self.protocols:
            if protocol.version == version:
                return protocol
        return None

    def accepted_versions(self) -> tuple[TlsVersion, ...]:
        return tuple(p.version for p in self.protocols if p.supported)

    def accepted_suites(self) -> tuple[tuple[TlsVersion, CipherSuite], ...]:
        return tuple((p.version, suite) for p in self.protocols for suite in p.accepted)


def failed_connectivity(
    host: str,
    port: int,
    address: str | None,
    status: Connectivity,
    reason: Text,
    error: str | None = None,
    *,
    now: dt.datetime,
    duration: float = 0.0,
) -> TlsFacts:
    """Facts for an endpoint where no TLS scan could run."""
    return TlsFacts(
        host=host,
        port=port,
        address=address,
        scanned_at=now,
        connectivity=ConnectivityFacts(status, reason, shorten(error) if error else None),
        duration=duration,
    )
