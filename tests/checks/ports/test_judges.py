"""Every ports judge, from recorded nmap runs and small built facts: verdicts, severities, details, evidence."""

from __future__ import annotations

import dataclasses
import json

import pytest

from checks.ports.base import PortsCheck
from checks.ports.facts import Detection, PortFacts, PortScanFacts, ScanStatus
from scanner.model import Endpoint, Severity, Status
from scanner.plugin import discover_checks
from tests.checks.ports import fixtures as fx
from tests.checks.ports.fixtures import guessed, host, probed
from tests.fleet.ports_fleet import CASES, PORTS_CHECKS, PortCase

CHECKS: dict[str, PortsCheck] = {
    c.id: c for c in discover_checks().checks if c.family == "ports" and isinstance(c, PortsCheck)
}


def judge(check: str, facts: PortScanFacts, allowed: tuple[int, ...] = (80, 443)) -> tuple[Status, str, Severity]:
    verdict = CHECKS[check].evaluate(facts, allowed)
    return verdict.status, str(verdict.detail), verdict.severity or CHECKS[check].severity


def test_the_family_applies_to_hosts_only() -> None:
    assert sorted(CHECKS) == sorted(PORTS_CHECKS)
    host_endpoint = Endpoint(platform="p", target="h.ports.test", kind="host", host="h.ports.test")
    url = Endpoint(platform="p", target="https://h.ports.test/", kind="url", host="h.ports.test", port=443)
    for check in CHECKS.values():
        assert check.applies_to(host_endpoint) and not check.applies_to(url)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_recorded_fleet_cases(case: PortCase) -> None:
    """Each fleet case on its own host, allowed or not, against every ports check (the integration
    test asserts the same table through the real CLI)."""
    port = fx.cases("fleet")[case.name]
    facts = fx.fleet_case(case.name)
    allowed = (port,) if case.allowed else (1,)
    got = {check: judge(check, facts, allowed)[0].value for check in PORTS_CHECKS}
    assert got == dict(case.expect)


def test_allowed_but_risky_still_fails_its_risk_check() -> None:
    port = fx.cases("fleet")["telnet"]
    facts = fx.fleet_case("telnet")
    assert judge("ports.unexpected_open", facts, (port,))[0] is Status.PASS
    status, detail, severity = judge("ports.cleartext_service", facts, (port,))
    assert status is Status.FAIL and severity is Severity.CRITICAL and f"Telnet on {port}/tcp" in detail
    evidence = CHECKS["ports.cleartext_service"].evaluate(facts, (port,)).evidence
    assert evidence["ports"][0]["allowed"] is True


def test_unexpected_open_names_port_service_and_banner() -> None:
    ssh = fx.cases("fleet")["ssh"]
    verdict = CHECKS["ports.unexpected_open"].evaluate(fx.fleet_case("ssh"), (80, 443))
    assert verdict.status is Status.FAIL and verdict.severity is None
    assert str(verdict.detail) == (
        f"1 open port on fleet.ports.test (127.0.0.1) is not in allowed_ports [80, 443]: "
        f"SSH on {ssh}/tcp (OpenSSH 7.4)."
    )
    (item,) = verdict.evidence["unexpected"]
    assert item == {
        "port": ssh,
        "proto": "tcp",
        "service": "ssh",
        "kind": "SSH",
        "recognised_by": "service detection",
        "product": "OpenSSH",
        "version": "7.4",
        "extrainfo": "protocol 2.0",
        "banner": "SSH-2.0-OpenSSH_7.4\\r\\n",
    }
    assert verdict.evidence["allowed_ports"] == [80, 443]
    json.dumps(verdict.evidence)  # stored as JSON


def test_unexpected_open_passes() -> None:
    status, detail, _ = judge("ports.unexpected_open", host(probed(443, "http", tunnel="ssl")), (80, 443))
    assert status is Status.PASS and detail == "Only allowed ports are open on h.ports.test (192.0.2.10): 443/tcp."
    status, detail, _ = judge("ports.unexpected_open", fx.recorded("closed"))
    assert status is Status.PASS and "No port of closed.ports.test" in detail


def test_database_details_say_whether_authentication_is_needed() -> None:
    status, detail, severity = judge("ports.database_exposed", fx.fleet_case("redis_open"))
    assert status is Status.FAIL and severity is Severity.CRITICAL
    assert "Redis on" in detail and "without authentication" in detail
    verdict = CHECKS["ports.database_exposed"].evaluate(fx.fleet_case("redis_noauth"), (80,))
    assert "without authentication" not in str(verdict.detail)
    assert verdict.evidence["ports"][0]["authentication"] == "required"
    assert verdict.evidence["ports"][0]["recognised_by"] == "answer signature"
    assert verdict.evidence["ports"][0]["banner"] == "-NOAUTH Authentication required.\\r\\n"


def test_mysql_on_a_non_standard_port_is_a_database() -> None:
    mysql = fx.cases("fleet")["mysql"]
    assert mysql != 3306
    status, detail, _ = judge("ports.database_exposed", fx.fleet_case("mysql"), (mysql,))
    assert status is Status.FAIL and f"MySQL/MariaDB on {mysql}/tcp (MySQL 5.7.33-log)" in detail


def test_remote_admin() -> None:
    status, detail, severity = judge("ports.remote_admin_exposed", host(probed(3389, "ms-wbt-server")))
    assert status is Status.FAIL and severity is Severity.HIGH and "RDP" in detail
    # The Docker Engine API without TLS is root on the host for anyone.
    status, _, severity = judge(
        "ports.remote_admin_exposed", host(probed(2375, "docker", "Docker remote API", "24.0.7"))
    )
    assert status is Status.FAIL and severity is Severity.CRITICAL
    status, _, severity = judge(
        "ports.remote_admin_exposed", host(probed(2376, "docker", "Docker remote API", tunnel="ssl"))
    )
    assert status is Status.FAIL and severity is Severity.HIGH
    status, detail, _ = judge("ports.remote_admin_exposed", host(guessed(22, "ssh")))
    assert status is Status.FAIL and "SSH on 22/tcp (guessed from the port number)" in detail
    assert judge("ports.remote_admin_exposed", host(probed(443, "http", "nginx", tunnel="ssl")))[0] is Status.PASS


def test_cleartext_warns_when_starttls_could_not_be_read() -> None:
    status, detail, _ = judge("ports.cleartext_service", host(probed(25, "smtp", "Postfix smtpd")), (25,))
    assert status is Status.WARN and "Could not confirm" in detail


def test_version_disclosure() -> None:
    status, detail, severity = judge("ports.version_disclosure", fx.fleet_case("ftp"))
    assert status is Status.FAIL and severity is Severity.LOW
    assert "ProFTPD 1.3.5 on" in detail and "reveals its software version" in detail
    evidence = CHECKS["ports.version_disclosure"].evaluate(fx.fleet_case("ftp"), ()).evidence
    assert evidence["ports"][0]["disclosed"] == "ProFTPD 1.3.5"
    assert evidence["ports"][0]["banner"].startswith("220 ProFTPD 1.3.5 Server")
    tls = fx.recorded("tls")
    status, detail, _ = judge("ports.version_disclosure", tls)
    assert status is Status.FAIL and "Apache httpd 2.4.29" in detail


def test_a_whole_host_with_many_findings_is_one_result_with_clipped_evidence() -> None:
    ports = [probed(20000 + n, "ssh", "OpenSSH", "9.6") for n in range(30)]
    verdict = CHECKS["ports.remote_admin_exposed"].evaluate(host(*ports), (80,))
    assert verdict.status is Status.FAIL
    assert len(verdict.evidence["ports"]) == 21 and verdict.evidence["ports"][-1] == "… and 10 more"
    assert "… (25 more)" in str(verdict.detail)
    long_banner = probed(2121, "ftp", "ProFTPD", "1.3.5", banner=b"220 " + b"x" * 400)
    verdict = CHECKS["ports.cleartext_service"].evaluate(host(long_banner), ())
    assert len(verdict.evidence["ports"][0]["banner"]) <= 120


# -- the scan policy -----------------------------------------------------------------------------------


@pytest.mark.parametrize("check", PORTS_CHECKS)
def test_a_scan_that_did_not_complete_is_an_error(check: str) -> None:
    for status, reason in [
        (ScanStatus.TIMED_OUT, "The port scan was stopped after 30 s (time budget)."),
        (ScanStatus.DNS_FAILURE, "The host name h.ports.test does not resolve."),
        (ScanStatus.FAILED, "nmap is not installed"),
    ]:
        facts = host(status=status, reason=reason)
        got, detail, _ = judge(check, facts)
        assert got is Status.ERROR and reason in detail


@pytest.mark.parametrize("check", PORTS_CHECKS)
def test_a_host_where_nothing_answered_is_an_error_not_a_pass(check: str) -> None:
    facts = host(closed=0, filtered=1000)
    status, detail, _ = judge(check, facts)
    assert status is Status.ERROR and "all 1000 filtered" in detail


def test_service_detection_that_did_not_finish() -> None:
    facts = fx.recorded("sv_timeout")  # an HTTP port and a silent port, both unnamed
    web, silent = fx.cases("sv_timeout")["web"], fx.cases("sv_timeout")["silent"]
    # what is open does not depend on service detection
    assert judge("ports.unexpected_open", facts, (web, silent))[0] is Status.PASS
    assert judge("ports.unexpected_open", facts, (web,))[0] is Status.FAIL
    # the risk checks saw nothing, but could not look properly: error, never pass
    for check in ("ports.cleartext_service", "ports.database_exposed", "ports.version_disclosure"):
        status, detail, _ = judge(check, facts, (web, silent))
        assert status is Status.ERROR and "host-timeout" in detail, check
    # a finding stands even when detection was cut short
    partial = dataclasses.replace(facts, ports=(*facts.ports, guessed(23, "telnet")))
    verdict = CHECKS["ports.cleartext_service"].evaluate(partial, ())
    assert verdict.status is Status.FAIL and verdict.evidence["incomplete"]


def test_udp_scan_that_did_not_finish_is_a_gap() -> None:
    facts = host(probed(443, "http", tunnel="ssl"), udp=True, udp_status=ScanStatus.TIMED_OUT, udp_reason="Slow.")
    assert judge("ports.cleartext_service", facts)[0] is Status.ERROR
    assert judge("ports.unexpected_open", facts)[0] is Status.ERROR


def test_snmp_over_udp() -> None:
    facts = fx.recorded("snmp")
    web = fx.cases("snmp")["web"]
    status, detail, _ = judge("ports.cleartext_service", facts, (web,))
    assert status is Status.FAIL and "SNMP on 161/udp" in detail and "community string" in detail
    status, detail, _ = judge("ports.unexpected_open", facts, (web,))
    assert status is Status.FAIL and "161/udp" in detail
    assert judge("ports.unexpected_open", facts, (web, 161))[0] is Status.PASS
    evidence = CHECKS["ports.cleartext_service"].evaluate(facts, (web,)).evidence
    assert evidence["scanned"].endswith("+ udp 161")


def test_udp_open_filtered_is_not_open() -> None:
    unanswered = PortFacts(161, proto="udp", state="open|filtered", service="snmp", method="table")
    facts = host(probed(443, "http", tunnel="ssl"), unanswered, udp=True, udp_status=ScanStatus.COMPLETE)
    assert judge("ports.cleartext_service", facts)[0] is Status.PASS
    assert judge("ports.unexpected_open", facts)[0] is Status.PASS


def test_every_check_explains_and_remediates() -> None:
    for check in CHECKS.values():
        assert check.family == "ports"
        for word in ("nft", "iptables") if check.id != "ports.version_disclosure" else ("server_tokens",):
            assert word in check.remediation, (check.id, word)
    assert "New-NetFirewallRule" in CHECKS["ports.database_exposed"].remediation
    assert "requirepass" in CHECKS["ports.database_exposed"].remediation
    assert "VPN" in CHECKS["ports.remote_admin_exposed"].remediation
    assert "SFTP" in CHECKS["ports.cleartext_service"].remediation
    assert "SNMPv3" in CHECKS["ports.cleartext_service"].remediation


def test_detection_not_needed_when_nothing_is_open() -> None:
    facts = fx.recorded("closed")
    assert facts.detection is Detection.NOT_NEEDED
    for check in PORTS_CHECKS:
        assert judge(check, facts)[0] is Status.PASS
