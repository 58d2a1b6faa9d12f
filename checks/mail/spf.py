"""SPF (RFC 7208): the domain's record, evaluated by checkdmarc through the scan's resolvers, and
judged by the issue's rules.

checkdmarc's ``query_spf_record`` and ``parse_spf_record`` (DNS only) find and evaluate the record
(syntax, ``include`` and ``redirect`` followed, DNS-querying terms and void lookups counted). On
top of it, because checkdmarc does not say it:

- the qualifier of the record's own ``all`` is read from the record's terms (checkdmarc reports
  only the final result, and nothing when it stops at the void-lookup limit); without an ``all``
  the redirect target's result counts, and without either the default is neutral (RFC 7208 4.7);
- an ``include`` of a name that has no SPF record is a permanent error (RFC 7208 5.2), which
  checkdmarc only lists as a warning;
- DNS failures (timeouts, SERVFAIL) anywhere in the evaluation make the check ``error``: checkdmarc
  counts a timed-out include as a void lookup, and a timed-out ``a`` term as a warning.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from checkdmarc import spf as checkdmarc_spf  # type: ignore[import-untyped]

from checks.mail.lookups import DnsFailure, Resolvers, checkdmarc_answers_forgotten, dns_failed
from scanner.evidence import clip, shorten
from scanner.messages import Message, say
from scanner.model import Status
from scanner.plugin import Verdict

#: RFC 7208 4.6.4: at most 10 DNS-querying terms, and at most 2 of them answered with nothing.
MAX_LOOKUPS = 10
MAX_VOID_LOOKUPS = 2
_ALL = re.compile(r"([+\-~?]?)all", re.IGNORECASE)
_REDIRECT = re.compile(r"redirect=(\S+)", re.IGNORECASE)
#: checkdmarc's words for a mechanism's result -> its qualifier.
_QUALIFIERS = {"pass": "+", "fail": "-", "softfail": "~", "neutral": "?"}


class SpfProblem(enum.StrEnum):
    """Why the record could not be evaluated."""

    NOT_FOUND = "not_found"  # no TXT record starting with v=spf1 (or no such domain)
    MULTIPLE = "multiple"  # more than one: a permanent error (RFC 7208 4.5)
    SYNTAX = "syntax"
    LOOP = "loop"  # include or redirect back to a name already visited
    TOO_MANY_LOOKUPS = "too_many_lookups"
    REDIRECT_MISSING = "redirect_missing"  # redirect= to a name without an SPF record (RFC 7208 6.1)


@dataclass(frozen=True)
class SpfFacts:
    """What the scan's resolvers say of one domain's SPF record, as checkdmarc evaluated it.

    Attributes:
        domain: the mail domain.
        record: its SPF record ("" when none was found).
        problem: why it could not be evaluated; None when it was.
        explanation: checkdmarc's words for ``problem`` (its syntax errors mark the position).
        all: the qualifier of the record's ``all`` ("-", "~", "?", "+"), or of the redirect
            target's result when the record has no ``all``; None when it has neither, or when the
            evaluation stopped before the redirect was followed.
        redirect: the record's ``redirect=`` target, or "".
        target: for REDIRECT_MISSING, the redirect target without a record.
        dns_lookups: the DNS-querying terms counted (includes and redirects followed), when known.
        void_lookups: the lookups answered with no records, when known.
        broken_includes: ``include`` targets that publish no SPF record.
        warnings: checkdmarc's warnings (evidence only).
        failures: queries that got no usable answer.
        nxdomain: the domain itself does not exist.
    """

    domain: str
    record: str = ""
    problem: SpfProblem | None = None
    explanation: str = ""
    all: str | None = None
    redirect: str = ""
    target: str = ""
    dns_lookups: int | None = None
    void_lookups: int | None = None
    broken_includes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    failures: tuple[DnsFailure, ...] = ()
    nxdomain: bool = False


def collect_spf(domain: str, servers: tuple[str, ...], timeout: float, budget: float) -> SpfFacts:
    """The SPF facts of ``domain`` from ``servers``, within ``budget`` seconds. Runs in a worker."""
    resolvers = Resolvers(servers, timeout, budget)
    with checkdmarc_answers_forgotten():
        facts = _evaluate(domain, resolvers, timeout)
    # checkdmarc also asks for the obsolete SPF record type (RFC 7208 14.1) and ignores its answer.
    failures = tuple(f for f in resolvers.failures if f.rdtype != "SPF")
    return dataclasses.replace(facts, failures=failures, nxdomain=domain in resolvers.nxdomain)


def _evaluate(domain: str, resolvers: Resolvers, timeout: float) -> SpfFacts:
    # nameservers too: checkdmarc builds its own resolver from them for an exp= lookup.
    dns_args: dict[str, Any] = {
        "resolver": resolvers,
        "nameservers": resolvers.nameservers,
        "timeout": timeout,
        "retries": 0,
    }
    try:
        query = checkdmarc_spf.query_spf_record(domain, **dns_args)
    except checkdmarc_spf.MultipleSPFRTXTRecords as exc:
        return SpfFacts(domain, problem=SpfProblem.MULTIPLE, explanation=str(exc))
    except checkdmarc_spf.SPFRecordNotFound as exc:
        # checkdmarc 5.15 wraps its own MultipleSPFRTXTRecords in SPFRecordNotFound.
        several = isinstance(exc.error, checkdmarc_spf.MultipleSPFRTXTRecords)
        problem = SpfProblem.MULTIPLE if several else SpfProblem.NOT_FOUND
        return SpfFacts(domain, problem=problem, explanation=str(exc))
    record = " ".join(str(query["record"]).split())
    own_all = qualifier_of_all(record)
    redirect = _redirect_of(record)
    base = SpfFacts(domain, record, all=own_all, redirect=redirect)
    try:
        parsed = checkdmarc_spf.parse_spf_record(record, domain, **dns_args)
    except checkdmarc_spf.SPFTooManyVoidDNSLookups as exc:
        voids = int((exc.data or {}).get("void_dns_lookups", MAX_VOID_LOOKUPS + 1))
        return dataclasses.replace(base, void_lookups=voids, explanation=str(exc))
    except checkdmarc_spf.SPFTooManyDNSLookups as exc:
        lookups = int((exc.data or {}).get("dns_lookups", MAX_LOOKUPS + 1))
        return dataclasses.replace(base, problem=SpfProblem.TOO_MANY_LOOKUPS, dns_lookups=lookups, explanation=str(exc))
    except (checkdmarc_spf.SPFIncludeLoop, checkdmarc_spf.SPFRedirectLoop) as exc:
        return dataclasses.replace(base, problem=SpfProblem.LOOP, explanation=str(exc))
    except checkdmarc_spf.SPFRecordNotFound as exc:  # only a redirect target escapes as this
        return dataclasses.replace(
            base, problem=SpfProblem.REDIRECT_MISSING, target=str(exc.domain), explanation=str(exc)
        )
    except checkdmarc_spf.SPFError as exc:  # SPFSyntaxError, and anything else that makes it unusable
        return dataclasses.replace(base, problem=SpfProblem.SYNTAX, explanation=str(exc))
    result = parsed["parsed"]
    followed = result.get("redirect") or {}
    if own_all is None and followed.get("record") is not None:  # not for a macro redirect: unknowable
        base = dataclasses.replace(base, all=_QUALIFIERS.get(str(result.get("all")), "?"))
    return dataclasses.replace(
        base,
        dns_lookups=int(parsed["dns_lookups"]),
        void_lookups=int(parsed["void_dns_lookups"]),
        broken_includes=tuple(dict.fromkeys(_broken_includes(result))),
        warnings=tuple(shorten(str(w), 200) for w in parsed.get("warnings", ()))[:10],
    )


def qualifier_of_all(record: str) -> str | None:
    """The qualifier of the record's own ``all`` term ("+" when it has none written), or None."""
    for term in record.split()[1:]:
        match = _ALL.fullmatch(term)
        if match:
            return match.group(1) or "+"
    return None


def _redirect_of(record: str) -> str:
    match = _REDIRECT.search(record)
    return match.group(1).lower() if match else ""


def _broken_includes(parsed: Mapping[str, Any]) -> Iterator[str]:
    """The ``include`` targets, at any depth, for which checkdmarc found no record."""
    for mechanism in parsed.get("mechanisms") or ():
        if mechanism.get("mechanism") != "include":
            continue
        value = str(mechanism.get("value", ""))
        if mechanism.get("record") is None and "%" not in value:  # a macro is expanded per message
            yield value.lower()
        elif isinstance(mechanism.get("parsed"), Mapping):
            yield from _broken_includes(mechanism["parsed"])


# -- judgement ------------------------------------------------------------------------------------


def judge_spf(facts: SpfFacts) -> Verdict:
    """The SPF verdict: fail for no, several or an unusable record, ``+all``, ``?all`` (or no
    ``all``) and more than 10 lookups; warn for more than 2 void lookups; pass for ``-all``/``~all``."""
    evidence = spf_evidence(facts)
    domain = facts.domain
    if facts.failures:
        return Verdict(Status.ERROR, dns_failed(facts.failures), evidence)
    problem = _problem(facts)
    if problem is not None:
        return Verdict(Status.FAIL, problem, evidence)
    if facts.broken_includes:
        missing = say(
            "mail.spf.include_missing",
            "The SPF record of {domain} includes {targets}, which publish no SPF record: receivers treat "
            "the whole record as a permanent error (RFC 7208 5.2)",
            domain=domain,
            targets=list(facts.broken_includes),
        )
        return Verdict(Status.FAIL, missing, evidence)
    if facts.all == "+":
        anyone = say(
            "mail.spf.plus_all",
            "The SPF record of {domain} ends in +all: it authorises every server on the Internet to send as {domain}",
            domain=domain,
        )
        return Verdict(Status.FAIL, anyone, evidence)
    if facts.all == "?":
        neutral = say(
            "mail.spf.neutral_all",
            "The SPF record of {domain} ends in ?all (neutral): receivers treat mail from unlisted servers as if "
            "there were no SPF record",
            domain=domain,
        )
        return Verdict(Status.FAIL, neutral, evidence)
    if facts.all is None and not facts.redirect:
        no_all = say(
            "mail.spf.no_all",
            "The SPF record of {domain} has no all term and no redirect: mail from unlisted servers gets a "
            "neutral result, as with ?all",
            domain=domain,
        )
        return Verdict(Status.FAIL, no_all, evidence)
    if facts.void_lookups is not None and facts.void_lookups > MAX_VOID_LOOKUPS:
        void = say(
            "mail.spf.void_lookups",
            "The SPF record of {domain} makes {count} DNS lookups that find nothing: RFC 7208 4.6.4 makes more "
            "than {limit} a permanent error, and receivers differ in whether they enforce it",
            domain=domain,
            count=facts.void_lookups,
            limit=MAX_VOID_LOOKUPS,
        )
        return Verdict(Status.WARN, void, evidence)
    if facts.all is None:
        macro = say(
            "mail.spf.macro_redirect",
            "The SPF record of {domain} redirects to {target}, a macro expanded for each message: its result "
            "cannot be judged from DNS alone",
            domain=domain,
            target=facts.redirect,
        )
        return Verdict(Status.WARN, macro, evidence)
    passed = say(
        "mail.spf.ok",
        "{domain} publishes an SPF record ending in {ending} ({lookups} of at most {limit} DNS lookups)",
        domain=domain,
        ending=f"{facts.all}all",
        lookups=facts.dns_lookups or 0,
        limit=MAX_LOOKUPS,
    )
    return Verdict(Status.PASS, passed, evidence)


def _problem(facts: SpfFacts) -> Message | None:
    domain, record = facts.domain, shorten(facts.record, 200)
    match facts.problem:
        case None:
            return None
        case SpfProblem.NOT_FOUND if facts.nxdomain:
            return say(
                "mail.spf.no_domain",
                "{domain} does not exist in DNS (NXDOMAIN), so it has no SPF record",
                domain=domain,
            )
        case SpfProblem.NOT_FOUND:
            return say(
                "mail.spf.missing",
                "{domain} publishes no SPF record (no TXT record that starts with v=spf1)",
                domain=domain,
            )
        case SpfProblem.MULTIPLE:
            return say(
                "mail.spf.multiple",
                "{domain} publishes more than one SPF record: receivers treat that as a permanent error (RFC 7208 4.5)",
                domain=domain,
            )
        case SpfProblem.LOOP:
            return say(
                "mail.spf.loop",
                "The SPF record of {domain} includes or redirects in a loop ({explanation})",
                domain=domain,
                explanation=shorten(facts.explanation, 200),
            )
        case SpfProblem.TOO_MANY_LOOKUPS:
            return say(
                "mail.spf.too_many_lookups",
                "The SPF record of {domain} needs at least {count} DNS lookups (includes and redirects followed): "
                "receivers stop at {limit} and treat it as a permanent error (RFC 7208 4.6.4)",
                domain=domain,
                count=facts.dns_lookups or MAX_LOOKUPS + 1,
                limit=MAX_LOOKUPS,
            )
        case SpfProblem.REDIRECT_MISSING:
            return say(
                "mail.spf.redirect_missing",
                "The SPF record of {domain} redirects to {target}, which publishes no SPF record: a permanent error "
                "(RFC 7208 6.1)",
                domain=domain,
                target=facts.target,
            )
        case SpfProblem.SYNTAX:
            return say(
                "mail.spf.syntax",
                "The SPF record of {domain} is invalid: {explanation} (record: {record})",
                domain=domain,
                explanation=shorten(facts.explanation, 200),
                record=record,
            )


def spf_evidence(facts: SpfFacts) -> dict[str, Any]:
    evidence: dict[str, Any] = {"domain": facts.domain}
    if facts.record:
        evidence["record"] = shorten(facts.record)
    if facts.problem is not None:
        evidence["problem"] = facts.problem.value
    if facts.explanation:
        evidence["checkdmarc"] = shorten(facts.explanation)
    if facts.all is not None:
        evidence["all"] = f"{facts.all}all"
    if facts.redirect:
        evidence["redirect"] = facts.redirect
    if facts.dns_lookups is not None:
        evidence["dns_lookups"] = facts.dns_lookups
    if facts.void_lookups is not None:
        evidence["void_lookups"] = facts.void_lookups
    if facts.broken_includes:
        evidence["includes_without_record"] = clip(facts.broken_includes)
    if facts.warnings:
        evidence["warnings"] = clip(facts.warnings, 5)
    if facts.failures:
        evidence["dns_failures"] = clip(f"{f.name} {f.rdtype}: {f.reason}" for f in facts.failures)
    return evidence
