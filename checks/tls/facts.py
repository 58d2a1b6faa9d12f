"""The TLS facts about one endpoint, as our own frozen, typed values, and how they come from sslyze.

``facts_from_sslyze_json`` is a pure function: sslyze's JSON model of one server scan (the dict that
``ServerScanResultAsJson.model_dump(mode="json")`` gives), the host name, the trust anchors and the
time of the scan go in; ``TlsFacts`` come out. The collector (``_collect.py``) does all the I/O, the
checks only judge these facts, and the unit tests feed recorded sslyze JSON straight into it.

Trust is separated into its own questions, because sslyze's verdict mixes them (its verifier checks
the host name and the current time as well as the path):

* does a chain from the leaf to an anchor exist at all (names and signatures; ``TrustFacts.path_found``),
* would a strict RFC 5280 verifier accept that chain, with the host name and expiry set aside
  (``TrustFacts.strict_ok``; we verify for the leaf's own first SAN at a time inside the chain's validity),
* does the host name match (``certificates.hostname_matches``) and is the time right (the dates are facts).
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import ipaddress
import re
import secrets
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import verification
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID, NameOID
from sslyze.json.json_output import ServerScanResultAsJson
from sslyze.plugins.certificate_info.json_output import (
    _CertificateDeploymentAnalysisResultAsJson as DeploymentJson,
)
from sslyze.plugins.openssl_cipher_suites.json_output import (
    _CipherSuiteAcceptedByServerAsJson as AcceptedSuiteJson,
)
from sslyze.plugins.scan_commands import ScanCommand
from sslyze.scanner.scan_command_attempt import ScanCommandAttemptStatusEnum

from scanner.evidence import shorten

MAX_ERROR_CHARS = 300
#: The longest path to an anchor that is searched for, in certificates (leaf included).
MAX_CHAIN_DEPTH = 10
#: Only the first this many certificates a server sends are considered for paths (a server may send
#: dozens of look-alike CA certificates; each one multiplies the paths a naive search walks).
MAX_CHAIN_CERTS = 20


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
        reason: one sentence for a report ("Connection refused on port 443.").
        error: the underlying error, shortened (exception line or sslyze's message); None when status is OK.
    """

    status: Connectivity
    reason: str
    error: str | None = None


@dataclass(frozen=True)
class CommandError:
    """A sslyze scan command that did not complete.

    Attributes:
        command: the sslyze scan command, e.g. "heartbleed".
        reason: sslyze's error reason: CLIENT_CERTIFICATE_NEEDED, CONNECTIVITY_ISSUE, BUG_IN_SSLYZE, WRONG_USAGE;
            or ``UNPARSEABLE_CERTIFICATE`` when the command (or platscan reading its result) could not parse a
            certificate the server sent.
        message: the last line of the error trace, shortened; for ``UNPARSEABLE_CERTIFICATE`` a sentence.
    """

    command: str
    reason: str
    message: str

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
#: What RFC 5280 says of serial numbers, to follow "which".
RFC5280_SERIAL = "RFC 5280 (section 4.1.2.2) forbids: a serial number must be a positive integer"


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
            sent (the first ``MAX_CHAIN_CERTS``) and the anchors (intermediates must be CAs).
        strict_ok: cryptography's strict RFC 5280 / CA/B Forum verifier also accepts that path, when asked
            for the leaf's own first SAN at a time inside the path's validity.
        anchor: subject of the anchor the path ends at.
        path: indices, in the sent chain, of the sent certificates the path uses (leaf first); it stops
            below the anchor (a sent copy of the anchor is not on it). When no path was found: the sent path.
        reason: why no path was found (one sentence); None if found.
        strict_error: the strict verifier's error text; None if it accepted the path.
        validated_at: the time the strict verifier was asked about.
        anchors: how many anchors were available.
        search_limited: no path was found within platscan's limits (``MAX_CHAIN_DEPTH`` certificates on a
            path, the first ``MAX_CHAIN_CERTS`` sent), but the chain goes on beyond them: whether it leads to
            an anchor is not known. ``reason`` names the limit.
    """

    path_found: bool
    strict_ok: bool
    anchor: str | None
    path: tuple[int, ...]
    reason: str | None
    strict_error: str | None
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
    reason: str,
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


# --------------------------------------------------------------------------------------------------
# sslyze JSON -> TlsFacts


def facts_from_sslyze_json(
    doc: Mapping[str, Any],
    *,
    hostname: str,
    anchors: Sequence[x509.Certificate],
    now: dt.datetime,
    duration: float = 0.0,
    sslyze_version: str = "",
) -> TlsFacts:
    """Turn sslyze's JSON model of one server scan into ``TlsFacts``.

    ``doc`` must validate as ``sslyze.json.json_output.ServerScanResultAsJson`` (``ValueError`` if not).
    ``anchors`` are the trust anchors (system store + ca_bundle) the chain is judged against; ``now``
    is the time of the scan.
    """
    result = ServerScanResultAsJson.model_validate(dict(doc))
    location = result.server_location
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")

    if result.connectivity_result is None or result.scan_result is None:
        status, reason, error = _classify_connectivity_trace(result.connectivity_error_trace or "", location.port)
        return failed_connectivity(
            hostname, location.port, location.ip_address, status, reason, error, now=now, duration=duration
        )

    probing = result.connectivity_result
    scan = result.scan_result
    errors: list[CommandError] = []

    def attempt_result(command: ScanCommand) -> Any:
        attempt = getattr(scan, command.value)
        if attempt.status == ScanCommandAttemptStatusEnum.ERROR:
            reason = attempt.error_reason.value if attempt.error_reason else "UNKNOWN"
            errors.append(_command_error(command, reason, _last_line(attempt.error_trace or reason)))
            return None
        if attempt.status == ScanCommandAttemptStatusEnum.COMPLETED:
            return attempt.result
        # NOT_SCHEDULED: for a command platscan schedules, the test did not run, so its checks cannot judge.
        if command in SCAN_COMMANDS and not any(e.command == command.value for e in errors):
            errors.append(CommandError(command.value, NOT_RUN, "sslyze did not run it"))
        return None

    protocols: list[ProtocolFacts] = []
    prime_cache: dict[tuple[str, str], bool] = {}
    for version in TlsVersion:
        suites_result = attempt_result(version.command)
        if suites_result is None:
            protocols.append(ProtocolFacts(version, None))
            continue
        accepted = tuple(_suite(s, prime_cache) for s in suites_result.accepted_cipher_suites)
        protocols.append(ProtocolFacts(version, bool(suites_result.is_tls_version_supported), accepted))

    deployments: tuple[Deployment, ...] = ()
    cert_info = attempt_result(ScanCommand.CERTIFICATE_INFO)
    if cert_info is not None:
        try:
            deployments = tuple(
                _deployment(d, anchors, now) for d in cert_info.certificate_deployments if d.received_certificate_chain
            )
        except CertificateParseError as exc:
            errors.append(CommandError(ScanCommand.CERTIFICATE_INFO.value, UNPARSEABLE_CERTIFICATE, str(exc)))

    def flag(command: ScanCommand, attribute: str) -> Any:
        value = attempt_result(command)
        return None if value is None else getattr(value, attribute)

    reneg = attempt_result(ScanCommand.SESSION_RENEGOTIATION)
    robot = flag(ScanCommand.ROBOT, "robot_result")

    return TlsFacts(
        host=hostname,
        port=location.port,
        address=location.ip_address,
        scanned_at=now,
        connectivity=ConnectivityFacts(Connectivity.OK, f"A TLS handshake with port {location.port} succeeded."),
        client_auth=probing.client_auth_requirement.value.lower(),
        highest_version=_version_from_name(probing.highest_tls_version_supported),
        protocols=tuple(protocols),
        deployments=deployments,
        heartbleed=flag(ScanCommand.HEARTBLEED, "is_vulnerable_to_heartbleed"),
        ccs_injection=flag(ScanCommand.OPENSSL_CCS_INJECTION, "is_vulnerable_to_ccs_injection"),
        robot=None if robot is None else str(robot.value),
        compression=flag(ScanCommand.TLS_COMPRESSION, "supports_compression"),
        fallback_scsv=flag(ScanCommand.TLS_FALLBACK_SCSV, "supports_fallback_scsv"),
        secure_renegotiation=None if reneg is None else reneg.supports_secure_renegotiation,
        client_renegotiation=None if reneg is None else reneg.is_vulnerable_to_client_renegotiation_dos,
        errors=tuple(errors),
        duration=duration,
        sslyze_version=sslyze_version,
    )


def _version_from_name(name: str) -> TlsVersion | None:
    try:
        return TlsVersion[name]
    except KeyError:
        return None


def _last_line(trace: str) -> str:
    lines = [line.strip() for line in trace.strip().splitlines() if line.strip()]
    return shorten(lines[-1] if lines else trace)


#: How cryptography's parser says it refuses DER (sslyze's commands parse the server's certificates with it).
_ASN1_PARSE_ERROR = "error parsing asn1 value"


def _command_error(command: ScanCommand, reason: str, last_line: str) -> CommandError:
    """A failed sslyze command; one that failed because cryptography cannot parse the server's certificate says
    so, rather than pass on the exception line."""
    if _ASN1_PARSE_ERROR in last_line and "Certificate" in last_line:
        return CommandError(command.value, UNPARSEABLE_CERTIFICATE, unparseable_sentence("A certificate", last_line))
    return CommandError(command.value, reason, last_line)


def unparseable_sentence(which: str, error: str) -> str:
    """Why a certificate the server sent could not be judged, as a sentence; ``which`` starts it."""
    sentence = f"{which} the server sent cannot be parsed: the cryptography library refuses it ({shorten(error)})."
    if "serial" in error.lower():
        sentence += f" Its serial number is malformed or not positive, which {RFC5280_SERIAL}."
    return sentence


# sslyze exception class (last line of the connectivity trace) -> our status
_SSLYZE_CONNECTIVITY_ERRORS: dict[str, Connectivity] = {
    "ServerHostnameCouldNotBeResolved": Connectivity.DNS_FAILURE,
    "ServerRejectedConnection": Connectivity.REFUSED,
    "ConnectionToServerTimedOut": Connectivity.TIMEOUT,
    "TlsHandshakeTimedOut": Connectivity.TIMEOUT,
    "ServerRejectedTlsHandshake": Connectivity.HANDSHAKE_FAILED,
    "ServerTlsConfigurationNotSupported": Connectivity.HANDSHAKE_FAILED,
    "ConnectionToServerFailed": Connectivity.UNREACHABLE,
}


def _classify_connectivity_trace(trace: str, port: int) -> tuple[Connectivity, str, str]:
    """Map sslyze's connectivity error (the formatted exception) to a status and a sentence."""
    line = _last_line(trace) if trace else "sslyze gave no error"
    exc_name = line.split(":", 1)[0].rsplit(".", 1)[-1]
    message = line.split("->", 1)[1].strip().strip('."') if "->" in line else line
    status = _SSLYZE_CONNECTIVITY_ERRORS.get(exc_name, Connectivity.ERROR)
    if status is Connectivity.HANDSHAKE_FAILED and "SSL 2.0" in message:
        status = Connectivity.SSL2_ONLY
    reasons = {
        Connectivity.DNS_FAILURE: "The host name does not resolve.",
        Connectivity.REFUSED: f"Connection refused on port {port}.",
        Connectivity.TIMEOUT: f"The server on port {port} did not answer in time ({message}).",
        Connectivity.UNREACHABLE: f"Could not connect to port {port} ({message}).",
        Connectivity.HANDSHAKE_FAILED: f"No TLS handshake with port {port} succeeded, whatever the protocol "
        f"version or cipher suite ({message}).",
        Connectivity.SSL2_ONLY: f"The server on port {port} accepts only SSL 2.0.",
        Connectivity.ERROR: f"The TLS scan failed unexpectedly ({message}).",
    }
    return status, reasons.get(status, message), line


def _suite(accepted: AcceptedSuiteJson, prime_cache: dict[tuple[str, str], bool]) -> CipherSuite:
    suite = accepted.cipher_suite
    key = accepted.ephemeral_key
    ephemeral = None
    if key is not None:
        group_valid = None
        if key.type_name == "DH" and key.prime is not None:
            cache_key = (key.prime, key.generator or "")
            if cache_key not in prime_cache:
                prime_cache[cache_key] = _dh_group_valid(key.prime, key.generator)
            group_valid = prime_cache[cache_key]
        ephemeral = EphemeralKey(kind=key.type_name, size=key.size, curve=key.curve_name, group_valid=group_valid)
    return CipherSuite(
        name=suite.name,
        openssl_name=suite.openssl_name,
        key_size=suite.key_size,
        anonymous=suite.is_anonymous,
        ephemeral=ephemeral,
    )


def _dh_group_valid(prime_b64: str, generator_b64: str | None) -> bool:
    try:
        p = int.from_bytes(base64.b64decode(prime_b64), "big")
        g = int.from_bytes(base64.b64decode(generator_b64), "big") if generator_b64 else 2
    except ValueError:
        return False
    return _probably_prime(p) and 1 < g < p - 1


def _probably_prime(n: int, rounds: int = 16) -> bool:
    """Miller-Rabin with random bases."""
    if n < 4:
        return n in (2, 3)
    if n % 2 == 0:
        return False
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for _ in range(rounds):
        a = 2 + secrets.randbelow(n - 3)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


# --------------------------------------------------------------------------------------------------
# Certificates


_WEAK_SIGNATURE_OIDS = {
    "1.2.840.113549.1.1.2": "md2",
    "1.2.840.113549.1.1.4": "md5",
    "1.2.840.113549.1.1.5": "sha1",
    "1.2.840.10045.4.1": "sha1",
    "1.2.840.10040.4.3": "sha1",
}


class CertificateParseError(ValueError):
    """cryptography refuses to parse a certificate (``str()`` is a sentence for a report)."""


@dataclass(frozen=True)
class ParsedCertificate:
    """A certificate as cryptography parsed it, with what it warned about.

    Attributes:
        cert: the certificate.
        serial: its serial number, read once here: cryptography warns on every read of a negative one.
        warnings: cryptography's deprecation warnings about it (a negative serial number, for one).
    """

    cert: x509.Certificate
    serial: int
    warnings: tuple[str, ...] = ()


def _parse_pem(pem: bytes) -> ParsedCertificate:
    cert = x509.load_pem_x509_certificate(pem)
    return ParsedCertificate(cert, cert.serial_number)


def load_certificate(pem: bytes) -> ParsedCertificate:
    """Parse one PEM certificate. Raises ``CertificateParseError`` if cryptography refuses it.

    cryptography warns (on stderr, by default) about encodings it means to refuse in a future release, such
    as a negative serial number. Here such a warning is raised as an exception and caught, so that it becomes
    a fact (``ParsedCertificate.warnings``), and the certificate is parsed again with the warning silenced.
    Once cryptography refuses such certificates, that second parse raises like any malformed one. (Warning
    filters are process-wide; collectors run one to a process, so no other thread's warnings are caught.)
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", CryptographyDeprecationWarning)
            return _parse_pem(pem)
    except CryptographyDeprecationWarning as warning:
        concern = str(warning)
    except ValueError as exc:
        raise CertificateParseError(str(exc)) from exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        try:
            parsed = _parse_pem(pem)
        except ValueError as exc:
            raise CertificateParseError(str(exc)) from exc
    return ParsedCertificate(parsed.cert, parsed.serial, (concern,))


def _load_chain(pems: Sequence[str]) -> list[ParsedCertificate]:
    parsed = []
    for index, pem in enumerate(pems):
        try:
            parsed.append(load_certificate(pem.encode("ascii")))
        except CertificateParseError as exc:
            which = "The certificate" if index == 0 else f"Certificate {index + 1} of the {len(pems)}"
            raise CertificateParseError(unparseable_sentence(which, str(exc))) from exc
    return parsed


def _deployment(deployment: DeploymentJson, anchors: Sequence[x509.Certificate], now: dt.datetime) -> Deployment:
    parsed = _load_chain([c.as_pem for c in deployment.received_certificate_chain])
    certs = [p.cert for p in parsed]
    chain = tuple(certificate_facts(p) for p in parsed)
    sent = _SentChain(certs)
    sent_path = _sent_path(sent)
    extra = tuple(i for i in range(len(certs)) if i not in sent_path)
    trust = _assess_trust(sent, anchors, now)
    ocsp = None
    if deployment.ocsp_response is not None:
        response = deployment.ocsp_response
        ocsp = OcspFacts(
            response_status=response.response_status,
            certificate_status=response.certificate_status,
            revocation_time=response.revocation_time,
            this_update=response.this_update,
            next_update=response.next_update,
            trusted=deployment.ocsp_response_is_trusted,
        )
    trusted_by = tuple(
        sorted(p.trust_store.name for p in deployment.path_validation_results if p.was_validation_successful)
    )
    sslyze_error = None
    if not trusted_by:
        errors = [p.validation_error for p in deployment.path_validation_results if p.validation_error]
        sslyze_error = shorten(errors[0]) if errors else None
    return Deployment(
        chain=chain,
        trust=trust,
        sent_path=sent_path,
        extra=extra,
        ocsp=ocsp,
        sslyze_trusted_by=trusted_by,
        sslyze_error=sslyze_error,
    )


def certificate_facts(parsed: ParsedCertificate) -> CertificateFacts:
    """Parse one certificate into facts; tolerant of malformed fields."""
    cert = parsed.cert
    subject = _name(cert, "subject")
    issuer = _name(cert, "issuer")
    common_name = None
    try:
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if cns:
            value = cns[0].value
            common_name = value if isinstance(value, str) else value.decode("utf-8", "replace")
    except ValueError:
        pass

    san_dns: tuple[str, ...] = ()
    san_ip: tuple[str, ...] = ()
    has_san = False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        has_san = True
        san_dns = tuple(san.get_values_for_type(x509.DNSName))
        san_ip = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        pass

    key_type, key_size, key_curve = _key_info(cert)

    signature_hash: str | None
    try:
        algorithm = cert.signature_hash_algorithm
        signature_hash = algorithm.name if algorithm is not None else None
    except UnsupportedAlgorithm:
        signature_hash = _WEAK_SIGNATURE_OIDS.get(cert.signature_algorithm_oid.dotted_string, "unknown")

    is_ca = _is_ca(cert)

    ocsp_urls: list[str] = []
    ca_issuers: list[str] = []
    try:
        aia = cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS).value
        assert isinstance(aia, x509.AuthorityInformationAccess)
        for description in aia:
            if isinstance(description.access_location, x509.UniformResourceIdentifier):
                if description.access_method == AuthorityInformationAccessOID.OCSP:
                    ocsp_urls.append(description.access_location.value)
                elif description.access_method == AuthorityInformationAccessOID.CA_ISSUERS:
                    ca_issuers.append(description.access_location.value)
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        pass

    must_staple = False
    try:
        features = cert.extensions.get_extension_for_class(x509.TLSFeature).value
        must_staple = x509.TLSFeatureType.status_request in features
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        pass

    return CertificateFacts(
        subject=subject,
        common_name=common_name,
        issuer=issuer,
        serial=format(parsed.serial, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        san_dns=san_dns,
        san_ip=san_ip,
        has_san=has_san,
        key_type=key_type,
        key_size=key_size,
        key_curve=key_curve,
        signature_hash=signature_hash,
        self_signed=_issued_by(cert, cert),
        is_ca=is_ca,
        ocsp_urls=tuple(ocsp_urls),
        ca_issuers_urls=tuple(ca_issuers),
        must_staple=must_staple,
        sha256=cert.fingerprint(hashes.SHA256()).hex(),
        parse_warnings=parsed.warnings,
    )


def _name(cert: x509.Certificate, which: str) -> str:
    try:
        name: x509.Name = cert.subject if which == "subject" else cert.issuer
        return name.rfc4514_string()
    except ValueError:
        return ""


def _key_info(cert: x509.Certificate) -> tuple[str, int | None, str | None]:
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return "unknown", None, None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size, key.curve.name
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", None, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", None, None
    return type(key).__name__, None, None


def _issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    """``issuer``'s subject is ``child``'s issuer and ``issuer``'s key verifies ``child``'s signature.

    Legacy signatures (SHA-1, MD5) that cryptography's ``verify_directly_issued_by`` refuses are
    verified by hand: whether a chain is weak is ``tls.cert_weak_signature``'s question, not this one's.
    """
    try:
        if child.issuer != issuer.subject:
            return False
        child.verify_directly_issued_by(issuer)
    except InvalidSignature:
        return False
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return _legacy_signature_ok(child, issuer)
    return True


def _legacy_signature_ok(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        algorithm = child.signature_hash_algorithm
        key = issuer.public_key()
        if algorithm is None:
            return False
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(child.signature, child.tbs_certificate_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(algorithm))
        elif isinstance(key, dsa.DSAPublicKey):
            key.verify(child.signature, child.tbs_certificate_bytes, algorithm)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        return False


class _SentChain:
    """The certificates a server sent, with each issuer check computed once.

    Only the first ``MAX_CHAIN_CERTS`` take part in paths: a server that sends many CA certificates with
    the same name and key (each of which verifies every other) would otherwise cost a path search time
    that grows with the factorial of their number.
    """

    def __init__(self, certs: Sequence[x509.Certificate]) -> None:
        self.certs = list(certs)
        self.size = min(len(self.certs), MAX_CHAIN_CERTS)
        self._issued: dict[tuple[int, int], bool] = {}
        self._ca: dict[int, bool] = {}

    def issued_by(self, child: int, issuer: int) -> bool:
        """Whether sent certificate ``issuer`` issued sent certificate ``child`` (see ``_issued_by``)."""
        key = (child, issuer)
        known = self._issued.get(key)
        if known is None:
            known = self._issued[key] = _issued_by(self.certs[child], self.certs[issuer])
        return known

    def is_ca(self, index: int) -> bool:
        known = self._ca.get(index)
        if known is None:
            known = self._ca[index] = _is_ca(self.certs[index])
        return known


def _sent_path(chain: _SentChain) -> tuple[int, ...]:
    """Follow issuer links from the leaf through the sent certificates (next one preferred)."""
    path = [0]
    while len(path) < chain.size:
        current = path[-1]
        if chain.issued_by(current, current):
            break
        candidates = [current + 1, *(i for i in range(chain.size) if i != current + 1)]
        found = next((i for i in candidates if i < chain.size and i not in path and chain.issued_by(current, i)), None)
        if found is None:
            break
        path.append(found)
    return tuple(path)


def _same_key_and_subject(a: x509.Certificate, b: x509.Certificate) -> bool:
    try:
        return a.subject == b.subject and a.public_key() == b.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return False


def assess_trust(
    certs: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate], now: dt.datetime
) -> TrustFacts:
    """Does the sent chain lead to one of ``anchors``, host name and validity dates aside?"""
    return _assess_trust(_SentChain(certs), anchors, now)


def _assess_trust(chain: _SentChain, anchors: Sequence[x509.Certificate], now: dt.datetime) -> TrustFacts:
    by_subject: dict[bytes, list[x509.Certificate]] = {}
    for anchor in anchors:
        try:
            by_subject.setdefault(anchor.subject.public_bytes(), []).append(anchor)
        except ValueError:
            continue

    def anchor_for(cert: x509.Certificate) -> x509.Certificate | None:
        """The anchor ``cert`` is (same subject and key), or the anchor that issued it."""
        try:
            own = by_subject.get(cert.subject.public_bytes(), [])
            issuers = by_subject.get(cert.issuer.public_bytes(), [])
        except ValueError:
            return None
        for anchor in own:
            if _same_key_and_subject(cert, anchor):
                return anchor
        for anchor in issuers:
            if _issued_by(cert, anchor):
                return anchor
        return None

    def search() -> _PathSearch:
        """Breadth first from the leaf over sent CA certificates, each visited once: the shortest path
        (at most ``MAX_CHAIN_DEPTH`` certificates) to an anchor."""
        parent: dict[int, int | None] = {0: None}
        level = [0]
        depth = 1
        while level:
            for index in level:
                found = anchor_for(chain.certs[index])
                if found is not None:
                    path = [index]
                    while (up := parent[path[-1]]) is not None:
                        path.append(up)
                    return _PathSearch(tuple(reversed(path)), found)
            below = _sent_issuers(chain, level, parent)
            if below and depth >= MAX_CHAIN_DEPTH:
                return _PathSearch(limit=_depth_limit(len(chain.certs)))
            level = below
            depth += 1
        return _PathSearch(limit=_issuer_beyond_considered(chain, parent))

    outcome = search()
    if outcome.anchor is None:
        path_indices = _sent_path(chain)
        reason = outcome.limit or _no_path_reason(chain, path_indices)
    else:
        path_indices = outcome.path
        reason = None

    # The strict verifier, with the host name and time taken out of the question. It is given the path
    # found and nothing else: its own path builder tries every combination of the certificates it gets
    # (n ** 8 for n look-alike CA certificates), and it cannot find a path our search missed, since it
    # links certificates the same way (names, signatures, CA flag) under stricter rules.
    path_certs = [chain.certs[i] for i in path_indices]
    validated_at = _time_inside_validity(path_certs, now)
    strict_error: str | None
    if not anchors:
        strict_error = "no trust anchors available"
    elif outcome.anchor is None:
        strict_error = "not run: no chain of signatures leads to a trust anchor"
    else:
        strict_error = _strict_verify(path_certs, anchors, validated_at)

    return TrustFacts(
        path_found=outcome.anchor is not None,
        strict_ok=strict_error is None,
        anchor=_name(outcome.anchor, "subject") if outcome.anchor is not None else None,
        path=path_indices,
        reason=reason,
        strict_error=strict_error,
        validated_at=validated_at,
        anchors=len(anchors),
        search_limited=outcome.limit is not None,
    )


@dataclass(frozen=True)
class _PathSearch:
    """How the search for a path from the leaf to an anchor ended.

    Attributes:
        path: the path found (indices in the sent chain, leaf first); empty if none.
        anchor: the anchor it ends at; None if no path was found.
        limit: when no path was found within platscan's limits but the chain goes on beyond them, a sentence
            naming the limit.
    """

    path: tuple[int, ...] = ()
    anchor: x509.Certificate | None = None
    limit: str | None = None


def _sent_issuers(chain: _SentChain, level: Sequence[int], parent: dict[int, int | None]) -> list[int]:
    """The sent CA certificates not visited yet that issued a certificate of ``level``; marks them visited
    (``parent``: each one's child)."""
    found = []
    for index in level:
        for candidate in range(chain.size):
            if candidate not in parent and chain.is_ca(candidate) and chain.issued_by(index, candidate):
                parent[candidate] = index
                found.append(candidate)
    return found


def _depth_limit(sent: int) -> str:
    return (
        f"The chain is longer than {MAX_CHAIN_DEPTH} certificates, platscan's path-length limit; platscan does not "
        f"follow it further (the server sends {sent}), so whether it leads to a trusted anchor is not known."
    )


def _issuer_beyond_considered(chain: _SentChain, visited: Mapping[int, int | None]) -> str | None:
    """A sentence naming ``MAX_CHAIN_CERTS`` if the issuer of a certificate the search reached is among the sent
    certificates beyond that limit (by name: the search stops there, so a signature is not checked)."""
    ignored = chain.certs[chain.size :]
    for index in visited:
        cert = chain.certs[index]
        try:
            beyond = any(cert.issuer == other.subject for other in ignored)
        except ValueError:
            continue
        if beyond:
            label = _name(cert, "subject") or f"certificate {index + 1}"
            return (
                f"The issuer of '{label}' is among the {len(ignored)} certificates the server sends after the first "
                f"{MAX_CHAIN_CERTS}, and platscan considers only the first {MAX_CHAIN_CERTS}; whether the chain "
                "leads to a trusted anchor is not known."
            )
    return None


def _no_path_reason(chain: _SentChain, sent: tuple[int, ...]) -> str:
    """Why the sent path leads to no anchor, as a sentence."""
    end = chain.certs[sent[-1]]
    end_label = _name(end, "subject") or "the last certificate"
    if chain.issued_by(sent[-1], sent[-1]):
        return f"The chain ends at the self-signed certificate '{end_label}', which is not a trusted anchor."
    return (
        f"The issuer '{_name(end, 'issuer')}' of '{end_label}' is neither among the certificates sent "
        "nor a trusted anchor."
    )


def _time_inside_validity(certs: Sequence[x509.Certificate], now: dt.datetime) -> dt.datetime:
    """``now`` if every certificate is valid then, else the nearest moment when they all are."""
    start = max(c.not_valid_before_utc for c in certs)
    end = min(c.not_valid_after_utc for c in certs)
    if start > end:
        return now
    return min(max(now, start), end)


def _verification_subject(leaf: x509.Certificate) -> verification.Subject:
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        return x509.DNSName("platscan.invalid")
    for name in san:
        if isinstance(name, x509.DNSName):
            value = name.value
            if value.startswith("*."):
                value = "platscan-probe" + value[1:]
            return x509.DNSName(value)
        if isinstance(name, x509.IPAddress) and isinstance(name.value, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return x509.IPAddress(name.value)
    return x509.DNSName("platscan.invalid")


def _strict_verify(
    certs: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate], when: dt.datetime
) -> str | None:
    try:
        verifier = (
            verification.PolicyBuilder()
            .store(verification.Store(list(anchors)))
            .time(when)
            .build_server_verifier(_verification_subject(certs[0]))
        )
        verifier.verify(certs[0], list(certs[1:]))
    except verification.VerificationError as exc:
        # "AlgorithmIdentifier { oid: ..., params: RsaWithSha1(Some(())) }" -> "RsaWithSha1"
        return shorten(re.sub(r"AlgorithmIdentifier \{ oid: .*?params: (\w+)\(.*?\) \}", r"\1", str(exc)))
    except (ValueError, TypeError) as exc:
        return shorten(f"{type(exc).__name__}: {exc}")
    return None
