"""SMTP TLS Reporting (RFC 8460): where sending servers report the TLS failures they meet.

The ``_smtp._tls.<domain>`` TXT record is looked up through the scan's resolvers and parsed by
checkdmarc's ``parse_smtp_tls_reporting_record`` (pure: no DNS, no connection). checkdmarc's own
lookup is not used: it calls an unrelated TXT record at the name, or a timeout, "not found".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from checkdmarc import smtp_tls_reporting as checkdmarc_tlsrpt  # type: ignore[import-untyped]

from checks.mail.lookups import Outcome, Resolvers, TxtLookup, dns_failed
from scanner.evidence import clip, shorten
from scanner.messages import say
from scanner.model import Status
from scanner.plugin import Verdict

_PREFIX = "v=TLSRPTv1"


@dataclass(frozen=True)
class TlsRptFacts:
    """The lookup of ``_smtp._tls.<domain>``."""

    domain: str
    txt: TxtLookup


def collect_tls_rpt(domain: str, servers: tuple[str, ...], timeout: float, budget: float) -> TlsRptFacts:
    """The TLS-RPT record of ``domain`` from ``servers``. Runs in a worker."""
    return TlsRptFacts(domain, Resolvers(servers, timeout, budget).txt(f"_smtp._tls.{domain}"))


def judge_tls_rpt(facts: TlsRptFacts) -> Verdict:
    """pass: one valid record with ``rua``; warn: none; fail: several, or an invalid one. Pure."""
    txt = facts.txt
    evidence: dict[str, Any] = {"domain": facts.domain, "name": txt.name, "answer": txt.outcome.value}
    if txt.records:
        evidence["records"] = clip((shorten(r, 120) for r in txt.records), 5)
    if txt.outcome is Outcome.FAILED:
        assert txt.failure is not None
        return Verdict(Status.ERROR, dns_failed([txt.failure]), evidence)
    # RFC 8460 3: records that do not begin with v=TLSRPTv1 are discarded.
    records = [r for r in txt.records if r.startswith(_PREFIX)]
    if not records:
        absent = say(
            "mail.tls_rpt.absent",
            "{domain} publishes no TLS-RPT record at {name}: nobody hears of the TLS failures sending servers "
            "meet when delivering to it",
            domain=facts.domain,
            name=txt.name,
        )
        return Verdict(Status.WARN, absent, evidence)
    if len(records) > 1:
        several = say(
            "mail.tls_rpt.multiple",
            "{name} holds {count} TLS-RPT records: sending servers then send no reports (RFC 8460 3)",
            name=txt.name,
            count=len(records),
        )
        return Verdict(Status.FAIL, several, evidence)
    try:
        parsed = checkdmarc_tlsrpt.parse_smtp_tls_reporting_record(records[0])
    except checkdmarc_tlsrpt.SMTPTLSReportingError as exc:
        evidence["checkdmarc"] = shorten(str(exc))
        invalid = say(
            "mail.tls_rpt.invalid",
            "The TLS-RPT record at {name} is invalid: {explanation}",
            name=txt.name,
            explanation=shorten(str(exc), 200),
        )
        return Verdict(Status.FAIL, invalid, evidence)
    rua = [str(uri) for uri in parsed["tags"]["rua"]["value"]]
    evidence["rua"] = clip(rua)
    reported = say(
        "mail.tls_rpt.ok", "TLS failures of mail to {domain} are reported to {rua}", domain=facts.domain, rua=rua
    )
    return Verdict(Status.PASS, reported, evidence)
