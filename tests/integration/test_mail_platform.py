"""A well-run official e-mail system, scanned whole: every family, one ``platscan scan``.

The mail domain lives in a signed zone on the DNS fleet (nsd behind a validating unbound, the
scan's only resolver) with SPF ``-all``, DMARC ``p=reject``, a 2048-bit DKIM key, an enforcing
MTA-STS policy (served over HTTPS by its registered ``mta-sts`` host) and TLS-RPT. Its MX host runs
the mail fleet's servers on every standard mail port, TLS before any login, with certificates from
the test root. Nothing is misconfigured, so every mail and dns check passes, the TLS of every mail
session is judged without a serious failure (the servers' CBC suites and missing OCSP staple are
true low findings), the ports family finds no cleartext service, and nothing caps the grade: the
families agree about a good platform (the other tests break each rule once).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from checks.mail.settings import SERVICES
from scanner.demo.http_server import HttpSiteServer, Reply, Request
from scanner.demo.pki import LeafSpec
from tests.fleet.dns_fleet import DnsFleet
from tests.fleet.mail_servers import HOSTS, MailFleet

DOMAIN = "post.test"
#: The policy host's HTTPS server: port 443 (RFC 8461), on an address no other test uses.
POLICY_ADDRESS = "127.0.0.87"
POLICY = f"version: STSv1\r\nmode: enforce\r\nmx: mx.{DOMAIN}\r\nmax_age: 604800\r\n"


def dkim_record() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    text = f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"
    return " ".join(f'"{text[i : i + 255]}"' for i in range(0, len(text), 255))


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("post")
    with MailFleet(workdir / "mail", {"mx": HOSTS["good"]}, domain=DOMAIN) as mail:
        mx = mail["mx"]
        leaf = mail.pki.issue("mta-sts", LeafSpec(hosts=(f"mta-sts.{DOMAIN}",)))

        def policy(request: Request) -> Reply:
            if request.target != "/.well-known/mta-sts.txt":
                return Reply(404, (("Content-Type", "text/plain"),), b"not found")
            return Reply(200, (("Content-Type", "text/plain; charset=utf-8"),), POLICY.encode())

        zone = "\n".join(
            [
                f"@ MX 10 mx.{DOMAIN}.",
                f"mx A {mx.address}",
                f"mta-sts A {POLICY_ADDRESS}",
                '@ TXT "v=spf1 mx -all"',
                f'_dmarc TXT "v=DMARC1; p=reject; rua=mailto:dmarc@{DOMAIN}"',
                f"default._domainkey TXT {dkim_record()}",
                '_mta-sts TXT "v=STSv1; id=20261204"',
                f'_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tls-reports@{DOMAIN}"',
                '@ CAA 0 issue "ca.test"',
            ]
        )
        with (
            HttpSiteServer(policy, tls=(mail.pki.write_chain(leaf), leaf.key_path), host=POLICY_ADDRESS, port=443),
            DnsFleet(workdir / "dns", {DOMAIN: zone}, signed={DOMAIN}) as dns,
        ):
            ports = sorted({port for _, port in SERVICES})
            targets = workdir / "targets.toml"
            targets.write_text(
                "\n".join(
                    [
                        "[scan]",
                        "timeout = 3",
                        f'ca_bundle = "{mail.ca_bundle}"',
                        f'dns_servers = ["{dns.resolver}"]',
                        "",
                        "[[platforms]]",
                        'id = "post"',
                        'name = "Official e-mail system"',
                        f'hosts = ["mx.{DOMAIN}", "mta-sts.{DOMAIN}"]',
                        f"ports = {ports}",
                        f"allowed_ports = {[*ports, 443]}",
                        "",
                        "[platforms.mail]",
                        f'domains = ["{DOMAIN}"]',
                        'dkim_selectors = ["default"]',
                    ]
                )
                + "\n",
                encoding="utf-8",
            )
            db, out = workdir / "scan.db", workdir / "scan.json"
            scan = [sys.executable, "-m", "scanner", "scan", str(targets), "--db", str(db), "-q"]
            done = subprocess.run(scan, capture_output=True, text=True, timeout=600, check=False)
            assert done.returncode == 0, done.stderr
            report = [sys.executable, "-m", "scanner", "report", "--db", str(db), "--format", "json", "-o", str(out)]
            subprocess.run(report, check=True, capture_output=True, timeout=120)
            (platform,) = json.loads(out.read_text(encoding="utf-8"))["platforms"]
            # platscan's own sessions are one at a time (tests/checks/mail/test_transport.py and
            # tests/checks/tls/test_mail_sessions.py count them); nmap, whose port scan of the host waits
            # its turn, may hold its version probe and its STARTTLS script's connection at once.
            assert mail.peak("mx", 25) <= 2
            yield platform


def by_family(platform: dict[str, Any], family: str) -> list[dict[str, Any]]:
    return [r for r in platform["results"] if r["check"].startswith(f"{family}.")]


def test_every_mail_check_passes(results: dict[str, Any]) -> None:
    mail = by_family(results, "mail")
    assert {r["check"] for r in mail} == {
        "mail.mx",
        "mail.starttls",
        "mail.submission_tls",
        "mail.mailbox_tls",
        "mail.spf",
        "mail.dmarc",
        "mail.dkim",
        "mail.mta_sts",
        "mail.tls_rpt",
    }
    # The MX host's submission and mailbox services are each judged; the policy host offers none (skip).
    judged = {(r["check"], r["endpoint"]): r["status"] for r in mail if r["status"] != "skip"}
    assert set(judged.values()) == {"pass"}, [r for r in mail if r["status"] not in ("pass", "skip")]
    for scheme, port in SERVICES:
        service = f"{scheme}://mx.{DOMAIN}:{port}"
        if port == 25:
            continue  # judged per MX host on the domain (mail.starttls)
        check = "mail.submission_tls" if scheme.startswith("smtp") else "mail.mailbox_tls"
        assert judged[(check, service)] == "pass"
    assert judged[("mail.starttls", DOMAIN)] == "pass"


def test_the_tls_of_every_mail_session_is_judged_without_a_serious_failure(results: dict[str, Any]) -> None:
    tls = [r for r in by_family(results, "tls") if r["endpoint"].endswith(tuple(f":{p}" for _, p in SERVICES))]
    on_mx = {r["endpoint"] for r in tls if f"mx.{DOMAIN}" in r["endpoint"] and r["status"] != "skip"}
    assert on_mx == {f"{scheme}://mx.{DOMAIN}:{port}" for scheme, port in SERVICES}
    # The fleet's servers keep Python's default suites (CBC) and staple no OCSP: true findings, both low.
    serious = [r for r in tls if r["status"] == "error" or (r["status"] == "fail" and r["severity"] != "low")]
    assert serious == [], [(r["check"], r["endpoint"], r["detail"]) for r in serious]
    assert {r["severity"] for r in tls if r["status"] == "fail"} <= {"low"}
    # The policy host runs no mail service: its mail ports are "not offered", never a finding.
    policy_host = {r["status"] for r in tls if f"mta-sts.{DOMAIN}" in r["endpoint"]}
    assert policy_host == {"skip"}


def test_dns_and_ports_agree_and_the_grade_is_an_a(results: dict[str, Any]) -> None:
    dnssec = {r["endpoint"]: r["status"] for r in by_family(results, "dns") if r["check"] == "dns.dnssec"}
    assert dnssec == {f"mx.{DOMAIN}": "pass", f"mta-sts.{DOMAIN}": "pass", DOMAIN: "pass"}
    cleartext = [r for r in by_family(results, "ports") if r["check"] == "ports.cleartext_service"]
    assert {r["status"] for r in cleartext} == {"pass"}, [r["detail"] for r in cleartext]
    # CBC suites on the mail sessions (low) are its only failures: nothing caps it.
    assert results["grade"] in ("A+", "A", "B"), results["scoring"]
    assert results["scoring"]["caps"] == [], results["scoring"]
