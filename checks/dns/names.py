"""dns.caa and dns.ipv6: what the names of a platform's URLs say beyond their addresses.

- ``dns.caa`` (RFC 8659), for the host of every https URL: the CAA record set a certificate
  authority must obey is the first one found climbing from the name towards its top-level domain.
  None anywhere warns; an invalid record fails; records that name the authorities allowed pass.
- ``dns.ipv6`` (Circular 39/2017 1.11), for the host of every URL: its AAAA records, and a TCP
  connection to each address on each of the host's URL ports. No AAAA warns; an address that does
  not answer fails; an IPv4-mapped AAAA (``::ffff:a.b.c.d``) is a valid answer, dialled at its IPv4
  address as a dual-stack client does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from checks.dns._collect import collect_caa, collect_ipv6
from checks.dns.base import DnsCheck, describe, lookup_failed, url_hosts
from checks.dns.facts import CaaFacts, Ipv6Facts, Outcome, Probe
from scanner.evidence import clip, finding_key, shorten
from scanner.messages import Message, say
from scanner.model import Endpoint, Platform, Severity, Status
from scanner.plugin import ScanContext, Verdict
from scanner.reasons import network_error
from scanner.wording import listed

# RFC 8659, section 4.2: issuer-domain-name and parameters; tags are letters and digits.
_LABEL = r"[A-Za-z0-9](?:-*[A-Za-z0-9])*"
_ISSUER = rf"{_LABEL}(?:\.{_LABEL})*"
_PARAMETER = rf"{_LABEL}[ \t]*=[ \t]*[\x21-\x3a\x3c-\x7e]*"
_ISSUE_VALUE = re.compile(
    rf"[ \t]*(?:{_ISSUER}[ \t]*)?(?:;[ \t]*(?:{_PARAMETER}(?:[ \t]*;[ \t]*{_PARAMETER})*[ \t]*)?)?"
)
_ISSUER_OF = re.compile(rf"[ \t]*({_ISSUER})")
#: Properties that CAs know (RFC 8659, RFC 9495, the CA/Browser Forum's contact properties, BIMI).
KNOWN_TAGS = frozenset({"issue", "issuewild", "iodef", "issuemail", "issuevmc", "contactemail", "contactphone"})
CRITICAL_FLAG = 128


@dataclass(frozen=True)
class CaaRecord:
    """One CAA record, read from its presentation form (``0 issue "ca.example"``)."""

    flags: int
    tag: str
    value: str
    text: str

    @classmethod
    def parse(cls, text: str) -> CaaRecord | None:
        match = re.fullmatch(r'(\d+)\s+(\S+)\s+"(.*)"', text.strip(), re.S)
        if not match:
            return None
        value = re.sub(r"\\(\d{3}|.)", lambda m: chr(int(m[1])) if m[1].isdigit() else m[1], match[3])
        return cls(int(match[1]), match[2].lower(), value, text)


def caa_problem(record: CaaRecord) -> Message | None:
    """Why a CA cannot use ``record`` as written (RFC 8659, sections 4.1 to 4.4), or None."""
    shown = shorten(record.text, 120)
    if record.tag in ("issue", "issuewild") and not _ISSUE_VALUE.fullmatch(record.value):
        return say(
            "dns.caa.problem.issuer",
            "{record}: the value is not an issuer domain name with optional parameters (RFC 8659, section 4.2)",
            record=shown,
        )
    if record.tag == "iodef" and not re.fullmatch(r"(mailto:[^@\s]+@[^@\s]+|https?://\S+)", record.value):
        return say(
            "dns.caa.problem.iodef",
            "{record}: the iodef value is not a mailto:, http: or https: URL (RFC 8659, section 4.4)",
            record=shown,
        )
    if record.tag not in KNOWN_TAGS and record.flags & CRITICAL_FLAG:
        return say(
            "dns.caa.problem.critical",
            "{record}: an unknown property marked critical, which forbids every certificate authority to issue",
            record=shown,
        )
    return None


def issuer_of(record: CaaRecord) -> str:
    """The issuer an issue/issuewild record names, "" for ";" (no CA may issue)."""
    match = _ISSUER_OF.match(record.value)
    return match[1].lower() if match else ""


class Caa(DnsCheck[CaaFacts]):
    id: ClassVar[str] = "dns.caa"
    title: ClassVar[str] = "CAA records"
    finding: ClassVar[str] = "No valid CAA record names the certificate authorities allowed to issue for the name"
    severity: ClassVar[Severity] = Severity.LOW
    why: ClassVar[str] = (
        "CAA records (RFC 8659) tell every certificate authority which of them may issue certificates for a name; "
        "the others must refuse. Without them, any of the hundreds of public authorities can be tricked or "
        "compelled into issuing a certificate for the platform's name, which is all an attacker needs to "
        "impersonate it over HTTPS. A record that is invalid can stop the platform's own authority from renewing "
        "its certificate."
    )
    remediation: ClassVar[str] = (
        "Publish CAA records at the name, or at the domain above it (they apply to every name below that has "
        "none of its own), naming the authority that issues the platform's certificates and where to report "
        "misissuance:\n"
        "```\n"
        '{host}. 3600 IN CAA 0 issue "letsencrypt.org"\n'
        '{host}. 3600 IN CAA 0 issuewild ";"\n'
        '{host}. 3600 IN CAA 0 iodef "mailto:security@{host}"\n'
        "```\n"
        "Replace letsencrypt.org with your authority's CAA domain (its documentation names it). "
        "BIND and Knot DNS: add the lines to the zone file and reload (`rndc reload`, `knotc zone-reload`); "
        "PowerDNS: `pdnsutil add-record <zone> <name> CAA 3600 '0 issue \"letsencrypt.org\"'`; "
        "a hosted DNS service: add a CAA record in its panel. Check with `dig {host} CAA`."
    )

    def applies_on(self, endpoint: Endpoint, platform: Platform) -> bool:
        return (
            endpoint.kind == "host" and self.applies_to(endpoint) and endpoint.host in url_hosts(platform, ("https",))
        )

    def collect(self, endpoint: Endpoint, ctx: ScanContext) -> CaaFacts:
        return ctx.collect(
            ("dns.caa", endpoint.host),
            collect_caa,
            endpoint.host,
            ctx.settings.dns_servers,
            ctx.settings.timeout,
            ctx.remaining(),
        )

    def judge(self, facts: CaaFacts) -> Verdict:
        return judge_caa(facts)


def judge_caa(facts: CaaFacts) -> Verdict:
    """The verdict on the CAA record sets found climbing from ``facts.name``."""
    evidence: dict[str, Any] = {"name": facts.name, "lookups": clip(describe(level) for level in facts.levels)}
    relevant = facts.relevant
    if relevant is None:
        unanswered = next((level for level in facts.levels if not level.outcome.answered), None)
        if unanswered is not None:
            return Verdict(Status.ERROR, lookup_failed(unanswered.usable), evidence)
        absent = say(
            "dns.caa.none",
            "No CAA record at {name} or any name above it: every certificate authority may issue certificates "
            "for {name}.",
            name=facts.name,
        )
        return Verdict(Status.WARN, absent, evidence)
    evidence["found_at"] = relevant.name
    evidence["records"] = clip(relevant.records)
    records = [CaaRecord.parse(text) for text in relevant.records]
    problems = [
        caa_problem(record)
        if record
        else say("dns.caa.problem.unreadable", "{record}: not a CAA record", record=shorten(text, 120))
        for record, text in zip(records, relevant.records, strict=True)
    ]
    invalid = [problem for problem in problems if problem is not None]
    if invalid:
        failed = say(
            "dns.caa.invalid",
            "The CAA records at {level} are invalid: {problems}.",
            level=relevant.name,
            problems=listed(invalid),
        )
        return Verdict(Status.FAIL, failed, evidence)
    issuing = [record for record in records if record and record.tag in ("issue", "issuewild")]
    if not issuing:
        unrestricted = say(
            "dns.caa.no_issuer",
            "The CAA records at {level} name no certificate authority (no issue or issuewild property): every "
            "authority may still issue for {name}.",
            level=relevant.name,
            name=facts.name,
        )
        return Verdict(Status.WARN, unrestricted, evidence)
    issuers = sorted({issuer_of(record) for record in issuing if record.tag == "issue"} - {""})
    evidence["issuers"] = issuers
    if not issuers:
        nobody = say(
            "dns.caa.none_may_issue",
            "The CAA records at {level} allow no certificate authority to issue for {name}.",
            level=relevant.name,
            name=facts.name,
        )
        return Verdict(Status.PASS, nobody, evidence)
    allowed = say(
        "dns.caa.present",
        "The CAA records at {level} allow {issuers} to issue certificates for {name}.",
        level=relevant.name,
        issuers=issuers,
        name=facts.name,
    )
    return Verdict(Status.PASS, allowed, evidence)


class Ipv6(DnsCheck[Ipv6Facts]):
    id: ClassVar[str] = "dns.ipv6"
    title: ClassVar[str] = "IPv6 reachability"
    finding: ClassVar[str] = "The host cannot be reached over IPv6"
    severity: ClassVar[Severity] = Severity.MEDIUM
    why: ClassVar[str] = (
        "Circular 39/2017 1.11 makes IPv6 mandatory for equipment connected to the Internet, and a growing share "
        "of citizens, mobile networks first, reach services over IPv6. A host without an AAAA record is out of "
        "their direct reach; an AAAA record whose address does not answer is worse: IPv6 clients try it first and "
        "wait, or fail, before they fall back to IPv4."
    )
    remediation: ClassVar[str] = (
        "Give the host an IPv6 address, make the web server listen on it, and publish it as an AAAA record:\n"
        "- nginx: next to `listen 443 ssl;` add `listen [::]:443 ssl;` (and `listen [::]:80;`), then "
        "`nginx -t && systemctl reload nginx`.\n"
        "- Apache: `Listen [::]:443` (or `Listen 443`, which listens on both), then `apachectl configtest && "
        "systemctl reload apache2`.\n"
        "- IIS: IIS listens on IPv6 by default; add a binding for the IPv6 address if the site binds one address.\n"
        "- Firewall: allow the same ports over IPv6 (`ip6tables`, or an `inet` table in nftables).\n"
        "- DNS: `{host}. 3600 IN AAAA <IPv6 address>`; a load balancer or CDN in front of the host needs IPv6 "
        "turned on there.\n"
        "Check from a host with IPv6 with `curl -6 -sI https://{host}/`. Remove an AAAA record whose address "
        "cannot be made to answer."
    )

    def applies_on(self, endpoint: Endpoint, platform: Platform) -> bool:
        return endpoint.kind == "host" and self.applies_to(endpoint) and endpoint.host in url_hosts(platform)

    def collect(self, endpoint: Endpoint, ctx: ScanContext) -> Ipv6Facts:
        ports = url_hosts(ctx.platform).get(endpoint.host, ())
        return ctx.collect(
            ("dns.ipv6", endpoint.host, ports),
            collect_ipv6,
            endpoint.host,
            ports,
            ctx.settings.dns_servers,
            ctx.settings.timeout,
            ctx.remaining(),
        )

    def judge(self, facts: Ipv6Facts) -> Verdict:
        return judge_ipv6(facts)


def judge_ipv6(facts: Ipv6Facts) -> Verdict:
    """The verdict on a host's AAAA records and the connections to them."""
    aaaa = facts.aaaa.usable
    evidence: dict[str, Any] = {"host": facts.host, "lookup": describe(facts.aaaa), "aaaa": clip(aaaa.records)}
    if facts.probes:
        evidence["connections"] = clip(_probe_text(probe) for probe in facts.probes)
    if facts.untried:
        evidence["untried"] = clip(facts.untried)
    if not aaaa.outcome.answered:
        return Verdict(Status.ERROR, lookup_failed(aaaa), evidence)
    if aaaa.outcome is Outcome.NXDOMAIN:
        missing = say("dns.ipv6.no_name", "{host} does not exist in DNS (NXDOMAIN).", host=facts.host)
        return Verdict(Status.ERROR, missing, evidence)
    if not aaaa.records:
        no_aaaa = say(
            "dns.ipv6.no_aaaa",
            "{host} has no AAAA record: it cannot be reached over IPv6.",
            host=facts.host,
        )
        return Verdict(Status.WARN, no_aaaa, evidence, severity=Severity.LOW)
    silent = [probe for probe in facts.probes if not probe.connected and not probe.local]
    if silent:
        failed = say(
            "dns.ipv6.silent",
            "{host} has AAAA records that do not answer: {failures}.",
            host=facts.host,
            failures=listed([_failure(probe) for probe in silent]),
        )
        return Verdict(Status.FAIL, failed, evidence, key=finding_key(_target(probe) for probe in silent))
    local = [probe for probe in facts.probes if probe.local]
    if local:
        unreachable = say(
            "dns.ipv6.no_route",
            "The scanner has no IPv6 route, so it could not connect to {targets}: {reason}.",
            targets=[f"[{probe.address}]:{probe.port}" for probe in local],
            reason=_reason(local[0]),
        )
        return Verdict(Status.ERROR, unreachable, evidence)
    if facts.untried or not facts.probes:
        untested = say(
            "dns.ipv6.untried",
            "Could not try every IPv6 address of {host} within the time allowed: {targets} untried.",
            host=facts.host,
            targets=list(facts.untried) or list(aaaa.records),
        )
        return Verdict(Status.ERROR, untested, evidence)
    answered = say(
        "dns.ipv6.answers",
        "{host} answers over IPv6 at {targets}.",
        host=facts.host,
        targets=[_target(probe) for probe in facts.probes],
    )
    return Verdict(Status.PASS, answered, evidence)


def _target(probe: Probe) -> str:
    return f"[{probe.address}]:{probe.port}"


def _probe_text(probe: Probe) -> str:
    via = f" (IPv4-mapped: {probe.mapped})" if probe.mapped else ""
    return f"{_target(probe)}{via}: {'connected' if probe.connected else probe.error}"


def _reason(probe: Probe) -> Message:
    if probe.errno == 0 and probe.error == "timed out":
        return network_error(TimeoutError())
    return network_error(OSError(probe.errno, probe.error))


def _failure(probe: Probe) -> Message:
    return say("dns.ipv6.failure", "{target} ({reason})", target=_target(probe), reason=_reason(probe))
