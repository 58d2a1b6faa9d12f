"""The scan's DNS servers: one place that says which resolvers a scan asks, for every family.

``[scan] dns_servers`` (``"10.20.0.53"``, ``"10.20.0.54:5353"``, ``"[fd00::53]:53"``) names the
resolvers of a split-horizon network; without it the system's (``/etc/resolv.conf``) are asked.
The engine's host lookups (``scanner.resolver``) and every family's own queries (MX, TXT, DNSSEC)
go to the same servers, through ``stub_resolver``; nothing else in platscan picks a DNS server.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

#: Attempts per query within its lifetime: a lost UDP datagram costs a retry, not the whole budget.
_TRIES_PER_QUERY = 3


def stub_resolver(servers: Sequence[str], timeout: float) -> dns.resolver.Resolver:
    """A dnspython resolver that asks ``servers`` (the system's when empty), each query bounded by
    ``timeout`` seconds in all. No cache: each scan's lookups are its own."""
    resolver = dns.resolver.Resolver(configure=not servers)
    if servers:
        nameservers: list[str | dns.nameserver.Nameserver] = []
        for entry in servers:
            address, port = split_server(entry)
            if address is None:
                raise ValueError(f"{entry!r} is not a DNS server address")
            nameservers.append(dns.nameserver.Do53Nameserver(address, port or 53))
        resolver.nameservers = nameservers
    resolver.lifetime = max(0.5, float(timeout))
    resolver.timeout = resolver.lifetime / _TRIES_PER_QUERY
    resolver.cache = None
    return resolver


class ServerLookup:
    """A ``scanner.resolver.Lookup`` asking ``servers`` for every A and AAAA record of a host."""

    def __init__(self, servers: tuple[str, ...]) -> None:
        self.servers = servers

    def __call__(self, host: str, timeout: float) -> list[str]:
        resolver = stub_resolver(self.servers, timeout)
        addresses: list[str] = []
        failures: list[str] = []
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            try:
                answer = resolver.resolve(host, rdtype, search=False)
            except dns.resolver.NXDOMAIN:
                raise OSError("no such name (NXDOMAIN)") from None
            except dns.resolver.NoAnswer:
                continue
            except dns.resolver.NoNameservers:
                failures.append("every DNS server failed to answer (SERVFAIL or refused)")
                continue
            except dns.exception.Timeout:
                failures.append(f"no answer from the DNS servers within {timeout:g} s")
                continue
            except dns.exception.DNSException as exc:
                failures.append(str(exc))
                continue
            addresses.extend(str(record.address) for record in answer)
        if not addresses and failures:
            raise OSError(failures[0])
        return addresses


def split_server(entry: str) -> tuple[str | None, int | None]:
    """(address, port) of a ``dns_servers`` entry; port None for the standard 53; address None
    when it cannot be read."""
    text = entry.strip()
    bracketed = re.fullmatch(r"\[([0-9a-fA-F:.]+)\](?::([0-9]{1,5}))?", text)
    if bracketed:
        return bracketed[1], int(bracketed[2]) if bracketed[2] else None
    if text.count(":") == 1:
        address, _, port = text.partition(":")
        return (address, int(port)) if port.isdigit() else (None, None)
    return text, None  # an IPv4 address, or an IPv6 address without a port
