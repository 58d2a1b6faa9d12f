"""Collect the dns family's facts: queries to the scan's resolvers and, for IPv6, TCP connections to
a URL host's AAAA addresses. Runs in a worker process (``ScanContext.collect``); everything here
pickles. Every query goes through ``scanner.dns.stub_resolver`` (the configured resolvers, nothing
else), with DO set so that a validating resolver says whether it validated (AD).

Each collector gets a duration (its share of the endpoint's budget) and keeps its own deadline;
a query never waits longer than the scan's ``timeout`` nor past that deadline.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import time
from collections.abc import Sequence

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rdatatype
import dns.resolver
import dns.rrset

from checks.dns.facts import (
    MAX_PROBES,
    MAX_RECORDS,
    CaaFacts,
    DnssecFacts,
    Ipv6Facts,
    Lookup,
    Outcome,
    Probe,
)
from scanner.dns import stub_resolver

#: Below this many seconds left, a query is not started (it could not finish).
MIN_QUERY_SECONDS = 0.2
#: The name's own record sets whose validation a client of the platform depends on.
ANSWER_TYPES = ("A", "AAAA", "MX")
#: Connection errors that say the scanner cannot reach IPv6 at all, not that the host is silent.
LOCAL_ERRNOS = frozenset({errno.ENETUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT})
_EDNS_PAYLOAD = 1232  # the DNS flag day 2020 size: no fragmented UDP


class _Clock:
    """The collector's own deadline, from the duration it was given."""

    def __init__(self, budget: float) -> None:
        self.deadline = time.monotonic() + max(0.0, budget)

    def left(self) -> float:
        return self.deadline - time.monotonic()


def ask(servers: Sequence[str], timeout: float, clock: _Clock, name: str, rdtype: str) -> Lookup:
    """``name``/``rdtype`` from the resolvers; after a SERVFAIL, asked again with checking disabled."""
    first = _query(servers, timeout, clock, name, rdtype, checking_disabled=False)
    if first.outcome is not Outcome.SERVFAIL:
        return first
    again = _query(servers, timeout, clock, name, rdtype, checking_disabled=True)
    return Lookup(name, rdtype, Outcome.SERVFAIL, error=first.error, unchecked=again)


def _query(
    servers: Sequence[str], timeout: float, clock: _Clock, name: str, rdtype: str, *, checking_disabled: bool
) -> Lookup:
    seconds = min(timeout, clock.left())
    if seconds < MIN_QUERY_SECONDS:
        return Lookup(name, rdtype, Outcome.TIMEOUT, error="no time left in the endpoint's budget")
    resolver = stub_resolver(servers, seconds)
    resolver.use_edns(0, dns.flags.DO, _EDNS_PAYLOAD)
    resolver.flags = dns.flags.RD | (dns.flags.CD if checking_disabled else 0)
    wanted = dns.rdatatype.from_text(rdtype)
    try:
        answer = resolver.resolve(name, wanted, search=False, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN as exc:
        responses = list((exc.kwargs.get("responses") or {}).values())
        response = responses[-1] if responses else None
        return _lookup(name, rdtype, Outcome.NXDOMAIN, response, None)
    except dns.resolver.NoNameservers as exc:
        errors = exc.kwargs.get("errors") or []
        said = [str(error[3]) for error in errors if len(error) > 3]
        outcome = Outcome.SERVFAIL if "SERVFAIL" in said else Outcome.FAILED
        return Lookup(name, rdtype, outcome, error="; ".join(dict.fromkeys(said)) or str(exc))
    except dns.exception.Timeout:
        return Lookup(name, rdtype, Outcome.TIMEOUT, error=f"no answer within {seconds:.1f} s")
    except dns.exception.DNSException as exc:
        return Lookup(name, rdtype, Outcome.FAILED, error=str(exc) or type(exc).__name__)
    records = answer.rrset
    outcome = Outcome.ANSWER if records else Outcome.NODATA
    return _lookup(name, rdtype, outcome, answer.response, records)


def _lookup(
    name: str, rdtype: str, outcome: Outcome, response: dns.message.Message | None, records: dns.rrset.RRset | None
) -> Lookup:
    texts = tuple(rdata.to_text() for rdata in records)[:MAX_RECORDS] if records else ()
    if response is None:
        return Lookup(name, rdtype, outcome, records=texts)
    return Lookup(name, rdtype, outcome, ad=bool(response.flags & dns.flags.AD), records=texts, zone=_zone_of(response))


def _zone_of(response: dns.message.Message) -> str:
    """The zone an answer came from: the owner of its SOA, in the answer or the authority section."""
    for section in (response.answer, response.authority):
        for rrset in section:
            if rrset.rdtype == dns.rdatatype.SOA:
                return str(rrset.name.to_text(omit_final_dot=True)).lower()
    return ""


def _parent(zone: str) -> str | None:
    """The parent of ``zone`` ("" for the root's children, whose parent is the root), None for the root."""
    if not zone:
        return None
    return zone.partition(".")[2]


def collect_dnssec(name: str, servers: tuple[str, ...], timeout: float, budget: float) -> DnssecFacts:
    """The DNSSEC facts of ``name``: its zone (by SOA), its own answers, the zone's DNSKEY and DS,
    and the parent zone's DNSKEY (which tells an unsigned parent from a resolver that does not
    validate)."""
    clock = _Clock(budget)
    soa = ask(servers, timeout, clock, name, "SOA")
    zone = soa.usable.zone
    if not zone:
        return DnssecFacts(name, servers, soa)
    answers = tuple(ask(servers, timeout, clock, name, rdtype) for rdtype in ANSWER_TYPES)
    dnskey = ask(servers, timeout, clock, zone, "DNSKEY")
    ds = ask(servers, timeout, clock, zone, "DS")
    parent = _parent(zone)
    parent_dnskey = None if parent is None else ask(servers, timeout, clock, parent or ".", "DNSKEY")
    return DnssecFacts(name, servers, soa, answers, dnskey, ds, parent_dnskey)


def collect_caa(name: str, servers: tuple[str, ...], timeout: float, budget: float) -> CaaFacts:
    """The CAA record sets from ``name`` up to its top-level domain, stopping at the first that has
    records or that could not be answered (RFC 8659, section 3)."""
    clock = _Clock(budget)
    levels: list[Lookup] = []
    current: str | None = name
    while current:
        level = ask(servers, timeout, clock, current, "CAA")
        levels.append(level)
        if level.outcome is Outcome.ANSWER or not level.outcome.answered:
            break
        current = _parent(current)
    return CaaFacts(name, tuple(levels))


def collect_ipv6(
    host: str, ports: tuple[int, ...], servers: tuple[str, ...], timeout: float, budget: float
) -> Ipv6Facts:
    """``host``'s AAAA records, and a TCP connection to each address on each of ``ports``."""
    clock = _Clock(budget)
    aaaa = ask(servers, timeout, clock, host, "AAAA")
    pairs = [(address, port) for address in aaaa.usable.records for port in ports]
    probes: list[Probe] = []
    untried: list[str] = []
    for address, port in pairs:
        seconds = min(timeout, clock.left())
        if len(probes) >= MAX_PROBES or seconds < MIN_QUERY_SECONDS:
            untried.append(f"[{address}]:{port}")
            continue
        probes.append(_connect(address, port, seconds))
    return Ipv6Facts(host, aaaa, tuple(probes), tuple(untried))


def _connect(address: str, port: int, seconds: float) -> Probe:
    """One TCP connection; an IPv4-mapped address is dialled at its IPv4 address, as a dual-stack
    client does."""
    try:
        parsed = ipaddress.IPv6Address(address)
    except ValueError:
        return Probe(address, port, False, error="not an IPv6 address")
    mapped = str(parsed.ipv4_mapped) if parsed.ipv4_mapped else ""
    family, target = (socket.AF_INET, (mapped, port)) if mapped else (socket.AF_INET6, (address, port, 0, 0))
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(seconds)
            sock.connect(target)
    except TimeoutError:
        return Probe(address, port, False, error="timed out", mapped=mapped)
    except OSError as exc:
        number = exc.errno or 0
        return Probe(
            address,
            port,
            False,
            error=exc.strerror or str(exc),
            errno=number,
            local=number in LOCAL_ERRNOS and not mapped,
            mapped=mapped,
        )
    return Probe(address, port, True, mapped=mapped)
