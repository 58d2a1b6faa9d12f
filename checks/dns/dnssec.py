"""dns.dnssec: every name of a platform answers with DNSSEC-validated records.

What the resolvers say, and the verdict:

==========================================================  ==============================================
the answers                                                 verdict
==========================================================  ==============================================
every answer carries AD (the resolver validated it)         pass
SERVFAIL, and the same query with CD (checking disabled)    fail, critical: every validating resolver
answers                                                     refuses the name (bogus)
no AD, the zone has no DNSKEY                               warn: the zone is not signed
no AD, DNSKEY but no DS at the parent                       warn: signed, but no chain of trust (island)
no AD, DS at the parent, the parent unsigned                warn: no chain of trust reaches the zone
no AD, DS validated, answers not                            warn: validators treat the zone as insecure
no AD, DS and a signed parent                               error: the configured resolver does not
                                                            validate DNSSEC (never a pass)
a lookup not answered                                       error
==========================================================  ==============================================

The zone is found by an SOA lookup of the name (the owner of the SOA in the answer or the
authority section). A bogus zone caps the platform at F, as an expired certificate does: both
make the platform unreachable for every client that checks, here everyone behind a validating
resolver (the large public resolvers and many ISPs').
"""

from __future__ import annotations

from typing import Any, ClassVar

import dns.dnssectypes

from checks.dns._collect import collect_dnssec
from checks.dns.base import DnsCheck, describe, lookup_failed
from checks.dns.facts import DnssecFacts, Lookup
from scanner.evidence import clip
from scanner.messages import say
from scanner.model import Cap, Endpoint, Severity, Status
from scanner.plugin import ScanContext, Verdict


class Dnssec(DnsCheck[DnssecFacts]):
    id: ClassVar[str] = "dns.dnssec"
    title: ClassVar[str] = "DNSSEC validation"
    finding: ClassVar[str] = "The name's DNS answers are not protected by valid DNSSEC signatures"
    severity: ClassVar[Severity] = Severity.LOW
    caps: ClassVar[tuple[Cap, ...]] = (
        Cap("F", Severity.CRITICAL, "DNSSEC validation fails (bogus): validating resolvers refuse the name"),
    )
    why: ClassVar[str] = (
        "DNSSEC lets resolvers verify that the addresses they give citizens for a platform's names are the ones "
        "the province published: without it, an attacker who poisons a resolver's cache or sits on the path can "
        "send users to a fake portal or take its mail (Circular 39/2017 4.6 recommends it). A zone whose "
        "signatures fail validation is worse than an unsigned one: every validating resolver (the large public "
        "resolvers and many ISPs') refuses its names, so the platform disappears for their users."
    )
    remediation: ClassVar[str] = (
        "Sign the zone and publish its DS record at the parent zone, through your registrar (VNNIC for .vn names):\n"
        "- BIND 9.16 or later: in the zone's block `dnssec-policy default;` and `inline-signing yes;`, then "
        "`rndc reconfig`; `rndc dnssec -status <zone>` shows the keys, and "
        "`dig @127.0.0.1 <zone> DNSKEY | dnssec-dsfromkey -f - <zone>` prints the DS record.\n"
        "- Knot DNS: in the zone's section `dnssec-signing: on`, then `knotc reload`; `keymgr <zone> ds` prints "
        "the DS record.\n"
        "- PowerDNS Authoritative: `pdnsutil secure-zone <zone>`, `pdnsutil rectify-zone <zone>`; "
        "`pdnsutil show-zone <zone>` prints the DS record.\n"
        "- A hosted DNS service: turn DNSSEC on in its panel and copy the DS record it shows.\n"
        "Give the DS record to the registrar, and scan again once the parent publishes it.\n"
        "A zone that fails validation (bogus) is an outage: find why with `delv @<resolver> <name>` or "
        "DNSViz. Expired signatures mean the signer stopped: re-sign (`rndc sign <zone>`, "
        "`knotc zone-sign <zone>`, `pdnsutil rectify-zone <zone>`). A DS at the parent for a key the zone no "
        "longer has: publish the DS of the current key, or have the registrar remove the DS until the zone is "
        "signed again.\n"
        "If the scan says the configured resolver does not validate DNSSEC, set `[scan] dns_servers` to a "
        "validating resolver (unbound validates by default with `auto-trust-anchor-file`; BIND with "
        "`dnssec-validation auto;`)."
    )

    def collect(self, endpoint: Endpoint, ctx: ScanContext) -> DnssecFacts:
        return ctx.collect(
            ("dns.dnssec", endpoint.host),
            collect_dnssec,
            endpoint.host,
            ctx.settings.dns_servers,
            ctx.settings.timeout,
            ctx.remaining(),
        )

    def judge(self, facts: DnssecFacts) -> Verdict:
        return judge_dnssec(facts)


def judge_dnssec(facts: DnssecFacts) -> Verdict:
    """The verdict on a name's DNSSEC facts (see the module's table)."""
    evidence = dnssec_evidence(facts)
    name, zone = facts.name, facts.zone
    if facts.soa.bogus or not zone:
        if facts.soa.bogus:
            return _bogus(facts, [facts.soa], evidence)
        reason = lookup_failed(facts.soa) if not facts.soa.outcome.answered else None
        no_zone = say(
            "dns.dnssec.no_zone",
            "Could not find the zone of {name}: the SOA lookup names none.",
            name=name,
        )
        return Verdict(Status.ERROR, reason or no_zone, evidence)
    looked_up = [facts.soa, *facts.answers, *(x for x in (facts.dnskey, facts.ds) if x is not None)]
    bogus = [lookup for lookup in looked_up if lookup.bogus]
    if bogus:
        return _bogus(facts, bogus, evidence)
    core = [facts.soa, *facts.answers, *([facts.dnskey] if facts.dnskey else [])]
    unanswered = [lookup for lookup in core if not lookup.outcome.answered]
    if unanswered or facts.dnskey is None:
        return Verdict(Status.ERROR, lookup_failed(unanswered[0] if unanswered else facts.soa), evidence)
    if all(lookup.ad for lookup in core):
        validated = say(
            "dns.dnssec.validated",
            "The DNS answers for {name} are validated (zone {zone}, signed with {algorithms}).",
            name=name,
            zone=zone,
            algorithms=algorithms(facts.dnskey) or ["?"],
        )
        return Verdict(Status.PASS, validated, evidence)
    if not facts.dnskey.records:
        unsigned = say(
            "dns.dnssec.unsigned",
            "The zone {zone} of {name} is not signed with DNSSEC (it has no DNSKEY records).",
            zone=zone,
            name=name,
        )
        return Verdict(Status.WARN, unsigned, evidence, severity=Severity.LOW)
    ds = facts.ds
    if ds is None or not ds.outcome.answered:
        return Verdict(Status.ERROR, lookup_failed(ds or facts.soa), evidence)
    if not ds.records:
        island = say(
            "dns.dnssec.no_ds",
            "The zone {zone} is signed, but its parent publishes no DS record for it: validating resolvers "
            "treat it as unsigned.",
            zone=zone,
        )
        return Verdict(Status.WARN, island, evidence, severity=Severity.LOW)
    if ds.ad:
        insecure = say(
            "dns.dnssec.not_validated",
            "The zone {zone} is signed and its DS record validates, but the answers for {name} do not: validating "
            "resolvers treat the zone as insecure (check that the DS record matches a DNSKEY and uses an algorithm "
            "they support).",
            zone=zone,
            name=name,
        )
        return Verdict(Status.WARN, insecure, evidence, severity=Severity.LOW)
    parent = facts.parent_dnskey
    if parent is not None and not parent.outcome.answered:
        return Verdict(Status.ERROR, lookup_failed(parent), evidence)
    if parent is not None and not parent.records:
        orphan = say(
            "dns.dnssec.parent_unsigned",
            "The zone {zone} is signed, but its parent zone {parent} is not: no chain of trust reaches it.",
            zone=zone,
            parent=parent.name or ".",
        )
        return Verdict(Status.WARN, orphan, evidence, severity=Severity.LOW)
    not_validating = say(
        "dns.dnssec.resolver_does_not_validate",
        "The configured resolver does not validate DNSSEC: the zone {zone} is signed, with a DS record in a signed "
        "parent, yet its answers come without the AD flag. Set [scan] dns_servers to a validating resolver to judge "
        "{name}.",
        zone=zone,
        name=name,
    )
    return Verdict(Status.ERROR, not_validating, evidence)


def _bogus(facts: DnssecFacts, bogus: list[Lookup], evidence: dict[str, Any]) -> Verdict:
    failing = say(
        "dns.dnssec.bogus",
        "DNSSEC validation fails for {name}: the resolvers answer SERVFAIL for {records} but answer with checking "
        "disabled, so every validating resolver refuses them.",
        name=facts.name,
        records=[f"{lookup.name} {lookup.rdtype}" for lookup in bogus],
    )
    return Verdict(Status.FAIL, failing, evidence, severity=Severity.CRITICAL)


def algorithms(dnskey: Lookup) -> list[str]:
    """The algorithms of a DNSKEY set, by name ("ECDSAP256SHA256")."""
    found: dict[str, None] = {}
    for record in dnskey.usable.records:
        fields = record.split()
        if len(fields) > 2 and fields[2].isdigit():
            found[dns.dnssectypes.Algorithm.to_text(int(fields[2]))] = None
    return list(found)


def dnssec_evidence(facts: DnssecFacts) -> dict[str, Any]:
    """What was asked and how each was answered, in one line per lookup."""
    lookups = [facts.soa, *facts.answers, *(x for x in (facts.dnskey, facts.ds, facts.parent_dnskey) if x)]
    evidence: dict[str, Any] = {
        "name": facts.name,
        "zone": facts.zone,
        "resolvers": list(facts.servers) or ["system"],
        "lookups": clip(describe(lookup) for lookup in lookups),
    }
    if facts.dnskey is not None and facts.dnskey.usable.records:
        evidence["dnskey_algorithms"] = algorithms(facts.dnskey)
    return evidence
