"""DNS for the mail family's record checks (SPF, DMARC, DKIM, MTA-STS, TLS-RPT).

Every query goes to the scan's resolvers (``scanner.dns.stub_resolver``), bounded by the scan's
``timeout`` and by what is left of the collector's own budget (a duration it was given, turned
into its own deadline). A query that gets no usable answer (a timeout, SERVFAIL, REFUSED) is kept
as a ``DnsFailure``: the checks make it ``error``, never ``fail`` or ``pass``.

checkdmarc is handed a ``Resolvers`` as its ``resolver``: it calls ``resolve`` on it as on
dnspython's, so its lookups go to the same servers and its failures are recorded here too. That
matters because checkdmarc turns a timed-out ``include`` into a "void lookup" and a timed-out
``a`` mechanism into a warning; the record checks look at the recorded failures first.
"""

from __future__ import annotations

import contextlib
import enum
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.rdatatype
import dns.resolver
from checkdmarc import utils as checkdmarc_utils  # type: ignore[import-untyped]

from scanner.dns import stub_resolver
from scanner.messages import Message, say

#: Below this many seconds left of the budget, a query is not started (it could not finish).
MIN_QUERY_SECONDS = 0.2
#: Records kept of one answer (a name with hundreds of TXT records is hostile, not informative).
MAX_RECORDS = 20
#: Bytes kept of one TXT record (DKIM keys of 4096 bits are about 800).
MAX_TXT = 4096


class Outcome(enum.StrEnum):
    """How one query was answered."""

    ANSWER = "answer"  # NOERROR with records of the type asked
    NODATA = "nodata"  # NOERROR, no records of that type (the name exists, RFC 8020)
    NXDOMAIN = "nxdomain"  # the name does not exist
    FAILED = "failed"  # no usable answer: timeout, SERVFAIL, REFUSED


@dataclass(frozen=True)
class DnsFailure:
    """A query that got no usable answer.

    Attributes:
        name: the name asked, lower case, without the final dot.
        rdtype: the record type asked ("TXT").
        reason: why, as a message ("no answer within 2.0 s").
    """

    name: str
    rdtype: str
    reason: Message


@dataclass(frozen=True)
class TxtLookup:
    """The TXT records of one name.

    Attributes:
        name: the name asked.
        outcome: how it was answered.
        records: each record's strings joined (RFC 7208 3.3, RFC 6376 3.6.2.2), decoded as UTF-8.
        failure: for FAILED, what went wrong.
    """

    name: str
    outcome: Outcome
    records: tuple[str, ...] = ()
    failure: DnsFailure | None = None


@dataclass(frozen=True)
class MxLookup:
    """The MX records of one name: (preference, host) pairs, hosts without the final dot."""

    name: str
    outcome: Outcome
    hosts: tuple[tuple[int, str], ...] = ()
    failure: DnsFailure | None = None


class Resolvers:
    """The scan's resolvers for one collection: dnspython's ``resolve`` with a budget, recording
    what failed and which names do not exist. Not thread-safe: one per collector."""

    def __init__(self, servers: Sequence[str], timeout: float, budget: float) -> None:
        self._timeout = max(0.5, float(timeout))
        self._deadline = time.monotonic() + max(0.0, budget)
        self._resolver = stub_resolver(servers, self._timeout)
        self.failures: list[DnsFailure] = []
        self.nxdomain: set[str] = set()

    @property
    def lifetime(self) -> float:
        """checkdmarc passes this back as each query's lifetime."""
        return self._resolver.lifetime

    @property
    def nameservers(self) -> list[Any]:
        """The servers asked, for checkdmarc's one lookup that builds its own resolver (SPF ``exp=``)."""
        return list(self._resolver.nameservers)

    def resolve(self, qname: Any, rdtype: Any = "A", *args: Any, **kwargs: Any) -> dns.resolver.Answer:
        """``qname``/``rdtype`` from the scan's resolvers, as dnspython's ``Resolver.resolve`` (which
        raises NXDOMAIN and NoAnswer); the search list is never applied."""
        name = str(qname).rstrip(".").lower()
        type_text = rdtype if isinstance(rdtype, str) else dns.rdatatype.to_text(rdtype)
        left = self._deadline - time.monotonic()
        if left < MIN_QUERY_SECONDS:
            self._failed(name, type_text, say("mail.lookup.no_time", "no time left in the endpoint's budget"))
            raise dns.resolver.LifetimeTimeout(timeout=0.0, errors=[])  # type: ignore[no-untyped-call]
        seconds = min(self._timeout, left)
        try:
            return self._resolver.resolve(name, type_text, search=False, lifetime=seconds)
        except dns.resolver.NXDOMAIN:
            self.nxdomain.add(name)
            raise
        except dns.resolver.NoAnswer:
            raise
        except dns.resolver.NoNameservers as exc:
            self._failed(name, type_text, _refused(exc))
            raise
        except dns.exception.Timeout:
            waited = say("mail.lookup.timeout", "no answer within {seconds:.1f} s", seconds=seconds)
            self._failed(name, type_text, waited)
            raise
        except (dns.exception.DNSException, OSError) as exc:
            self._failed(name, type_text, say("mail.lookup.other", "{error}", error=str(exc) or type(exc).__name__))
            raise

    def txt(self, name: str) -> TxtLookup:
        """The TXT records of ``name``."""
        try:
            answer = self.resolve(name, "TXT")
        except dns.resolver.NXDOMAIN:
            return TxtLookup(name, Outcome.NXDOMAIN)
        except dns.resolver.NoAnswer:
            return TxtLookup(name, Outcome.NODATA)
        except (dns.exception.DNSException, OSError):
            return TxtLookup(name, Outcome.FAILED, failure=self.failures[-1])
        records = tuple(
            b"".join(rdata.strings)[:MAX_TXT].decode("utf-8", errors="replace") for rdata in answer
        )  # fmt: skip
        return TxtLookup(name, Outcome.ANSWER, records[:MAX_RECORDS])

    def mx(self, name: str) -> MxLookup:
        """The MX records of ``name``, best preference first."""
        try:
            answer = self.resolve(name, "MX")
        except dns.resolver.NXDOMAIN:
            return MxLookup(name, Outcome.NXDOMAIN)
        except dns.resolver.NoAnswer:
            return MxLookup(name, Outcome.NODATA)
        except (dns.exception.DNSException, OSError):
            return MxLookup(name, Outcome.FAILED, failure=self.failures[-1])
        hosts = sorted(
            (int(rdata.preference), rdata.exchange.to_text(omit_final_dot=True).lower()) for rdata in answer
        )  # fmt: skip
        return MxLookup(name, Outcome.ANSWER, tuple(hosts[:MAX_RECORDS]))

    def _failed(self, name: str, rdtype: str, reason: Message) -> None:
        self.failures.append(DnsFailure(name, rdtype, reason))


def _refused(exc: dns.resolver.NoNameservers) -> Message:
    """What every server said, from dnspython's list of (server, tcp, port, error) tuples."""
    said = [str(error[3]) for error in exc.kwargs.get("errors") or [] if len(error) > 3]
    rcodes = [word for word in dict.fromkeys(said) if word.isupper() and word.isalpha()]
    if rcodes:
        return say("mail.lookup.rcode", "the DNS servers answered {rcode}", rcode=", ".join(rcodes))
    error = "; ".join(said) or str(exc)
    return say("mail.lookup.no_servers", "no DNS server gave a usable answer ({error})", error=error)


def dns_failed(failures: Sequence[DnsFailure]) -> Message:
    """Why a record check could not judge: the first failed lookup, and how many more failed."""
    first = failures[0]
    if len(failures) == 1:
        return say(
            "mail.lookup.failed",
            "The DNS lookup of {name} ({rdtype}) failed: {reason}",
            name=first.name,
            rdtype=first.rdtype,
            reason=first.reason,
        )
    return say(
        "mail.lookup.failed_more",
        "The DNS lookup of {name} ({rdtype}) failed: {reason}; {more} other lookups failed too",
        name=first.name,
        rdtype=first.rdtype,
        reason=first.reason,
        more=len(failures) - 1,
    )


@contextlib.contextmanager
def checkdmarc_answers_forgotten() -> Iterator[None]:
    """checkdmarc keeps every answer in a process-wide cache keyed by name and type alone (not by
    server): emptied before and after a collection, so that two scans (or tests) in one process,
    asking different resolvers, never see each other's answers. Within one collection the cache
    holds the answers of this collection's resolvers only."""
    checkdmarc_utils.DNS_CACHE.clear()
    try:
        yield
    finally:
        checkdmarc_utils.DNS_CACHE.clear()


def organisational_domain(domain: str) -> str:
    """The organisational domain of ``domain`` (RFC 7489 3.2), from the public suffix list that
    checkdmarc ships (offline): ``mail.nghean.gov.vn`` -> ``nghean.gov.vn``."""
    return str(checkdmarc_utils.get_base_domain(domain))


def is_under(name: str, ancestor: str) -> bool:
    """Whether ``name`` is ``ancestor`` or a name below it."""
    return name == ancestor or name.endswith("." + ancestor)


def failures_for(failures: Sequence[DnsFailure], *names: str) -> tuple[DnsFailure, ...]:
    """The failures of queries for ``names`` or for names below them."""
    return tuple(f for f in failures if any(is_under(f.name, n) for n in names))
