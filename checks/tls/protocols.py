"""Protocol-level tls checks: is TLS there at all, which versions, and protocol features."""

from __future__ import annotations

from typing import ClassVar

from sslyze.plugins.scan_commands import ScanCommand

from checks.tls.base import TlsCheck, did_not_run, no_tls_sentence, target_evidence
from checks.tls.ciphers import raw_evidence
from checks.tls.facts import NO_USABLE_TLS, NOT_REACHED, Connectivity, TlsFacts, TlsVersion
from scanner.messages import Message, say
from scanner.model import Cap, Endpoint, Severity, Status
from scanner.plugin import Verdict
from scanner.wording import listed

_PROTOCOLS_REMEDIATION = (
    "Accept only TLS 1.2 and TLS 1.3.\n"
    "nginx: `ssl_protocols TLSv1.2 TLSv1.3;`\n"
    "Apache (mod_ssl): `SSLProtocol -all +TLSv1.2 +TLSv1.3`\n"
    "IIS / Windows Server: disable SSL 2.0, SSL 3.0, TLS 1.0 and TLS 1.1 under "
    "`HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\<version>\\Server` "
    "(`Enabled`=0, `DisabledByDefault`=1), or with IIS Crypto's 'Best Practices' template; then reboot.\n"
    "Load balancers and CDNs in front of the server have their own TLS policy: set it there too."
)


def _versions(facts: TlsFacts, versions: tuple[TlsVersion, ...]) -> list[TlsVersion]:
    return [v for v in versions if (p := facts.protocol(v)) is not None and p.supported]


def _accepted(versions: list[TlsVersion]) -> Message:
    """ "SSL 3.0 is accepted." / "TLS 1.0 and TLS 1.1 are accepted." """
    named = listed([v.value for v in versions])
    if len(versions) == 1:
        return say("tls.versions.accepted_one", "{versions} is accepted.", versions=named)
    return say("tls.versions.accepted_many", "{versions} are accepted.", versions=named)


def _version_evidence(facts: TlsFacts) -> dict[str, object]:
    return {
        **target_evidence(facts),
        "accepted_versions": [v.value for v in facts.accepted_versions()],
        "refused_versions": [p.version.value for p in facts.protocols if p.supported is False],
    }


class HttpsAvailable(TlsCheck):
    id: ClassVar[str] = "tls.https_available"
    title: ClassVar[str] = "HTTPS availability"
    finding: ClassVar[str] = "HTTPS is not available"
    severity: ClassVar[Severity] = Severity.HIGH
    caps: ClassVar[tuple[Cap, ...]] = (Cap("F", note="no HTTPS"),)
    why: ClassVar[str] = (
        "Without TLS, everything citizens and officials send to the platform (passwords, personal data, "
        "documents) crosses the network in clear text and can be read or altered on the way."
    )
    remediation: ClassVar[str] = (
        "Serve the platform over HTTPS on port 443 with a certificate for its host name, and redirect http:// "
        "to https://.\n"
        "nginx: `listen 443 ssl; ssl_certificate /etc/ssl/{platform}/fullchain.pem; "
        "ssl_certificate_key /etc/ssl/{platform}/privkey.pem; ssl_protocols TLSv1.2 TLSv1.3;`\n"
        "Apache: `Listen 443` and a `<VirtualHost *:443>` with `SSLEngine on`, `SSLCertificateFile` and "
        "`SSLCertificateKeyFile`.\n"
        "IIS: add an https binding on port 443 to the site (Site Bindings > Add > https) and select the "
        "certificate.\n"
        "If a plain HTTP service answers on 443, move it: port 443 is for TLS."
    )

    def applies_to(self, endpoint: Endpoint) -> bool:
        # A URL promises HTTPS; whether a mail service should offer TLS is the mail family's question.
        return endpoint.kind == "url" and super().applies_to(endpoint)

    def unreachable(self, facts: TlsFacts, scheme: str) -> Verdict:
        status = facts.connectivity.status
        evidence = target_evidence(facts)
        if status is Connectivity.OVERSIZED_HANDSHAKE:
            # The server is there and speaks TLS, but no standard client can finish a handshake: the finding is
            # that clients cannot connect, and the reason says why (the other checks could not run: error).
            oversized = say(
                "tls.https_available.oversized",
                "Standard TLS clients cannot connect to {target}. {reason}",
                target=facts.target,
                reason=facts.connectivity.reason,
            )
            return Verdict(Status.FAIL, oversized, evidence)
        if status in NO_USABLE_TLS or (scheme == "http" and status in NOT_REACHED):
            return Verdict(Status.FAIL, no_tls_sentence(facts, scheme, first=True), evidence)
        return super().unreachable(facts, scheme)

    def evaluate(self, facts: TlsFacts, scheme: str = "https") -> Verdict:
        verdict = super().evaluate(facts, scheme)
        if verdict.status is Status.PASS and scheme == "http":
            also = say(
                "tls.https_available.also_tls",
                "The URL uses http://, but {host} also serves TLS on port {port}.",
                host=facts.host,
                port=facts.port,
            )
            return Verdict(Status.PASS, also, verdict.evidence)
        return verdict

    def judge(self, facts: TlsFacts) -> Verdict:
        if facts.highest_version:
            succeeds = say(
                "tls.https_available.up_to",
                "A TLS handshake with {target} succeeds (up to {version}).",
                target=facts.target,
                version=facts.highest_version.value,
            )
        else:
            succeeds = say(
                "tls.https_available.succeeds", "A TLS handshake with {target} succeeds.", target=facts.target
            )
        return Verdict(
            Status.PASS,
            succeeds,
            {
                **target_evidence(facts),
                "highest_version": facts.highest_version.value if facts.highest_version else None,
            },
        )


class ProtocolSsl(TlsCheck):
    id: ClassVar[str] = "tls.protocol_ssl"
    title: ClassVar[str] = "SSL 2.0 and SSL 3.0"
    finding: ClassVar[str] = "SSL 2.0 or SSL 3.0 is accepted"
    severity: ClassVar[Severity] = Severity.CRITICAL
    caps: ClassVar[tuple[Cap, ...]] = (Cap("F", note="SSL 2.0/3.0 accepted"),)
    why: ClassVar[str] = (
        "SSL 2.0 and SSL 3.0 are broken (DROWN, POODLE): an attacker on the network can decrypt traffic, "
        "and no current browser needs them."
    )
    remediation: ClassVar[str] = _PROTOCOLS_REMEDIATION
    commands: ClassVar[tuple[ScanCommand, ...]] = (
        ScanCommand.SSL_2_0_CIPHER_SUITES,
        ScanCommand.SSL_3_0_CIPHER_SUITES,
    )

    def unreachable(self, facts: TlsFacts, scheme: str) -> Verdict:
        # A hand-built hello (sent when sslyze could not negotiate) that the server answered with SSL 2.0 or 3.0.
        chosen = [h for h in facts.raw_hellos if h.version in (TlsVersion.SSL_2_0, TlsVersion.SSL_3_0)]
        if chosen:
            versions = sorted({h.version for h in chosen}, key=list(TlsVersion).index)
            named, suites = (
                listed([v.value for v in versions]),
                listed([f"{h.suite} ({h.version.value})" for h in chosen]),
            )
            if len(versions) == 1:
                chose = say(
                    "tls.protocol_ssl.hello_one",
                    "{versions} is accepted: standard TLS clients complete no handshake with {target}, but in answer "
                    "to a hand-built hello it chose {suites}.",
                    versions=named,
                    target=facts.target,
                    suites=suites,
                )
            else:
                chose = say(
                    "tls.protocol_ssl.hello_many",
                    "{versions} are accepted: standard TLS clients complete no handshake with {target}, but in answer "
                    "to a hand-built hello it chose {suites}.",
                    versions=named,
                    target=facts.target,
                    suites=suites,
                )
            return Verdict(
                Status.FAIL,
                chose,
                {
                    **target_evidence(facts),
                    "accepted_versions": [v.value for v in versions],
                    "raw_handshakes": raw_evidence(chosen),
                },
            )
        if facts.connectivity.status is Connectivity.SSL2_ONLY:
            return Verdict(
                Status.FAIL,
                say("tls.protocol_ssl.ssl2_only", "{target} accepts only SSL 2.0.", target=facts.target),
                {**target_evidence(facts), "accepted_versions": ["SSL 2.0"]},
            )
        return super().unreachable(facts, scheme)

    def judge(self, facts: TlsFacts) -> Verdict:
        bad = _versions(facts, (TlsVersion.SSL_2_0, TlsVersion.SSL_3_0))
        if bad:
            return Verdict(Status.FAIL, _accepted(bad), _version_evidence(facts))
        refused = say("tls.protocol_ssl.refused", "SSL 2.0 and SSL 3.0 are refused.")
        return Verdict(Status.PASS, refused, _version_evidence(facts))


class ProtocolLegacy(TlsCheck):
    id: ClassVar[str] = "tls.protocol_legacy"
    title: ClassVar[str] = "Legacy TLS versions"
    finding: ClassVar[str] = "TLS 1.0 or TLS 1.1 is accepted"
    severity: ClassVar[Severity] = Severity.HIGH
    caps: ClassVar[tuple[Cap, ...]] = (Cap("B", note="TLS 1.0 or 1.1 accepted"),)
    why: ClassVar[str] = (
        "TLS 1.0 and 1.1 rely on outdated constructions (CBC with implicit IVs, MD5/SHA-1 in the handshake) "
        "and were deprecated by RFC 8996; browsers no longer use them, so they only serve attackers and "
        "unmaintained clients."
    )
    remediation: ClassVar[str] = _PROTOCOLS_REMEDIATION
    commands: ClassVar[tuple[ScanCommand, ...]] = (ScanCommand.TLS_1_0_CIPHER_SUITES, ScanCommand.TLS_1_1_CIPHER_SUITES)

    def judge(self, facts: TlsFacts) -> Verdict:
        bad = _versions(facts, (TlsVersion.TLS_1_0, TlsVersion.TLS_1_1))
        if bad:
            return Verdict(Status.FAIL, _accepted(bad), _version_evidence(facts))
        refused = say("tls.protocol_legacy.refused", "TLS 1.0 and TLS 1.1 are refused.")
        return Verdict(Status.PASS, refused, _version_evidence(facts))


class ProtocolTls12(TlsCheck):
    id: ClassVar[str] = "tls.protocol_tls12"
    title: ClassVar[str] = "TLS 1.2 support"
    finding: ClassVar[str] = "TLS 1.2 is not accepted"
    severity: ClassVar[Severity] = Severity.HIGH
    caps: ClassVar[tuple[Cap, ...]] = (Cap("C", Severity.HIGH, "neither TLS 1.2 nor 1.3"),)
    why: ClassVar[str] = (
        "TLS 1.2 is the oldest version still considered secure and the newest that many clients in the "
        "field (older Windows, Android and Java systems, agency back-office software) can speak."
    )
    remediation: ClassVar[str] = (
        "Enable TLS 1.2 alongside TLS 1.3.\n"
        "nginx: `ssl_protocols TLSv1.2 TLSv1.3;`\n"
        "Apache: `SSLProtocol -all +TLSv1.2 +TLSv1.3`\n"
        "IIS / Windows Server: set `Enabled`=1 and `DisabledByDefault`=0 under "
        "`HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\Server` "
        "(or use IIS Crypto) and reboot. Very old servers that cannot do TLS 1.2 must be upgraded."
    )
    commands: ClassVar[tuple[ScanCommand, ...]] = (ScanCommand.TLS_1_2_CIPHER_SUITES, ScanCommand.TLS_1_3_CIPHER_SUITES)

    def judge(self, facts: TlsFacts) -> Verdict:
        evidence = _version_evidence(facts)
        if _versions(facts, (TlsVersion.TLS_1_2,)):
            return Verdict(Status.PASS, say("tls.protocol_tls12.accepted", "TLS 1.2 is accepted."), evidence)
        if _versions(facts, (TlsVersion.TLS_1_3,)):
            # Secure, but clients limited to TLS 1.2 are locked out: a finding of low severity.
            only_13 = say(
                "tls.protocol_tls12.only_tls13",
                "TLS 1.2 is not accepted, only TLS 1.3: secure, but clients limited to TLS 1.2 cannot connect.",
            )
            return Verdict(Status.FAIL, only_13, evidence, Severity.LOW)
        accepted = facts.accepted_versions()
        if accepted:
            neither = say(
                "tls.protocol_tls12.neither_best",
                "Neither TLS 1.2 nor TLS 1.3 is accepted; the best it accepts is {version}.",
                version=accepted[-1].value,
            )
        else:
            neither = say("tls.protocol_tls12.neither", "Neither TLS 1.2 nor TLS 1.3 is accepted.")
        return Verdict(Status.FAIL, neither, evidence)


class ProtocolTls13(TlsCheck):
    id: ClassVar[str] = "tls.protocol_tls13"
    title: ClassVar[str] = "TLS 1.3 support"
    finding: ClassVar[str] = "TLS 1.3 is not accepted"
    severity: ClassVar[Severity] = Severity.LOW
    why: ClassVar[str] = (
        "TLS 1.3 removes the legacy algorithms attacks have relied on, always gives forward secrecy and "
        "makes connections faster; every current browser uses it."
    )
    remediation: ClassVar[str] = (
        "Enable TLS 1.3 (needs OpenSSL 1.1.1 or newer, Windows Server 2022 or newer).\n"
        "nginx: `ssl_protocols TLSv1.2 TLSv1.3;` (nginx's default list omits TLS 1.3 in older versions)\n"
        "Apache 2.4.38+: `SSLProtocol -all +TLSv1.2 +TLSv1.3`\n"
        "IIS: Windows Server 2022 enables TLS 1.3 by default; check "
        "`HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.3\\Server` "
        "is not disabled. On older Windows, terminate TLS on a reverse proxy that supports it."
    )
    commands: ClassVar[tuple[ScanCommand, ...]] = (ScanCommand.TLS_1_3_CIPHER_SUITES,)

    def judge(self, facts: TlsFacts) -> Verdict:
        if _versions(facts, (TlsVersion.TLS_1_3,)):
            return Verdict(
                Status.PASS, say("tls.protocol_tls13.accepted", "TLS 1.3 is accepted."), _version_evidence(facts)
            )
        return Verdict(
            Status.FAIL, say("tls.protocol_tls13.refused", "TLS 1.3 is not accepted."), _version_evidence(facts)
        )


class FallbackScsv(TlsCheck):
    id: ClassVar[str] = "tls.fallback_scsv"
    title: ClassVar[str] = "Downgrade protection (TLS_FALLBACK_SCSV)"
    finding: ClassVar[str] = "The server accepts a downgraded handshake carrying TLS_FALLBACK_SCSV"
    severity: ClassVar[Severity] = Severity.LOW
    why: ClassVar[str] = (
        "TLS_FALLBACK_SCSV (RFC 7507) lets the server refuse a connection that an attacker has forced down "
        "to an older protocol version, which matters as long as older versions are enabled."
    )
    remediation: ClassVar[str] = (
        "Upgrade the TLS library: OpenSSL 1.0.1j and later, and every maintained web server, honour "
        "TLS_FALLBACK_SCSV automatically. Better still, disable the versions below TLS 1.2 so there is "
        "nothing to fall back to (nginx `ssl_protocols TLSv1.2 TLSv1.3;`, Apache "
        "`SSLProtocol -all +TLSv1.2 +TLSv1.3`, IIS Crypto 'Best Practices')."
    )
    commands: ClassVar[tuple[ScanCommand, ...]] = (ScanCommand.TLS_FALLBACK_SCSV,)

    def judge(self, facts: TlsFacts) -> Verdict:
        evidence = {**_version_evidence(facts), "supports_fallback_scsv": facts.fallback_scsv}
        if facts.fallback_scsv is None:
            return did_not_run("fallback", evidence)
        if facts.fallback_scsv:
            refused = say("tls.fallback_scsv.refused", "A downgraded handshake carrying TLS_FALLBACK_SCSV is refused.")
            return Verdict(Status.PASS, refused, evidence)
        accepted = say(
            "tls.fallback_scsv.accepted",
            "The server accepts a downgraded handshake carrying TLS_FALLBACK_SCSV instead of refusing it.",
        )
        return Verdict(Status.FAIL, accepted, evidence)


class Compression(TlsCheck):
    id: ClassVar[str] = "tls.compression"
    title: ClassVar[str] = "TLS compression"
    finding: ClassVar[str] = "TLS compression is accepted"
    severity: ClassVar[Severity] = Severity.MEDIUM
    caps: ClassVar[tuple[Cap, ...]] = (Cap("C", note="CRIME"),)
    why: ClassVar[str] = (
        "TLS-level compression lets an attacker who can inject requests recover secrets such as session "
        "cookies byte by byte (CRIME)."
    )
    remediation: ClassVar[str] = (
        "Disable TLS compression. Current OpenSSL builds have it off; on old ones:\n"
        "nginx: upgrade nginx/OpenSSL (nginx disables compression since 1.3.2 / 1.2.2).\n"
        "Apache 2.4.3+: `SSLCompression off`\n"
        "IIS: SChannel does not implement TLS compression; a device in front of IIS (load balancer, "
        "proxy) may, so check its TLS profile."
    )
    commands: ClassVar[tuple[ScanCommand, ...]] = (ScanCommand.TLS_COMPRESSION,)

    def judge(self, facts: TlsFacts) -> Verdict:
        evidence = {**target_evidence(facts), "supports_compression": facts.compression}
        if facts.compression is None:
            return did_not_run("compression", evidence)
        if facts.compression:
            return Verdict(
                Status.FAIL, say("tls.compression.accepted", "TLS compression is accepted (CRIME)."), evidence
            )
        return Verdict(Status.PASS, say("tls.compression.refused", "TLS compression is refused."), evidence)


class RenegotiationInsecure(TlsCheck):
    id: ClassVar[str] = "tls.renegotiation_insecure"
    title: ClassVar[str] = "TLS renegotiation"
    finding: ClassVar[str] = "Renegotiation is insecure, or clients can start it"
    severity: ClassVar[Severity] = Severity.HIGH
    caps: ClassVar[tuple[Cap, ...]] = (Cap("C", note="insecure renegotiation"),)
    why: ClassVar[str] = (
        "Without secure renegotiation (RFC 5746) an attacker can splice their own request in front of a "
        "victim's (CVE-2009-3555); honouring client-initiated renegotiation also lets one client tie up "
        "server CPU cheaply."
    )
    remediation: ClassVar[str] = (
        "Upgrade the TLS library (secure renegotiation is standard since 2010) and refuse client-initiated "
        "renegotiation.\n"
        "nginx: refuses client-initiated renegotiation already; upgrade nginx/OpenSSL if this fails.\n"
        "Apache: upgrade mod_ssl/OpenSSL and keep `SSLInsecureRenegotiation off` (the default).\n"
        "IIS / Windows Server: install current updates; to refuse client-initiated renegotiation set "
        "`DisableRenegoOnServer`=1 (DWORD) under "
        "`HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL`."
    )
    commands: ClassVar[tuple[ScanCommand, ...]] = (ScanCommand.SESSION_RENEGOTIATION,)

    def judge(self, facts: TlsFacts) -> Verdict:
        evidence = {
            **target_evidence(facts),
            "supports_secure_renegotiation": facts.secure_renegotiation,
            "accepts_client_renegotiation": facts.client_renegotiation,
        }
        if facts.secure_renegotiation is None:
            return did_not_run("renegotiation", evidence)
        if not facts.secure_renegotiation:
            insecure = say(
                "tls.renegotiation_insecure.insecure", "The server does not support secure renegotiation (RFC 5746)."
            )
            return Verdict(Status.FAIL, insecure, evidence)
        if facts.client_renegotiation:
            honoured = say(
                "tls.renegotiation_insecure.client_initiated",
                "Secure renegotiation is supported, but the server honours client-initiated renegotiation "
                "(a denial-of-service vector).",
            )
            return Verdict(Status.WARN, honoured, evidence, Severity.MEDIUM)
        secure = say(
            "tls.renegotiation_insecure.secure",
            "Secure renegotiation is supported and client-initiated renegotiation is refused.",
        )
        return Verdict(Status.PASS, secure, evidence)


class ClientCertRequired(TlsCheck):
    id: ClassVar[str] = "tls.client_cert_required"
    title: ClassVar[str] = "Client certificate requirement"
    finding: ClassVar[str] = "The server demands a client certificate, so some checks cannot test it"
    severity: ClassVar[Severity] = Severity.INFO
    why: ClassVar[str] = (
        "An endpoint that demands a client certificate cannot be fully tested without one: some checks "
        "are skipped, and the report says which."
    )
    remediation: ClassVar[str] = (
        "Nothing to fix if mutual TLS is intended. If the endpoint is meant for the public, stop requiring a "
        "client certificate (nginx `ssl_verify_client off;` or `optional;`, Apache `SSLVerifyClient none`, "
        "IIS SSL Settings > Client certificates: Ignore). To test it fully, scan from a host that holds an "
        "authorised client certificate."
    )

    def judge(self, facts: TlsFacts) -> Verdict:
        evidence = {**target_evidence(facts), "client_auth": facts.client_auth}
        if facts.client_auth == "required":
            skipped = sorted(e.command for e in facts.errors if e.client_certificate_needed)
            if skipped:
                evidence["not_tested"] = skipped
            if skipped:
                demands = say(
                    "tls.client_cert_required.untested",
                    "The server demands a client certificate; sslyze could not run {commands}.",
                    commands=listed(skipped),
                )
            else:
                demands = say("tls.client_cert_required.required", "The server demands a client certificate.")
            return Verdict(Status.WARN, demands, evidence)
        if facts.client_auth == "optional":
            optional = say(
                "tls.client_cert_required.optional",
                "The server asks for a client certificate but does not require one.",
            )
            return Verdict(Status.PASS, optional, evidence)
        unasked = say("tls.client_cert_required.not_asked", "The server does not ask for a client certificate.")
        return Verdict(Status.PASS, unasked, evidence)
