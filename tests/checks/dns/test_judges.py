"""The dns family's judges, from recorded facts (no network): every verdict of dns.dnssec, dns.caa
and dns.ipv6, and the CAA value grammar of RFC 8659."""

from __future__ import annotations

import errno

import pytest

from checks.dns.dnssec import Dnssec, judge_dnssec
from checks.dns.facts import CaaFacts, DnssecFacts, Ipv6Facts, Lookup, Outcome, Probe
from checks.dns.names import Caa, CaaRecord, Ipv6, caa_problem, judge_caa, judge_ipv6
from scanner.model import Endpoint, Platform, Severity, Status

KEY = "257 3 13 vEySsGSdJH8wmvqFU8XXmMjdWvtSZZoNtbcBxQo8816rgOBwuvOK1k03lXYbbJtJ3YhcDCiDT+VRQ6GB2u6pjw=="
DS = "35946 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
SERVERS = ("127.0.0.1:5353",)


def answer(name: str, rdtype: str, *records: str, ad: bool = True, zone: str = "") -> Lookup:
    outcome = Outcome.ANSWER if records else Outcome.NODATA
    return Lookup(name, rdtype, outcome, ad=ad, records=records, zone=zone)


def bogus(name: str, rdtype: str, *records: str) -> Lookup:
    unchecked = Lookup(name, rdtype, Outcome.ANSWER, records=records)
    return Lookup(name, rdtype, Outcome.SERVFAIL, error="SERVFAIL", unchecked=unchecked)


def facts(
    *,
    ad: bool = True,
    dnskey: tuple[str, ...] = (KEY,),
    ds: tuple[str, ...] = (DS,),
    ds_ad: bool | None = None,
    parent_signed: bool = True,
    a: Lookup | None = None,
    soa: Lookup | None = None,
) -> DnssecFacts:
    name, zone = "www.example.test", "example.test"
    return DnssecFacts(
        name=name,
        servers=SERVERS,
        soa=soa or answer(name, "SOA", ad=ad, zone=zone),
        answers=(
            a or answer(name, "A", "192.0.2.10", ad=ad),
            answer(name, "AAAA", ad=ad),
            answer(name, "MX", ad=ad),
        ),
        dnskey=answer(zone, "DNSKEY", *dnskey, ad=ad and bool(dnskey)),
        ds=answer(zone, "DS", *ds, ad=ad if ds_ad is None else ds_ad),
        parent_dnskey=answer("test", "DNSKEY", *((KEY,) if parent_signed else ()), ad=ad),
    )


def test_validated_answers_pass_and_name_the_algorithm() -> None:
    verdict = judge_dnssec(facts())
    assert verdict.status is Status.PASS
    assert "ECDSAP256SHA256" in str(verdict.detail) and "example.test" in str(verdict.detail)
    assert verdict.evidence["dnskey_algorithms"] == ["ECDSAP256SHA256"]


def test_servfail_that_answers_with_checking_disabled_is_bogus_and_critical() -> None:
    verdict = judge_dnssec(facts(a=bogus("www.example.test", "A", "192.0.2.10")))
    assert verdict.status is Status.FAIL and verdict.severity is Severity.CRITICAL
    assert "www.example.test A" in str(verdict.detail)
    assert "www.example.test A: servfail (SERVFAIL) (with CD: answer)" in verdict.evidence["lookups"]


def test_a_bogus_soa_is_bogus_even_before_the_zone_is_known() -> None:
    soa = Lookup(
        "www.example.test",
        "SOA",
        Outcome.SERVFAIL,
        unchecked=Lookup("www.example.test", "SOA", Outcome.NODATA, zone="example.test"),
    )
    verdict = judge_dnssec(DnssecFacts("www.example.test", SERVERS, soa))
    assert verdict.status is Status.FAIL and verdict.severity is Severity.CRITICAL


def test_servfail_also_with_checking_disabled_is_not_dnssec_but_an_error() -> None:
    broken = Lookup(
        "www.example.test",
        "A",
        Outcome.SERVFAIL,
        unchecked=Lookup("www.example.test", "A", Outcome.SERVFAIL),
    )
    verdict = judge_dnssec(facts(a=broken))
    assert verdict.status is Status.ERROR
    assert "SERVFAIL, even with DNSSEC checking disabled" in str(verdict.detail)


def test_an_unsigned_zone_warns_low() -> None:
    verdict = judge_dnssec(facts(ad=False, dnskey=(), ds=()))
    assert verdict.status is Status.WARN and verdict.severity is Severity.LOW
    assert "not signed" in str(verdict.detail)


def test_a_signed_zone_without_ds_at_the_parent_warns() -> None:
    verdict = judge_dnssec(facts(ad=False, ds=(), ds_ad=True))
    assert verdict.status is Status.WARN and "no DS record" in str(verdict.detail)


def test_a_signed_zone_under_an_unsigned_parent_warns() -> None:
    verdict = judge_dnssec(facts(ad=False, parent_signed=False))
    assert verdict.status is Status.WARN and "its parent zone test is not" in str(verdict.detail)


def test_a_validated_ds_with_unvalidated_answers_warns() -> None:
    verdict = judge_dnssec(facts(ad=False, ds_ad=True))
    assert verdict.status is Status.WARN and "treat the zone as insecure" in str(verdict.detail)


def test_a_signed_zone_without_ad_is_a_resolver_that_does_not_validate_never_a_pass() -> None:
    verdict = judge_dnssec(facts(ad=False))
    assert verdict.status is Status.ERROR
    assert str(verdict.detail).startswith("The configured resolver does not validate DNSSEC")


def test_a_timeout_is_an_error_that_says_so() -> None:
    soa = Lookup("www.example.test", "SOA", Outcome.TIMEOUT, error="no answer within 3.0 s")
    verdict = judge_dnssec(DnssecFacts("www.example.test", SERVERS, soa))
    assert verdict.status is Status.ERROR
    assert str(verdict.detail) == (
        "Could not look up SOA for www.example.test: no answer from the configured DNS resolvers in time."
    )


def test_a_refused_answer_is_an_error_with_the_rcode() -> None:
    soa = Lookup("www.example.test", "SOA", Outcome.FAILED, error="REFUSED")
    verdict = judge_dnssec(DnssecFacts("www.example.test", SERVERS, soa))
    assert verdict.status is Status.ERROR and "the resolvers answer REFUSED" in str(verdict.detail)


def test_the_bogus_cap_is_f_for_critical_failures_only() -> None:
    (cap,) = Dnssec.caps
    assert cap.grade == "F" and cap.min_severity is Severity.CRITICAL


# -- CAA ------------------------------------------------------------------------------------------


def caa(*levels: Lookup) -> CaaFacts:
    return CaaFacts("www.example.test", levels)


def test_no_caa_anywhere_up_the_tree_warns() -> None:
    verdict = judge_caa(
        caa(
            answer("www.example.test", "CAA"),
            answer("example.test", "CAA"),
            Lookup("test", "CAA", Outcome.NODATA),
        )
    )
    assert verdict.status is Status.WARN and "No CAA record at www.example.test" in str(verdict.detail)


def test_caa_found_up_the_tree_passes_and_names_the_issuers() -> None:
    verdict = judge_caa(
        caa(
            Lookup("www.example.test", "CAA", Outcome.NXDOMAIN),
            answer("example.test", "CAA", '0 issue "letsencrypt.org"', '0 issue "pki.gov.vn; account=1"'),
        )
    )
    assert verdict.status is Status.PASS
    assert verdict.evidence["found_at"] == "example.test"
    assert verdict.evidence["issuers"] == ["letsencrypt.org", "pki.gov.vn"]


def test_caa_that_forbids_every_ca_passes() -> None:
    verdict = judge_caa(caa(answer("www.example.test", "CAA", '0 issue ";"')))
    assert verdict.status is Status.PASS and "allow no certificate authority" in str(verdict.detail)


def test_caa_with_only_iodef_warns() -> None:
    verdict = judge_caa(caa(answer("www.example.test", "CAA", '0 iodef "mailto:security@example.test"')))
    assert verdict.status is Status.WARN and "no issue or issuewild" in str(verdict.detail)


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ('0 issue "ca..example"', "dns.caa.problem.issuer"),
        ('0 issue "ca.example; key"', "dns.caa.problem.issuer"),
        ('0 issuewild "-ca.example"', "dns.caa.problem.issuer"),
        ('0 iodef "security@example.test"', "dns.caa.problem.iodef"),
        ('128 tbs "x"', "dns.caa.problem.critical"),
        ('0 issue "ca.example"', None),
        ('0 issue "ca.example; validationmethods=dns-01"', None),
        ('0 issue ""', None),
        ('128 issue "ca.example"', None),
        ('0 tbs "x"', None),
        ('0 iodef "https://example.test/caa"', None),
    ],
)
def test_caa_values_follow_rfc_8659(record: str, problem: str | None) -> None:
    parsed = CaaRecord.parse(record)
    assert parsed is not None
    found = caa_problem(parsed)
    assert (found.id if found else None) == problem


def test_an_invalid_caa_record_fails() -> None:
    verdict = judge_caa(caa(answer("www.example.test", "CAA", '0 issue "ca..example"', '0 issue "ok.example"')))
    assert verdict.status is Status.FAIL
    assert 'issue "ca..example"' in str(verdict.detail)


def test_a_caa_lookup_that_failed_is_an_error() -> None:
    verdict = judge_caa(caa(Lookup("www.example.test", "CAA", Outcome.TIMEOUT)))
    assert verdict.status is Status.ERROR


# -- IPv6 -----------------------------------------------------------------------------------------


def ipv6(aaaa: Lookup, *probes: Probe, untried: tuple[str, ...] = ()) -> Ipv6Facts:
    return Ipv6Facts("www.example.test", aaaa, probes, untried)


def test_no_aaaa_warns_low() -> None:
    verdict = judge_ipv6(ipv6(answer("www.example.test", "AAAA")))
    assert verdict.status is Status.WARN and verdict.severity is Severity.LOW


def test_every_address_answering_passes_an_ipv4_mapped_one_too() -> None:
    verdict = judge_ipv6(
        ipv6(
            answer("www.example.test", "AAAA", "2001:db8::1", "::ffff:192.0.2.10"),
            Probe("2001:db8::1", 443, True),
            Probe("::ffff:192.0.2.10", 443, True, mapped="192.0.2.10"),
        )
    )
    assert verdict.status is Status.PASS
    assert "[::ffff:192.0.2.10]:443 (IPv4-mapped: 192.0.2.10): connected" in verdict.evidence["connections"]


def test_an_address_that_does_not_answer_fails() -> None:
    verdict = judge_ipv6(
        ipv6(
            answer("www.example.test", "AAAA", "2001:db8::1", "2001:db8::2"),
            Probe("2001:db8::1", 443, True),
            Probe("2001:db8::2", 443, False, error="Connection refused", errno=errno.ECONNREFUSED),
        )
    )
    assert verdict.status is Status.FAIL and verdict.severity is None
    assert str(verdict.detail) == (
        "www.example.test has AAAA records that do not answer: [2001:db8::2]:443 (connection refused)."
    )
    assert verdict.key == "[2001:db8::2]:443"


def test_a_timeout_fails_too() -> None:
    verdict = judge_ipv6(
        ipv6(answer("www.example.test", "AAAA", "2001:db8::1"), Probe("2001:db8::1", 443, False, error="timed out"))
    )
    assert verdict.status is Status.FAIL and "(timed out)" in str(verdict.detail)


def test_a_scanner_without_an_ipv6_route_is_an_error_not_a_failure() -> None:
    unreachable = Probe("2001:db8::1", 443, False, error="Network is unreachable", errno=errno.ENETUNREACH, local=True)
    verdict = judge_ipv6(ipv6(answer("www.example.test", "AAAA", "2001:db8::1"), unreachable))
    assert verdict.status is Status.ERROR and "no IPv6 route" in str(verdict.detail)


def test_addresses_left_untried_are_an_error() -> None:
    verdict = judge_ipv6(
        ipv6(answer("www.example.test", "AAAA", "2001:db8::1"), untried=("[2001:db8::1]:443",)),
    )
    assert verdict.status is Status.ERROR


def test_a_name_that_does_not_exist_is_an_error() -> None:
    verdict = judge_ipv6(ipv6(Lookup("www.example.test", "AAAA", Outcome.NXDOMAIN)))
    assert verdict.status is Status.ERROR and "NXDOMAIN" in str(verdict.detail)


# -- where the checks run --------------------------------------------------------------------------


PLATFORM = Platform(
    id="p",
    name="P",
    urls=("https://www.example.test/", "http://plain.example.test:8080/"),
    hosts=("mx.example.test", "10.0.0.5"),
)


@pytest.mark.parametrize(
    ("endpoint", "dnssec", "caa_", "ipv6_"),
    [
        (Endpoint.for_host(PLATFORM, "www.example.test"), True, True, True),
        (Endpoint.for_host(PLATFORM, "plain.example.test"), True, False, True),
        (Endpoint.for_host(PLATFORM, "mx.example.test"), True, False, False),
        (Endpoint.for_host(PLATFORM, "10.0.0.5"), False, False, False),
        (Endpoint.for_domain(PLATFORM, "example.test"), True, False, False),
        (Endpoint.for_url(PLATFORM, "https://www.example.test/"), False, False, False),
    ],
)
def test_which_names_each_check_judges(endpoint: Endpoint, dnssec: bool, caa_: bool, ipv6_: bool) -> None:
    assert Dnssec().applies_on(endpoint, PLATFORM) is dnssec
    assert Caa().applies_on(endpoint, PLATFORM) is caa_
    assert Ipv6().applies_on(endpoint, PLATFORM) is ipv6_
