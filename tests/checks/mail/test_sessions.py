"""The mail family's own sessions (checks.mail.sessions) against the real mail fleet on loopback: what
each server offers before and after TLS, and the rules every session keeps: a silent or filtered
port costs one timeout, the endpoint's budget bounds the whole session, a 421 is never retried,
one session at a time per server, and a server's flood of bytes is cut short."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from checks.mail.sessions import SCHEMES, Outcome, Protocol, SessionFacts, SessionTarget, collect_session
from scanner.politeness import one_at_a_time
from tests.fleet.mail_servers import HOSTS, HostSpec, Kind, MailFleet

TIMEOUT = 1.0
BUDGET = 30.0


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailFleet]:
    hosts = {**HOSTS, "plaintext_tls": HostSpec({465: Kind.SMTP_PLAIN, 993: Kind.IMAP_PLAIN, 995: Kind.POP3_PLAIN})}
    with MailFleet(tmp_path_factory.mktemp("mail"), hosts) as running:
        yield running


def target(fleet: MailFleet, case: str, port: int, scheme: str) -> SessionTarget:
    protocol, implicit = SCHEMES[scheme]
    host = fleet[case]
    return SessionTarget(host.name, host.address, port, protocol, implicit)


def talk(
    fleet: MailFleet, case: str, port: int, scheme: str, timeout: float = TIMEOUT, budget: float = BUDGET
) -> SessionFacts:
    return collect_session(target(fleet, case, port, scheme), timeout, budget, "scanner.test")


def test_smtp_starttls_then_auth_after_tls(fleet: MailFleet) -> None:
    facts = talk(fleet, "good", 25, "smtp")
    assert facts.outcome is Outcome.COMPLETE and facts.starttls_offered is True
    assert facts.starttls_reply.startswith("220") and facts.tls_version in ("TLSv1.2", "TLSv1.3")
    assert not any(c.startswith("AUTH") for c in facts.capabilities)
    assert any(c.startswith("AUTH") for c in facts.tls_capabilities)
    assert facts.greeting.startswith("220 good.mail.test")


def test_smtp_without_starttls_and_with_auth_before_it(fleet: MailFleet) -> None:
    plain = talk(fleet, "plain", 25, "smtp")
    assert plain.outcome is Outcome.COMPLETE and plain.starttls_offered is False and not plain.tls
    early = talk(fleet, "auth_before_tls", 587, "smtp")
    assert early.starttls_offered is True and early.tls and "AUTH LOGIN PLAIN" in early.capabilities


def test_implicit_tls_and_plain_text_on_an_implicit_port(fleet: MailFleet) -> None:
    for port, scheme in ((465, "smtps"), (993, "imaps"), (995, "pop3s")):
        good = talk(fleet, "good", port, scheme)
        assert good.outcome is Outcome.COMPLETE and good.tls, (port, good)
        assert good.capabilities, "the capabilities over TLS"
        plain = talk(fleet, "plaintext_tls", port, scheme)
        assert plain.outcome is Outcome.COMPLETE and not plain.tls and plain.plaintext_reply, (port, plain)


def test_imap_and_pop3_before_and_after_tls(fleet: MailFleet) -> None:
    imap = talk(fleet, "good", 143, "imap")
    assert {"STARTTLS", "LOGINDISABLED"} <= set(imap.capabilities) and imap.tls
    assert "AUTH=PLAIN" in imap.tls_capabilities
    pop = talk(fleet, "good", 110, "pop3")
    assert "STLS" in pop.capabilities and "USER" not in pop.capabilities and pop.tls
    assert "USER" in pop.tls_capabilities
    early = talk(fleet, "login_before_tls", 143, "imap")
    assert "AUTH=PLAIN" in early.capabilities and "LOGINDISABLED" not in early.capabilities
    plain = talk(fleet, "cleartext_mailbox", 110, "pop3")
    assert plain.starttls_offered is False and "USER" in plain.capabilities


def test_421_is_rate_limited_and_never_retried(fleet: MailFleet) -> None:
    before = fleet.connections("busy", 25)
    facts = talk(fleet, "busy", 25, "smtp")
    assert facts.outcome is Outcome.RATE_LIMITED
    assert "Rate-limited, not tested" in str(facts.reason) and "421" in str(facts.reason)
    assert fleet.connections("busy", 25) == before + 1


def test_a_closed_port_is_not_offered_at_once(fleet: MailFleet) -> None:
    started = time.monotonic()
    facts = talk(fleet, "plain", 587, "smtp", timeout=5)
    assert facts.outcome is Outcome.NOT_OFFERED and "connection refused" in str(facts.reason)
    assert time.monotonic() - started < 1


def test_a_silent_port_costs_one_timeout(fleet: MailFleet) -> None:
    for port, scheme in ((25, "smtp"), (143, "imap")):
        started = time.monotonic()
        facts = talk(fleet, "silent", port, scheme)
        elapsed = time.monotonic() - started
        assert facts.outcome is Outcome.NOT_OFFERED and "did not answer within 1 s" in str(facts.reason)
        assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + 0.5, elapsed


def test_the_budget_bounds_the_session_whatever_the_timeout(fleet: MailFleet) -> None:
    started = time.monotonic()
    facts = talk(fleet, "silent", 587, "smtp", timeout=10, budget=1.0)
    assert facts.outcome is Outcome.NOT_OFFERED
    assert time.monotonic() - started < 1.6


@contextlib.contextmanager
def filtered_port() -> Iterator[tuple[str, int]]:
    """A port whose SYNs are dropped, as a firewall's: a listener that never accepts, its accept queue full."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    address = listener.getsockname()
    fillers = []
    try:
        for _ in range(4):  # the kernel queues backlog + 1; further SYNs are dropped once it is full
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(address)
            fillers.append(filler)
        time.sleep(0.2)
        yield address
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_a_filtered_port_costs_one_timeout() -> None:
    with filtered_port() as (address, port):
        started = time.monotonic()
        facts = collect_session(SessionTarget("mx.test", address, port, Protocol.SMTP, False), TIMEOUT, BUDGET, "x")
        elapsed = time.monotonic() - started
    assert facts.outcome is Outcome.NOT_OFFERED, facts
    assert "did not answer within 1 s (filtered" in str(facts.reason), "no TCP answer at all, not a silent server"
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + 0.5, elapsed


def test_one_session_at_a_time_per_server(fleet: MailFleet) -> None:
    peak_before = fleet.peak("good", 587)
    results = []
    threads = [threading.Thread(target=lambda: results.append(talk(fleet, "good", 587, "smtp"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [r.outcome for r in results] == [Outcome.COMPLETE] * 4
    assert max(peak_before, 1) == fleet.peak("good", 587) == 1


def test_a_session_that_cannot_get_the_lock_is_an_error_and_never_connects(fleet: MailFleet) -> None:
    before = fleet.connections("good", 993)
    with one_at_a_time(fleet["good"].address, 1.0):
        started = time.monotonic()
        facts = talk(fleet, "good", 993, "imaps", budget=0.6)
        assert time.monotonic() - started < 1.5
    assert facts.outcome is Outcome.ERROR and "one session at a time" in str(facts.reason)
    assert fleet.connections("good", 993) == before


class _Flood:
    """A server that greets with an endless line: what a session reads must stay bounded."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            conn, _ = self.listener.accept()
            with conn:
                conn.settimeout(5)
                for _ in range(1000):
                    conn.sendall(b"220-" + b"x" * 4096)

    def close(self) -> None:
        self.listener.close()


def test_a_flood_of_bytes_is_cut_short() -> None:
    flood = _Flood()
    try:
        started = time.monotonic()
        facts = collect_session(SessionTarget("mx.test", "127.0.0.1", flood.port, Protocol.SMTP, False), 5, 10, "x")
        assert time.monotonic() - started < 2
    finally:
        flood.close()
    assert facts.outcome is Outcome.ERROR
    assert "did not answer" in str(facts.reason) and len(str(facts.evidence())) < 2000
