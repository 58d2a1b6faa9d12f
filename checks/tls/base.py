"""The base of every tls check: fetch the shared facts, apply the connectivity policy, then judge.

The checks run on https:// and http:// URLs, and on the mail services a family declares on registered hosts
(``smtp://host:25``, ``smtps://host:465``, ``smtp://host:587``, ``imap://host:143``, ``imaps://host:993``,
``pop3://host:110``, ``pop3s://host:995``; smtp, imap and pop3 through STARTTLS / STLS).
``tls.https_available`` runs on URLs only.

Connectivity policy (one table for all tls checks; ``tls.https_available`` and ``tls.protocol_ssl``
refine it). ``skip`` means "does not apply" and nothing else: whatever could not be tested is ``error``
(with the reason), so that coverage never counts it as tested.

==========================================  ==========================  ==============================
what happened                               https:// URL                http:// URL (host:443)
==========================================  ==========================  ==============================
handshake completed                         judge                       judge
DNS failure, unexpected error               error                       error
refused, unreachable, timeout, silent,      error (could not scan)      https_available fail, rest skip
reset (no TLS answer, only a TCP reset)                                 (no TLS server: n/a)
answers, but not in TLS                     https_available fail,       https_available fail,
                                            rest error (could not test) rest skip (no TLS server: n/a)
answers in TLS but no handshake possible    https_available fail,       (same)
(e.g. an alert)                             rest error (could not test)
only SSL 2.0                                https_available and         (same)
                                            protocol_ssl fail, rest error
answers in TLS, but a handshake message     https_available fail,       (same)
(its certificate list) is over clients'     rest error (could not scan)
100 KiB limit
a sslyze command the check needs errored,   error (saying which command, and why: e.g. the server demanded a
or left no result                           client certificate)
a certificate the server sent cannot be     error (saying so) for the checks that need it
parsed
==========================================  ==========================  ==============================

Mail services (a port declared on every registered host of a mail platform, so it may be closed;
``tls.https_available`` does not run there):

==================================================  ====================================================
what happened                                       mail service
==================================================  ====================================================
handshake completed                                 judge (port 25: see below)
refused, no TCP connection, no greeting / no        skip: no service on the port (whether it should be
answer to a ClientHello (silent)                    offered is the mail family's question)
answers, but not in TLS; a STARTTLS session that    skip: no TLS on this session (the mail family
offers no STARTTLS (STLS), or refuses it unasked    judges that)
a 421/450 answer (too many connections), at once    error: rate-limited, not tested (never retried)
or during the scan
offers STARTTLS but refuses it; a refused session   error
(a 554 greeting); a reset; unreachable
anything else                                       as for an https:// URL (only SSL 2.0: protocol_ssl
                                                    fails, rest error)
==================================================  ====================================================

On SMTP between servers (``smtp://host:25``) TLS is opportunistic: a sending server that finds no certificate it
can verify delivers over TLS anyway (unless MTA-STS or DANE tells it otherwise), so ``tls.cert_untrusted``,
``tls.cert_hostname_mismatch`` and ``tls.cert_chain_incomplete`` warn there (with their severity) instead of
failing; every other verdict is as for HTTPS. On submission (465, 587), IMAP and POP3 clients verify, so nothing
is relaxed.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from sslyze.plugins.scan_commands import ScanCommand

from checks.tls._collect import MAIL_SESSIONS, TlsTarget, collect_tls
from checks.tls.facts import NO_USABLE_TLS, NOT_REACHED, CertificateFacts, Connectivity, TlsFacts
from scanner.evidence import clip, shorten
from scanner.facts import CollectionError
from scanner.messages import Message, say
from scanner.model import Endpoint, Result, Severity, Status
from scanner.plugin import Check, ScanContext, Verdict

MAX_EVIDENCE_ITEMS = 20
MAX_DETAIL_ITEMS = 5
#: Where no TLS server exists at all: nothing answered on the port, or what answered does not speak TLS.
NO_TLS_SERVICE = NOT_REACHED | {Connectivity.NO_TLS}
#: SMTP between servers: its TLS is opportunistic (RFC 3207, RFC 7435).
RELAY_SCHEME, RELAY_PORT = "smtp", 25

# Worst first: how the verdicts of several certificate deployments combine.
_STATUS_ORDER = {Status.FAIL: 0, Status.WARN: 1, Status.ERROR: 2, Status.SKIP: 3, Status.PASS: 4}


class TlsCheck(Check):
    """A check of the tls family. Subclasses set the metadata, ``commands`` and a pure ``judge``."""

    family: ClassVar[str] = "tls"
    #: sslyze scan commands whose results ``judge`` reads; if one of them errored, the check cannot judge.
    commands: ClassVar[tuple[ScanCommand, ...]] = ()
    #: A failure of this check is a warning on SMTP between servers (see the module's docstring).
    warns_on_relay: ClassVar[bool] = False

    def applies_to(self, endpoint: Endpoint) -> bool:
        if endpoint.kind == "service":
            return endpoint.scheme in MAIL_SESSIONS
        return endpoint.kind == "url" and endpoint.scheme in ("https", "http")

    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        target = TlsTarget.for_endpoint(endpoint)
        try:
            facts = ctx.collect(target.key, collect_tls, target, ctx.settings, ctx.remaining())
        except CollectionError as exc:
            incomplete = say(
                "tls.scan.incomplete",
                "The TLS scan of {target} did not complete: {reason}",
                target=f"{target.host}:{target.port}",
                reason=exc.reason,
            )
            verdict = Verdict(
                Status.ERROR, incomplete, {"target": f"{target.host}:{target.port}", "error": shorten(str(exc.reason))}
            )
        else:
            verdict = self.evaluate(facts, endpoint.scheme)
        return [self.from_verdict(endpoint, verdict)]

    def evaluate(self, facts: TlsFacts, scheme: str = "https") -> Verdict:
        """The verdict for ``facts`` as seen from an endpoint with ``scheme``: policy first, then ``judge``. Pure."""
        if facts.connectivity.status is not Connectivity.OK:
            return self.unreachable(facts, scheme)
        errors = [error for error in (facts.error_for(c) for c in self.commands) if error is not None]
        if errors:
            evidence = {
                **target_evidence(facts),
                "failed_commands": [
                    {"command": e.command, "reason": e.reason, "error": str(e.message)} for e in errors
                ],
            }
            names = [e.command for e in errors]
            if all(e.client_certificate_needed for e in errors):
                # The check applies (the server speaks TLS); it could not be tested: an error, never a skip.
                demanded = say(
                    "tls.command.client_certificate",
                    "Could not test: the server demands a client certificate, so sslyze's {commands} scan did not run.",
                    commands=names,
                )
                return Verdict(Status.ERROR, demanded, evidence)
            unparseable = [e for e in errors if e.unparseable_certificate]
            if unparseable:
                unjudged = say("tls.command.unparseable", "Could not judge: {reason}", reason=unparseable[0].message)
                return Verdict(Status.ERROR, unjudged, evidence)
            if all(e.not_run for e in errors):
                not_run = say(
                    "tls.command.not_run", "Could not test: sslyze's {commands} scan did not run.", commands=names
                )
                return Verdict(Status.ERROR, not_run, evidence)
            failed = say(
                "tls.command.failed",
                "sslyze's {commands} scan failed: {error}",
                commands=names,
                error=errors[0].message,
            )
            return Verdict(Status.ERROR, failed, evidence)
        verdict = self.judge(facts)
        if (
            self.warns_on_relay
            and verdict.status is Status.FAIL
            and scheme == RELAY_SCHEME
            and facts.port == RELAY_PORT
        ):
            relaxed = say(
                "tls.relay.warning",
                "{detail} SMTP between servers is opportunistic: a sending server that cannot verify the certificate "
                "delivers over TLS all the same (unless MTA-STS or DANE tells it otherwise), so this is a warning.",
                detail=verdict.detail,
            )
            evidence = {**verdict.evidence, "opportunistic_tls": True}
            return Verdict(Status.WARN, relaxed, evidence, verdict.severity, verdict.key)
        return verdict

    def unreachable(self, facts: TlsFacts, scheme: str) -> Verdict:
        """The verdict when no TLS conversation was possible (see the module's table)."""
        status = facts.connectivity.status
        evidence = target_evidence(facts)
        if scheme in MAIL_SESSIONS:
            service = mail_service_unreachable(facts)
            if service is not None:
                return service
        if scheme == "http" and status in NO_TLS_SERVICE:
            # Does not apply: the URL promises no TLS, and nothing on the port speaks it.
            moot = say("tls.scan.not_applicable", "Not applicable: {reason}", reason=no_tls_sentence(facts, scheme))
            return Verdict(Status.SKIP, moot, evidence)
        if status in NO_USABLE_TLS:
            # Applies (an https:// URL, or a server that answers in TLS) but no handshake to test: could not test.
            untested = say("tls.scan.not_testable", "Could not test: {reason}", reason=no_tls_sentence(facts, scheme))
            return Verdict(Status.ERROR, untested, evidence)
        unscanned = say(
            "tls.scan.failed",
            "Could not scan {target}: {reason}",
            target=facts.target,
            reason=facts.connectivity.reason,
        )
        return Verdict(Status.ERROR, unscanned, evidence)

    @abc.abstractmethod
    def judge(self, facts: TlsFacts) -> Verdict:
        """The verdict on a server that completed a handshake. Pure: no I/O, no clock (use facts.scanned_at)."""


def mail_service_unreachable(facts: TlsFacts) -> Verdict | None:
    """The verdict on a mail service with no TLS conversation, where it differs from a URL's (the module's table):
    the port may be closed, the session may offer no STARTTLS (the mail family judges both), the server may limit
    sessions. None: as for an https:// URL."""
    status, reason = facts.connectivity.status, facts.connectivity.reason
    evidence = target_evidence(facts)
    if status is Connectivity.NO_SERVICE:
        absent = say(
            "tls.service.absent", "Not applicable: no service on port {port}. {reason}", port=facts.port, reason=reason
        )
        return Verdict(Status.SKIP, absent, evidence)
    if status in (Connectivity.NO_STARTTLS, Connectivity.NO_TLS):
        plain = say("tls.service.plain", "Not applicable: no TLS on this session. {reason}", reason=reason)
        return Verdict(Status.SKIP, plain, evidence)
    if status is Connectivity.RATE_LIMITED:
        limited = say("tls.service.rate_limited", "Rate-limited, not tested: {reason}", reason=reason)
        return Verdict(Status.ERROR, limited, evidence)
    return None


def did_not_run(test: str, evidence: Mapping[str, Any]) -> Verdict:
    """The verdict when sslyze's ``test`` (its name: "ROBOT") left no result: the check could not test, so
    ``error`` (never skip)."""
    untested = say("tls.test.did_not_run", "Could not test: sslyze's {test} test did not run.", test=test)
    return Verdict(Status.ERROR, untested, evidence)


def no_tls_sentence(facts: TlsFacts, scheme: str, *, first: bool = False) -> Message:
    """Why there is no TLS to judge: a sentence that can follow "Could not test: " (lower-case start), or with
    ``first`` one that starts a detail."""
    reason, host, port = facts.connectivity.reason, facts.host, facts.port
    if scheme == "http" and facts.connectivity.status in NO_TLS_SERVICE:
        if first:
            return say(
                "tls.no_tls.http_first",
                "The URL uses plain http:// and {host} offers no TLS on port {port}. {reason}",
                host=host,
                port=port,
                reason=reason,
            )
        return say(
            "tls.no_tls.http",
            "the URL uses plain http:// and {host} offers no TLS on port {port}. {reason}",
            host=host,
            port=port,
            reason=reason,
        )
    if scheme == "http":
        if first:
            return say(
                "tls.no_tls.http_unusable_first",
                "The URL uses plain http:// and {host} offers no usable TLS on port {port}. {reason}",
                host=host,
                port=port,
                reason=reason,
            )
        return say(
            "tls.no_tls.http_unusable",
            "the URL uses plain http:// and {host} offers no usable TLS on port {port}. {reason}",
            host=host,
            port=port,
            reason=reason,
        )
    if first:
        return say("tls.no_tls.https_first", "No usable TLS on {target}. {reason}", target=facts.target, reason=reason)
    return say("tls.no_tls.https", "no usable TLS on {target}. {reason}", target=facts.target, reason=reason)


def target_evidence(facts: TlsFacts) -> dict[str, Any]:
    evidence: dict[str, Any] = {"target": facts.target}
    if facts.address and facts.address != facts.host:
        evidence["address"] = facts.address
    if facts.connectivity.status is not Connectivity.OK:
        evidence["connectivity"] = facts.connectivity.status.value
        if facts.connectivity.error:
            evidence["error"] = shorten(facts.connectivity.error)
    return evidence


def cert_evidence(cert: CertificateFacts) -> dict[str, Any]:
    return {
        "subject": shorten(cert.subject, 200),
        "issuer": shorten(cert.issuer, 200),
        "serial": cert.serial[:64],
        "not_before": cert.not_before.isoformat(),
        "not_after": cert.not_after.isoformat(),
        "san": clip([*cert.san_dns, *cert.san_ip]),
        "key": f"{cert.key_type} {cert.key_size or ''}".strip() + (f" ({cert.key_curve})" if cert.key_curve else ""),
        "signature_hash": cert.signature_hash,
        "sha256": cert.sha256,
    }


def worst(verdicts: Sequence[Verdict], default_severity: Severity) -> Verdict:
    """Combine verdicts (one per certificate deployment): the worst status wins, with its detail."""
    if len(verdicts) == 1:
        return verdicts[0]
    ranked = sorted(
        verdicts,
        key=lambda v: (_STATUS_ORDER[v.status], -(v.severity or default_severity).rank),
    )
    chosen = ranked[0]
    evidence: Mapping[str, Any] = {"deployments": [dict(v.evidence) for v in verdicts]}
    return Verdict(chosen.status, chosen.detail, evidence, chosen.severity, chosen.key)
