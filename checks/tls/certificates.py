"""Certificate tls checks: validity dates, host name, trust, chain, key, signature, revocation, OCSP."""

from __future__ import annotations

import abc
import datetime as dt
import ipaddress
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from sslyze.plugins.scan_commands import ScanCommand

from checks.tls.base import TlsCheck, cert_evidence, target_evidence, worst
from checks.tls.facts import CertificateFacts, Deployment, OcspFacts, TlsFacts, rfc5280_serial
from checks.tls.trust_path import NO_COMMON_VALIDITY
from scanner.evidence import clip, shorten
from scanner.messages import Message, Text, say
from scanner.model import Cap, Severity, Status
from scanner.plugin import Verdict
from scanner.urls import normalize_host
from scanner.wording import listed, sentences

#: A certificate that expires sooner than this is flagged.
EXPIRING_DAYS = 30
#: ... and sooner than this, urgently.
EXPIRING_URGENT_DAYS = 7
#: CA/Browser Forum Baseline Requirements limit for a TLS server certificate's lifetime (since 2020-09-01).
MAX_LIFETIME_DAYS = 398
MIN_RSA_BITS = 2048
MIN_DSA_BITS = 2048
MIN_EC_BITS = 256
#: RSA keys smaller than this are factorable today.
BROKEN_RSA_BITS = 1024
WEAK_HASHES = {"md2": Severity.CRITICAL, "md5": Severity.CRITICAL, "sha1": Severity.HIGH}


def _scope_note() -> Message:
    return say(
        "tls.cert_revoked.scope",
        "platscan does not query the CA's OCSP responder or CRL itself: those hosts are outside the registered "
        "platforms, which the scan scope forbids contacting.",
    )


_CERT_REMEDIATION_RENEW = (
    "Renew the certificate and install the new one with its intermediate chain, then reload the server.\n"
    "nginx: `ssl_certificate /etc/ssl/{platform}/fullchain.pem; ssl_certificate_key /etc/ssl/{platform}/privkey.pem;` "
    "then `nginx -t && systemctl reload nginx`\n"
    "Apache: `SSLCertificateFile /etc/ssl/{platform}/fullchain.pem` and "
    "`SSLCertificateKeyFile /etc/ssl/{platform}/privkey.pem` "
    "then `apachectl configtest && systemctl reload apache2`\n"
    "IIS: import the new .pfx into Local Computer > Personal, then Site Bindings > https > select the new "
    "certificate.\n"
    "Automate renewal (ACME / certbot, win-acme, or the government CA's renewal process) and monitor expiry."
)


# --------------------------------------------------------------------------------------------------
# Host name matching (RFC 6125, as browsers apply it)


def _dns_name_matches(pattern: str, host: str) -> bool:
    pattern, host = normalize_host(pattern), normalize_host(host)
    if not pattern or not host:
        return False
    if "*" not in pattern:
        return pattern == host
    labels = pattern.split(".")
    # Only a whole left-most label may be a wildcard, and it must leave at least two labels ("*.dvc.example").
    if labels[0] != "*" or any("*" in label for label in labels[1:]) or len(labels) < 3:
        return False
    host_labels = host.split(".")
    if len(host_labels) != len(labels) or not host_labels[0]:
        return False
    return host_labels[1:] == labels[1:]


def hostname_matches(host: str, san_dns: Sequence[str], san_ip: Sequence[str]) -> str | None:
    """The SAN entry that covers ``host``, or None. SAN only: the CN is never consulted.

    A DNS host matches a DNS SAN exactly (case-insensitive, IDNA) or through a wildcard that is the whole
    left-most label and stands for exactly one label. An IP host matches only an IP SAN.
    """
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is not None:
        for entry in san_ip:
            try:
                if ipaddress.ip_address(entry) == address:
                    return entry
            except ValueError:
                continue
        return None
    for entry in san_dns:
        if _dns_name_matches(entry, host):
            return entry
    return None


# --------------------------------------------------------------------------------------------------
# Helpers


def _date(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).date().isoformat()


def _days(delta: dt.timedelta) -> Message:
    days = int(abs(delta.total_seconds()) // 86400)
    return say("tls.days.one", "1 day") if days == 1 else say("tls.days.many", "{count} days", count=days)


def _path_certs(deployment: Deployment) -> list[tuple[int, CertificateFacts]]:
    """The sent certificates clients rely on (leaf first): the path to the trusted anchor when there is one,
    else the sent path (``Deployment.validation_path``)."""
    return [(i, deployment.chain[i]) for i in deployment.validation_path]


def _off_path(deployment: Deployment) -> list[tuple[int, CertificateFacts]]:
    """The sent certificates that are not on ``validation_path`` (cross-signs, stale roots, strays)."""
    on_path = set(deployment.validation_path)
    return [(i, c) for i, c in enumerate(deployment.chain) if i not in on_path]


def _staple_doubt(ocsp: OcspFacts, now: dt.datetime) -> tuple[Status, Message] | None:
    """Why a successful stapled OCSP response cannot be relied on, or None if it can.

    Returns the status ``tls.ocsp_stapling`` gives it (a stale response is a broken staple, one that does
    not verify is doubtful) and a sentence fragment that follows "The stapled OCSP response ".
    """
    if ocsp.next_update is not None and ocsp.next_update < now:
        return Status.FAIL, say("tls.ocsp.stale", "is stale: it expired on {date}", date=_date(ocsp.next_update))
    if ocsp.trusted is False:
        return Status.WARN, say("tls.ocsp.unverified", "does not verify against the chain's CA")
    return None


def _anchor(subject: str | None) -> Message:
    if subject:
        return say("tls.anchor.named", "the trusted anchor '{anchor}'", anchor=subject)
    return say("tls.anchor.any", "a trusted anchor")


def _which(index: int, cert: CertificateFacts) -> Message:
    if index == 0:
        return say("tls.which.leaf", "The certificate")
    if cert.self_signed:
        return say("tls.which.root", "The root certificate '{label}'", label=cert.label)
    return say("tls.which.intermediate", "The intermediate certificate '{label}'", label=cert.label)


class CertificateCheck(TlsCheck):
    """A check judged once per certificate deployment; the worst verdict wins."""

    commands: ClassVar[tuple[ScanCommand, ...]] = (ScanCommand.CERTIFICATE_INFO,)

    def judge(self, facts: TlsFacts) -> Verdict:
        if not facts.deployments:
            none_sent = say(
                "tls.certificate.none_sent",
                "Not applicable: the server sent no certificate (anonymous cipher suites only).",
            )
            return Verdict(Status.SKIP, none_sent, target_evidence(facts))
        many = len(facts.deployments) > 1
        verdicts = []
        for deployment in facts.deployments:
            verdict = self.judge_deployment(deployment, facts)
            evidence = {**target_evidence(facts), **verdict.evidence}
            detail = verdict.detail
            if many:
                detail = say(
                    "tls.certificate.deployment",
                    "{key_type} certificate: {detail}",
                    key_type=deployment.leaf.key_type,
                    detail=detail,
                )
            # The finding is about this certificate: its fingerprint is the key, however the detail words it.
            key = verdict.key or deployment.leaf.sha256
            verdicts.append(Verdict(verdict.status, detail, evidence, verdict.severity, key))
        return worst(verdicts, self.severity)

    @abc.abstractmethod
    def judge_deployment(self, deployment: Deployment, facts: TlsFacts) -> Verdict:
        """The verdict on one deployment; ``facts`` gives the host name and the time of the scan."""


class CertExpired(CertificateCheck):
    id: ClassVar[str] = "tls.cert_expired"
    title: ClassVar[str] = "Certificate validity"
    finding: ClassVar[str] = "The certificate or its chain has expired"
    severity: ClassVar[Severity] = Severity.CRITICAL
    caps: ClassVar[tuple[Cap, ...]] = (Cap("F", note="certificate expired"),)
    why: ClassVar[str] = (
        "Browsers refuse an expired certificate with a full-page warning; users either cannot reach the "
        "service or learn to click through warnings, which is what an attacker needs."
    )
    remediation: ClassVar[str] = _CERT_REMEDIATION_RENEW

    def judge_deployment(self, deployment: Deployment, facts: TlsFacts) -> Verdict:
        now = facts.scanned_at
        leaf = deployment.leaf
        evidence: dict[str, Any] = {"certificate": cert_evidence(leaf), "checked_at": now.isoformat()}
        for index, cert in _path_certs(deployment):
            if cert.not_after < now:
                evidence["expired"] = {"subject": shorten(cert.subject, 200), "not_after": cert.not_after.isoformat()}
                expired = say(
                    "tls.cert_expired.expired",
                    "{which} expired on {date} ({days} ago).",
                    which=_which(index, cert),
                    date=_date(cert.not_after),
                    days=_days(now - cert.not_after),
                )
                return Verdict(Status.FAIL, expired, evidence)
        detail: Text = say(
            "tls.cert_expired.valid",
            "The certificate is valid until {date} ({days} left).",
            date=_date(leaf.not_after),
            days=_days(leaf.not_after - now),
        )
        stale = [(i, c) for i, c in _off_path(deployment) if c.not_after < now]
        if stale and deployment.trust.path_found:
            # Sent but not relied on: e.g. an expired cross-signed copy of the root (the AddTrust / DST Root
            # X3 pattern). Clients reach the anchor without it; say so rather than stay silent.
            evidence["expired_off_path"] = clip(
                {"subject": shorten(c.subject, 200), "not_after": c.not_after.isoformat()} for _, c in stale
            )
            _, first = stale[0]
            unneeded = say(
                "tls.cert_expired.off_path",
                "The server also sends '{label}', which expired on {date}, but clients do not need it: the chain "
                "reaches {anchor} without it.",
                label=first.label,
                date=_date(first.not_after),
                anchor=_anchor(deployment.trust.anchor),
            )
            detail = sentences(detail, unneeded)
        return Verdict(Status.PASS, detail, evidence)


class CertNotYetValid(CertificateCheck):
    id: ClassVar[str] = "tls.cert_not_yet_valid"
    title: ClassVar[str] = "Certificate start of validity"
    finding: ClassVar[str] = "The certificate or its chain is not valid yet"
    severity: ClassVar[Severity] = Severity.HIGH
    caps: ClassVar[tuple[Cap, ...]] = (Cap("F", note="certificate not yet valid"),)
    why: ClassVar[str] = (
        "A certificate whose validity starts in the future is refused by clients just like an expired one; "
        "it usually means it was installed too early or the server's clock is wrong."
    )
    remediation: ClassVar[str] = (
        "Install a certificate that is valid now (keep the old one until the new one's start date), and check "
        "the clock of the machine that issued it. Reload the server afterwards (nginx `systemctl reload "
        "nginx`, Apache `systemctl reload apache2`, IIS: rebind the certificate in Site Bindings)."
    )

    def judge_deployment(self, deployment: Deployment, facts: TlsFacts) -> Verdict:
        now = facts.scanned_at
        evidence: dict[str, Any] = {"certificate": cert_evidence(deployment.leaf), "checked_at": now.isoformat()}
        for index, cert in _path_certs(deployment):
            if cert.not_before > now:
                early = say(
                    "tls.cert_not_yet_valid.not_yet",
                    "{which} is not valid until {date} (in {days}).",
                    which=_which(index, cert),
                    date=_date(cert.not_before),
                    days=_days(cert.not_before - now),
                )
                return Verdict(Status.FAIL, early, evidence)
        since = say(
            "tls.cert_not_yet_valid.valid",
            "The certificate has been valid since {date}.",
            date=_date(deployment.leaf.not_before),
        )
        return Verdict(Status.PASS, since, evidence)


class CertExpiring(CertificateCheck):
    id: ClassVar[str] = "tls.cert_expiring"
    title: ClassVar[str] = "Certificate expiry date"
    finding: ClassVar[str] = f"The certificate expires within {EXPIRING_DAYS} days"
    severity: ClassVar[Severity] = Severity.MEDIUM
    why: ClassVar[str] = (
        "A certificate that expires within weeks will take the service down unless someone renews it in "
        "time; government renewals often need paperwork, so the warning must come early."
    )
    remediation: ClassVar[str] = _CERT_REMEDIATION_RENEW

    def judge_deployment(self, deployment: Deployment, facts: TlsFacts) -> Verdict:
        now = facts.scanned_at
        leaf = deployment.leaf
        evidence: dict[str, Any] = {"certificate": cert_evidence(leaf), "checked_at": now.isoformat()}
        left = leaf.not_after - now
        if left.total_seconds() < 0:
            gone = say(
                "tls.cert_expiring.expired",
                "Not applicable: the certificate already expired on {date} (see tls.cert_expired).",
                date=_date(leaf.not_after),
            )
            return Verdict(Status.SKIP, gone, evidence)
        days_left = left.total_seconds() / 86400
        evidence["days_left"] = int(days_left)
        expires = say(
            "tls.cert_expiring.expires",
            "The certificate expires on {date}, in {days}.",
            date=_date(leaf.not_after),
            days=_days(left),
        )
        if days_left < EXPIRING_DAYS:
            severity = Severity.HIGH if days_left < EXPIRING_URGENT_DAYS else self.severity
            return Verdict(Status.FAIL, expires, evidence, severity)
        return Verdict(Status.PASS, expires, evidence)


class CertRevoked(CertificateCheck):
    id: ClassVar[str] = "tls.cert_revoked"
    title: ClassVar[str] = "Certificate revocation"
    finding: ClassVar[str] = "The certificate is revoked, or its stapled revocation status cannot be relied on"
    severity: ClassVar[Severity] = Severity.CRITICAL
    caps: ClassVar[tuple[Cap, ...]] = (Cap("F", note="stapled OCSP says revoked"),)
    why: ClassVar[str] = (
        "A revoked certificate was declared untrustworthy by its CA, typically because its private key "
        "leaked; anyone holding that key can impersonate the platform."
    )
    remediation: ClassVar[str] = (
        "Replace the certificate now with one for a newly generated key, find out why it was revoked, and "
        "install it (nginx `ssl_certificate`/`ssl_certificate_key`, Apache `SSLCertificateFile`/"
        "`SSLCertificateKeyFile`, IIS Site Bindings). Enable OCSP stapling so clients see fresh status "
        "(nginx `ssl_stapling on; ssl_stapling_verify on;`, Apache `SSLUseStapling on`)."
    )

    def judge_deployment(self, deployment: Deployment, facts: TlsFacts) -> Verdict:
        ocsp = deployment.ocsp
        evidence: dict[str, Any] = {"certificate": cert_evidence(deployment.leaf)}
        if ocsp is None:
            untested = say(
                "tls.cert_revoked.no_staple",
                "Not tested: the server staples no OCSP response, and {note}",
                note=_scope_note(),
            )
            return Verdict(Status.SKIP, untested, evidence)
        evidence["ocsp"] = {
            "response_status": ocsp.response_status,
            "certificate_status": ocsp.certificate_status,
            "revocation_time": ocsp.revocation_time.isoformat() if ocsp.revocation_time else None,
            "this_update": ocsp.this_update.isoformat() if ocsp.this_update else None,
            "next_update": ocsp.next_update.isoformat() if ocsp.next_update else None,
            "trusted": ocsp.trusted,
        }
        if ocsp.certificate_status == "REVOKED":
            if ocsp.revocation_time:
                revoked = say(
                    "tls.cert_revoked.revoked_on",
                    "The stapled OCSP response says the certificate was revoked on {date}.",
                    date=_date(ocsp.revocation_time),
                )
            else:
                revoked = say("tls.cert_revoked.revoked", "The stapled OCSP response says the certificate was revoked.")
            return Verdict(Status.FAIL, revoked, evidence)
        if ocsp.certificate_status == "GOOD":
            doubt = _staple_doubt(ocsp, facts.scanned_at)
            if doubt is not None:
                doubtful = say(
                    "tls.cert_revoked.doubtful",
                    "The stapled OCSP response says the certificate is good, but it cannot be relied on (the response "
                    "{doubt}). {note}",
                    doubt=doubt[1],
                    note=_scope_note(),
                )
                return Verdict(Status.WARN, doubtful, evidence, Severity.MEDIUM)
            good = say(
                "tls.cert_revoked.good",
                "The stapled OCSP response says the certificate is good. {note}",
                note=_scope_note(),
            )
            return Verdict(Status.PASS, good, evidence)
        if ocsp.certificate_status:
            unvouched = say(
                "tls.cert_revoked.not_vouched",
                "The stapled OCSP response does not vouch for the certificate: {status}. {note}",
                status=ocsp.certificate_status,
                note=_scope_note(),
            )
        else:
            unvouched = say(
                "tls.cert_revoked.no_status",
                "The stapled OCSP response does not vouch for the certificate: no status ({response_status}). {note}",
                response_status=ocsp.response_status,
                note=_scope_note(),
            )
        return Verdict(Status.WARN, unvouched, evidence, Severity.MEDIUM)


class CertHostnameMismatch(CertificateCheck):
    id: ClassVar[str] = "tls.cert_hostname_mismatch"
    title: ClassVar[str] = "Certificate host name"
    finding: ClassVar[str] = "The certificate does not match the host name, or some clients refuse it for that name"
    severity: ClassVar[Severity] = Severity.HIGH
    caps: ClassVar[tuple[Cap, ...]] = (Cap("F", note="certificate for another name"),)
    warns_on_relay: ClassVar[bool] = True
    why: ClassVar[str] = (
        "Browsers refuse a certificate that does not name the host they connected to; it usually means "
        "the wrong certificate or virtual host is served."
    )
    remediation: ClassVar[str] = (
        "Serve a certificate whose subjectAltName lists the host name (clients ignore the CN). Check the "
        "virtual host that answers for this name (SNI):\n"
        "nginx: the `server` block with `server_name {host};` needs its own `ssl_certificate`.\n"
        "Apache: the `<VirtualHost *:443>` with `ServerName {host}` needs its own `SSLCertificateFile`.\n"
        "IIS: add an https binding with Host name set and 'Require Server Name Indication' ticked, using the "
        "right certificate. Request new certificates with every name in the SAN."
    )

    def judge_deployment(self, deployment: Deployment, facts: TlsFacts) -> Verdict:
        leaf = deployment.leaf
        names = [*leaf.san_dns, *leaf.san_ip]
        evidence: dict[str, Any] = {
            "host": facts.host,
            "san": clip(names),
            "common_name": leaf.common_name,
        }
        if not leaf.has_san or not names:
            cn_note = None
            if leaf.common_name and _dns_name_matches(leaf.common_name, facts.host):
                cn_note = say(
                    "tls.cert_hostname_mismatch.cn_only",
                    "Its CN ({cn}) names the host, but clients have ignored the CN since 2017.",
                    cn=leaf.common_name,
                )
            no_san = say(
                "tls.cert_hostname_mismatch.no_san",
                "The certificate has no subjectAltName, so it matches no host name.",
            )
            return Verdict(Status.FAIL, sentences(no_san, cn_note), evidence)
        match = hostname_matches(facts.host, leaf.san_dns, leaf.san_ip)
        if match is None:
            uncovered = say(
                "tls.cert_hostname_mismatch.not_covered",
                "The certificate does not cover {host}: it names {names}.",
                host=facts.host,
                names=listed(names),
            )
            return Verdict(Status.FAIL, uncovered, evidence)
        evidence["matched"] = match
        if match.startswith("*.") and "_" in facts.host.split(".", 1)[0]:
            # RFC 6125 lets the wildcard stand for any one label, and browsers follow it; OpenSSL's host-name
            # check lets it stand only for letters, digits and '-' (measured: Python's ssl refuses it).
            wildcard = say(
                "tls.cert_hostname_mismatch.underscore_wildcard",
                "The certificate covers {host} only through the wildcard {wildcard}: browsers accept that, but "
                "OpenSSL's host-name check (used by Python's ssl, for one) refuses a wildcard for a label with '_', "
                "so systems that call the platform through such clients fail.",
                host=facts.host,
                wildcard=match,
            )
            return Verdict(Status.WARN, wildcard, evidence, Severity.MEDIUM)
        covered = say(
            "tls.cert_hostname_mismatch.covered",
            "The certificate covers {host} (SAN {match}).",
            host=facts.host,
            match=match,
        )
        return Verdict(Status.PASS, covered, evidence)


def _trust_evidence(deployment: Deployment) -> dict[str, Any]:
    trust = deployment.trust
    return {
        "chain": clip(cert_evidence(c) for c in deployment.chain),
        "path_found": trust.path_found,
        "anchor": trust.anchor,
        "anchors_available": trust.anchors,
        "reason": None if trust.reason is None else str(trust.reason),
        "strict_verifier_error": None if trust.strict_error is None else str(trust.strict_error),
        "validated_at": trust.validated_at.isoformat() if trust.validated_at else None,
        "sslyze_trusted_by": list(deployment.sslyze_trusted_by),
        "sslyze_error": deployment.sslyze_error,
    }


class CertUntrusted(CertificateCheck):
    id: ClassVar[str] = "tls.cert_untrusted"
    title: ClassVar[str] = "Certificate trust"
    finding: ClassVar[str] = "The certificate does not lead to a trusted CA, or strict verifiers reject its chain"
    severity: ClassVar[Severity] = Severity.HIGH
    caps: ClassVar[tuple[Cap, ...]] = (Cap("F", note="no chain to a trusted root (a *warning* does not cap)"),)
    warns_on_relay: ClassVar[bool] = True
    why: ClassVar[str] = (
        "A certificate that does not chain to a trusted CA (self-signed, private CA unknown to clients) "
        "gives users a warning they cannot check, and trains them to accept an attacker's certificate."
    )
    remediation: ClassVar[str] = (
        "Use a certificate from a CA that the platform's users trust (a public CA, or the government CA whose "
        "root is installed on every client and listed in platscan's `ca_bundle`), and serve the whole chain:\n"
        "nginx: `ssl_certificate` must point to the leaf followed by the intermediates (fullchain.pem).\n"
        "Apache 2.4.8+: `SSLCertificateFile` with leaf and intermediates in one file.\n"
        "IIS: import the intermediate CA into Local Computer > Intermediate Certification Authorities.\n"
        "Never deploy self-signed certificates on a registered platform."
    )

    def judge_deployment(self, deployment: Deployment, facts: TlsFacts) -> Verdict:
        trust = deployment.trust
        leaf = deployment.leaf
        evidence = _trust_evidence(deployment)
        serial = _serial_problem(deployment, evidence)
        leads: Message = say("tls.cert_untrusted.trusted", "The chain leads to {anchor}.", anchor=_anchor(trust.anchor))
        if trust.strict_ok and not serial:
            return Verdict(Status.PASS, leads, evidence)
        if trust.path_found and trust.strict_error == NO_COMMON_VALIDITY and not serial:
            undated = say(
                "tls.cert_untrusted.never_valid_together",
                "The chain leads to {anchor} (names and signatures; its certificates were never valid at one moment, "
                "so the dates are tls.cert_expired's and tls.cert_not_yet_valid's finding).",
                anchor=_anchor(trust.anchor),
            )
            return Verdict(Status.PASS, undated, evidence)
        if trust.path_found:
            if not trust.strict_ok:
                leads = say(
                    "tls.cert_untrusted.strict_rejects",
                    "The chain leads to {anchor}, but a strict RFC 5280 verifier rejects it: {error}",
                    anchor=_anchor(trust.anchor),
                    error=trust.strict_error or "",
                )
            # The serial is the cause a strict verifier names only in passing (or not at all): say it first.
            return Verdict(Status.WARN, sentences(serial, leads) if serial else leads, evidence, Severity.MEDIUM)
        reason = trust.reason or ""
        if leaf.self_signed:
            self_signed = say(
                "tls.cert_untrusted.self_signed", "The certificate is self-signed ('{label}').", label=leaf.label
            )
            return Verdict(Status.FAIL, sentences(self_signed, serial), evidence)
        if trust.search_limited:
            unjudged = say(
                "tls.cert_untrusted.search_limited",
                "Could not judge whether the chain is trusted: {reason}",
                reason=reason,
            )
            return Verdict(Status.ERROR, sentences(unjudged, serial), evidence)
        no_chain = say(
            "tls.cert_untrusted.no_chain",
            "No chain to a trusted anchor (system store + ca_bundle): {reason}",
            reason=reason,
        )
        return Verdict(Status.FAIL, sentences(no_chain, serial), evidence)


def _serial_problem(deployment: Deployment, evidence: dict[str, Any]) -> Message | None:
    """A sentence on the first certificate clients rely on whose serial number is not positive (RFC 5280 forbids
    it; cryptography warns and will refuse it), or None; adds the facts to ``evidence``."""
    warned = [f"{c.label}: {w}" for c in deployment.chain for w in c.parse_warnings]
    if warned:
        evidence["parse_warnings"] = clip(warned, 5)
    bad = [(i, c) for i, c in _path_certs(deployment) if not c.serial_positive]
    if not bad:
        return None
    evidence["serial_not_positive"] = clip(
        {"subject": shorten(c.subject, 200), "serial": c.serial[:64]} for _, c in bad
    )
    index, cert = bad[0]
    if cert.serial == "0":
        return say(
            "tls.cert_untrusted.serial_zero",
            "{which} has the serial number 0, which {rule}.",
            which=_which(index, cert),
            rule=rfc5280_serial(),
        )
    return say(
        "tls.cert_untrusted.serial_negative",
        "{which} has a negative serial number (hex {serial}), which {rule}.",
        which=_which(index, cert),
        serial=shorten(cert.serial, 48),
        rule=rfc5280_serial(),
    )


class CertChainIncomplete(CertificateCheck):
    id: ClassVar[str] = "tls.cert_chain_incomplete"
    title: ClassVar[str] = "Certificate chain completeness"
    finding: ClassVar[str] = "The server does not send the intermediate certificates its chain needs"
    severity: ClassVar[Severity] = Severity.MEDIUM
    caps: ClassVar[tuple[Cap, ...]] = (Cap("B", note="intermediate certificates missing"),)
    warns_on_relay: ClassVar[bool] = True
    why: ClassVar[str] = (
        "A server that omits an intermediate certificate works in some browsers (which cached or fetched it) "
        "and fails in others, in mobile apps and in the other systems that call the platform's APIs."
    )
    remediation: ClassVar[str] = (
        "Send the leaf followed by every intermediate up to (not necessarily including) the root:\n"
        "nginx: `cat leaf.pem intermediate.pem > fullchain.pem` and `ssl_certificate fullchain.pem;`\n"
        "Apache 2.4.8+: the same fullchain file in `SSLCertificateFile` (older: `SSLCertificateChainFile "
        "intermediate.pem`).\n"
        "IIS: import the intermediate into Local Computer > Intermediate Certification Authorities and rebind."
    )

    def judge_deployment(self, deployment: Deployment, facts: TlsFacts) -> Verdict:
        trust = deployment.trust
        end = deployment.chain_end
        evidence: dict[str, Any] = {
            "chain": clip(f"{c.subject} <- {c.issuer}" for c in deployment.chain),
            "path_found": trust.path_found,
            "chain_end": shorten(end.subject, 200),
        }
        if trust.path_found:
            complete = say(
                "tls.cert_chain_incomplete.complete",
                "The chain is complete up to {anchor}.",
                anchor=_anchor(trust.anchor),
            )
            return Verdict(Status.PASS, complete, evidence)
        if end.self_signed:
            self_signed = say(
                "tls.cert_chain_incomplete.self_signed",
                "The chain is complete up to the self-signed '{label}' (whether it is trusted is "
                "tls.cert_untrusted's question).",
                label=end.label,
            )
            return Verdict(Status.PASS, self_signed, evidence)
        if trust.search_limited:
            unjudged = say(
                "tls.cert_chain_incomplete.search_limited",
                "Could not judge whether the chain is complete: {reason}",
                reason=trust.reason or "",
            )
            return Verdict(Status.ERROR, unjudged, evidence)
        aia = None
        if end.ca_issuers_urls:
            evidence["aia_ca_issuers"] = clip(end.ca_issuers_urls, 5)
            aia = say(
                "tls.cert_chain_incomplete.aia",
                "The certificate names its issuer's location: {url}.",
                url=end.ca_issuers_urls[0],
            )
        missing = say(
            "tls.cert_chain_incomplete.missing",
            "The issuer of '{label}' ({issuer}) was not sent and is not a trusted anchor.",
            label=end.label,
            issuer=shorten(end.issuer, 120),
        )
        return Verdict(Status.FAIL, sentences(missing, aia), evidence)


class CertChainOrder(CertificateCheck):
    id: ClassVar[str] = "tls.cert_chain_order"
    title: ClassVar[str] = "Certificate chain order"
    finding: ClassVar[str] = "The certificate chain is out of order or holds certificates of other chains"
    severity: ClassVar[Severity] = Severity.LOW
    why: ClassVar[str] = (
        "TLS requires each certificate to be followed by its issuer; strict clients (Java, embedded "
        "devices, other government systems) reject out-of-order chains or chains padded with unrelated "
        "certificates."
    )
    remediation: ClassVar[str] = (
        "Put the leaf first, then its issuer, then that one's issuer; remove certificates that belong to "
        "other chains.\n"
        "nginx / Apache: rebuild the chain file in order: `cat leaf.pem intermediate.pem > fullchain.pem`.\n"
        "IIS builds the chain from the Windows store: remove stale or duplicate intermediates from Local "
        "Computer > Intermediate Certification Authorities."
    )

    def judge_deployment(self, deployment: Deployment, facts: TlsFacts) -> Verdict:
        chain = deployment.chain
        evidence: dict[str, Any] = {
            "sent": clip(f"{i}: {shorten(c.subject, 120)}" for i, c in enumerate(chain)),
            "path": list(deployment.sent_path),
        }
        found: list[Message] = []
        if not deployment.in_order:
            found.append(
                say(
                    "tls.cert_chain_order.out_of_order",
                    "The chain is out of order: each certificate should be followed by its issuer, but the issuer "
                    "path runs {order} through the sent list.",
                    order=" -> ".join(str(i) for i in deployment.sent_path),
                )
            )
        if deployment.extra:
            evidence["extra"] = clip(shorten(chain[i].subject, 120) for i in deployment.extra)
            labels = listed([f"'{chain[i].label}'" for i in deployment.extra], 3)
            if len(deployment.extra) == 1:
                found.append(
                    say(
                        "tls.cert_chain_order.extra_one",
                        "The server sends 1 certificate that is not part of the leaf's chain: {labels}.",
                        labels=labels,
                    )
                )
            else:
                found.append(
                    say(
                        "tls.cert_chain_order.extra_many",
                        "The server sends {count} certificates that are not part of the leaf's chain: {labels}.",
                        count=len(deployment.extra),
                        labels=labels,
                    )
                )
        if found:
            return Verdict(Status.FAIL, sentences(*found), evidence)
        if len(chain) == 1:
            single = say(
                "tls.cert_chain_order.single", "The server sends a single certificate: there is nothing to order."
            )
            return Verdict(Status.PASS, single, evidence)
        in_order = say(
            "tls.cert_chain_order.in_order",
            "The {count} certificates sent are in order, each followed by its issuer.",
            count=len(chain),
        )
        return Verdict(Status.PASS, in_order, evidence)


def _key_problem(cert: CertificateFacts) -> tuple[Text, Severity] | None:
    size = cert.key_size or 0
    if cert.key_type == "RSA" and size < MIN_RSA_BITS:
        rsa = say("tls.key.rsa_weak", "RSA {bits} bits (minimum {minimum})", bits=size, minimum=MIN_RSA_BITS)
        return rsa, (Severity.CRITICAL if size < BROKEN_RSA_BITS else Severity.HIGH)
    if cert.key_type == "DSA" and size < MIN_DSA_BITS:
        return say(
            "tls.key.dsa_weak", "DSA {bits} bits (minimum {minimum})", bits=size, minimum=MIN_DSA_BITS
        ), Severity.HIGH
    if cert.key_type == "EC" and size < MIN_EC_BITS:
        ec = say(
            "tls.key.ec_weak",
            "EC {bits} bits, {curve} (minimum {minimum})",
            bits=size,
            curve=str(cert.key_curve),
            minimum=MIN_EC_BITS,
        )
        return ec, Severity.HIGH
    return None


def _key_label(cert: CertificateFacts) -> Text:
    if cert.key_type == "EC":
        return say("tls.key.ec", "EC {bits} bits ({curve})", bits=cert.key_size or 0, curve=str(cert.key_curve))
    if cert.key_size:
        return say("tls.key.sized", "{key_type} {bits} bits", key_type=cert.key_type, bits=cert.key_size)
    return cert.key_type


def _chain_problems(
    deployment: Deployment, problem: Callable[[CertificateFacts], tuple[Text, Severity] | None], skip_roots: bool
) -> list[tuple[int, CertificateFacts, Text, Severity]]:
    found = []
    for index, cert in _path_certs(deployment):
        if skip_roots and index > 0 and cert.self_signed:
            continue  # a root's self-signature is not relied on
        result = problem(cert)
        if result is not None:
            found.append((index, cert, *result))
    return found


class CertWeakKey(CertificateCheck):
    id: ClassVar[str] = "tls.cert_weak_key"
    title: ClassVar[str] = "Certificate key strength"
    finding: ClassVar[str] = "A certificate of the chain has a weak key"
    severity: ClassVar[Severity] = Severity.HIGH
    caps: ClassVar[tuple[Cap, ...]] = (Cap("F", Severity.CRITICAL, "RSA < 1024"), Cap("B", note="RSA < 2048, EC < 256"))
    why: ClassVar[str] = (
        f"RSA keys below {MIN_RSA_BITS} bits and EC keys below {MIN_EC_BITS} bits are within reach of "
        "factoring or discrete-log attacks, and browsers and CAs no longer accept them."
    )
    remediation: ClassVar[str] = (
        "Generate a new key (RSA 2048 or 3072 bits, or ECDSA P-256) and get a certificate for it:\n"
        "`openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout privkey.pem -out req.csr` "
        "or `-newkey rsa:3072`.\n"
        "Install it (nginx `ssl_certificate`/`ssl_certificate_key`, Apache `SSLCertificateFile`/"
        "`SSLCertificateKeyFile`, IIS: import the .pfx and rebind). A weak intermediate means a new chain "
        "from the CA."
    )

    def judge_deployment(self, deployment: Deployment, facts: TlsFacts) -> Verdict:
        weak = _chain_problems(deployment, _key_problem, skip_roots=False)
        evidence: dict[str, Any] = {"keys": clip(f"{c.label}: {_key_label(c)}" for _, c in _path_certs(deployment))}
        if weak:
            index, cert, text, _ = weak[0]
            severity = max((s for *_, s in weak), key=lambda s: s.rank)
            if len(weak) > 1:
                weak_key = say(
                    "tls.cert_weak_key.weak_more",
                    "{which} has a weak key: {key} (and {others}).",
                    which=_which(index, cert),
                    key=text,
                    others=_others(len(weak) - 1),
                )
            else:
                weak_key = say(
                    "tls.cert_weak_key.weak", "{which} has a weak key: {key}.", which=_which(index, cert), key=text
                )
            return Verdict(Status.FAIL, weak_key, evidence, severity)
        strong = say("tls.cert_weak_key.strong", "The certificate key is {key}.", key=_key_label(deployment.leaf))
        return Verdict(Status.PASS, strong, evidence)


def _others(count: int) -> Message:
    """ "1 other certificate" / "2 other certificates" """
    if count == 1:
        return say("tls.certificate.other_one", "1 other certificate")
    return say("tls.certificate.others", "{count} other certificates", count=count)


def _signature_problem(cert: CertificateFacts) -> tuple[Text, Severity] | None:
    algorithm = (cert.signature_hash or "").lower()
    if algorithm in WEAK_HASHES:
        return algorithm.upper().replace("SHA1", "SHA-1"), WEAK_HASHES[algorithm]
    return None


class CertWeakSignature(CertificateCheck):
    id: ClassVar[str] = "tls.cert_weak_signature"
    title: ClassVar[str] = "Certificate signature algorithm"
    finding: ClassVar[str] = "A certificate of the chain is signed with a weak hash (MD2, MD5 or SHA-1)"
    severity: ClassVar[Severity] = Severity.HIGH
    caps: ClassVar[tuple[Cap, ...]] = (Cap("F", note="SHA-1/MD5 signature"),)
    why: ClassVar[str] = (
        "MD5 and SHA-1 signatures can be forged with chosen-prefix collisions (a rogue CA was built from "
        "MD5 in 2008, SHA-1 fell in 2020); browsers reject such certificates."
    )
    remediation: ClassVar[str] = (
        "Have the certificate (and any SHA-1 intermediate) reissued with SHA-256: "
        "`openssl req -new -sha256 -key privkey.pem -out req.csr`, and ask the CA for a SHA-256 chain. "
        "Install it (nginx `ssl_certificate`, Apache `SSLCertificateFile`, IIS: import and rebind). "
        "A self-signed root's own signature does not matter and is not flagged."
    )

    def judge_deployment(self, deployment: Deployment, facts: TlsFacts) -> Verdict:
        weak = _chain_problems(deployment, _signature_problem, skip_roots=True)
        evidence: dict[str, Any] = {
            "signatures": clip(f"{c.label}: {c.signature_hash}" for _, c in _path_certs(deployment))
        }
        if weak:
            index, cert, text, _ = weak[0]
            severity = max((s for *_, s in weak), key=lambda s: s.rank)
            if len(weak) > 1:
                weak_hash = say(
                    "tls.cert_weak_signature.weak_more",
                    "{which} is signed with {hash} (and {others}).",
                    which=_which(index, cert),
                    hash=text,
                    others=_others(len(weak) - 1),
                )
            else:
                weak_hash = say(
                    "tls.cert_weak_signature.weak",
                    "{which} is signed with {hash}.",
                    which=_which(index, cert),
                    hash=text,
                )
            return Verdict(Status.FAIL, weak_hash, evidence, severity)
        unhashed = say("tls.cert_weak_signature.no_hash", "none")
        hashes: list[Text] = [
            name or unhashed for name in sorted({c.signature_hash or "" for _, c in _path_certs(deployment)})
        ]
        signed = say("tls.cert_weak_signature.strong", "The chain is signed with {hashes}.", hashes=listed(hashes))
        return Verdict(Status.PASS, signed, evidence)


class CertLifetime(CertificateCheck):
    id: ClassVar[str] = "tls.cert_lifetime"
    title: ClassVar[str] = "Certificate lifetime"
    finding: ClassVar[str] = f"The certificate is valid for more than {MAX_LIFETIME_DAYS} days"
    severity: ClassVar[Severity] = Severity.LOW
    why: ClassVar[str] = (
        f"Browsers reject publicly-trusted certificates valid for more than {MAX_LIFETIME_DAYS} days; long-lived "
        "certificates also keep a compromised key useful for years and let renewal skills go stale."
    )
    remediation: ClassVar[str] = (
        f"Issue certificates valid for at most {MAX_LIFETIME_DAYS} days (90 with ACME) and automate renewal "
        "(certbot or another ACME client for nginx/Apache, win-acme for IIS, or the government CA's renewal "
        "process)."
    )

    def judge_deployment(self, deployment: Deployment, facts: TlsFacts) -> Verdict:
        leaf = deployment.leaf
        days = leaf.lifetime_days
        evidence: dict[str, Any] = {"certificate": cert_evidence(leaf), "lifetime_days": round(days)}
        start, end = _date(leaf.not_before), _date(leaf.not_after)
        if days > MAX_LIFETIME_DAYS:
            too_long = say(
                "tls.cert_lifetime.too_long",
                "The certificate is valid for {days} days ({start} to {end}); the limit is {limit}.",
                days=round(days),
                start=start,
                end=end,
                limit=MAX_LIFETIME_DAYS,
            )
            return Verdict(Status.FAIL, too_long, evidence)
        lifetime = say(
            "tls.cert_lifetime.lifetime",
            "The certificate is valid for {days} days ({start} to {end}).",
            days=round(days),
            start=start,
            end=end,
        )
        return Verdict(Status.PASS, lifetime, evidence)


class OcspStapling(CertificateCheck):
    id: ClassVar[str] = "tls.ocsp_stapling"
    title: ClassVar[str] = "OCSP stapling"
    finding: ClassVar[str] = "The server staples no current, verifiable OCSP response"
    severity: ClassVar[Severity] = Severity.LOW
    why: ClassVar[str] = (
        "With OCSP stapling the server hands clients fresh proof that its certificate is not revoked, so "
        "revocation works without clients asking the CA (which leaks their browsing and often fails open)."
    )
    remediation: ClassVar[str] = (
        "nginx: `ssl_stapling on; ssl_stapling_verify on; ssl_trusted_certificate /etc/ssl/{platform}/chain.pem; "
        "resolver 10.0.0.53;` (the server must be able to reach the CA's OCSP responder).\n"
        "Apache: `SSLUseStapling on` in the virtual host and `SSLStaplingCache shmcb:/var/run/ocsp(128000)` "
        "globally.\n"
        "IIS: stapling is on by default since Windows Server 2008; make sure the server can reach the OCSP URL "
        "in the certificate (proxy/firewall)."
    )

    def judge_deployment(self, deployment: Deployment, facts: TlsFacts) -> Verdict:
        leaf = deployment.leaf
        ocsp = deployment.ocsp
        evidence: dict[str, Any] = {
            "ocsp_urls": clip(leaf.ocsp_urls, 5),
            "must_staple": leaf.must_staple,
            "stapled": ocsp is not None,
        }
        if ocsp is None:
            if leaf.must_staple:
                must = say(
                    "tls.ocsp_stapling.must_staple",
                    "The certificate demands OCSP stapling (must-staple) but the server staples no response, "
                    "so browsers that honour must-staple will refuse it.",
                )
                return Verdict(Status.FAIL, must, evidence, Severity.HIGH)
            if not leaf.ocsp_urls:
                no_responder = say(
                    "tls.ocsp_stapling.no_responder",
                    "Not applicable: the certificate names no OCSP responder, so there is nothing to staple.",
                )
                return Verdict(Status.SKIP, no_responder, evidence)
            unstapled = say("tls.ocsp_stapling.not_stapled", "The server does not staple an OCSP response.")
            return Verdict(Status.FAIL, unstapled, evidence)
        evidence["response_status"] = ocsp.response_status
        evidence["certificate_status"] = ocsp.certificate_status
        if ocsp.next_update is not None:
            evidence["next_update"] = ocsp.next_update.isoformat()
        if ocsp.response_status != "SUCCESSFUL":
            erroneous = say(
                "tls.ocsp_stapling.error",
                "The stapled OCSP response is an error ({status}).",
                status=ocsp.response_status,
            )
            return Verdict(Status.FAIL, erroneous, evidence)
        doubt = _staple_doubt(ocsp, facts.scanned_at)
        if doubt is not None:
            status, reason = doubt
            severity = Severity.LOW if status is Status.WARN else None
            doubtful = say("tls.ocsp_stapling.doubtful", "The stapled OCSP response {doubt}.", doubt=reason)
            return Verdict(status, doubtful, evidence, severity)
        current = say("tls.ocsp_stapling.current", "The server staples a current OCSP response.")
        return Verdict(Status.PASS, current, evidence)
