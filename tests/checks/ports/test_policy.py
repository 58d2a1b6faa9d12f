"""The ports policy: what runs on a port (detection, signatures, port number) and what makes it risky."""

from __future__ import annotations

import pytest

from checks.ports.facts import PortFacts, Response
from checks.ports.policy import (
    KINDS,
    Basis,
    Risk,
    classify,
    cleartext_finding,
    database_auth,
    disclosed_version,
    kind,
    signature,
)
from tests.checks.ports import fixtures as fx
from tests.checks.ports.fixtures import guessed, probed


@pytest.mark.parametrize(
    ("case", "key", "basis"),
    [
        ("telnet", "telnet", Basis.DETECTED),
        ("ftp", "ftp", Basis.DETECTED),
        ("ssh", "ssh", Basis.DETECTED),
        ("mysql", "mysql", Basis.DETECTED),  # a greeting on a random high port: still MySQL
        ("smtp_plain", "smtp", Basis.DETECTED),
        ("redis_noauth", "redis", Basis.SIGNATURE),  # nmap cannot name it; its -NOAUTH answer can
        ("redis_open", "redis", Basis.SIGNATURE),
        ("web", None, Basis.DETECTED),  # a web server is nothing risky in itself
    ],
)
def test_fleet_ports_are_recognised_from_what_they_answer(case: str, key: str | None, basis: Basis) -> None:
    item = classify(fx.case_port(case))
    assert (item.kind.key if item.kind else None, item.basis) == (key, basis)


def test_detection_beats_the_port_number() -> None:
    assert classify(probed(3306, "http", "nginx")).kind is None  # a web server on 3306 is not MySQL
    assert classify(probed(8443, "mysql", "MySQL", "8.0.36")).kind == kind("mysql")
    assert classify(probed(22, "http", "Apache httpd")).kind is None


def test_port_number_is_the_fallback_and_says_so() -> None:
    for number, key in [(23, "telnet"), (3389, "rdp"), (6379, "redis"), (27017, "mongodb"), (2375, "docker")]:
        item = classify(guessed(number, "whatever"))
        assert item.kind == kind(key) and item.basis is Basis.PORT and item.guessed
    assert classify(guessed(161, proto="udp")).kind == kind("snmp")
    assert classify(guessed(161, proto="tcp")).kind is None
    assert classify(guessed(8080, "http-proxy")).kind is None
    # nmap probed but could not name it: the port number is all there is
    assert classify(PortFacts(5432, service="tcpwrapped", method="probed")).kind == kind("postgresql")


def test_products_identify_services_behind_generic_names() -> None:
    assert classify(probed(9200, "http", "Elasticsearch REST API", "7.17.0")).kind == kind("elasticsearch")
    assert classify(probed(9201, "http", "Elasticsearch REST API")).kind == kind("elasticsearch")
    assert classify(probed(5984, "http", "CouchDB httpd", "3.3.2")).kind == kind("couchdb")
    assert classify(probed(10000, "http", "MiniServ", "1.890")).kind == kind("webmin")
    assert classify(probed(5985, "http", "Microsoft HTTPAPI httpd", "2.0")).kind == kind("winrm")
    assert classify(probed(80, "http", "Microsoft HTTPAPI httpd", "2.0")).kind is None  # IIS kernel driver
    assert classify(probed(2375, "docker", "Docker remote API", "24.0.7")).kind == kind("docker")
    assert classify(probed(5000, "http", "Docker Registry", "2.0")).kind is None  # not the Engine API
    assert classify(probed(9443, "http", "Portainer Docker UI", tunnel="ssl")).kind == kind("portainer")
    assert classify(probed(2087, "http", "cPanel Web Host Manager httpd")).kind == kind("cpanel")
    assert classify(probed(143, "imap", "cPanel Courier imapd")).kind == kind("imap")
    assert classify(probed(5601, "http", "Elasticsearch Kibana")).kind is None


def test_application_server_consoles_only_on_their_admin_ports() -> None:
    assert classify(probed(8080, "http", "Apache Tomcat", "9.0.31")).kind == kind("appserver")
    assert classify(probed(9990, "http", "WildFly")).kind == kind("appserver")
    assert classify(probed(443, "http", "Apache Tomcat", "9.0.31", tunnel="ssl")).kind is None
    assert classify(probed(8009, "ajp13", "Apache Jserv")).kind == kind("ajp")
    assert classify(probed(8081, "http", "Jetty", extrainfo="Jenkins")).kind is None
    assert classify(probed(8081, "http", "Jenkins", "2.401")).kind == kind("jenkins")


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (b"-NOAUTH Authentication required.\r\n", "redis"),
        (b"+PONG\r\n", "redis"),
        (b"-DENIED Redis is running in protected mode\r\n", "redis"),
        (b"SSH-2.0-dropbear_2020.81\r\n", "ssh"),
        (b"RFB 003.008\n", "vnc"),
        (b"220 ftp.example FTP server ready\r\n", "ftp"),
        (b"+OK Dovecot ready.\r\n", "pop3"),
        (b"* OK [CAPABILITY IMAP4rev1] ready\r\n", "imap"),
        (b"HTTP/1.1 400 Bad Request\r\n", None),
    ],
)
def test_signatures(data: bytes, key: str | None) -> None:
    assert signature(PortFacts(40000, banner=data)) == key
    assert signature(PortFacts(40000, responses=(Response("GetRequest", data),))) == key


def test_every_kind_is_coherent() -> None:
    keys = [k.key for k in KINDS]
    assert len(keys) == len(set(keys))
    for item in KINDS:
        assert item.risks, item.key
        assert item.names or item.products, item.key
        assert all(p == p.lower() for p in item.products), item.key


# -- cleartext ---------------------------------------------------------------------------------------


def _cleartext(port: PortFacts) -> str | None:
    finding = cleartext_finding(classify(port))
    if finding is None:
        return None
    return str(finding.note) if finding.certain else f"uncertain: {finding.note}"


def test_cleartext_protocols() -> None:
    assert _cleartext(fx.case_port("telnet")) == "no TLS"
    assert _cleartext(fx.case_port("ftp")) == "no TLS"
    assert _cleartext(probed(21, "ftp", "vsftpd", tunnel="ssl")) is None  # implicit FTPS
    assert _cleartext(probed(5900, "vnc", "VNC")) == "no TLS"
    assert _cleartext(probed(5901, "vnc", "VNC", tunnel="ssl")) is None
    assert _cleartext(probed(513, "login")) == "no TLS"
    assert _cleartext(fx.case_port("ssh")) is None
    assert _cleartext(fx.case_port("web")) is None


def test_mail_is_cleartext_only_without_starttls() -> None:
    assert _cleartext(fx.case_port("smtp_starttls")) is None
    assert _cleartext(fx.case_port("smtp_plain")) == "no STARTTLS offered"
    assert (
        _cleartext(probed(143, "imap", "Dovecot imapd", scripts=(("imap-capabilities", "IMAP4rev1 STARTTLS"),))) is None
    )
    assert _cleartext(probed(110, "pop3", "Dovecot pop3d", scripts=(("pop3-capabilities", "USER TOP UIDL"),))) == (
        "no STLS offered"
    )
    assert _cleartext(probed(110, "pop3", "Dovecot pop3d", scripts=(("pop3-capabilities", "STLS USER"),))) is None
    assert _cleartext(probed(993, "imap", "Dovecot imapd", tunnel="ssl")) is None  # IMAPS
    assert _cleartext(probed(25, "smtp", "Postfix smtpd")) == "uncertain: STARTTLS could not be confirmed"


def test_snmp_v1_is_cleartext_and_v3_is_not() -> None:
    v1 = fx.port_of(fx.recorded("snmp"), 161, "udp")
    assert _cleartext(v1) == "SNMP v1/v2c sends its community string in the clear"
    v3 = PortFacts(161, proto="udp", service="snmp", method="probed", product="SNMPv3 server")
    assert _cleartext(v3) is None


def test_admin_consoles_over_plain_http_are_cleartext() -> None:
    assert _cleartext(probed(10000, "http", "MiniServ", "1.890")) == "administration console over plain HTTP"
    assert _cleartext(probed(10000, "http", "MiniServ", "1.890", tunnel="ssl")) is None
    assert _cleartext(probed(2375, "docker", "Docker")) == "administration console over plain HTTP"


def test_database_authentication() -> None:
    assert database_auth(classify(fx.case_port("redis_noauth"))) == "required"
    assert database_auth(classify(fx.case_port("redis_open"))) == "none"
    assert database_auth(classify(fx.case_port("mysql"))) == "required"
    assert database_auth(classify(probed(6379, "redis", "Redis key-value store", "7.2.4"))) == "none"
    assert database_auth(classify(probed(11211, "memcached", "Memcached", "1.6.21"))) == "none"
    assert database_auth(classify(probed(9200, "http", "Elasticsearch REST API", "7.17.0"))) == "none"
    assert database_auth(classify(guessed(27017, "mongod"))) == "unknown"
    assert all(Risk.DATABASE in kind(k).risks for k in ("redis", "mongodb", "elasticsearch", "memcached"))


# -- version disclosure ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("banner", "version"),
    [
        (b"SSH-2.0-OpenSSH_7.4\r\n", "OpenSSH 7.4"),
        (b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\r\n", "OpenSSH 8.9p1"),
        (b"220 ProFTPD 1.3.5 Server (Debian) [::ffff:10.0.0.1]\r\n", "ProFTPD 1.3.5"),
        (b"220 (vsFTPd 3.0.3)\r\n", "vsFTPd 3.0.3"),
        (b"220 mail.example ESMTP Exim 4.96 Sat, 21 Nov 2026\r\n", "Exim 4.96"),
        (b"220 mail.ports.test ESMTP Postfix\r\n", None),
        (b"SSH-2.0-dropbear\r\n", None),
        (b"RFB 003.008\n", None),
        (b"HTTP/1.1 200 OK\r\n", None),
        (b"\xff\xfd\x18\xff\xfd \xff\xfd#", None),
    ],
)
def test_versions_in_banners(banner: bytes, version: str | None) -> None:
    assert disclosed_version(PortFacts(40000, banner=banner)) == version


def test_versions_from_service_detection() -> None:
    assert disclosed_version(fx.case_port("ftp")) == "ProFTPD 1.3.5"
    assert disclosed_version(fx.case_port("mysql")) == "MySQL 5.7.33-log"
    assert disclosed_version(fx.case_port("web")) is None  # "nginx" without a version
    assert disclosed_version(fx.case_port("telnet")) is None
    assert disclosed_version(fx.recorded("tls").open_ports[0]) == "Apache httpd 2.4.29"
