"""The demo fleet's DNS server and mail host, spoken to as a scanner would: dnspython, smtplib,
imaplib and sslyze's STARTTLS, on loopback; and the demo without its mail host when the standard
mail ports cannot be bound."""

from __future__ import annotations

import base64
import imaplib
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key
from sslyze import (
    CertificateInfoExtraArgument,
    ProtocolWithOpportunisticTlsEnum,
    ScanCommand,
    ScanCommandAttemptStatusEnum,
    ScanCommandsExtraArguments,
    Scanner,
    ServerConnectivityStatusEnum,
    ServerNetworkConfiguration,
    ServerNetworkLocation,
    ServerScanRequest,
)

from scanner.demo.dns_server import DnsServer
from scanner.demo.fleet import DNS_SERVER, WEBMAIL_ADDRESS, DemoFleet
from scanner.demo.mail_server import MAX_LINE, BindError, ImapService, MailServer, MailServerConfig, SmtpService
from scanner.demo.pki import LeafSpec, Pki
from scanner.demo.tls_server import TlsServerConfig
from scanner.dns import stub_resolver

MX = "mx.nghean.example"
MAIL_ADDRESS = "127.0.0.25"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoFleet]:
    with DemoFleet(tmp_path_factory.mktemp("demo")) as running:
        assert running.mail_unavailable is None, f"the tests run as root: {running.mail_unavailable}"
        yield running


def ask(fleet: DemoFleet, name: str, rdtype: str, *, tcp: bool = False, edns: bool = True) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, use_edns=0 if edns else False)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, "127.0.0.1", port=fleet.ports[DNS_SERVER], timeout=3)


def texts(response: dns.message.Message) -> list[str]:
    return [b"".join(rdata.strings).decode() for rrset in response.answer for rdata in rrset]


def demo_ca(fleet: DemoFleet) -> ssl.SSLContext:
    """Verifies the demo CA's certificates and the host name, as a careful mail client does."""
    return ssl.create_default_context(cafile=str(fleet.ca_bundle))


class DemoSmtp(smtplib.SMTP):
    """smtplib to the demo mail host by name (for STARTTLS's host-name check), dialled at its address."""

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection((MAIL_ADDRESS, port), timeout)


class DemoImap(imaplib.IMAP4):
    def _create_socket(self, timeout: float | None) -> socket.socket:
        return socket.create_connection((MAIL_ADDRESS, self.port), timeout)


# -- DNS ---------------------------------------------------------------------------------------


def test_the_targets_file_sends_every_lookup_to_the_demo_dns_server(fleet: DemoFleet) -> None:
    doc = tomllib.loads(fleet.targets_path.read_text(encoding="utf-8"))
    assert doc["scan"]["dns_servers"] == [fleet.dns_server] == [f"127.0.0.1:{fleet.ports[DNS_SERVER]}"]
    (mail,) = [p for p in doc["platforms"] if p["id"] == "mail"]
    assert mail["hosts"] == [MX]
    assert mail["mail"] == {"domains": ["nghean.example"], "dkim_selectors": ["default"]}
    port = fleet.ports["mail"]
    assert mail["urls"] == [f"https://mail.nghean.example:{port}/"]
    assert mail["ports"] == mail["allowed_ports"] == [port], "its port scan stays on its own port"
    # The resolver every family builds from the targets file finds the demo's names, the same as resolve.
    resolver = stub_resolver(doc["scan"]["dns_servers"], 3)
    assert [r.address for r in resolver.resolve(MX, "A")] == [MAIL_ADDRESS]
    for platform in doc["platforms"]:
        ((host, address),) = platform["resolve"].items()
        # The webmail is not on 127.0.0.1, where the machine's own mail server may listen.
        expected = WEBMAIL_ADDRESS if platform["id"] == "mail" else "127.0.0.1"
        assert [r.address for r in resolver.resolve(host, "A")] == [address] == [expected]


def test_dns_publishes_the_mail_domains_records_with_the_authority_flag(fleet: DemoFleet) -> None:
    mx = ask(fleet, "nghean.example", "MX")
    assert mx.rcode() == dns.rcode.NOERROR and mx.flags & dns.flags.AA and not mx.flags & dns.flags.RA
    assert [(r.preference, r.exchange.to_text()) for rrset in mx.answer for r in rrset] == [(10, f"{MX}.")]
    assert [r.address for rrset in mx.additional for r in rrset] == [MAIL_ADDRESS], "the MX's address as glue"
    assert texts(ask(fleet, "nghean.example", "TXT")) == ["v=spf1 mx -all"]
    assert texts(ask(fleet, "_dmarc.nghean.example", "TXT")) == [
        "v=DMARC1; p=none; rua=mailto:dmarc-reports@nghean.example"
    ], "the demo flaw"
    assert texts(ask(fleet, "_smtp._tls.nghean.example", "TXT")) == [
        "v=TLSRPTv1; rua=mailto:tls-reports@nghean.example"
    ]
    caa = ask(fleet, "nghean.example", "CAA")
    assert [r.to_text() for rrset in caa.answer for r in rrset] == ['0 issue "pki.nghean.example"']

    dkim = ask(fleet, "default._domainkey.nghean.example", "TXT")
    (rdata,) = [r for rrset in dkim.answer for r in rrset]
    assert len(rdata.strings) == 2 and all(len(s) <= 255 for s in rdata.strings), "split into 255-byte strings"
    tags = dict(tag.strip().split("=", 1) for tag in texts(dkim)[0].split(";"))
    assert (tags["v"], tags["k"]) == ("DKIM1", "rsa")
    key = load_der_public_key(base64.b64decode(tags["p"]))
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048


def test_dns_says_no_as_an_authoritative_server_does(fleet: DemoFleet) -> None:
    def soa_only(response: dns.message.Message) -> bool:
        (rrset,) = response.authority
        return not response.answer and rrset.rdtype == dns.rdatatype.SOA and rrset.ttl == 300

    missing = ask(fleet, "nothing-here.nghean.example", "A")
    assert missing.rcode() == dns.rcode.NXDOMAIN and missing.flags & dns.flags.AA and soa_only(missing)
    nodata = ask(fleet, "dvc.nghean.example", "AAAA")
    assert nodata.rcode() == dns.rcode.NOERROR and nodata.flags & dns.flags.AA and soa_only(nodata)
    # _domainkey holds no record but names below it exist: NOERROR, as RFC 8020 has resolvers expect.
    ent = ask(fleet, "_domainkey.nghean.example", "TXT")
    assert ent.rcode() == dns.rcode.NOERROR and soa_only(ent)
    other = ask(fleet, "example.com", "A")
    assert other.rcode() == dns.rcode.REFUSED and not other.flags & dns.flags.AA and not other.answer
    transfer = ask(fleet, "nghean.example", "AXFR", tcp=True)
    assert transfer.rcode() == dns.rcode.REFUSED and not transfer.answer
    # The case the client asked in comes back (resolvers randomise it against spoofing).
    mixed = ask(fleet, "Mx.NgHeAn.Example", "A")
    assert [rrset.name.to_text() for rrset in mixed.answer] == ["Mx.NgHeAn.Example."]


def test_dns_answers_over_tcp_as_over_udp(fleet: DemoFleet) -> None:
    for name, rdtype in (
        ("nghean.example", "MX"),
        ("default._domainkey.nghean.example", "TXT"),
        ("x.nghean.example", "A"),
    ):
        udp, tcp = ask(fleet, name, rdtype), ask(fleet, name, rdtype, tcp=True)
        assert (tcp.rcode(), tcp.answer, tcp.authority) == (udp.rcode(), udp.answer, udp.authority)
    with socket.create_connection(("127.0.0.1", fleet.ports[DNS_SERVER]), timeout=3) as sock:
        for _ in range(2):  # several queries on one connection (RFC 7766)
            dns.query.send_tcp(sock, dns.message.make_query("mx.nghean.example", "A"))
            reply, _ = dns.query.receive_tcp(sock)
            assert [r.address for rrset in reply.answer for r in rrset] == [MAIL_ADDRESS]


def test_an_answer_too_big_for_udp_is_truncated_and_complete_over_tcp() -> None:
    text = "\n".join(
        ["@ 3600 IN SOA ns hostmaster 1 3600 600 86400 300", "@ 3600 IN NS ns", "ns 3600 IN A 127.0.0.1"]
        + [f'big 3600 IN TXT "{n:03d} {"x" * 60}"' for n in range(40)]
    )
    zone = dns.zone.from_text(text, origin="big.test.", relativize=False)
    with DnsServer(zone) as server:
        query = dns.message.make_query("big.big.test", "TXT", use_edns=False)
        udp = dns.query.udp(query, "127.0.0.1", port=server.port, timeout=3)
        assert udp.flags & dns.flags.TC and not udp.answer and len(udp.to_wire()) <= 512
        reply, used_tcp = dns.query.udp_with_fallback(query, "127.0.0.1", port=server.port, timeout=3)
        assert used_tcp and sum(len(rrset) for rrset in reply.answer) == 40


def test_the_dns_server_keeps_its_port_from_run_to_run(tmp_path: Path) -> None:
    with DemoFleet(tmp_path / "one") as first:
        port = first.ports[DNS_SERVER]
    with DemoFleet(tmp_path / "two", ports={DNS_SERVER: port}) as second:
        assert second.ports[DNS_SERVER] == port and second.dns_server == f"127.0.0.1:{port}"
        assert second.moved == (), "not a platform: its move would change no endpoint"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
            busy.bind(("127.0.0.1", 0))  # taken for UDP only: the server needs both
            with DemoFleet(tmp_path / "three", ports={DNS_SERVER: busy.getsockname()[1]}) as third:
                assert third.ports[DNS_SERVER] != busy.getsockname()[1]
                assert ask(third, "mx.nghean.example", "A").answer


# -- SMTP and IMAP -------------------------------------------------------------------------------


def test_the_mx_offers_starttls_with_a_certificate_of_the_demo_ca(fleet: DemoFleet) -> None:
    with DemoSmtp(MX, 25, timeout=5) as smtp:
        assert smtp.ehlo("scanner.test")[0] == 250
        assert smtp.has_extn("starttls") and not smtp.has_extn("auth"), "an MX takes no passwords"
        assert smtp.starttls(context=demo_ca(fleet))[0] == 220  # chain and host name verified
        assert isinstance(smtp.sock, ssl.SSLSocket) and smtp.sock.version() in ("TLSv1.2", "TLSv1.3")
        leaf = x509.load_der_x509_certificate(smtp.sock.getpeercert(binary_form=True) or b"")
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == [MX]
        smtp.ehlo("scanner.test")
        assert not smtp.has_extn("starttls"), "not offered again inside TLS"
        assert smtp.noop()[0] == smtp.rset()[0] == 250
        assert smtp.docmd("MAIL", "FROM:<a@scanner.test>")[0] == 502, "it accepts no mail"
        assert smtp.docmd("VRFY", "postmaster")[0] == 502
        assert smtp.docmd("STARTTLS")[0] == 503


def test_submission_offers_auth_before_starttls_the_demo_flaw(fleet: DemoFleet) -> None:
    with DemoSmtp(MX, 587, timeout=5) as smtp:
        smtp.ehlo("scanner.test")
        assert smtp.has_extn("starttls") and smtp.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"], (
            "AUTH before TLS"
        )
        smtp.starttls(context=demo_ca(fleet))
        smtp.ehlo("scanner.test")
        assert smtp.has_extn("auth")
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            smtp.login("officer@nghean.example", "secret")
        assert refused.value.smtp_code == 535, "the demo has no accounts"


def test_what_is_pipelined_behind_starttls_is_dropped(fleet: DemoFleet) -> None:
    """CVE-2011-0411: a NOOP injected in cleartext after STARTTLS must not be answered inside TLS."""
    with socket.create_connection((MAIL_ADDRESS, 25), timeout=5) as raw:
        reader = raw.makefile("rb")
        assert reader.readline().startswith(b"220 ")
        raw.sendall(b"EHLO scanner.test\r\n")
        while not reader.readline().startswith(b"250 "):
            pass
        raw.sendall(b"STARTTLS\r\nNOOP\r\n")
        assert reader.readline().startswith(b"220 ")
        with demo_ca(fleet).wrap_socket(raw, server_hostname=MX) as tls:
            tls.sendall(b"EHLO scanner.test\r\n")
            assert tls.recv(4096).startswith(f"250-{MX} Hello scanner.test\r\n".encode())


def test_a_line_longer_than_the_limit_ends_the_session(fleet: DemoFleet) -> None:
    with socket.create_connection((MAIL_ADDRESS, 25), timeout=5) as raw:
        reader = raw.makefile("rb")
        reader.readline()
        raw.sendall(b"NOOP " + b"x" * MAX_LINE + b"\r\n")
        assert reader.readline() == b"500 5.5.2 Line too long\r\n"
        assert reader.readline() == b"", "closed"


def test_imap_refuses_login_until_starttls(fleet: DemoFleet) -> None:
    imap = DemoImap(MX, 143, timeout=5)
    try:
        assert {"IMAP4REV1", "STARTTLS", "LOGINDISABLED"} <= set(imap.capabilities)
        with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
            imap.login("officer", "secret")
        assert imap.starttls(ssl_context=demo_ca(fleet))[0] == "OK"
        assert "STARTTLS" not in imap.capabilities and "LOGINDISABLED" not in imap.capabilities
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            imap.login("officer", "secret")
        assert imap.noop()[0] == "OK"
    finally:
        assert imap.logout()[0] == "BYE"


@pytest.mark.parametrize(
    ("port", "protocol"),
    [
        (25, ProtocolWithOpportunisticTlsEnum.SMTP),
        (587, ProtocolWithOpportunisticTlsEnum.SMTP),
        (143, ProtocolWithOpportunisticTlsEnum.IMAP),
    ],
)
def test_sslyze_completes_starttls_and_validates_the_chain(
    fleet: DemoFleet, port: int, protocol: ProtocolWithOpportunisticTlsEnum
) -> None:
    request = ServerScanRequest(
        server_location=ServerNetworkLocation(MX, port, ip_address=MAIL_ADDRESS),
        network_configuration=ServerNetworkConfiguration(MX, tls_opportunistic_encryption=protocol),
        scan_commands={ScanCommand.CERTIFICATE_INFO, ScanCommand.TLS_1_0_CIPHER_SUITES},
        scan_commands_extra_arguments=ScanCommandsExtraArguments(
            certificate_info=CertificateInfoExtraArgument(custom_ca_file=fleet.ca_bundle)
        ),
    )
    scanner = Scanner()
    scanner.queue_scans([request])
    (result,) = scanner.get_results()
    assert result.connectivity_status is ServerConnectivityStatusEnum.COMPLETED, result.connectivity_error_trace
    assert result.scan_result is not None
    info = result.scan_result.certificate_info
    assert info.status is ScanCommandAttemptStatusEnum.COMPLETED and info.result is not None
    (deployment,) = info.result.certificate_deployments
    assert deployment.verified_certificate_chain is not None, "trusted through the demo CA"
    assert len(deployment.received_certificate_chain) == 2, "leaf and intermediate"
    legacy = result.scan_result.tls_1_0_cipher_suites.result
    assert legacy is not None and legacy.accepted_cipher_suites == [], "TLS 1.2 and up only"


# -- without the mail host ----------------------------------------------------------------------


def test_a_second_demo_runs_without_a_mail_host_while_the_first_holds_the_mail_ports(
    fleet: DemoFleet, tmp_path: Path
) -> None:
    with DemoFleet(tmp_path) as second:
        assert second.mail_unavailable == (
            "the demo mail servers were not started (cannot listen on 127.0.0.25:25: Address already in use): "
            "the mail platform's mail checks report what they find on its mail ports"
        )
        assert len(second.platforms) == 6 and second.ports[DNS_SERVER] != fleet.ports[DNS_SERVER]
        doc = tomllib.loads(second.targets_path.read_text(encoding="utf-8"))
        (mail,) = [p for p in doc["platforms"] if p["id"] == "mail"]
        assert mail["hosts"] == [MX] and mail["mail"]["domains"] == ["nghean.example"]
        assert [r.address for rrset in ask(second, MX, "A").answer for r in rrset] == [MAIL_ADDRESS]
    with DemoSmtp(MX, 25, timeout=5) as smtp:
        assert smtp.ehlo("scanner.test")[0] == 250, "the first demo's mail host is untouched"


def test_a_mail_server_that_cannot_bind_a_port_lets_go_of_the_others(tmp_path: Path) -> None:
    pki = Pki.create(tmp_path)
    leaf = pki.issue("mx", LeafSpec(hosts=("mx.other.test",)))
    tls = TlsServerConfig(cert_chain=pki.write_chain(leaf), key=leaf.key_path)
    config = MailServerConfig("127.0.0.26", "mx.other.test", tls, (SmtpService(25), SmtpService(587), ImapService()))
    with socket.socket() as busy:
        busy.bind(("127.0.0.26", 587))
        busy.listen()
        with pytest.raises(BindError) as failed:
            MailServer(config).start()
    assert (failed.value.port, failed.value.needs_root) == (587, False)
    with MailServer(config) as server:  # every port can be bound again: 25, bound first, was let go
        assert server.ports == (25, 587, 143)
        with socket.create_connection(("127.0.0.26", 25), timeout=5) as sock:
            assert sock.recv(100).startswith(b"220 mx.other.test ESMTP")


def test_without_root_the_mail_host_is_not_started_and_the_demo_says_why(tmp_path: Path) -> None:
    # Root loses only the right to bind ports below 1024, as an ordinary user has it.
    setpriv = shutil.which("setpriv")
    assert setpriv, "util-linux's setpriv is missing"
    drop = [setpriv, "--bounding-set", "-net_bind_service"] if os.geteuid() == 0 else []
    script = (
        "import sys; from pathlib import Path; from scanner.demo.fleet import DemoFleet\n"
        "with DemoFleet(Path(sys.argv[1])) as fleet:\n"
        "    print(fleet.mail_unavailable); print(len(fleet.platforms))\n"
    )
    proc = subprocess.run(
        [*drop, sys.executable, "-c", script, str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "the demo mail servers were not started (cannot listen on 127.0.0.25:25: Permission denied; ports below "
        "1024 need root): the mail platform's mail checks report what they find on its mail ports",
        "6",
    ]
