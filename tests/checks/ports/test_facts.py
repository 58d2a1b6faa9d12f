"""From recorded nmap XML to PortScanFacts: what python-nmap gives, what we add, and how runs fail."""

from __future__ import annotations

import dataclasses
import json

import pytest

from checks.ports.facts import (
    Detection,
    NmapOutputError,
    NmapRun,
    RawScan,
    ScanStatus,
    describe_spec,
    facts_from_raw,
    parse_nmap_xml,
    parse_servicefp,
    printable,
)
from tests.checks.ports import fixtures as fx


def test_fleet_services_are_identified_from_their_answers() -> None:
    facts = fx.recorded("fleet")
    assert facts.status is ScanStatus.COMPLETE and facts.detection is Detection.COMPLETE
    assert facts.nmap_version and facts.host == "fleet.ports.test" and facts.address == "127.0.0.1"
    assert len(facts.open_ports) == len(fx.cases("fleet"))
    expect = {
        "ssh": ("ssh", "OpenSSH", "7.4"),
        "ftp": ("ftp", "ProFTPD", "1.3.5"),
        "mysql": ("mysql", "MySQL", "5.7.33-log"),
        "telnet": ("telnet", "Openwall GNU/*/Linux telnetd", ""),
        "web": ("http", "nginx", ""),
        "smtp_plain": ("smtp", "Postfix smtpd", ""),
    }
    for case, (service, product, version) in expect.items():
        port = fx.case_port(case)
        assert (port.service, port.product, port.version, port.method) == (service, product, version, "probed"), case
        assert port.identified and port.state == "open" and port.proto == "tcp"


def test_what_python_nmap_drops_is_read_from_the_xml() -> None:
    # CPEs, NSE script output, and the raw answers of a service nmap could not name.
    assert fx.case_port("ssh").cpe == ("cpe:/a:openbsd:openssh:7.4",)
    assert "STARTTLS" in (fx.case_port("smtp_starttls").script("smtp-commands") or "")
    assert "STARTTLS" not in (fx.case_port("smtp_plain").script("smtp-commands") or "")
    redis = fx.case_port("redis_noauth")
    assert not redis.identified and redis.service == "unknown" and redis.method == "table"
    assert {r.probe for r in redis.responses} >= {"GenericLines", "GetRequest"}
    assert all(r.data == b"-NOAUTH Authentication required.\r\n" for r in redis.responses)
    assert fx.case_port("redis_open").responses[0].data == b"+PONG\r\n"


def test_tls_tunnel_is_kept() -> None:
    facts = fx.recorded("tls")
    (port,) = facts.open_ports
    assert (port.service, port.tunnel, port.product, port.version) == ("http", "ssl", "Apache httpd", "2.4.29")


def test_banners_are_what_the_service_sent_first() -> None:
    assert fx.case_port("ssh").banner == b"SSH-2.0-OpenSSH_7.4\r\n"
    assert fx.case_port("ftp").banner.startswith(b"220 ProFTPD 1.3.5 Server")
    assert fx.case_port("mysql").banner[4:5] == b"\x0a"  # protocol version 10
    assert fx.case_port("telnet").banner.startswith(b"\xff\xfd\x18")
    assert fx.case_port("web").banner == b""  # HTTP waits for the client
    assert fx.case_port("telnet").banner_text.startswith("\\xff\\xfd\\x18")


def test_udp_snmp() -> None:
    facts = fx.recorded("snmp")
    assert facts.udp and facts.udp_status is ScanStatus.COMPLETE
    snmp = fx.port_of(facts, 161, "udp")
    assert (snmp.service, snmp.product, snmp.extrainfo, snmp.state) == ("snmp", "SNMPv1 server", "public", "open")
    assert snmp in facts.open_ports


def test_closed_port_means_the_host_answered() -> None:
    facts = fx.recorded("closed")
    assert facts.status is ScanStatus.COMPLETE and facts.detection is Detection.NOT_NEEDED
    assert facts.open_ports == () and facts.closed == 1 and facts.answered


def test_service_detection_timeout_keeps_the_discovered_ports() -> None:
    facts = fx.recorded("sv_timeout")
    assert facts.status is ScanStatus.COMPLETE
    assert facts.detection is Detection.TIMED_OUT and "host-timeout" in str(facts.detection_reason)
    assert sorted(p.port for p in facts.open_ports) == sorted(fx.cases("sv_timeout").values())
    assert all(p.service == "" and not p.identified for p in facts.open_ports)


def test_nmap_host_timeout_in_discovery_is_a_timeout() -> None:
    sv_xml = fx.raw("sv_timeout").services
    assert sv_xml is not None and 'timedout="true"' in sv_xml.xml
    raw = dataclasses.replace(fx.raw("sv_timeout"), discovery=sv_xml, services=None)
    facts = facts_from_raw(raw)
    assert facts.status is ScanStatus.TIMED_OUT and "host-timeout" in str(facts.reason) and facts.ports == ()


def test_killed_run_is_a_timeout() -> None:
    killed = NmapRun(args=("-sT",), xml="<?xml version", returncode=None, elapsed=30.2, killed=True)
    facts = facts_from_raw(dataclasses.replace(fx.raw("closed"), discovery=killed))
    assert facts.status is ScanStatus.TIMED_OUT and "stopped after 30 s" in str(facts.reason)


@pytest.mark.parametrize(
    ("xml", "stderr", "returncode", "reason"),
    [
        ("", "QUITTING!", 1, "QUITTING"),
        ("<nmaprun><runstats><finished", "", 0, "no usable XML"),
        ("not xml at all", "", 0, "no usable XML"),
    ],
)
def test_nmap_failures_are_facts(xml: str, stderr: str, returncode: int, reason: str) -> None:
    run = NmapRun(args=("-sT",), xml=xml, stderr=stderr, returncode=returncode)
    facts = facts_from_raw(dataclasses.replace(fx.raw("closed"), discovery=run))
    assert facts.status is ScanStatus.FAILED and reason in str(facts.reason)


def test_nmap_exit_error_in_xml() -> None:
    xml = fx.raw("closed").discovery.xml.replace('exit="success"', 'exit="error" errormsg="Failed to open device"')
    facts = facts_from_raw(
        dataclasses.replace(fx.raw("closed"), discovery=dataclasses.replace(fx.raw("closed").discovery, xml=xml))
    )
    assert facts.status is ScanStatus.FAILED and "Failed to open device" in str(facts.reason)


def test_service_detection_that_did_not_run() -> None:
    raw = dataclasses.replace(fx.raw("fleet"), services=None, detection_skipped="only 1 s was left")
    facts = facts_from_raw(raw)
    assert facts.detection is Detection.SKIPPED and facts.detection_reason == "Only 1 s was left."
    # the discovery's own guesses remain, and the banners still come along
    assert fx.port_of(facts, fx.cases("fleet")["ssh"]).banner.startswith(b"SSH-2.0")


def test_parse_rejects_garbage() -> None:
    with pytest.raises(NmapOutputError):
        parse_nmap_xml("<nmaprun")


def test_raw_scan_round_trips_through_json() -> None:
    raw = fx.raw("fleet")
    again = RawScan.from_json(json.loads(json.dumps(raw.to_json())))
    assert again == raw


def test_servicefp_decoding() -> None:
    fp = (
        'SF-Port6379-TCP:V=7.93%I=2%D=11/21%Time=6B02069E%P=x86_64-pc-linux-gnu%r(GenericLines,22,"-NOAUTH\\x20'
        'Authentication\\x20required\\.\\r\\n")%r(GetRequest,4,"\\0\\xff\\\\\\"")\nSF:%r(Help,2,"ok");'
    )
    responses = parse_servicefp(fp)
    assert [r.probe for r in responses] == ["GenericLines", "GetRequest", "Help"]
    assert responses[0].data == b"-NOAUTH Authentication required.\r\n"
    assert responses[1].data == b'\x00\xff\\"'


def test_helpers() -> None:
    assert describe_spec((443, 21, 22, 23, 80, 8080, 8081)) == "21-23,80,443,8080-8081"
    assert describe_spec("top-1000") == "top-1000"
    assert printable(b"SSH-2.0\r\n\x00\\") == "SSH-2.0\\r\\n\\x00\\\\"
    assert len(printable(b"a" * 500)) == 160
