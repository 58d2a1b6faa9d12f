"""The base of every dns check: which names it runs on, one collection per name, a pure judge, and
how a lookup that was not answered is said."""

from __future__ import annotations

import abc
import ipaddress
from typing import ClassVar, Generic, TypeVar

from checks.dns.facts import Lookup, Outcome
from scanner.facts import CollectionError
from scanner.messages import Message, say
from scanner.model import Endpoint, Platform, Result, Status
from scanner.plugin import Check, ScanContext, Verdict
from scanner.urls import UnusableUrl, parse

F = TypeVar("F")


class DnsCheck(Check, Generic[F]):
    """A check of the dns family. Subclasses set the metadata, ``collect`` and a pure ``judge``."""

    family: ClassVar[str] = "dns"
    # The family reads DNS about the name (and dns.ipv6 dials the AAAA addresses it finds itself): a
    # name whose lookup fails, as a bogus zone's does behind a validating resolver, is its finding.
    needs_address: ClassVar[bool] = False

    def applies_to(self, endpoint: Endpoint) -> bool:
        return endpoint.kind in ("host", "domain") and is_name(endpoint.host)

    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        try:
            facts = self.collect(endpoint, ctx)
        except CollectionError as exc:
            incomplete = say(
                "dns.lookup.incomplete",
                "The DNS lookups for {name} did not complete: {reason}",
                name=endpoint.host,
                reason=exc.reason,
            )
            return [self.result(endpoint, Status.ERROR, incomplete, {"name": endpoint.host})]
        return [self.from_verdict(endpoint, self.judge(facts))]

    @abc.abstractmethod
    def collect(self, endpoint: Endpoint, ctx: ScanContext) -> F:
        """The facts about ``endpoint``, through ``ctx.collect``."""

    @abc.abstractmethod
    def judge(self, facts: F) -> Verdict:
        """The verdict on ``facts``. Pure: no I/O, no clock."""


def is_name(host: str) -> bool:
    """Whether ``host`` is a DNS name (an address has no DNS records of its own to judge)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(host)
    return False


def url_hosts(platform: Platform, schemes: tuple[str, ...] = ("http", "https")) -> dict[str, tuple[int, ...]]:
    """host -> the ports of the platform's URLs with one of ``schemes`` on that host."""
    found: dict[str, set[int]] = {}
    for url in platform.urls:
        try:
            target = parse(url)
        except UnusableUrl:
            continue
        if target.scheme in schemes:
            found.setdefault(target.host, set()).add(target.port)
    return {host: tuple(sorted(ports)) for host, ports in found.items()}


def not_answered(lookup: Lookup) -> Message:
    """Why the resolvers gave no usable answer to ``lookup``."""
    if lookup.outcome is Outcome.TIMEOUT:
        return say("dns.lookup.timeout", "no answer from the configured DNS resolvers in time")
    if lookup.outcome is Outcome.SERVFAIL:
        return say("dns.lookup.servfail", "the resolvers answer SERVFAIL, even with DNSSEC checking disabled")
    return say("dns.lookup.failed", "the resolvers answer {error}", error=lookup.error or lookup.outcome.value)


def lookup_failed(lookup: Lookup) -> Message:
    """One sentence: which lookup was not answered, and why."""
    return say(
        "dns.lookup.not_answered",
        "Could not look up {rdtype} for {name}: {reason}.",
        rdtype=lookup.rdtype,
        name=lookup.name,
        reason=not_answered(lookup),
    )


def describe(lookup: Lookup) -> str:
    """ "example.vn DNSKEY: answer, AD" / "www.example.vn A: servfail (with CD: answer)"."""
    text = f"{lookup.name or '.'} {lookup.rdtype}: {lookup.outcome.value}"
    if lookup.ad:
        text += ", AD"
    if lookup.error:
        text += f" ({lookup.error})"
    if lookup.unchecked is not None:
        text += f" (with CD: {lookup.unchecked.outcome.value})"
    return text
