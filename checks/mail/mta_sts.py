"""MTA-STS (RFC 8461): the domain asks sending servers to insist on verified TLS to its MX hosts.

Two parts: the ``_mta-sts.<domain>`` TXT record (``v=STSv1; id=...``) and the policy file at
``https://mta-sts.<domain>/.well-known/mta-sts.txt``. The policy is fetched only when
``mta-sts.<domain>`` is a registered host of the platform, through the http family's scoped client
(``checks.http.api.HttpClient``: registered hosts only, the scan's timeouts and trust store),
without following redirects (RFC 8461 3.3). A record whose policy cannot be fetched cannot pass:
the policy is what senders enforce.

The record and the policy are parsed here, not by checkdmarc: its MTA-STS parser accepts policies
without ``version`` or ``max_age`` (its check for required keys can never fire), matches MX
patterns as unanchored regular expressions (``*.example.com`` would match
``a.b.example.com.evil``), and its record lookup calls an unrelated TXT record or a timeout "not
found". Its fetching function connects wherever DNS says, off scope.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from checks.http.api import HttpClient
from checks.mail.lookups import MxLookup, Outcome, Resolvers, TxtLookup, dns_failed
from scanner.evidence import clip, shorten
from scanner.messages import Message, Text, say
from scanner.model import Platform, Status
from scanner.plugin import ScanSettings, Verdict
from scanner.urls import in_scope

#: RFC 8461 3.3: senders may refuse a policy larger than 64 KB.
POLICY_CAP = 64 * 1024
#: RFC 8461 3.2: max_age is at most 31557600 seconds (a year).
MAX_AGE_LIMIT = 31_557_600
MODES = ("enforce", "testing", "none")
_RECORD_START = re.compile(r"v=STSv1;")  # case-sensitive, as RFC 8461's ABNF
_FIELD = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.-]{0,31})=([\x21-\x3a\x3c\x3e-\x7e]{1,})")
_ID = re.compile(r"[A-Za-z0-9]{1,32}")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_MX_PATTERN = re.compile(rf"(?:\*\.)?{_LABEL}(?:\.{_LABEL})*", re.IGNORECASE)


@dataclass(frozen=True)
class PolicyFetch:
    """The answer to the policy request.

    Attributes:
        url: the policy URL.
        status: the HTTP status, None when no answer came.
        content_type: the media type, lower case, without parameters.
        body: the body, decoded as UTF-8 (at most ``POLICY_CAP`` bytes).
        complete: the body was read whole (False: larger than ``POLICY_CAP``).
        verified: the certificate chain and host name verified.
        tls_problem: why they did not.
        location: the target of a redirect (not followed).
        error: why no answer came.
    """

    url: str
    status: int | None = None
    content_type: str = ""
    body: str = ""
    complete: bool = True
    verified: bool | None = None
    tls_problem: Text | None = None
    location: str = ""
    error: Text | None = None


@dataclass(frozen=True)
class MtaStsFacts:
    """The MTA-STS record, the policy and the MX hosts it must cover.

    Attributes:
        domain: the mail domain.
        txt: the lookup of ``_mta-sts.<domain>``.
        policy_host: ``mta-sts.<domain>``.
        registered: the policy host is a registered host of the platform (else it is not contacted).
        fetch: the policy request; None when it was not made.
        mx: the domain's MX records, looked up when a policy was fetched; else None.
    """

    domain: str
    txt: TxtLookup
    policy_host: str
    registered: bool
    fetch: PolicyFetch | None = None
    mx: MxLookup | None = None


def policy_url(domain: str) -> str:
    return f"https://mta-sts.{domain}/.well-known/mta-sts.txt"


def collect_mta_sts(domain: str, platform: Platform, settings: ScanSettings, budget: float) -> MtaStsFacts:
    """The record, and the policy when its host is registered. Runs in a worker."""
    deadline = time.monotonic() + max(0.0, budget)
    resolvers = Resolvers(settings.dns_servers, settings.timeout, budget)
    txt = resolvers.txt(f"_mta-sts.{domain}")
    host = f"mta-sts.{domain}"
    registered = in_scope(platform, host)
    published = any(_RECORD_START.match(record) for record in txt.records)
    if not (published and registered):
        return MtaStsFacts(domain, txt, host, registered)
    with HttpClient(platform, settings, deadline=deadline) as client:
        fetched = client.fetch("GET", policy_url(domain), cap=POLICY_CAP, follow=False)
        problems = dict(client.tls_problems)
    response = fetched.final
    if response is None:
        reason = fetched.error.reason if fetched.error is not None else say("mail.mta_sts.no_answer", "no answer")
        return MtaStsFacts(domain, txt, host, registered, PolicyFetch(policy_url(domain), error=reason))
    fetch = PolicyFetch(
        url=policy_url(domain),
        status=response.status,
        content_type=response.content_type,
        body=response.body.decode("utf-8", errors="replace"),
        complete=response.body_complete,
        verified=response.tls_verified,
        tls_problem=next(iter(problems.values()), None),
        location=shorten(response.location or "", 200) if response.is_redirect else "",
    )
    mx = resolvers.mx(domain) if response.status == 200 else None
    return MtaStsFacts(domain, txt, host, registered, fetch, mx)


# -- parsing (pure) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StsRecord:
    """The ``_mta-sts`` record read: its ``id``, or why it is unusable."""

    id: str = ""
    problem: Message | None = None


def read_record(record: str) -> StsRecord:
    """``v=STSv1; id=...`` (RFC 8461 3.1); extension fields are allowed and ignored."""
    fields = [part.strip() for part in record.split(";")]
    if fields[0] != "v=STSv1":
        return StsRecord(problem=say("mail.mta_sts.record_version", "the record does not start with v=STSv1;"))
    found: dict[str, str] = {}
    for field in fields[1:]:
        if not field:
            continue
        match = _FIELD.fullmatch(field)
        if not match:
            return StsRecord(
                problem=say(
                    "mail.mta_sts.record_field", "{field} is not a field of the record", field=shorten(field, 60)
                )
            )
        found.setdefault(match.group(1), match.group(2))
    sts_id = found.get("id", "")
    if not _ID.fullmatch(sts_id):
        return StsRecord(problem=say("mail.mta_sts.record_id", "id= must be 1 to 32 letters and digits"))
    return StsRecord(id=sts_id)


@dataclass(frozen=True)
class StsPolicy:
    """The policy file read (RFC 8461 3.2)."""

    mode: str = ""
    max_age: int = 0
    mx: tuple[str, ...] = ()
    problem: Message | None = None


def read_policy(text: str) -> StsPolicy:
    """The policy's ``version``, ``mode``, ``max_age`` and ``mx`` lines; unknown keys are ignored."""
    values: dict[str, str] = {}
    patterns: list[str] = []
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not colon or not key:
            return StsPolicy(
                problem=say("mail.mta_sts.policy_line", "line {line} is not a key: value pair", line=number)
            )
        if key == "mx":
            if not _MX_PATTERN.fullmatch(value):
                return StsPolicy(
                    problem=say(
                        "mail.mta_sts.policy_mx", "mx: {value} is not a host name pattern", value=shorten(value, 80)
                    )
                )
            patterns.append(value.lower())
        elif key in ("version", "mode", "max_age"):
            if key in values:
                return StsPolicy(problem=say("mail.mta_sts.policy_duplicate", "{key} appears twice", key=key))
            values[key] = value
    if values.get("version") != "STSv1":
        return StsPolicy(problem=say("mail.mta_sts.policy_version", "no version: STSv1 line"))
    mode = values.get("mode", "")
    if mode not in MODES:
        return StsPolicy(problem=say("mail.mta_sts.policy_mode", "mode must be enforce, testing or none"))
    age = values.get("max_age", "")
    if not (age.isdigit() and len(age) <= 10 and int(age) <= MAX_AGE_LIMIT):
        limit = say(
            "mail.mta_sts.policy_max_age", "max_age must be a number of seconds up to {limit}", limit=MAX_AGE_LIMIT
        )
        return StsPolicy(mode, problem=limit)
    if mode != "none" and not patterns:
        return StsPolicy(
            mode,
            int(age),
            problem=say("mail.mta_sts.policy_no_mx", "mode {mode} needs at least one mx line", mode=mode),
        )
    return StsPolicy(mode, int(age), tuple(patterns))


def mx_matches(host: str, pattern: str) -> bool:
    """RFC 8461 4.1: the exact name, or ``*.`` standing for exactly one leftmost label."""
    host, pattern = host.lower().rstrip("."), pattern.lower()
    if pattern.startswith("*."):
        label, dot, rest = host.partition(".")
        return bool(label) and bool(dot) and rest == pattern[2:]
    return host == pattern


# -- judgement ------------------------------------------------------------------------------------


def judge_mta_sts(facts: MtaStsFacts) -> Verdict:
    """pass: an enforce policy covering the MX hosts; warn: testing, none or no MTA-STS at all;
    fail: an unusable record or policy; error: lookups failed, or the policy host is not registered."""
    evidence = mta_sts_evidence(facts)
    domain, txt = facts.domain, facts.txt
    if txt.outcome is Outcome.FAILED:
        assert txt.failure is not None
        return Verdict(Status.ERROR, dns_failed([txt.failure]), evidence)
    records = [r for r in txt.records if _RECORD_START.match(r)]
    if not records:
        absent = say(
            "mail.mta_sts.absent",
            "{domain} publishes no MTA-STS record at {name}: sending servers fall back to unverified TLS or "
            "plain text whenever an attacker on the path strips STARTTLS",
            domain=domain,
            name=txt.name,
        )
        return Verdict(Status.WARN, absent, evidence)
    if len(records) > 1:
        several = say(
            "mail.mta_sts.multiple",
            "{name} holds {count} MTA-STS records: sending servers then ignore MTA-STS (RFC 8461 3.1)",
            name=txt.name,
            count=len(records),
        )
        return Verdict(Status.FAIL, several, evidence)
    record = read_record(records[0])
    if record.problem is not None:
        bad = say(
            "mail.mta_sts.record_invalid",
            "The MTA-STS record at {name} is invalid: {problem}",
            name=txt.name,
            problem=record.problem,
        )
        return Verdict(Status.FAIL, bad, evidence)
    if not facts.registered:
        unregistered = say(
            "mail.mta_sts.not_registered",
            "not registered: add {host} to the platform's hosts to have the MTA-STS policy of {domain} fetched "
            "and judged (the record alone enforces nothing)",
            host=facts.policy_host,
            domain=domain,
        )
        return Verdict(Status.ERROR, unregistered, evidence)
    return _judge_policy(facts, evidence)


def _judge_policy(facts: MtaStsFacts, evidence: dict[str, Any]) -> Verdict:
    fetch, url = facts.fetch, policy_url(facts.domain)
    if fetch is None or fetch.status is None:
        reason = (
            fetch.error if fetch is not None and fetch.error is not None else say("mail.mta_sts.no_answer", "no answer")
        )
        unfetched = say(
            "mail.mta_sts.fetch_failed", "Could not fetch the MTA-STS policy {url}: {reason}", url=url, reason=reason
        )
        return Verdict(Status.ERROR, unfetched, evidence)
    unusable = _unusable_answer(fetch)
    if unusable is not None:
        return Verdict(Status.FAIL, unusable, evidence)
    policy = read_policy(fetch.body)
    if policy.problem is not None:
        bad = say(
            "mail.mta_sts.policy_invalid",
            "The MTA-STS policy {url} is invalid: {problem}",
            url=url,
            problem=policy.problem,
        )
        return Verdict(Status.FAIL, bad, evidence)
    evidence = {**evidence, "mode": policy.mode, "max_age": policy.max_age, "mx_patterns": clip(policy.mx)}
    if policy.mode == "testing":
        testing = say(
            "mail.mta_sts.testing",
            "The MTA-STS policy of {domain} is in testing mode: senders report TLS failures but still deliver "
            "without verified TLS",
            domain=facts.domain,
        )
        return Verdict(Status.WARN, testing, evidence)
    if policy.mode == "none":
        withdrawn = say(
            "mail.mta_sts.mode_none",
            "The MTA-STS policy of {domain} says mode: none: the policy is withdrawn and senders do not insist on TLS",
            domain=facts.domain,
        )
        return Verdict(Status.WARN, withdrawn, evidence)
    mx = facts.mx
    if mx is not None and mx.outcome is Outcome.FAILED:
        assert mx.failure is not None
        return Verdict(Status.ERROR, dns_failed([mx.failure]), evidence)
    hosts = [host for _, host in mx.hosts] if mx is not None else []
    uncovered = [host for host in hosts if host and not any(mx_matches(host, p) for p in policy.mx)]
    if uncovered:
        outside = say(
            "mail.mta_sts.mx_not_covered",
            "The enforce policy of {domain} does not cover its MX hosts {hosts}: senders that apply it refuse to "
            "deliver to them",
            domain=facts.domain,
            hosts=uncovered,
        )
        return Verdict(Status.FAIL, outside, {**evidence, "mx_hosts": clip(hosts)})
    enforced = say(
        "mail.mta_sts.enforce",
        "The MTA-STS policy of {domain} enforces verified TLS to {patterns} (max_age {max_age} s)",
        domain=facts.domain,
        patterns=list(policy.mx),
        max_age=policy.max_age,
    )
    return Verdict(Status.PASS, enforced, {**evidence, "mx_hosts": clip(hosts)})


def _unusable_answer(fetch: PolicyFetch) -> Message | None:
    """Why senders would not use the answer (RFC 8461 3.3), or None."""
    url = fetch.url
    if fetch.verified is False:
        return say(
            "mail.mta_sts.untrusted",
            "The certificate of {url} does not verify ({problem}): senders do not use the policy (RFC 8461 3.3)",
            url=url,
            problem=fetch.tls_problem or "-",
        )
    if fetch.location:
        return say(
            "mail.mta_sts.redirect",
            "{url} answers with a redirect to {location}: senders do not follow redirects to a policy (RFC 8461 3.3)",
            url=url,
            location=fetch.location,
        )
    if fetch.status != 200:
        return say(
            "mail.mta_sts.status", "{url} answers HTTP {status}, not the policy", url=url, status=fetch.status or 0
        )
    if not fetch.complete:
        return say(
            "mail.mta_sts.too_large", "The MTA-STS policy {url} is larger than {limit} bytes", url=url, limit=POLICY_CAP
        )
    if fetch.content_type != "text/plain":
        return say(
            "mail.mta_sts.content_type",
            "{url} is served as {content_type}; the policy must be text/plain (RFC 8461 3.2)",
            url=url,
            content_type=fetch.content_type or "-",
        )
    return None


def mta_sts_evidence(facts: MtaStsFacts) -> dict[str, Any]:
    evidence: dict[str, Any] = {
        "domain": facts.domain,
        "record_name": facts.txt.name,
        "answer": facts.txt.outcome.value,
    }
    if facts.txt.records:
        evidence["records"] = clip((shorten(r, 120) for r in facts.txt.records), 5)
    evidence["policy_host"] = facts.policy_host
    evidence["policy_host_registered"] = facts.registered
    fetch = facts.fetch
    if fetch is not None:
        evidence["policy_url"] = fetch.url
        if fetch.status is not None:
            evidence["status"] = fetch.status
            evidence["content_type"] = fetch.content_type
            evidence["policy"] = shorten(fetch.body, 300)
        if fetch.location:
            evidence["redirect"] = fetch.location
        if fetch.error is not None:
            evidence["error"] = shorten(str(fetch.error))
    return evidence
