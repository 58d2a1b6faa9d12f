"""What the dns family learns from the scan's resolvers, as frozen values (they pickle to and from
the collector's worker). ``_collect.py`` gathers them; the checks judge them with pure functions."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Outcome(enum.StrEnum):
    """How one query was answered."""

    ANSWER = "answer"  # NOERROR with records of the type asked
    NODATA = "nodata"  # NOERROR, the name exists, no records of that type
    NXDOMAIN = "nxdomain"
    SERVFAIL = "servfail"  # a validating resolver's answer to a bogus name, or a broken zone
    FAILED = "failed"  # another rcode (REFUSED...) or an unusable answer
    TIMEOUT = "timeout"  # no answer from any configured resolver in time

    @property
    def answered(self) -> bool:
        """Whether the resolvers gave a usable answer (records, or that there are none)."""
        return self in (Outcome.ANSWER, Outcome.NODATA, Outcome.NXDOMAIN)


@dataclass(frozen=True)
class Lookup:
    """One query to the scan's resolvers (with DNSSEC records asked for: DO set).

    Attributes:
        name: the name asked, absolute without the final dot ("www.example.vn").
        rdtype: the record type asked ("A", "DNSKEY").
        outcome: how it was answered.
        ad: the resolver said the answer is validated (the AD flag).
        records: the records of that type in the answer, as text (at most ``MAX_RECORDS``).
        zone: the zone the answer came from when the resolver said (the SOA's owner), or "".
        error: for FAILED and TIMEOUT, what went wrong (an rcode, the resolver library's words).
        unchecked: after a SERVFAIL, the same query with checking disabled (CD): what a resolver
            that does not validate would have answered; None when not asked.
    """

    name: str
    rdtype: str
    outcome: Outcome
    ad: bool = False
    records: tuple[str, ...] = ()
    zone: str = ""
    error: str = ""
    unchecked: Lookup | None = None

    @property
    def bogus(self) -> bool:
        """SERVFAIL that an answer with checking disabled turns into an answer: validation failed."""
        return self.outcome is Outcome.SERVFAIL and self.unchecked is not None and self.unchecked.outcome.answered

    @property
    def usable(self) -> Lookup:
        """This answer, or for a bogus one what came with checking disabled (to read records)."""
        return self.unchecked if self.bogus and self.unchecked is not None else self


MAX_RECORDS = 20


@dataclass(frozen=True)
class DnssecFacts:
    """What the resolvers say of one name's DNSSEC.

    Attributes:
        name: the name judged.
        servers: the resolvers asked (empty: the system's).
        soa: the SOA query of the name, which names its zone.
        answers: the name's own records (A, AAAA, MX), as a client of the platform asks for them.
        dnskey: the zone's DNSKEY set (None when the zone was not found).
        ds: the zone's DS set, from its parent (None when the zone was not found).
        parent_dnskey: the parent zone's DNSKEY set (None when there is no parent to ask).
    """

    name: str
    servers: tuple[str, ...]
    soa: Lookup
    answers: tuple[Lookup, ...] = ()
    dnskey: Lookup | None = None
    ds: Lookup | None = None
    parent_dnskey: Lookup | None = None

    @property
    def zone(self) -> str:
        return self.soa.usable.zone


@dataclass(frozen=True)
class CaaFacts:
    """The CAA records of a name, climbing the tree as a CA does (RFC 8659, section 3).

    Attributes:
        name: the name judged.
        levels: one CAA query per name from ``name`` up to its top-level domain, stopping at the
            first that has records (the relevant record set) or that could not be answered.
    """

    name: str
    levels: tuple[Lookup, ...]

    @property
    def relevant(self) -> Lookup | None:
        """The first level with CAA records: the record set every CA must obey."""
        return next((level for level in self.levels if level.outcome is Outcome.ANSWER), None)


@dataclass(frozen=True)
class Probe:
    """One TCP connection to an IPv6 address of a host, on one of its URLs' ports.

    Attributes:
        address: the AAAA record's address.
        port: the port.
        connected: the connection was accepted.
        error: why not, in the operating system's words (data).
        errno: the error number, 0 for a timeout or success.
        local: the failure is the scanner's (it has no IPv6 route), not the host's.
        mapped: the IPv4 address of an IPv4-mapped AAAA (``::ffff:a.b.c.d``), dialled over IPv4.
    """

    address: str
    port: int
    connected: bool
    error: str = ""
    errno: int = 0
    local: bool = False
    mapped: str = ""


@dataclass(frozen=True)
class Ipv6Facts:
    """A URL host's AAAA records and whether each answers on the host's URL ports.

    Attributes:
        host: the host name.
        aaaa: its AAAA query.
        probes: one connection per (address, port), at most ``MAX_PROBES``.
        untried: (address, port) pairs left out: more than ``MAX_PROBES``, or no time left.
    """

    host: str
    aaaa: Lookup
    probes: tuple[Probe, ...] = ()
    untried: tuple[str, ...] = ()


MAX_PROBES = 8
