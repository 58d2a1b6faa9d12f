"""How sslyze's result of one server scan becomes ``TlsFacts``.

``facts_from_sslyze_json`` is a pure function: sslyze's JSON model of one server scan (the dict that
``ServerScanResultAsJson.model_dump(mode="json")`` gives), the host name, the trust anchors and the
time of the scan go in; ``TlsFacts`` come out. The collector (``_collect.py``) does all the I/O, the
checks only judge these facts, and the unit tests feed recorded sslyze JSON straight into it. Everything
that knows sslyze's result model is here, so a new sslyze release touches this module only.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.x509.ocsp import load_der_ocsp_response
from sslyze.json.json_output import ServerScanResultAsJson
from sslyze.plugins.certificate_info.json_output import (
    _CertificateDeploymentAnalysisResultAsJson as DeploymentJson,
)
from sslyze.plugins.certificate_info.json_output import (
    _OcspResponseAsJson as OcspJson,
)
from sslyze.plugins.openssl_cipher_suites.json_output import (
    _CipherSuiteAcceptedByServerAsJson as AcceptedSuiteJson,
)
from sslyze.plugins.scan_commands import ScanCommand
from sslyze.scanner.scan_command_attempt import ScanCommandAttemptStatusEnum

from checks.tls.certificate_parser import CertificateParseError, certificate_facts, load_chain, unparseable_sentence
from checks.tls.facts import (
    NOT_RUN,
    SCAN_COMMANDS,
    UNPARSEABLE_CERTIFICATE,
    CipherSuite,
    CommandError,
    Connectivity,
    ConnectivityFacts,
    Deployment,
    EphemeralKey,
    OcspFacts,
    ProtocolFacts,
    TlsFacts,
    TlsVersion,
    connection_refused,
    could_not_connect,
    failed_connectivity,
)
from checks.tls.trust_path import follow_chain
from scanner.evidence import shorten
from scanner.messages import Message, Text, say


@dataclass(frozen=True)
class FetchedChains:
    """The certificate chains the collector fetched itself, through sslyze's connections, for a host name that
    sslyze's certificate_info cannot validate (it then does not run; see ``_collect.sslyze_validates``).

    Attributes:
        reason: why sslyze did not validate the chains, as a sentence (kept as the deployments' ``sslyze_error``).
        chains: each distinct chain the server sends with SNI: its certificates (PEM, leaf first) and the OCSP
            response stapled to it (DER), if any.
        error: why no chain could be fetched, when none was (the certificate checks cannot judge).
    """

    reason: str
    chains: tuple[tuple[tuple[str, ...], bytes | None], ...] = ()
    error: Text | None = None


def facts_from_sslyze_json(
    doc: Mapping[str, Any],
    *,
    hostname: str,
    anchors: Sequence[x509.Certificate],
    now: dt.datetime,
    duration: float = 0.0,
    sslyze_version: str = "",
    fetched: FetchedChains | None = None,
) -> TlsFacts:
    """Turn sslyze's JSON model of one server scan into ``TlsFacts``.

    ``doc`` must validate as ``sslyze.json.json_output.ServerScanResultAsJson`` (``ValueError`` if not).
    ``anchors`` are the trust anchors (system store + ca_bundle) the chain is judged against; ``now``
    is the time of the scan. ``fetched``: the certificate chains, when sslyze's certificate_info was not run.
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
            errors.append(
                CommandError(command.value, NOT_RUN, say("tls.command.not_scheduled", "sslyze did not run it"))
            )
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
    cert_info = attempt_result(ScanCommand.CERTIFICATE_INFO) if fetched is None else None
    try:
        if cert_info is not None:
            deployments = tuple(
                _deployment(d, anchors, now) for d in cert_info.certificate_deployments if d.received_certificate_chain
            )
        elif fetched is not None:
            deployments = tuple(_fetched_deployment(c, o, fetched.reason, anchors, now) for c, o in fetched.chains)
            if fetched.error is not None:
                errors.append(CommandError(ScanCommand.CERTIFICATE_INFO.value, "CONNECTIVITY_ISSUE", fetched.error))
    except CertificateParseError as exc:
        errors.append(CommandError(ScanCommand.CERTIFICATE_INFO.value, UNPARSEABLE_CERTIFICATE, exc.reason))

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
        connectivity=ConnectivityFacts(
            Connectivity.OK, say("tls.connect.ok", "A TLS handshake with port {port} succeeded.", port=location.port)
        ),
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
        which = say("tls.certificate.any", "A certificate")
        return CommandError(command.value, UNPARSEABLE_CERTIFICATE, unparseable_sentence(which, last_line))
    return CommandError(command.value, reason, last_line)


# sslyze exception class (last line of the connectivity trace) -> our status
_SSLYZE_CONNECTIVITY_ERRORS: dict[str, Connectivity] = {
    "ServerHostnameCouldNotBeResolved": Connectivity.DNS_FAILURE,
    "ServerRejectedConnection": Connectivity.REFUSED,
    "ConnectionToServerTimedOut": Connectivity.TIMEOUT,
    "TlsHandshakeTimedOut": Connectivity.TIMEOUT,
    "ServerRejectedTlsHandshake": Connectivity.HANDSHAKE_FAILED,
    "ServerTlsConfigurationNotSupported": Connectivity.HANDSHAKE_FAILED,
    "ConnectionToServerFailed": Connectivity.UNREACHABLE,
    "ServerRejectedOpportunisticTlsNegotiation": Connectivity.STARTTLS_REFUSED,
}
#: In sslyze's words for a refused STARTTLS: the server limits sessions (smtplib drops the reply's code from its
#: text, so the words are all there is).
_BUSY_REFUSAL = re.compile(r"\b(421|450)\b|too many|connection limit|rate limit|try again later", re.IGNORECASE)


def _classify_connectivity_trace(trace: str, port: int) -> tuple[Connectivity, Message, str]:
    """Map sslyze's connectivity error (the formatted exception) to a status and a sentence."""
    line = _last_line(trace) if trace else "sslyze gave no error"
    exc_name = line.split(":", 1)[0].rsplit(".", 1)[-1]
    message = line.split("->", 1)[1].strip().strip('."') if "->" in line else line
    status = _SSLYZE_CONNECTIVITY_ERRORS.get(exc_name, Connectivity.ERROR)
    if status is Connectivity.HANDSHAKE_FAILED and "SSL 2.0" in message:
        status = Connectivity.SSL2_ONLY
    if status is Connectivity.STARTTLS_REFUSED and _BUSY_REFUSAL.search(message):
        status = Connectivity.RATE_LIMITED
    return status, _connectivity_reason(status, port, message), line


def _connectivity_reason(status: Connectivity, port: int, message: str) -> Message:
    """The sentence for a failed sslyze connectivity test; ``message`` is sslyze's own words (data)."""
    if status is Connectivity.DNS_FAILURE:
        return say("tls.connect.does_not_resolve", "The host name does not resolve.")
    if status is Connectivity.REFUSED:
        return connection_refused(port)
    if status is Connectivity.TIMEOUT:
        return say(
            "tls.connect.late", "The server on port {port} did not answer in time ({error}).", port=port, error=message
        )
    if status is Connectivity.UNREACHABLE:
        return could_not_connect(port, message)
    if status is Connectivity.HANDSHAKE_FAILED:
        return say(
            "tls.connect.no_handshake",
            "No TLS handshake with port {port} succeeded, whatever the protocol version or cipher suite ({error}).",
            port=port,
            error=message,
        )
    if status is Connectivity.SSL2_ONLY:
        return say("tls.connect.ssl2_only", "The server on port {port} accepts only SSL 2.0.", port=port)
    if status is Connectivity.STARTTLS_REFUSED:
        return say(
            "tls.connect.starttls_refused",
            "The server on port {port} did not start TLS ({error}).",
            port=port,
            error=message,
        )
    if status is Connectivity.RATE_LIMITED:
        return say(
            "tls.connect.busy",
            "The server on port {port} stopped taking sessions during the scan ({error}): it limits sessions, and "
            "platscan does not retry.",
            port=port,
            error=message,
        )
    return say("tls.connect.unexpected", "The TLS scan failed unexpectedly ({error}).", error=message)


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


def _deployment(deployment: DeploymentJson, anchors: Sequence[x509.Certificate], now: dt.datetime) -> Deployment:
    trusted_by = tuple(
        sorted(p.trust_store.name for p in deployment.path_validation_results if p.was_validation_successful)
    )
    sslyze_error = None
    if not trusted_by:
        errors = [p.validation_error for p in deployment.path_validation_results if p.validation_error]
        sslyze_error = shorten(errors[0]) if errors else None
    ocsp = deployment.ocsp_response
    return _judged_chain(
        [c.as_pem for c in deployment.received_certificate_chain],
        None if ocsp is None else _ocsp_facts(ocsp, deployment.ocsp_response_is_trusted),
        anchors,
        now,
        trusted_by,
        sslyze_error,
    )


def _fetched_deployment(
    pems: Sequence[str], ocsp_der: bytes | None, reason: str, anchors: Sequence[x509.Certificate], now: dt.datetime
) -> Deployment:
    ocsp = None
    if ocsp_der is not None:
        # Read as sslyze reads a staple; whether it verifies was not checked (None), as sslyze validated no chain.
        ocsp = _ocsp_facts(OcspJson.model_validate(load_der_ocsp_response(ocsp_der)), None)
    return _judged_chain(pems, ocsp, anchors, now, (), reason)


def _ocsp_facts(response: OcspJson, trusted: bool | None) -> OcspFacts:
    return OcspFacts(
        response_status=response.response_status,
        certificate_status=response.certificate_status,
        revocation_time=response.revocation_time,
        this_update=response.this_update,
        next_update=response.next_update,
        trusted=trusted,
    )


def _judged_chain(
    pems: Sequence[str],
    ocsp: OcspFacts | None,
    anchors: Sequence[x509.Certificate],
    now: dt.datetime,
    sslyze_trusted_by: tuple[str, ...],
    sslyze_error: str | None,
) -> Deployment:
    parsed = load_chain(pems)
    certs = [p.cert for p in parsed]
    sent_path, trust = follow_chain(certs, anchors, now)
    return Deployment(
        chain=tuple(certificate_facts(p) for p in parsed),
        trust=trust,
        sent_path=sent_path,
        extra=tuple(i for i in range(len(certs)) if i not in sent_path),
        ocsp=ocsp,
        sslyze_trusted_by=sslyze_trusted_by,
        sslyze_error=sslyze_error,
    )
