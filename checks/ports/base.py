"""The base of every ports check: one port scan per host, shared; the scan policy; then a pure judge.

Scan policy (one table for all ports checks):

==============================================  ==========================================================
what happened                                   verdict
==============================================  ==========================================================
nmap missing; SYN or UDP asked for without      error, with the one-line reason ``platscan scan`` also
root                                            prints before the scan
DNS failure, nmap failed, discovery ran out     error (could not scan)
of time
no scanned port answered (all filtered)         error: the host is down or unreachable from the scanner,
                                                so nothing could be judged
ports answered                                  judge
service detection (or the opt-in UDP scan) did  the check's findings stand (fail); without findings the
not finish                                      verdict is error, not pass, for the checks that need it
==============================================  ==========================================================

Each check gives one result per host: pass or fail, its evidence listing the offending ports.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from checks.ports._collect import PortScanTarget, cannot_run, collect_ports, preflight_problem
from checks.ports.facts import Detection, PortFacts, PortScanFacts, ScanStatus
from checks.ports.policy import Basis, Classified, banner_snippet, classify
from checks.ports.settings import port_settings
from scanner.evidence import MAX_KEY, clip, finding_key, shorten
from scanner.facts import CollectionError
from scanner.messages import Message, Text, say
from scanner.model import Endpoint, Platform, Result, Status
from scanner.plugin import Check, ScanContext, ScanSettings, Verdict
from scanner.wording import commas, sentences

MAX_EVIDENCE_PORTS = 20
MAX_DETAIL_ITEMS = 5


class PortsCheck(Check):
    """A check of the ports family. Subclasses set the metadata and a pure ``judge``."""

    family: ClassVar[str] = "ports"
    #: Whether the verdict depends on what service detection names (False: only on what is open).
    needs_services: ClassVar[bool] = True

    def applies_to(self, endpoint: Endpoint) -> bool:
        return endpoint.kind == "host"

    @classmethod
    def preflight(cls, settings: ScanSettings) -> str | None:
        return preflight_problem(settings)

    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        problem = cannot_run(ctx.settings)
        if problem:
            return [self.result(endpoint, Status.ERROR, problem, {"host": endpoint.host})]
        target = PortScanTarget.for_endpoint(endpoint, ctx.platform, ctx.settings)
        try:
            facts = ctx.collect(target.key, collect_ports, target, ctx.settings, ctx.remaining())
        except CollectionError as exc:
            incomplete = say(
                "ports.scan.incomplete",
                "The port scan of {host} did not complete: {reason}",
                host=target.host,
                reason=exc.reason,
            )
            verdict = Verdict(Status.ERROR, incomplete, {"host": target.host, "error": shorten(str(exc.reason))})
        else:
            verdict = self.evaluate(
                facts, port_settings(ctx.platform).allowed_ports, declared_ports(ctx.platform, endpoint)
            )
        return [self.from_verdict(endpoint, verdict)]

    def evaluate(
        self, facts: PortScanFacts, allowed_ports: Sequence[int], declared: frozenset[int] = frozenset()
    ) -> Verdict:
        """The verdict for ``facts`` given the platform's allow-list and the ports of this host that
        another family declared as services (``declared``): policy first, then ``judge``. Pure."""
        evidence = scan_evidence(facts)
        if facts.status is not ScanStatus.COMPLETE:
            failed = say(
                "ports.scan.failed", "Could not port-scan {target}: {reason}", target=facts.target, reason=facts.reason
            )
            return Verdict(Status.ERROR, failed, evidence)
        if not facts.answered:
            silent = say(
                "ports.scan.no_answer",
                "No scanned port of {target} answered (all {filtered} filtered): the host is down or unreachable "
                "from the scanner, so nothing could be judged.",
                target=facts.target,
                filtered=facts.filtered,
            )
            return Verdict(Status.ERROR, silent, evidence)
        verdict = self.judge(facts, tuple(allowed_ports), declared)
        gaps = self.gaps(facts)
        if not gaps:
            return verdict
        merged = {**verdict.evidence, "incomplete": [str(gap) for gap in gaps]}
        if verdict.status is Status.PASS:
            partial = say(
                "ports.scan.partial",
                "Could not fully judge {target}: {gaps} Nothing failing was seen in what was scanned.",
                target=facts.target,
                gaps=sentences(*gaps),
            )
            return Verdict(Status.ERROR, partial, merged)
        return dataclasses.replace(verdict, evidence=merged)

    def gaps(self, facts: PortScanFacts) -> list[Text]:
        """What this check could not see because part of the scan did not finish, one sentence each."""
        gaps: list[Text] = []
        if self.needs_services and facts.detection not in (Detection.COMPLETE, Detection.NOT_NEEDED):
            gaps.append(facts.detection_reason or say("ports.gap.detection", "Service detection did not complete."))
        if facts.udp_status is not None and facts.udp_status is not ScanStatus.COMPLETE:
            gaps.append(facts.udp_reason or say("ports.gap.udp", "The UDP scan did not complete."))
        return gaps

    @abc.abstractmethod
    def judge(
        self, facts: PortScanFacts, allowed_ports: tuple[int, ...], declared: frozenset[int] = frozenset()
    ) -> Verdict:
        """The verdict on a host whose port scan completed. Pure: no I/O, no clock."""


# Lists inside a sentence, as messages: an item may itself be a message (a described port), which a
# list parameter cannot hold, and "and" is a word to translate.


def scan_evidence(facts: PortScanFacts) -> dict[str, Any]:
    """What was scanned and what answered: the start of every ports result's evidence."""
    scanned = f"tcp {facts.spec} ({facts.method} scan)"
    if facts.udp:
        scanned += " + udp 161"
    evidence: dict[str, Any] = {"host": facts.host, "scanned": scanned}
    if facts.address and facts.address != facts.host:
        evidence["address"] = facts.address
    if facts.status is ScanStatus.COMPLETE:
        evidence["open_ports"] = clip(p.label for p in facts.open_ports)
        evidence["closed"] = facts.closed
        evidence["filtered"] = facts.filtered
        evidence["service_detection"] = facts.detection.value
    else:
        evidence["error"] = str(facts.reason)
    if facts.nmap_version:
        evidence["nmap"] = facts.nmap_version
    return evidence


def port_evidence(item: Classified | PortFacts, **extra: Any) -> dict[str, Any]:
    """One port for the evidence: number, service, product/version, TLS, banner (shortened)."""
    classified = item if isinstance(item, Classified) else classify(item)
    port = classified.port
    out: dict[str, Any] = {"port": port.port, "proto": port.proto, "service": port.service or "unknown"}
    if classified.kind is not None:
        out["kind"] = classified.kind.label
        out["recognised_by"] = classified.basis.value
    if port.product:
        out["product"] = port.product
    if port.version:
        out["version"] = port.version
    if port.extrainfo:
        out["extrainfo"] = port.extrainfo
    if port.tunnel:
        out["tls"] = True
    snippet = banner_snippet(port)
    if snippet:
        out["banner"] = snippet
    out.update({key: value for key, value in extra.items() if value not in (None, "")})
    return out


def ports_key(ports: Iterable[PortFacts | Classified]) -> str:
    """A finding's key: the ports it lists, "tcp/22,tcp/8080", sorted, whatever the detail says of them."""
    found = {(p.proto, p.port) for p in (item.port if isinstance(item, Classified) else item for item in ports)}
    labels = [f"{proto}/{port}" for proto, port in sorted(found)]  # in port order, not string order
    joined = ",".join(labels)
    return joined if len(joined) <= MAX_KEY else finding_key(labels)


def describe(item: Classified) -> Message:
    """ "SSH on 22/tcp (OpenSSH 7.4)" / "unknown service on 8081/tcp"; guesses say so."""
    port = item.port
    name: Text
    if item.kind is not None:
        name = item.kind.label.split(" (")[0]
    elif port.service and port.service not in ("unknown", "tcpwrapped"):
        name = port.service
    else:
        name = say("ports.port.unknown_service", "unknown service")
    extra: list[Text] = [port.software] if port.software else []
    if item.kind is not None and item.basis is Basis.PORT:
        extra.append(say("ports.port.guessed", "guessed from the port number"))
    if port.tunnel == "ssl":
        extra.append(say("ports.port.over_tls", "over TLS"))
    if not extra:
        return say("ports.port.service", "{service} on {port}", service=name, port=port.label)
    details = commas(extra)
    return say(
        "ports.port.service_details", "{service} on {port} ({details})", service=name, port=port.label, details=details
    )


def declared_ports(platform: Platform, endpoint: Endpoint) -> frozenset[int]:
    """The ports of ``endpoint``'s host that another family declared as services of the platform (the
    mail family's SMTP, IMAP and POP3 ports): that family judges them in a session of its own."""
    services = (Endpoint.for_service(platform, service) for service in platform.services)
    return frozenset(s.port for s in services if s.host == endpoint.host and s.port is not None)
