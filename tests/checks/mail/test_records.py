"""The mail family's record checks end to end: a real authoritative server (nsd) with one test zone
per case, behind a real validating resolver (unbound), ``tests/fleet/dns_fleet.py``; a real HTTPS
server for the MTA-STS policies; and a real ``platscan scan`` subprocess whose targets file sets
``[scan] dns_servers`` to the fleet's resolver. Every rule of the issue is broken by one domain,
and its verdict read back from the JSON report.

The collectors are also run in this process, against the fleet and then against a silent server,
to show that checkdmarc's process-wide answer cache never carries one collection's answers into
another.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from checks.mail.spf import collect_spf
from scanner.demo.http_server import HttpSiteServer, Reply, Request
from scanner.demo.pki import LeafSpec, Pki
from tests.fleet.dns_fleet import DnsFleet

#: The HTTPS server of the MTA-STS policy hosts: port 443, as RFC 8461 requires, on an address of
#: its own (other tests use 127.0.0.1 and the mail ports of other 127.0.0.x addresses).
POLICY_ADDRESS = "127.0.0.86"


def _txt(text: str) -> str:
    """``text`` as a TXT record's quoted strings of at most 255 bytes (a 2048-bit key needs two)."""
    return " ".join(f'"{text[i : i + 255]}"' for i in range(0, len(text), 255))


def _spki(key: rsa.RSAPublicKey) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def _rsa(bits: int) -> str:
    return _spki(rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key())


#: cryptography generates no key this short; a public key of any odd modulus serialises.
RSA_512 = rsa.RSAPublicNumbers(65537, (1 << 511) | 1).public_key()
ZONES = {
    # SPF, DMARC, DKIM (no selectors), TLS-RPT all good; no MTA-STS
    "good.test": (
        '@ MX 10 mx1.good.test.\nmx1 A 127.0.0.2\n@ TXT "v=spf1 mx -all"\n'
        '_dmarc TXT "v=DMARC1; p=reject; rua=mailto:dmarc@good.test"\n'
        f"default._domainkey TXT {_txt('v=DKIM1; k=rsa; p=' + _rsa(2048))}\n"
        '_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tls@good.test"'
    ),
    # SPF ~all passes; nothing else is published
    "soft.test": '@ TXT "v=spf1 ip4:192.0.2.1 ~all"',
    "nospf.test": "www A 127.0.0.1",
    "twospf.test": '@ TXT "v=spf1 -all"\n@ TXT "v=spf1 mx -all"',
    "badspf.test": '@ TXT "v=spf1 ip4:999.1.1.1 -all"',
    "plusall.test": '@ TXT "v=spf1 +all"',
    "neutral.test": '@ MX 10 mx.neutral.test.\nmx A 127.0.0.2\n@ TXT "v=spf1 mx ?all"',
    "lookups.test": (
        "@ TXT "
        + _txt("v=spf1 " + " ".join(f"include:i{n}.lookups.test" for n in range(11)) + " -all")
        + "\n"
        + "\n".join(f'i{n} TXT "v=spf1 ip4:192.0.2.{n} -all"' for n in range(11))
    ),
    "void.test": '@ TXT "v=spf1 a:v1.void.test a:v2.void.test a:v3.void.test -all"',
    # an include into a zone whose signatures are broken: the resolver answers SERVFAIL
    "incfail.test": '@ TXT "v=spf1 include:_spf.bogus.test -all"',
    "bogus.test": (
        '_spf TXT "v=spf1 -all"\n@ TXT "v=spf1 -all"\n_dmarc TXT "v=DMARC1; p=reject"\n'
        '_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tls@bogus.test"\n_mta-sts TXT "v=STSv1; id=1"'
    ),
    "pnone.test": '_dmarc TXT "v=DMARC1; p=none; rua=mailto:dmarc@pnone.test"',
    "dmarcbad.test": '_dmarc TXT "v=DMARC1; p=bogus"',
    "pct.test": '_dmarc TXT "v=DMARC1; p=quarantine; pct=50; rua=mailto:dmarc@pct.test"',
    "testing.test": '_dmarc TXT "v=DMARC1; p=reject; t=y; rua=mailto:dmarc@testing.test"',
    "norua.test": '_dmarc TXT "v=DMARC1; p=reject"',
    "spnone.test": '_dmarc TXT "v=DMARC1; p=reject; sp=none; rua=mailto:dmarc@spnone.test"',
    # sub.inherit.test has no record: the organisational domain's sp applies
    "inherit.test": 'sub A 127.0.0.1\n_dmarc TXT "v=DMARC1; p=reject; sp=quarantine; rua=mailto:dmarc@inherit.test"',
    "tlsbad.test": '_smtp._tls TXT "v=TLSRPTv1;"',
    # one selector per case (the dkim platform lists them all)
    "dkim.test": "\n".join(
        [
            f"s2048._domainkey TXT {_txt('v=DKIM1; k=rsa; p=' + _rsa(2048))}",
            f"s1024._domainkey TXT {_txt('v=DKIM1; k=rsa; p=' + _rsa(1024))}",
            f"s512._domainkey TXT {_txt('v=DKIM1; p=' + _spki(RSA_512))}",
            'revoked._domainkey TXT "v=DKIM1; k=rsa; p="',
            'ed._domainkey TXT "v=DKIM1; k=ed25519; p='
            + base64.b64encode(ed25519.Ed25519PrivateKey.generate().public_key().public_bytes_raw()).decode()
            + '"',
            'junk._domainkey TXT "v=DKIM1; k=rsa; p=bm90IGEga2V5"',
        ]
    ),
    # MTA-STS: the policy hosts answer at POLICY_ADDRESS
    "stsgood.test": (
        f'@ MX 10 mx.stsgood.test.\nmx A 127.0.0.2\nmta-sts A {POLICY_ADDRESS}\n_mta-sts TXT "v=STSv1; id=20260101"'
    ),
    "ststesting.test": (
        f'@ MX 10 mx.ststesting.test.\nmx A 127.0.0.2\nmta-sts A {POLICY_ADDRESS}\n_mta-sts TXT "v=STSv1; id=1"'
    ),
    "stsuncovered.test": (f'@ MX 10 mx.elsewhere.test.\nmta-sts A {POLICY_ADDRESS}\n_mta-sts TXT "v=STSv1; id=1"'),
    "stsunreg.test": f'@ MX 10 mx.stsunreg.test.\nmta-sts A {POLICY_ADDRESS}\n_mta-sts TXT "v=STSv1; id=1"',
    "stsbadrec.test": '_mta-sts TXT "v=STSv1; id=not-valid!"',
}
POLICIES = {
    "mta-sts.stsgood.test": "version: STSv1\r\nmode: enforce\r\nmx: mx.stsgood.test\r\nmax_age: 604800\r\n",
    "mta-sts.ststesting.test": "version: STSv1\r\nmode: testing\r\nmx: *.ststesting.test\r\nmax_age: 86400\r\n",
    "mta-sts.stsuncovered.test": "version: STSv1\r\nmode: enforce\r\nmx: mx.stsuncovered.test\r\nmax_age: 86400\r\n",
    "mta-sts.stsunreg.test": "version: STSv1\r\nmode: enforce\r\nmx: mx.stsunreg.test\r\nmax_age: 86400\r\n",
}
#: The domains of the platform without DKIM selectors (the MTA-STS and DKIM cases have their own).
RECORD_DOMAINS = [
    *("good.test", "soft.test", "nospf.test", "twospf.test", "badspf.test", "plusall.test", "neutral.test"),
    *("lookups.test", "void.test", "incfail.test", "bogus.test", "pnone.test", "dmarcbad.test", "pct.test"),
    *("testing.test", "norua.test", "spnone.test", "sub.inherit.test", "tlsbad.test"),
]
SELECTORS = ("s2048", "s1024", "s512", "revoked", "ed", "junk", "absent")
STS_DOMAINS = ["stsgood.test", "ststesting.test", "stsuncovered.test", "stsunreg.test", "stsbadrec.test", "bogus.test"]
STS_HOSTS = ["mta-sts.stsgood.test", "mta-sts.ststesting.test", "mta-sts.stsuncovered.test"]
RECORD_CHECKS = "mail.spf,mail.dmarc,mail.dkim,mail.mta_sts,mail.tls_rpt"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DnsFleet]:
    with DnsFleet(tmp_path_factory.mktemp("dns"), ZONES, signed={"bogus.test"}, bogus={"bogus.test"}) as running:
        yield running


@pytest.fixture(scope="module")
def policy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HttpSiteServer, Path]]:
    pki = Pki.create(tmp_path_factory.mktemp("pki"))
    leaf = pki.issue("mta-sts", LeafSpec(hosts=tuple(POLICIES)))
    chain = pki.write_chain(leaf)

    def handler(request: Request) -> Reply:
        host = dict((k.lower(), v) for k, v in request.headers).get("host", "").split(":")[0]
        if request.target != "/.well-known/mta-sts.txt" or host not in POLICIES:
            return Reply(404, (("Content-Type", "text/plain"),), b"not found")
        return Reply(200, (("Content-Type", "text/plain; charset=utf-8"),), POLICIES[host].encode())

    with HttpSiteServer(handler, tls=(chain, leaf.key_path), host=POLICY_ADDRESS, port=443) as server:
        yield server, pki.bundle_path


def _platform(pid: str, domains: list[str], hosts: list[str], selectors: tuple[str, ...] = ()) -> str:
    lines = [
        "[[platforms]]",
        f'id = "{pid}"',
        f'name = "{pid}"',
        f"hosts = {json.dumps(hosts)}",
        "",
        "[platforms.mail]",
        f"domains = {json.dumps(domains)}",
    ]
    if selectors:
        lines.append(f"dkim_selectors = {json.dumps(list(selectors))}")
    return "\n".join(lines) + "\n\n"


@pytest.fixture(scope="module")
def scanned(
    tmp_path_factory: pytest.TempPathFactory, fleet: DnsFleet, policy_server: tuple[HttpSiteServer, Path]
) -> dict[tuple[str, str, str, str], dict[str, object]]:
    """(platform, check, endpoint, key) -> result, from one ``platscan scan`` of every case."""
    _, bundle = policy_server
    work = tmp_path_factory.mktemp("scan")
    targets = work / "targets.toml"
    targets.write_text(
        f'[scan]\ntimeout = 3\nca_bundle = "{bundle}"\ndns_servers = ["{fleet.resolver}"]\n\n'
        + _platform("records", RECORD_DOMAINS, hosts=["mx1.good.test"])
        + _platform("dkim", ["dkim.test"], hosts=["mx.dkim.test"], selectors=SELECTORS)
        + _platform("sts", STS_DOMAINS, hosts=STS_HOSTS),
        encoding="utf-8",
    )
    db, out = work / "scan.db", work / "scan.json"
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", str(targets), "--db", str(db), "--only", RECORD_CHECKS, "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode in (0, 3), run.stderr
    assert time.monotonic() - started < 120, "DNS answers from loopback: the scan takes seconds"
    subprocess.run(
        [sys.executable, "-m", "scanner", "report", "--db", str(db), "--format", "json", "-o", str(out)],
        check=True,
        timeout=120,
    )
    doc = json.loads(out.read_text(encoding="utf-8"))
    return {
        (platform["id"], r["check"], r["endpoint"], r["key"]): r
        for platform in doc["platforms"]
        for r in platform["results"]
    }


def verdict(
    scanned: dict[tuple[str, str, str, str], dict[str, object]],
    check: str,
    domain: str,
    *,
    platform: str = "records",
    key: str = "",
) -> dict[str, object]:
    found = scanned.get((platform, check, domain, key))
    assert found is not None, (
        f"no {check} result for {domain} [{key}] of {platform}: {sorted(k for k in scanned if k[0] == platform)}"
    )
    return found


@pytest.mark.parametrize(
    ("domain", "status", "says"),
    [
        ("good.test", "pass", "good.test publishes an SPF record ending in -all (1 of at most 10 DNS lookups)"),
        ("soft.test", "pass", "ending in ~all"),
        ("nospf.test", "fail", "nospf.test publishes no SPF record"),
        ("twospf.test", "fail", "more than one SPF record"),
        ("badspf.test", "fail", "The SPF record of badspf.test is invalid: 999.1.1.1 is not a valid ipv4 value."),
        ("plusall.test", "fail", "ends in +all"),
        ("neutral.test", "fail", "ends in ?all (neutral)"),
        ("lookups.test", "fail", "needs at least 11 DNS lookups"),
        ("void.test", "warn", "makes 3 DNS lookups that find nothing"),
        ("incfail.test", "error", "The DNS lookup of _spf.bogus.test (TXT) failed: the DNS servers answered SERVFAIL"),
        ("bogus.test", "error", "The DNS lookup of bogus.test (TXT) failed: the DNS servers answered SERVFAIL"),
    ],
)
def test_spf(scanned: dict[tuple[str, str, str, str], dict[str, object]], domain: str, status: str, says: str) -> None:
    result = verdict(scanned, "mail.spf", domain)
    assert (result["status"], says in str(result["detail"])) == (status, True), (result["status"], result["detail"])


@pytest.mark.parametrize(
    ("domain", "status", "says"),
    [
        ("good.test", "pass", "The DMARC policy for good.test at _dmarc.good.test is p=reject"),
        ("sub.inherit.test", "pass", "The DMARC policy for sub.inherit.test at _dmarc.inherit.test is sp=quarantine"),
        ("soft.test", "fail", "No DMARC record at _dmarc.soft.test"),
        ("pnone.test", "fail", "says p=none"),
        ("dmarcbad.test", "fail", "The DMARC record for dmarcbad.test is invalid"),
        ("pct.test", "warn", "pct=50"),
        ("testing.test", "warn", "t=y: the record is in testing mode (RFC 9989)"),
        ("norua.test", "warn", "No rua"),
        ("spnone.test", "warn", "sp=none: mail forged in the name of subdomains of spnone.test"),
        ("bogus.test", "error", "The DNS lookup of _dmarc.bogus.test (TXT) failed: the DNS servers answered SERVFAIL"),
    ],
)
def test_dmarc(
    scanned: dict[tuple[str, str, str, str], dict[str, object]], domain: str, status: str, says: str
) -> None:
    result = verdict(scanned, "mail.dmarc", domain)
    assert (result["status"], says in str(result["detail"])) == (status, True), (result["status"], result["detail"])


@pytest.mark.parametrize(
    ("selector", "status", "says"),
    [
        ("s2048", "pass", "is 2048-bit RSA"),
        ("s1024", "warn", "is 1024-bit RSA, below the 2048 bits"),
        ("s512", "fail", "is 512-bit RSA"),
        ("revoked", "fail", "is revoked (empty p=)"),
        ("ed", "pass", "is an Ed25519 key"),
        ("junk", "fail", "is invalid: p= is not a public key"),
        ("absent", "fail", "No DKIM key record at absent._domainkey.dkim.test"),
    ],
)
def test_dkim_per_selector(
    scanned: dict[tuple[str, str, str, str], dict[str, object]], selector: str, status: str, says: str
) -> None:
    result = verdict(scanned, "mail.dkim", "dkim.test", platform="dkim", key=selector)
    assert (result["status"], says in str(result["detail"])) == (status, True), (result["status"], result["detail"])


def test_dkim_without_selectors_is_judged_from_domainkey(
    scanned: dict[tuple[str, str, str, str], dict[str, object]],
) -> None:
    present = verdict(scanned, "mail.dkim", "good.test")
    assert present["status"] == "pass", present
    absent = verdict(scanned, "mail.dkim", "soft.test")
    assert absent["status"] == "fail" and "_domainkey.soft.test does not exist (NXDOMAIN)" in str(absent["detail"])


@pytest.mark.parametrize(
    ("domain", "status", "says"),
    [
        ("good.test", "pass", "TLS failures of mail to good.test are reported to mailto:tls@good.test"),
        ("soft.test", "warn", "soft.test publishes no TLS-RPT record at _smtp._tls.soft.test"),
        ("tlsbad.test", "fail", "The TLS-RPT record at _smtp._tls.tlsbad.test is invalid"),
        ("bogus.test", "error", "The DNS lookup of _smtp._tls.bogus.test (TXT) failed"),
    ],
)
def test_tls_rpt(
    scanned: dict[tuple[str, str, str, str], dict[str, object]], domain: str, status: str, says: str
) -> None:
    result = verdict(scanned, "mail.tls_rpt", domain)
    assert (result["status"], says in str(result["detail"])) == (status, True), (result["status"], result["detail"])


@pytest.mark.parametrize(
    ("domain", "status", "says"),
    [
        ("stsgood.test", "pass", "enforces verified TLS to mx.stsgood.test (max_age 604800 s)"),
        ("ststesting.test", "warn", "is in testing mode"),
        ("stsuncovered.test", "fail", "does not cover its MX hosts mx.elsewhere.test"),
        ("stsunreg.test", "error", "not registered: add mta-sts.stsunreg.test to the platform's hosts"),
        ("stsbadrec.test", "fail", "The MTA-STS record at _mta-sts.stsbadrec.test is invalid"),
        ("bogus.test", "error", "The DNS lookup of _mta-sts.bogus.test (TXT) failed"),
    ],
)
def test_mta_sts(
    scanned: dict[tuple[str, str, str, str], dict[str, object]], domain: str, status: str, says: str
) -> None:
    result = verdict(scanned, "mail.mta_sts", domain, platform="sts")
    assert (result["status"], says in str(result["detail"])) == (status, True), (result["status"], result["detail"])


def test_mta_sts_absent_warns(scanned: dict[tuple[str, str, str, str], dict[str, object]]) -> None:
    result = verdict(scanned, "mail.mta_sts", "good.test")
    assert result["status"] == "warn" and "publishes no MTA-STS record" in str(result["detail"]), result


def test_the_unregistered_policy_host_was_never_contacted(
    scanned: dict[tuple[str, str, str, str], dict[str, object]], policy_server: tuple[HttpSiteServer, Path]
) -> None:
    server, _ = policy_server
    hosts = {dict((k.lower(), v) for k, v in request.headers).get("host", "") for request in server.seen}
    assert "mta-sts.stsgood.test" in hosts, "the registered policy hosts were asked"
    assert "mta-sts.stsunreg.test" not in hosts
    assert {request.server_name for request in server.seen} <= set(STS_HOSTS)


def test_checkdmarcs_cache_never_carries_answers_into_another_collection(fleet: DnsFleet) -> None:
    answered = collect_spf("good.test", (fleet.resolver,), 3, 20)
    assert answered.record == "v=spf1 mx -all" and not answered.failures
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        started = time.monotonic()
        unanswered = collect_spf("good.test", (f"127.0.0.1:{silent.getsockname()[1]}",), 1, 20)
        assert time.monotonic() - started < 5, "a silent resolver costs its timeout, not more"
    finally:
        silent.close()
    assert unanswered.record == "" and unanswered.failures, "the first collection's answer was not reused"
    assert "no answer within" in str(unanswered.failures[0].reason)
