"""mail.mx, mail.starttls, mail.submission_tls and mail.mailbox_tls end to end: a real ``platscan scan``
subprocess of a mail platform whose MX records live on the DNS fleet (nsd behind a validating
unbound, the scan's only resolver) and whose hosts run the mail fleet's real SMTP, IMAP and POP3
servers on their own 127.0.0.x addresses. Every verdict of every case is asserted, and so are the
rules around them: an MX that is not a registered host is never contacted (its server counts the
connections), a 421 is asked once, no server ever sees two sessions at once, and a silent port 25
costs about the scan's timeout."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fleet.dns_fleet import DnsFleet
from tests.fleet.mail_servers import HOSTS, HostSpec, Kind, MailFleet

PLATSCAN = [sys.executable, "-m", "scanner"]
CHECKS = "mail.mx,mail.starttls,mail.submission_tls,mail.mailbox_tls"
TIMEOUT = 2
HOSTS_ZONE = "hosts.test"
MAIL_ZONE = "mail.test"
#: Mail hosts registered on the platform (``hosts``); "outside" runs a server but is not registered.
REGISTERED = (
    "good",
    "plain",
    "busy",
    "silent",
    "auth_before_tls",
    "submission_plain",
    "cleartext_mailbox",
    "login_before_tls",
    "plaintext_tls",
)
#: Mail domain (in MAIL_ZONE) -> its records; "{good}" is the good host's address.
DOMAINS = {
    "d-good": ("MX 10 good.hosts.test.",),
    "d-plain": ("MX 10 plain.hosts.test.",),
    "d-busy": ("MX 10 busy.hosts.test.",),
    "d-silent": ("MX 10 silent.hosts.test.",),
    "d-outside": ("MX 10 outside.hosts.test.",),
    "d-mixed": ("MX 10 good.hosts.test.", "MX 20 outside.hosts.test."),
    "d-null": ("MX 0 .",),
    "d-dangling": ("MX 10 nowhere.hosts.test.",),
    "d-implicit": ("A {good}",),  # no MX: the domain itself (registered too) is its implicit MX
}
MISSING = f"missing.{MAIL_ZONE}"  # NXDOMAIN


def name(label: str) -> str:
    return f"{label}.{MAIL_ZONE}"


def host(case: str) -> str:
    return f"{case.replace('_', '-')}.{HOSTS_ZONE}"


# -- the expected verdicts --------------------------------------------------------------------------------

MX = {
    "d-good": "pass",
    "d-plain": "pass",
    "d-busy": "pass",
    "d-silent": "pass",
    "d-outside": "pass",
    "d-mixed": "pass",
    "d-null": "pass",
    "d-dangling": "fail",
    "d-implicit": "warn",
    "missing": "fail",
}
#: domain -> {MX host (the result's key) -> status}
STARTTLS = {
    "d-good": {host("good"): "pass"},
    "d-plain": {host("plain"): "fail"},
    "d-busy": {host("busy"): "error"},
    "d-silent": {host("silent"): "error"},
    "d-outside": {host("outside"): "error"},
    "d-mixed": {host("good"): "pass", host("outside"): "error"},
    "d-null": {"": "skip"},
    "d-dangling": {"nowhere.hosts.test": "error"},
    "d-implicit": {name("d-implicit"): "pass"},
    "missing": {"": "skip"},
}
SUBMISSION = {  # (host, port) -> status; every other submission service: skip (not offered)
    (host("good"), 465): "pass",
    (host("good"), 587): "pass",
    (name("d-implicit"), 465): "pass",
    (name("d-implicit"), 587): "pass",
    (host("auth_before_tls"), 587): "fail",
    (host("submission_plain"), 587): "fail",
    (host("plaintext_tls"), 465): "fail",
}
MAILBOX = {
    (host("good"), 143): "pass",
    (host("good"), 993): "pass",
    (host("good"), 110): "pass",
    (host("good"), 995): "pass",
    (name("d-implicit"), 143): "pass",
    (name("d-implicit"), 993): "pass",
    (name("d-implicit"), 110): "pass",
    (name("d-implicit"), 995): "pass",
    (host("cleartext_mailbox"), 143): "fail",
    (host("cleartext_mailbox"), 110): "fail",
    (host("login_before_tls"), 143): "fail",
    (host("login_before_tls"), 110): "fail",
    (host("plaintext_tls"), 993): "fail",
}
SUBMISSION_SERVICES = (("smtps", 465), ("smtp", 587))
MAILBOX_SERVICES = (("imap", 143), ("imaps", 993), ("pop3", 110), ("pop3s", 995))


# -- the scan --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("mail-transport")
    specs = {case: HOSTS[case] for case in REGISTERED if case in HOSTS}
    specs["plaintext_tls"] = HostSpec(
        {465: Kind.SMTP_PLAIN, 993: Kind.IMAP_PLAIN}, description="plain text on implicit-TLS ports"
    )
    specs["outside"] = HostSpec({25: Kind.SMTP_STARTTLS}, description="an MX that is not a registered host")
    with MailFleet(workdir, specs, domain=HOSTS_ZONE) as fleet:
        good = fleet["good"].address
        mail_zone = "\n".join(
            f"{label} {record.format(good=good)}" for label, records in DOMAINS.items() for record in records
        )
        zones = {HOSTS_ZONE: fleet.zone(), MAIL_ZONE: mail_zone}
        with DnsFleet(workdir / "dns", zones) as dns:
            targets = workdir / "targets.toml"
            domains = [name(label) for label in DOMAINS] + [MISSING]
            hosts = [host(case) for case in REGISTERED] + [name("d-implicit")]
            targets.write_text(
                "[scan]\n"
                f"timeout = {TIMEOUT}\nretries = 1\nendpoint_timeout = 60\n"
                f"dns_servers = [{json.dumps(dns.resolver)}]\n\n"
                "[[platforms]]\n"
                'id = "mail"\nname = "Official e-mail system"\n'
                f"hosts = {json.dumps(hosts)}\n\n"
                "[platforms.mail]\n"
                f"domains = {json.dumps(domains)}\n",
                encoding="utf-8",
            )
            db = workdir / "scan.db"
            started = time.monotonic()
            scan = subprocess.run(
                [*PLATSCAN, "scan", str(targets), "--db", str(db), "--only", CHECKS],
                capture_output=True,
                text=True,
                timeout=300,
            )
            elapsed = time.monotonic() - started
            report = workdir / "report.json"
            subprocess.run([*PLATSCAN, "report", "--db", str(db), "-o", str(report)], check=True, timeout=60)
            yield {
                "scan": scan,
                "elapsed": elapsed,
                "doc": json.loads(report.read_text(encoding="utf-8")),
                "fleet": fleet,
            }


def results(scanned: dict[str, Any], check: str) -> list[dict[str, Any]]:
    return [r for p in scanned["doc"]["platforms"] for r in p["results"] if r["check"] == check]


def test_the_scan_ran(scanned: dict[str, Any]) -> None:
    scan = scanned["scan"]
    assert scan.returncode in (0, 1), scan.stderr[-3000:]
    assert "Traceback" not in scan.stderr, scan.stderr[-3000:]


def test_mail_mx_verdicts(scanned: dict[str, Any]) -> None:
    got = {r["endpoint"]: r["status"] for r in results(scanned, "mail.mx")}
    assert got == {(MISSING if label == "missing" else name(label)): status for label, status in MX.items()}
    by_domain = {r["endpoint"]: r for r in results(scanned, "mail.mx")}
    mixed = by_domain[name("d-mixed")]
    assert [(m["host"], m["registered"]) for m in mixed["evidence"]["mx"]] == [
        (host("good"), True),
        (host("outside"), False),
    ]
    assert host("outside") in mixed["detail"] and "not contacted" in mixed["detail"]
    assert "receives no mail" in by_domain[name("d-null")]["detail"]
    assert "nowhere.hosts.test: does not exist (NXDOMAIN)" in by_domain[name("d-dangling")]["detail"]
    assert "implicit MX" in by_domain[name("d-implicit")]["detail"]
    assert "NXDOMAIN" in by_domain[MISSING]["detail"]


def test_mail_starttls_verdicts_one_per_mx_host(scanned: dict[str, Any]) -> None:
    got: dict[str, dict[str, str]] = {}
    for r in results(scanned, "mail.starttls"):
        got.setdefault(r["endpoint"], {})[r["key"]] = r["status"]
    assert got == {(MISSING if label == "missing" else name(label)): keyed for label, keyed in STARTTLS.items()}
    by_key = {(r["endpoint"], r["key"]): r for r in results(scanned, "mail.starttls")}
    assert "does not offer STARTTLS" in by_key[(name("d-plain"), host("plain"))]["detail"]
    assert by_key[(name("d-plain"), host("plain"))]["evidence"]["facts"] == [f"cleartext:25@{host('plain')}"]
    busy = by_key[(name("d-busy"), host("busy"))]["detail"]
    assert "Rate-limited, not tested" in busy and "421" in busy and "STARTTLS" not in busy
    outside = by_key[(name("d-outside"), host("outside"))]["detail"]
    assert "not registered: add it to hosts to test it" in outside
    assert "receives no mail" in by_key[(name("d-null"), "")]["detail"]
    assert "TLSv1" in by_key[(name("d-good"), host("good"))]["detail"]


def test_an_unregistered_mx_is_never_contacted(scanned: dict[str, Any]) -> None:
    assert scanned["fleet"].connections("outside", 25) == 0


def test_a_421_is_asked_once_and_never_retried(scanned: dict[str, Any]) -> None:
    assert scanned["fleet"].connections("busy", 25) == 1


def test_no_server_ever_sees_two_sessions_at_once(scanned: dict[str, Any]) -> None:
    fleet = scanned["fleet"]
    peaks = {(h.case, port): fleet.peak(h.case, port) for h in fleet for port in h.ports}
    assert max(peaks.values()) == 1, peaks
    # good.hosts.test is the MX of d-good and d-mixed: asked once, both share the facts; d-implicit.mail.test is
    # another name (its own SNI) at the same address, so one more session.
    assert fleet.connections("good", 25) == 2


def test_a_silent_port_25_costs_about_the_timeout(scanned: dict[str, Any]) -> None:
    (silent,) = [r for r in results(scanned, "mail.starttls") if r["key"] == host("silent")]
    assert "STARTTLS could not be tested" in silent["detail"] and f"within {TIMEOUT} s" in silent["detail"]
    # The session itself: one timeout. The result's duration may add the wait for the host's other silent
    # ports (one session at a time per server), each costing its own timeout.
    assert TIMEOUT * 0.9 <= silent["evidence"]["session_seconds"] < TIMEOUT + 1, silent["evidence"]
    assert silent["duration"] <= 3 * TIMEOUT + 3, silent["duration"]


def _services(scanned: dict[str, Any], check: str) -> dict[tuple[str, int], dict[str, Any]]:
    out = {}
    for r in results(scanned, check):
        hostport = r["endpoint"].split("://", 1)[1]
        name_, _, port = hostport.rpartition(":")
        out[(name_, int(port))] = r
    return out


def test_mail_submission_tls_verdicts(scanned: dict[str, Any]) -> None:
    got = {key: r["status"] for key, r in _services(scanned, "mail.submission_tls").items()}
    every = {(h, port) for h in [host(c) for c in REGISTERED] + [name("d-implicit")] for _, port in SUBMISSION_SERVICES}
    assert got == {key: SUBMISSION.get(key, "skip") for key in every}
    by = _services(scanned, "mail.submission_tls")
    assert "before STARTTLS" in by[(host("auth_before_tls"), 587)]["detail"]
    assert "offers no STARTTLS" in by[(host("submission_plain"), 587)]["detail"]
    assert "plain text" in by[(host("plaintext_tls"), 465)]["detail"]
    assert by[(host("plain"), 587)]["detail"].startswith("Not offered. Nothing listens on port 587")
    assert "did not answer" in by[(host("silent"), 587)]["detail"], "a silent submission port: not offered"


def test_mail_mailbox_tls_verdicts(scanned: dict[str, Any]) -> None:
    got = {key: r["status"] for key, r in _services(scanned, "mail.mailbox_tls").items()}
    every = {(h, port) for h in [host(c) for c in REGISTERED] + [name("d-implicit")] for _, port in MAILBOX_SERVICES}
    assert got == {key: MAILBOX.get(key, "skip") for key in every}
    by = _services(scanned, "mail.mailbox_tls")
    assert "offers no STARTTLS" in by[(host("cleartext_mailbox"), 143)]["detail"]
    assert "offers no STLS" in by[(host("cleartext_mailbox"), 110)]["detail"]
    login = by[(host("login_before_tls"), 143)]["detail"]
    assert "before STARTTLS" in login and "AUTH=PLAIN" in login
    assert "USER" in by[(host("login_before_tls"), 110)]["detail"]
    assert by[(host("good"), 143)]["evidence"]["capabilities"] == ["IMAP4REV1", "STARTTLS", "LOGINDISABLED"]


def test_the_scan_takes_seconds_not_minutes(scanned: dict[str, Any]) -> None:
    assert scanned["elapsed"] < 90, scanned["elapsed"]
