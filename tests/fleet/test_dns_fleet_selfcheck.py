"""The DNS fleet behaves as the DNSSEC cases need: unbound validates the signed zones (AD), refuses the
bogus one (SERVFAIL, yet answers it with CD), answers the unsigned one without AD; nsd never
validates; both processes are gone after the fleet closes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.rcode
import dns.rdatatype
import pytest

from tests.fleet.dns_fleet import DnsFleet

ZONES = {
    "good.test": 'www A 127.0.0.1\nwww AAAA ::1\n@ CAA 0 issue "ca.test"\n@ MX 10 mx.good.test.\nmx A 127.0.0.2',
    "bogus.test": "www A 127.0.0.1",
    "plain.test": "www A 127.0.0.1",
    "island.test": "www A 127.0.0.1",
}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DnsFleet]:
    with DnsFleet(
        tmp_path_factory.mktemp("dns"), ZONES, signed={"good.test"}, bogus={"bogus.test"}, unpublished={"island.test"}
    ) as running:
        yield running


def answered(message: dns.message.Message, rdtype: int) -> list[str]:
    return [rdata.to_text() for rrset in message.answer if rrset.rdtype == rdtype for rdata in rrset]


def test_a_signed_zone_validates(fleet: DnsFleet) -> None:
    reply = fleet.query("www.good.test", "A")
    assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AD
    assert answered(reply, dns.rdatatype.A) == ["127.0.0.1"]
    assert answered(fleet.query("good.test", "CAA"), dns.rdatatype.CAA) == ['0 issue "ca.test"']
    assert answered(fleet.query("good.test", "MX"), dns.rdatatype.MX) == ["10 mx.good.test."]
    assert fleet.query("good.test", "DNSKEY").flags & dns.flags.AD


def test_a_bogus_zone_fails_validation_and_answers_with_checking_disabled(fleet: DnsFleet) -> None:
    refused = fleet.query("www.bogus.test", "A")
    assert refused.rcode() == dns.rcode.SERVFAIL and not refused.answer
    unchecked = fleet.query("www.bogus.test", "A", cd=True)
    assert unchecked.rcode() == dns.rcode.NOERROR and not unchecked.flags & dns.flags.AD
    assert answered(unchecked, dns.rdatatype.A) == ["127.0.0.1"]
    # Only the signatures over the records are broken: the zone's key still validates.
    assert fleet.query("bogus.test", "DNSKEY").flags & dns.flags.AD


def test_unsigned_and_island_zones_answer_without_ad(fleet: DnsFleet) -> None:
    plain = fleet.query("www.plain.test", "A")
    assert plain.rcode() == dns.rcode.NOERROR and not plain.flags & dns.flags.AD
    assert answered(plain, dns.rdatatype.A) == ["127.0.0.1"]
    assert not answered(fleet.query("plain.test", "DNSKEY"), dns.rdatatype.DNSKEY)
    island = fleet.query("www.island.test", "A")
    assert island.rcode() == dns.rcode.NOERROR and not island.flags & dns.flags.AD
    assert answered(fleet.query("island.test", "DNSKEY"), dns.rdatatype.DNSKEY)
    assert not answered(fleet.query("island.test", "DS"), dns.rdatatype.DS)
    assert answered(fleet.query("good.test", "DS"), dns.rdatatype.DS)


def test_the_authoritative_server_does_not_validate(fleet: DnsFleet) -> None:
    for name in ("www.good.test", "www.bogus.test"):
        reply = fleet.query(name, "A", server=fleet.authoritative)
        assert reply.rcode() == dns.rcode.NOERROR and not reply.flags & dns.flags.AD
        assert answered(reply, dns.rdatatype.A) == ["127.0.0.1"]


def test_processes_stop_with_the_fleet(tmp_path: Path) -> None:
    with DnsFleet(tmp_path, {"one.test": "www A 127.0.0.1"}) as running:
        pids = running.pids
        assert len(pids) == 2
        assert answered(running.query("www.one.test", "A"), dns.rdatatype.A) == ["127.0.0.1"]
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_zones_outside_test_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"must lie under test\."):
        DnsFleet(tmp_path, {"example.com": "www A 127.0.0.1"})
