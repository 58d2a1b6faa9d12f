"""DMARC (RFC 7489, and the testing mode ``t=y`` of its successor RFC 9989): the policy that
receivers apply to mail claiming to come from the domain.

checkdmarc's ``query_dmarc_record`` (DNS only) finds the record at ``_dmarc.<domain>``, else by
walking up the tree (RFC 9989's discovery, which reaches RFC 7489's organisational domain on the
way); ``parse_dmarc_record`` validates it. On top of it:

- a record found above the organisational domain (the public suffix list that checkdmarc ships,
  read offline) is not accepted: RFC 7489 receivers never look there;
- for a domain without a record of its own, the policy that applies to it is the found record's
  ``sp`` (RFC 7489 6.6.3), not its ``p``;
- ``t=y`` (RFC 9989: receivers are asked not to apply the policy) is a warning: checkdmarc
  validates the tag but says nothing of it;
- DNS failures on the ``_dmarc`` names make the check ``error``. Failures of the lookups
  checkdmarc makes to verify report addresses (their MX, external report authorisation) do not:
  they only feed its warnings.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from checkdmarc import dmarc as checkdmarc_dmarc  # type: ignore[import-untyped]

from checks.mail.lookups import (
    DnsFailure,
    Resolvers,
    checkdmarc_answers_forgotten,
    dns_failed,
    is_under,
    organisational_domain,
)
from scanner.evidence import clip, shorten
from scanner.messages import Message, Text, say
from scanner.model import Status
from scanner.plugin import Verdict
from scanner.wording import sentences

ENFORCING = ("quarantine", "reject")


class DmarcProblem(enum.StrEnum):
    """Why no usable policy was found."""

    NOT_FOUND = "not_found"
    MULTIPLE = "multiple"  # more than one v=DMARC1 record: receivers apply none (RFC 7489 6.6.3)
    INVALID = "invalid"
    WRONG_PLACE = "wrong_place"  # v=DMARC1 at the domain itself instead of _dmarc.<domain>
    ABOVE_ORGANISATIONAL = "above_organisational"  # only a record above the organisational domain


@dataclass(frozen=True)
class DmarcFacts:
    """What the scan's resolvers say of the DMARC policy for one domain.

    Attributes:
        domain: the mail domain.
        organisational: its organisational domain (RFC 7489 3.2).
        record: the DMARC record found ("" when none).
        location: the name whose ``_dmarc`` holds it (the domain, or a parent).
        problem: why no usable policy was found; None when one was.
        explanation: checkdmarc's words for ``problem``.
        p: the record's policy; sp: its explicit subdomain policy ("" when not given).
        pct: the percentage of failing mail the policy applies to (RFC 7489; 100 by default).
        testing: ``t=y``.
        rua: the aggregate report addresses.
        warnings: checkdmarc's warnings (evidence only).
        failures: ``_dmarc`` lookups that got no usable answer.
    """

    domain: str
    organisational: str
    record: str = ""
    location: str = ""
    problem: DmarcProblem | None = None
    explanation: str = ""
    p: str = ""
    sp: str = ""
    pct: int = 100
    testing: bool = False
    rua: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    failures: tuple[DnsFailure, ...] = ()

    @property
    def own(self) -> bool:
        """The record is the domain's own (at ``_dmarc.<domain>``)."""
        return self.location == self.domain

    @property
    def applied(self) -> str:
        """The policy receivers apply to mail from the domain: ``p`` of its own record, else the
        found record's subdomain policy (``sp``, which defaults to ``p``)."""
        return self.p if self.own else (self.sp or self.p)


def collect_dmarc(domain: str, servers: tuple[str, ...], timeout: float, budget: float) -> DmarcFacts:
    """The DMARC facts of ``domain`` from ``servers``, within ``budget`` seconds. Runs in a worker."""
    resolvers = Resolvers(servers, timeout, budget)
    organisational = organisational_domain(domain)
    with checkdmarc_answers_forgotten():
        facts = _evaluate(domain, organisational, resolvers, timeout)
    failures = tuple(f for f in resolvers.failures if f.name.startswith("_dmarc."))
    return dataclasses.replace(facts, failures=failures)


def _evaluate(domain: str, organisational: str, resolvers: Resolvers, timeout: float) -> DmarcFacts:
    dns_args: dict[str, Any] = {
        "resolver": resolvers,
        "nameservers": resolvers.nameservers,
        "timeout": timeout,
        "retries": 0,
        # RFC 7489 6.6.3: records that do not start with v=DMARC1 are discarded, not an error.
        "ignore_unrelated_records": True,
    }
    base = DmarcFacts(domain, organisational)
    try:
        query = checkdmarc_dmarc.query_dmarc_record(domain, **dns_args)
    except checkdmarc_dmarc.DMARCRecordNotFound as exc:
        return dataclasses.replace(base, problem=DmarcProblem.NOT_FOUND, explanation=str(exc))
    except checkdmarc_dmarc.MultipleDMARCRecords as exc:
        return dataclasses.replace(base, problem=DmarcProblem.MULTIPLE, explanation=str(exc))
    except checkdmarc_dmarc.DMARCRecordInWrongLocation as exc:
        return dataclasses.replace(base, problem=DmarcProblem.WRONG_PLACE, explanation=str(exc))
    except checkdmarc_dmarc.DMARCError as exc:  # a record starting with whitespace; a failed lookup
        return dataclasses.replace(base, problem=DmarcProblem.INVALID, explanation=str(exc))
    record, location = str(query["record"]), str(query["location"]).lower()
    found = dataclasses.replace(base, record=record, location=location)
    if location != organisational and is_under(organisational, location):
        return dataclasses.replace(found, problem=DmarcProblem.ABOVE_ORGANISATIONAL)
    try:
        parsed = checkdmarc_dmarc.parse_dmarc_record(record, location, **dns_args)
    except checkdmarc_dmarc.DMARCError as exc:
        return dataclasses.replace(found, problem=DmarcProblem.INVALID, explanation=str(exc))
    tags: Mapping[str, Any] = parsed["tags"]
    sp = tags.get("sp") or {}
    return dataclasses.replace(
        found,
        p=str(tags["p"]["value"]),
        sp=str(sp.get("value", "")) if sp.get("explicit") else "",
        pct=int(tags.get("pct", {}).get("value", 100)),
        testing=str(tags.get("t", {}).get("value", "n")) == "y",
        rua=tuple(str(uri.get("address", "")) for uri in (tags.get("rua") or {}).get("value") or ())[:10],
        warnings=tuple(shorten(str(w), 200) for w in parsed.get("warnings", ()))[:10],
    )


# -- judgement ------------------------------------------------------------------------------------


def judge_dmarc(facts: DmarcFacts) -> Verdict:
    """The DMARC verdict: fail for no record, an invalid one, or a policy of none; warn for
    ``pct`` < 100, ``t=y``, no ``rua``, ``sp=none`` under an enforcing ``p``; else pass."""
    evidence = dmarc_evidence(facts)
    if facts.failures:
        return Verdict(Status.ERROR, dns_failed(facts.failures), evidence)
    problem = _problem(facts)
    if problem is not None:
        return Verdict(Status.FAIL, problem, evidence)
    domain, name = facts.domain, f"_dmarc.{facts.location}"
    if facts.applied not in ENFORCING:
        if facts.own:
            monitor = say(
                "mail.dmarc.p_none",
                "The DMARC record of {domain} says p=none: receivers only report, and deliver mail forged in "
                "the name of {domain} as usual",
                domain=domain,
            )
        else:
            monitor = say(
                "mail.dmarc.sp_none_inherited",
                "{domain} has no DMARC record of its own, and the one at {name} applies {policy} to its "
                "subdomains: receivers deliver mail forged in the name of {domain} as usual",
                domain=domain,
                name=name,
                policy=f"sp={facts.applied}" if facts.sp else f"p={facts.applied}",
            )
        return Verdict(Status.FAIL, monitor, evidence)
    weaker: list[Text] = []
    if facts.pct < 100:
        weaker.append(
            say(
                "mail.dmarc.pct",
                "pct={pct}: the policy applies to {pct}% of the failing mail only.",
                pct=facts.pct,
            )
        )
    if facts.testing:
        weaker.append(
            say(
                "mail.dmarc.testing",
                "t=y: the record is in testing mode (RFC 9989), and receivers are asked not to apply the policy.",
            )
        )
    if not facts.rua:
        weaker.append(
            say(
                "mail.dmarc.no_rua",
                "No rua: nobody receives the aggregate reports that show forged or misconfigured mail.",
            )
        )
    if facts.own and facts.sp == "none":
        weaker.append(
            say(
                "mail.dmarc.sp_none",
                "sp=none: mail forged in the name of subdomains of {domain} is delivered as usual.",
                domain=domain,
            )
        )
    if weaker:
        warned = say(
            "mail.dmarc.weakened",
            "The DMARC policy at {name} is {policy}, but weakened: {reasons}",
            name=name,
            policy=f"p={facts.p}",
            reasons=sentences(weaker[0], *weaker[1:]),
        )
        return Verdict(Status.WARN, warned, evidence)
    passed = say(
        "mail.dmarc.ok",
        "The DMARC policy for {domain} at {name} is {policy}, with aggregate reports to {rua}",
        domain=domain,
        name=name,
        policy=f"p={facts.applied}" if facts.own or not facts.sp else f"sp={facts.applied}",
        rua=list(facts.rua),
    )
    return Verdict(Status.PASS, passed, evidence)


def _problem(facts: DmarcFacts) -> Message | None:
    domain, organisational = facts.domain, facts.organisational
    match facts.problem:
        case None:
            return None
        case DmarcProblem.NOT_FOUND if domain == organisational:
            return say("mail.dmarc.missing", "No DMARC record at _dmarc.{domain}", domain=domain)
        case DmarcProblem.NOT_FOUND:
            return say(
                "mail.dmarc.missing_both",
                "No DMARC record at _dmarc.{domain}, nor at its organisational domain _dmarc.{organisational}",
                domain=domain,
                organisational=organisational,
            )
        case DmarcProblem.MULTIPLE:
            return say(
                "mail.dmarc.multiple",
                "More than one DMARC record for {domain}: receivers apply none of them (RFC 7489 6.6.3)",
                domain=domain,
            )
        case DmarcProblem.WRONG_PLACE:
            return say(
                "mail.dmarc.wrong_place",
                "The DMARC record is published at {domain} itself: receivers look for it only at _dmarc.{domain}",
                domain=domain,
            )
        case DmarcProblem.ABOVE_ORGANISATIONAL:
            return say(
                "mail.dmarc.above_organisational",
                "The only DMARC record found is at _dmarc.{location}, above the organisational domain "
                "{organisational}: receivers do not apply it to {domain}",
                location=facts.location,
                organisational=organisational,
                domain=domain,
            )
        case DmarcProblem.INVALID:
            return say(
                "mail.dmarc.invalid",
                "The DMARC record for {domain} is invalid: {explanation} (record: {record})",
                domain=domain,
                explanation=shorten(facts.explanation, 200),
                record=shorten(facts.record, 200) or "-",
            )


def dmarc_evidence(facts: DmarcFacts) -> dict[str, Any]:
    evidence: dict[str, Any] = {"domain": facts.domain, "organisational_domain": facts.organisational}
    if facts.record:
        evidence["record"] = shorten(facts.record)
        evidence["location"] = f"_dmarc.{facts.location}"
    if facts.problem is not None:
        evidence["problem"] = facts.problem.value
    if facts.explanation:
        evidence["checkdmarc"] = shorten(facts.explanation)
    if facts.p:
        evidence["policy"] = facts.applied
        evidence["pct"] = facts.pct
        evidence["testing"] = facts.testing
        evidence["rua"] = clip(facts.rua)
    if facts.warnings:
        evidence["warnings"] = clip(facts.warnings, 5)
    if facts.failures:
        evidence["dns_failures"] = clip(f"{f.name} {f.rdtype}: {f.reason}" for f in facts.failures)
    return evidence
