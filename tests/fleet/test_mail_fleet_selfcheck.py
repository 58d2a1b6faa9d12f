"""The mail fleet speaks what the mail cases need, to real clients: smtplib, imaplib and poplib from the
standard library, and sslyze's own opportunistic-TLS helpers (the exchanges the tls family's scans
make); certificates verify under the fleet's root; nothing listens after the fleet closes."""

from __future__ import annotations

import imaplib
import poplib
import smtplib
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from sslyze.connection_helpers.opportunistic_tls_helpers import (
    ProtocolWithOpportunisticTlsEnum as Opportunistic,
)
from sslyze.connection_helpers.opportunistic_tls_helpers import (
    get_opportunistic_tls_helper,
)

from tests.fleet.mail_servers import MailFleet

TIMEOUT = 5


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailFleet]:
    with MailFleet(tmp_path_factory.mktemp("mail")) as running:
        yield running


def _trusting(fleet: MailFleet) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(fleet.ca_bundle))


def test_addresses_are_loopback_but_not_127_0_0_1(fleet: MailFleet) -> None:
    addresses = [host.address for host in fleet]
    assert len(set(addresses)) == len(addresses)
    assert all(a.startswith("127.") and a != "127.0.0.1" for a in addresses)
    assert fleet.resolve["good.mail.test"] == fleet["good"].address
    assert f"good A {fleet['good'].address}" in fleet.zone().splitlines()


def test_smtp_starttls_then_auth_only_after_tls(fleet: MailFleet) -> None:
    good = fleet["good"]
    for port in (25, 587):
        with smtplib.SMTP(good.address, port, timeout=TIMEOUT) as smtp:
            smtp.ehlo("scanner.test")
            assert smtp.has_extn("starttls") and not smtp.has_extn("auth")
            smtp._host = good.name  # the name the certificate is checked against (what SNI sends)
            smtp.starttls(context=_trusting(fleet))
            smtp.ehlo("scanner.test")
            assert smtp.has_extn("auth") and not smtp.has_extn("starttls")
            assert isinstance(smtp.sock, ssl.SSLSocket)
            with pytest.raises(smtplib.SMTPAuthenticationError):
                smtp.login("nobody", "wrong")


def test_smtp_without_starttls_and_with_auth_before_it(fleet: MailFleet) -> None:
    with smtplib.SMTP(fleet["plain"].address, 25, timeout=TIMEOUT) as smtp:
        smtp.ehlo("scanner.test")
        assert not smtp.has_extn("starttls") and not smtp.has_extn("auth")
    with smtplib.SMTP(fleet["auth_before_tls"].address, 587, timeout=TIMEOUT) as smtp:
        smtp.ehlo("scanner.test")
        assert smtp.has_extn("starttls") and "PLAIN" in smtp.esmtp_features["auth"].upper()
    with smtplib.SMTP(fleet["submission_plain"].address, 587, timeout=TIMEOUT) as smtp:
        smtp.ehlo("scanner.test")
        assert not smtp.has_extn("starttls") and smtp.has_extn("auth")


def test_busy_answers_421_and_counts_sessions(fleet: MailFleet) -> None:
    before = fleet.connections("busy", 25)
    with socket.create_connection((fleet["busy"].address, 25), timeout=TIMEOUT) as sock:
        greeting = sock.recv(1024)
        assert greeting.startswith(b"421 ") and b"too many connections" in greeting
        assert sock.recv(1024) == b"", "the server closes after 421"
    assert fleet.connections("busy", 25) == before + 1


def test_implicit_tls_ports(fleet: MailFleet) -> None:
    good = fleet["good"]
    unverified = ssl._create_unverified_context()  # the clients check the address; the name is checked above
    with smtplib.SMTP_SSL(good.address, 465, timeout=TIMEOUT, context=unverified) as smtp:
        smtp.ehlo("scanner.test")
        assert smtp.has_extn("auth")
    imap = imaplib.IMAP4_SSL(good.address, 993, ssl_context=unverified, timeout=TIMEOUT)
    assert "AUTH=PLAIN" in imap.capabilities
    imap.logout()
    pop = poplib.POP3_SSL(good.address, 995, context=unverified, timeout=TIMEOUT)
    assert "USER" in pop.capa()
    pop.quit()


def test_certificates_name_their_host_and_self_signed_does_not_verify(fleet: MailFleet) -> None:
    context = _trusting(fleet)
    with smtplib.SMTP(fleet["good"].address, 25, timeout=TIMEOUT) as smtp:
        smtp.ehlo("scanner.test")
        smtp._host = "good.mail.test"  # the name the certificate is checked against (what SNI sends)
        smtp.starttls(context=context)
    with smtplib.SMTP(fleet["self_signed"].address, 25, timeout=TIMEOUT) as smtp:
        smtp.ehlo("scanner.test")
        smtp._host = "self-signed.mail.test"
        with pytest.raises(ssl.SSLCertVerificationError):
            smtp.starttls(context=context)


def test_imap_starttls_with_logindisabled_before_it(fleet: MailFleet) -> None:
    imap = imaplib.IMAP4(fleet["good"].address, 143, timeout=TIMEOUT)
    assert {"STARTTLS", "LOGINDISABLED"} <= set(imap.capabilities)
    assert not any(c.startswith("AUTH=") for c in imap.capabilities)
    imap.starttls(ssl_context=ssl._create_unverified_context())  # imaplib checks the address, not the name
    assert "AUTH=PLAIN" in imap.capabilities and "STARTTLS" not in imap.capabilities
    with pytest.raises(imaplib.IMAP4.error):
        imap.login("nobody", "wrong")
    imap.logout()


def test_imap_without_starttls_and_login_before_it(fleet: MailFleet) -> None:
    plain = imaplib.IMAP4(fleet["cleartext_mailbox"].address, 143, timeout=TIMEOUT)
    assert "STARTTLS" not in plain.capabilities and "LOGINDISABLED" not in plain.capabilities
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        plain.login("nobody", "wrong")
    plain.logout()
    early = imaplib.IMAP4(fleet["login_before_tls"].address, 143, timeout=TIMEOUT)
    assert {"STARTTLS", "AUTH=PLAIN", "AUTH=LOGIN"} <= set(early.capabilities)
    early.logout()


def test_pop3_stls_and_without(fleet: MailFleet) -> None:
    pop = poplib.POP3(fleet["good"].address, 110, timeout=TIMEOUT)
    capa = pop.capa()
    assert "STLS" in capa and "USER" not in capa and "SASL" not in capa
    with pytest.raises(poplib.error_proto, match="Plaintext authentication disallowed"):
        pop.user("nobody")
    pop.stls(context=ssl._create_unverified_context())
    assert "USER" in pop.capa()
    pop.quit()
    plain = poplib.POP3(fleet["cleartext_mailbox"].address, 110, timeout=TIMEOUT)
    assert "STLS" not in plain.capa() and "USER" in plain.capa()
    plain.quit()
    early = poplib.POP3(fleet["login_before_tls"].address, 110, timeout=TIMEOUT)
    assert {"STLS", "USER"} <= set(early.capa())
    early.quit()


@pytest.mark.parametrize(
    ("port", "protocol"),
    [
        (25, Opportunistic.SMTP),
        (587, Opportunistic.SMTP),
        (143, Opportunistic.IMAP),
        (110, Opportunistic.POP3),
        (465, None),
        (993, None),
        (995, None),
    ],
)
def test_sslyze_starttls_helpers_complete_a_verified_handshake(
    fleet: MailFleet, port: int, protocol: Opportunistic | None
) -> None:
    good = fleet["good"]
    with socket.create_connection((good.address, port), timeout=TIMEOUT) as sock:
        if protocol is not None:
            get_opportunistic_tls_helper(protocol, None, "scanner.test").prepare_socket_for_tls_handshake(sock)
        with _trusting(fleet).wrap_socket(sock, server_hostname=good.name) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_silent_port_accepts_and_never_speaks(fleet: MailFleet) -> None:
    with socket.create_connection((fleet["silent"].address, 25), timeout=TIMEOUT) as sock:
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(1)


def test_closed_ports_refuse(fleet: MailFleet) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((fleet["plain"].address, 587), timeout=TIMEOUT).close()


def test_peak_counts_concurrent_sessions(fleet: MailFleet) -> None:
    host = fleet["good"]
    with (
        socket.create_connection((host.address, 25), timeout=TIMEOUT) as one,
        socket.create_connection((host.address, 25), timeout=TIMEOUT) as two,
    ):
        assert one.recv(1024).startswith(b"220 ") and two.recv(1024).startswith(b"220 ")
        assert fleet.peak("good", 25) >= 2


def test_nothing_listens_after_the_fleet_closes(tmp_path: Path) -> None:
    with MailFleet(tmp_path, ["plain"]) as small:
        address = small["plain"].address
        held = socket.create_connection((address, 25), timeout=TIMEOUT)
        assert held.recv(1024).startswith(b"220 ")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address, 25), timeout=TIMEOUT).close()
    with held:
        try:
            rest = held.recv(4096)
        except ConnectionResetError:
            rest = b""
        assert rest == b"", "the fleet ended the session it held open"
