"""``mail.mx``: a mail domain's MX records, and the collector every MX-based check shares.

The collector asks the scan's resolvers (``scanner.dns.stub_resolver``) for the domain's MX, then
for each MX host's A and AAAA. It knows nothing of the platform: which MX hosts are registered
(and so may be contacted) is decided by the checks, from the same facts, for every platform that
names the domain.

Null MX (RFC 7505): a single MX ``0 .`` says the domain receives no mail; it passes, and the
transport checks skip. No MX at all: RFC 5321 5.1's implicit MX, the domain's own address.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from checks.mail.domains import mail_domain
from scanner.dns import stub_resolver
from scanner.evidence import clip, shorten
from scanner.facts import CollectionError
from scanner.messages import Message, Text, say
from scanner.model import Endpoint, Platform, Result, Severity, Status
from scanner.plugin import Check, ScanContext, ScanSettings, Verdict
from scanner.urls import in_scope
from scanner.wording import listed, sentences

#: MX hosts looked up (and tested) per domain, lowest preference first; a real domain has a few.
MAX_MX_HOSTS = 10
#: Below this many seconds left, a query is not started (it could not finish).
_MIN_QUERY_SECONDS = 0.2


class MxStatus(enum.StrEnum):
    FOUND = "found"  # MX records (a null MX among them is ``null_mixed``)
    NULL = "null"  # only the null MX of RFC 7505: the domain receives no mail
    NONE = "none"  # the name exists, no MX: the implicit MX (RFC 5321 5.1)
    NO_DOMAIN = "no_domain"  # NXDOMAIN
    FAILED = "failed"  # no answer, SERVFAIL, refused: nothing could be judged


@dataclass(frozen=True)
class MxHost:
    """One MX host of a domain.

    Attributes:
        name: the exchange, normalised (lower case, no final dot).
        preference: its MX preference (0 for an implicit MX).
        addresses: its A and AAAA addresses, as the scan's resolvers answered.
        missing: why it has no address when that is the answer (NXDOMAIN, no A or AAAA): a finding.
        failed: why its lookup failed (timeout, SERVFAIL): not a finding, nothing is known.
        alias: the canonical name when the exchange is an alias (CNAME), which RFC 5321 5.1 forbids.
    """

    name: str
    preference: int
    addresses: tuple[str, ...] = ()
    missing: Message | None = None
    failed: Message | None = None
    alias: str = ""


@dataclass(frozen=True)
class MxFacts:
    """A domain's MX, as the scan's resolvers answered.

    Attributes:
        domain: the mail domain.
        status: see ``MxStatus``.
        hosts: FOUND: the MX hosts by preference (at most ``MAX_MX_HOSTS``); NONE: the domain itself
            as its implicit MX, when it has an address; otherwise empty.
        more: how many MX hosts beyond ``MAX_MX_HOSTS`` were not looked up.
        null_mixed: a null MX published beside other MX records (RFC 7505 3: it must stand alone).
        reason: why the MX lookup failed (FAILED), in a few words.
        error: the resolver's own words, for the evidence.
    """

    domain: str
    status: MxStatus
    hosts: tuple[MxHost, ...] = ()
    more: int = 0
    null_mixed: bool = False
    reason: Message | None = None
    error: str = ""


# -- collection -------------------------------------------------------------------------------------


def collect_mx(domain: str, settings: ScanSettings, budget: float) -> MxFacts:
    """``domain``'s MX and each MX host's addresses, within ``budget`` seconds."""
    clock = _Clock(budget, float(settings.timeout))
    resolver = stub_resolver(settings.dns_servers, max(0.5, float(settings.timeout)))
    try:
        answer = clock.resolve(resolver, domain, "MX")
    except dns.resolver.NXDOMAIN:
        return MxFacts(domain, MxStatus.NO_DOMAIN)
    except dns.exception.DNSException as exc:
        return MxFacts(domain, MxStatus.FAILED, reason=_cause(exc), error=shorten(str(exc)))
    records = sorted(
        ((int(r.preference), _name(r.exchange)) for r in (answer.rrset or ())), key=lambda item: (item[0], item[1])
    )
    if not records:
        implicit = _host(clock, resolver, domain, 0)
        return MxFacts(domain, MxStatus.NONE, hosts=(implicit,) if implicit.addresses else ())
    real = [(preference, name) for preference, name in records if name]
    if not real:
        return MxFacts(domain, MxStatus.NULL)
    hosts = tuple(_host(clock, resolver, name, preference) for preference, name in real[:MAX_MX_HOSTS])
    return MxFacts(
        domain,
        MxStatus.FOUND,
        hosts=hosts,
        more=max(0, len(real) - MAX_MX_HOSTS),
        null_mixed=len(real) < len(records),
    )


class _OutOfTime(dns.exception.Timeout):
    """No time left in the endpoint's budget for another query."""


class _Clock:
    """The collector's own deadline, from the duration it was given; each query within it."""

    def __init__(self, budget: float, timeout: float) -> None:
        self.deadline = time.monotonic() + max(0.0, budget)
        self.timeout = max(0.5, timeout)

    def resolve(self, resolver: dns.resolver.Resolver, name: str, rdtype: str) -> dns.resolver.Answer:
        seconds = min(self.timeout, self.deadline - time.monotonic())
        if seconds < _MIN_QUERY_SECONDS:
            raise _OutOfTime
        return resolver.resolve(
            name, dns.rdatatype.from_text(rdtype), search=False, raise_on_no_answer=False, lifetime=seconds
        )


def _name(exchange: dns.name.Name) -> str:
    """The exchange as a host name; "" for the root (the null MX)."""
    return exchange.to_text(omit_final_dot=True).lower() if exchange != dns.name.root else ""


def _host(clock: _Clock, resolver: dns.resolver.Resolver, name: str, preference: int) -> MxHost:
    addresses: list[str] = []
    failures: list[Message] = []
    alias = ""
    for rdtype in ("A", "AAAA"):
        try:
            answer = clock.resolve(resolver, name, rdtype)
        except dns.resolver.NXDOMAIN:
            return MxHost(name, preference, missing=say("mail.mx.host_nxdomain", "does not exist (NXDOMAIN)"))
        except dns.exception.DNSException as exc:
            failed = say(
                "mail.mx.lookup_failed",
                "the {rdtype} lookup of {name} failed: {cause}",
                rdtype=rdtype,
                name=name,
                cause=_cause(exc),
            )
            failures.append(failed)
            continue
        canonical = answer.canonical_name.to_text(omit_final_dot=True).lower()
        if canonical != name:
            alias = canonical
        addresses += [str(record.address) for record in (answer.rrset or ())]
    if addresses:
        return MxHost(name, preference, tuple(addresses), alias=alias)
    if failures:
        return MxHost(name, preference, failed=failures[0], alias=alias)
    return MxHost(name, preference, missing=say("mail.mx.host_no_address", "no address (A or AAAA)"))


def _cause(exc: dns.exception.DNSException) -> Message:
    """Why a query got no usable answer, in a few words."""
    if isinstance(exc, dns.exception.Timeout):
        return say("mail.mx.dns_timeout", "no answer from the DNS servers in time")
    if isinstance(exc, dns.resolver.NoNameservers):
        return say("mail.mx.dns_servfail", "every DNS server failed to answer (SERVFAIL or refused)")
    return say("mail.mx.dns_other", "{error}", error=shorten(str(exc), 200))


# -- what the checks share --------------------------------------------------------------------------


def mx_facts(ctx: ScanContext, domain: str) -> MxFacts:
    """The MX facts of ``domain``, collected once per scan for every check and platform that asks."""
    return ctx.collect(("mail.mx", domain), collect_mx, domain, ctx.settings, ctx.remaining())


def registered(platform: Platform) -> Callable[[str], bool]:
    """Whether an MX host is one of ``platform``'s registered hosts (and so may be contacted)."""
    return lambda host: in_scope(platform, host)


# -- the check --------------------------------------------------------------------------------------


class MxRecords(Check):
    id: ClassVar[str] = "mail.mx"
    title: ClassVar[str] = "MX records"
    finding: ClassVar[str] = "The mail domain has no MX host that resolves"
    family: ClassVar[str] = "mail"
    severity: ClassVar[Severity] = Severity.MEDIUM
    why: ClassVar[str] = (
        "The MX records say which servers receive the domain's mail. An MX host that does not resolve, or a "
        "domain with neither MX nor address, makes citizens' and other agencies' mail bounce or wait in queues "
        "for days; a domain that sends but never receives mail should say so with a null MX (RFC 7505), so "
        "that nothing is delivered to a server that was never meant to receive it."
    )
    remediation: ClassVar[str] = (
        "Publish an MX record for each server that receives the domain's mail, pointing at a host name (not an "
        "address, not an alias) that has A (and AAAA) records, e.g. in the zone file:\n"
        "```\n"
        "@    IN MX 10 mx1.{host}.\n"
        "@    IN MX 20 mx2.{host}.\n"
        "mx1  IN A     <address of mx1>\n"
        "```\n"
        "A domain that receives no mail publishes only the null MX: `@ IN MX 0 .`. Add every MX host to the "
        "platform's `hosts` in the targets file, so that platscan tests its STARTTLS."
    )

    # A mail domain often has no address of its own: its checks read DNS about it, and contact only
    # the registered hosts that DNS names (its MX hosts), so they run whether or not it resolves.
    needs_address: ClassVar[bool] = False

    def applies_on(self, endpoint: Endpoint, platform: Platform) -> bool:
        return mail_domain(endpoint, platform) is not None

    def applies_to(self, endpoint: Endpoint) -> bool:
        return False  # only through applies_on: it needs the platform's mail domains

    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        domain = mail_domain(endpoint, ctx.platform) or endpoint.host
        try:
            facts = mx_facts(ctx, domain)
        except CollectionError as exc:
            failed = say(
                "mail.mx.incomplete",
                "The MX lookup of {domain} did not complete: {reason}.",
                domain=domain,
                reason=exc.reason,
            )
            return [self.result(endpoint, Status.ERROR, failed, {"domain": domain})]
        return [self.from_verdict(endpoint, judge_mx(facts, registered(ctx.platform)))]


def mx_evidence(facts: MxFacts, is_registered: Callable[[str], bool]) -> dict[str, Any]:
    hosts = [
        {
            "host": host.name,
            "preference": host.preference,
            "addresses": clip(host.addresses, 8),
            "registered": is_registered(host.name),
            **({"alias_of": host.alias} if host.alias else {}),
            **({"problem": str(host.missing or host.failed)} if host.missing or host.failed else {}),
        }
        for host in facts.hosts
    ]
    evidence: dict[str, Any] = {"domain": facts.domain, "status": facts.status.value, "mx": hosts}
    if facts.more:
        evidence["more_mx_hosts"] = facts.more
    if facts.error:
        evidence["error"] = facts.error
    return evidence


def judge_mx(facts: MxFacts, is_registered: Callable[[str], bool]) -> Verdict:
    """The ``mail.mx`` verdict of ``facts``; ``is_registered`` says which MX hosts the platform owns. Pure."""
    evidence = mx_evidence(facts, is_registered)
    domain = facts.domain
    if facts.status is MxStatus.FAILED:
        failed = say(
            "mail.mx.failed",
            "The MX records of {domain} could not be read: {cause}.",
            domain=domain,
            cause=facts.reason or "",
        )
        return Verdict(Status.ERROR, failed, evidence)
    if facts.status is MxStatus.NO_DOMAIN:
        return Verdict(
            Status.FAIL, say("mail.mx.no_domain", "{domain} does not exist in DNS (NXDOMAIN).", domain=domain), evidence
        )
    if facts.status is MxStatus.NULL:
        null = say("mail.mx.null", "{domain} publishes a null MX (RFC 7505): it receives no mail.", domain=domain)
        return Verdict(Status.PASS, null, evidence)
    if facts.status is MxStatus.NONE:
        if not facts.hosts:
            nothing = say(
                "mail.mx.none_no_address",
                "{domain} has no MX record and no address: mail to it cannot be delivered.",
                domain=domain,
            )
            return Verdict(Status.FAIL, nothing, evidence)
        implicit = say(
            "mail.mx.implicit",
            "{domain} has no MX record: senders deliver to the domain's own address (implicit MX, RFC 5321 5.1).",
            domain=domain,
        )
        return Verdict(Status.WARN, sentences(implicit, _unregistered(facts, is_registered)), evidence, Severity.LOW)
    if facts.null_mixed:
        mixed = say(
            "mail.mx.null_mixed",
            "{domain} publishes a null MX beside other MX records; RFC 7505 allows the null MX only on its own.",
            domain=domain,
        )
        return Verdict(Status.FAIL, mixed, evidence)
    missing = [
        say("mail.mx.host_problem", "{host}: {problem}", host=h.name, problem=h.missing)
        for h in facts.hosts
        if h.missing
    ]
    if missing:
        broken = say(
            "mail.mx.hosts_missing",
            "MX hosts of {domain} that do not resolve: {problems}.",
            domain=domain,
            problems=listed(missing),
        )
        return Verdict(Status.FAIL, broken, evidence)
    unknown_hosts = [h.failed for h in facts.hosts if h.failed]
    if unknown_hosts:
        unknown = say(
            "mail.mx.hosts_unknown",
            "The addresses of some MX hosts of {domain} could not be looked up: {reasons}.",
            domain=domain,
            reasons=listed(unknown_hosts),
        )
        return Verdict(Status.ERROR, unknown, evidence)
    aliases = [h.name for h in facts.hosts if h.alias]
    names = [h.name for h in facts.hosts]
    if aliases:
        alias = say(
            "mail.mx.alias",
            "MX hosts of {domain} that are aliases (CNAME), which RFC 5321 5.1 does not allow: {hosts}.",
            domain=domain,
            hosts=aliases,
        )
        return Verdict(Status.WARN, sentences(alias, _unregistered(facts, is_registered)), evidence, Severity.LOW)
    found = say("mail.mx.found", "{domain} has MX hosts that resolve: {hosts}.", domain=domain, hosts=names)
    return Verdict(Status.PASS, sentences(found, _unregistered(facts, is_registered)), evidence)


def _unregistered(facts: MxFacts, is_registered: Callable[[str], bool]) -> Text | None:
    outside = [h.name for h in facts.hosts if not is_registered(h.name)]
    if not outside:
        return None
    return say(
        "mail.mx.unregistered",
        "Not among the platform's registered hosts, so not contacted: {hosts}.",
        hosts=outside,
    )
