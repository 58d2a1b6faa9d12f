"""The mail fleet: real SMTP, IMAP and POP3 servers on loopback, at the standard mail ports, one
127.0.0.x address per mail host (never 127.0.0.1, where other tests run), each host breaking one rule.

Usage (a conftest fixture is a thin wrapper)::

    from tests.fleet.mail_servers import MailFleet

    with MailFleet(tmp_path, domain="mail.test") as fleet:   # every case of HOSTS, or hosts=[...] of them
        good = fleet["good"]
        good.name, good.address          # "good.mail.test", "127.25.x.y"
        good.ports                       # {25: "smtp-starttls", 465: "smtps", ...}
        fleet.ca_bundle                  # [scan] ca_bundle: the root the certificates are issued under
        fleet.resolve                    # {"good.mail.test": "127.25.x.y", ...}: a platform's resolve map
        fleet.zone()                     # the A records of every host, for a tests.fleet.dns_fleet zone
        fleet.connections("busy", 25)    # sessions the server accepted so far
        fleet.peak("good", 25)           # the most sessions it held open at once

SMTP is aiosmtpd's (its ``SMTP`` protocol on this module's own loop; STARTTLS is aiosmtpd's, which
discards what a client pipelined before the handshake); IMAP (RFC 9051/3501) and POP3 (RFC 1939,
2449, 2595) are small asyncio servers speaking the real protocol: greeting, CAPABILITY / CAPA,
STARTTLS / STLS (``StreamWriter.start_tls``, i.e. ``loop.start_tls``), NOOP, LOGOUT / QUIT, and
every LOGIN, AUTHENTICATE, USER and PASS answered NO / -ERR (no mailbox exists). The exchanges
are the ones sslyze's opportunistic-TLS helpers expect (``. STARTTLS`` -> ``. OK``, ``STLS`` ->
``+OK``; the greeting is one write, which sslyze reads with one ``recv``).

Addresses are picked at random in 127.25.0.0/16 and bound port by port in the caller's thread; an
address where any port is taken (another test run) is given up for the next, so parallel runs do
not collide. Binding ports below 1024 needs root (the test machines run as root). Every server
runs on one asyncio loop in a daemon thread; start-up is bounded (``STARTUP_SECONDS``), and leaving
the ``with`` block closes every listener and every open session.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import errno
import random
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.smtp import SMTP

from scanner.demo.pki import DEFAULT_CA_ISSUERS_URL, DEFAULT_OCSP_URL, IssuerKind, LeafSpec, Pki

STARTUP_SECONDS = 10.0
#: Longest command line the IMAP and POP3 servers read; a longer one ends the session.
MAX_LINE = 4096
#: How long a session may stay idle before the server drops it.
IDLE_SECONDS = 60.0
_HANDSHAKE_SECONDS = 10.0
_ADDRESS_TRIES = 200


class Kind(enum.StrEnum):
    """What one port of a mail host serves."""

    SMTP_STARTTLS = "smtp-starttls"  # 220, EHLO lists STARTTLS; AUTH only after TLS (aiosmtpd's default)
    SMTP_PLAIN = "smtp-plain"  # 220, EHLO lists no STARTTLS (and no AUTH)
    SMTP_AUTH_BEFORE_TLS = "smtp-auth-before-tls"  # STARTTLS, but AUTH PLAIN LOGIN offered before it too
    SMTP_PLAIN_AUTH = "smtp-plain-auth"  # no STARTTLS at all, AUTH offered in clear
    SMTP_BUSY = "smtp-busy"  # every connection: "421 ... too many connections", then closed
    SMTPS = "smtps"  # implicit TLS (RFC 8314), then an SMTP session with AUTH
    IMAP_STARTTLS = "imap-starttls"  # STARTTLS and LOGINDISABLED before it; AUTH=PLAIN after TLS
    IMAP_PLAIN = "imap-plain"  # no STARTTLS, LOGIN and AUTH=PLAIN in clear
    IMAP_LOGIN_BEFORE_TLS = "imap-login-before-tls"  # STARTTLS, but AUTH=PLAIN AUTH=LOGIN and LOGIN before it
    IMAPS = "imaps"  # implicit TLS
    POP3_STLS = "pop3-stls"  # STLS, no USER or SASL before it
    POP3_PLAIN = "pop3-plain"  # no STLS, USER and SASL PLAIN in clear
    POP3_LOGIN_BEFORE_TLS = "pop3-login-before-tls"  # STLS, but USER and SASL PLAIN before it
    POP3S = "pop3s"  # implicit TLS
    SILENT = "silent"  # accepts and never sends a byte


#: The standard full set: what a well-run mail host offers.
GOOD_PORTS: Mapping[int, Kind] = {
    25: Kind.SMTP_STARTTLS,
    465: Kind.SMTPS,
    587: Kind.SMTP_STARTTLS,
    143: Kind.IMAP_STARTTLS,
    993: Kind.IMAPS,
    110: Kind.POP3_STLS,
    995: Kind.POP3S,
}


@dataclass(frozen=True)
class HostSpec:
    """One mail host of the fleet.

    Attributes:
        ports: port -> what it serves; every other mail port of the host is closed.
        self_signed: a self-signed certificate instead of one issued under the fleet's root.
        description: what is wrong with it, in one line.
    """

    ports: Mapping[int, Kind]
    self_signed: bool = False
    description: str = ""


HOSTS: Mapping[str, HostSpec] = {
    "good": HostSpec(GOOD_PORTS, description="every mail port, TLS before any login, certificate from the test root"),
    "plain": HostSpec({25: Kind.SMTP_PLAIN}, description="port 25 without STARTTLS"),
    "busy": HostSpec({25: Kind.SMTP_BUSY}, description="port 25 answers every connection 421 too many connections"),
    "self_signed": HostSpec(
        {25: Kind.SMTP_STARTTLS, 587: Kind.SMTP_STARTTLS}, self_signed=True, description="STARTTLS, self-signed"
    ),
    "auth_before_tls": HostSpec(
        {25: Kind.SMTP_STARTTLS, 587: Kind.SMTP_AUTH_BEFORE_TLS}, description="submission offers AUTH before TLS"
    ),
    "submission_plain": HostSpec({587: Kind.SMTP_PLAIN_AUTH}, description="submission without STARTTLS"),
    "cleartext_mailbox": HostSpec(
        {143: Kind.IMAP_PLAIN, 110: Kind.POP3_PLAIN}, description="IMAP and POP3 without STARTTLS/STLS"
    ),
    "login_before_tls": HostSpec(
        {143: Kind.IMAP_LOGIN_BEFORE_TLS, 110: Kind.POP3_LOGIN_BEFORE_TLS},
        description="IMAP and POP3 offer STARTTLS but accept a login before it",
    ),
    "silent": HostSpec({25: Kind.SILENT, 587: Kind.SILENT, 143: Kind.SILENT}, description="accepts, never speaks"),
}

_IMPLICIT_TLS = {Kind.SMTPS, Kind.IMAPS, Kind.POP3S}


@dataclass(frozen=True)
class MailHost:
    """One running mail host.

    Attributes:
        case: its key in ``HOSTS`` (or the ``hosts`` given).
        name: its host name (``<case>.<domain>``, underscores as hyphens); its certificate's name.
        address: the 127.0.0.x address every port listens on.
        ports: port -> what it serves.
        description: what is wrong with it.
    """

    case: str
    name: str
    address: str
    ports: Mapping[int, Kind]
    description: str = ""


#: ``tcp_info``'s first byte is the connection's state; ESTABLISHED is 1 (CLOSE_WAIT, 8: the client
#: has closed its side and is gone, whether or not the server has noticed yet).
_TCP_ESTABLISHED = 1


@dataclass
class _Tally:
    """Sessions one listener accepted, and the most that its clients held open at once.

    A session counts as open until its client closes it: at each new session the kernel's state of
    the others says whether their client has sent its FIN already, so a client that closes one
    session and opens the next at once is not seen holding two (the server may notice the close
    after the new connection)."""

    accepted: int = 0
    peak: int = 0
    _open: set[Any] = field(default_factory=set)

    def opened(self, sock: Any) -> None:
        self.accepted += 1
        held = sum(1 for other in self._open if _established(other))
        self._open.add(sock)
        self.peak = max(self.peak, held + 1)

    def closed(self, sock: Any) -> None:
        self._open.discard(sock)


def _established(sock: Any) -> bool:
    try:
        return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] == _TCP_ESTABLISHED)
    except OSError:
        return False


@dataclass
class _Listener:
    host: MailHost
    port: int
    kind: Kind
    sock: socket.socket
    context: ssl.SSLContext
    tally: _Tally = field(default_factory=_Tally)


class MailFleet:
    """The running mail hosts (see the module docstring). ``hosts``: case names of ``HOSTS``, or a
    mapping case -> ``HostSpec`` of one's own."""

    def __init__(
        self,
        workdir: Path,
        hosts: Iterable[str] | Mapping[str, HostSpec] | None = None,
        *,
        domain: str = "mail.test",
        pki: Pki | None = None,
    ) -> None:
        if hosts is None:
            specs = dict(HOSTS)
        elif isinstance(hosts, Mapping):
            specs = dict(hosts)
        else:
            unknown = [name for name in hosts if name not in HOSTS]
            if unknown:
                raise KeyError(f"unknown mail hosts {unknown}; known: {list(HOSTS)}")
            specs = {name: HOSTS[name] for name in hosts}
        self.workdir = workdir
        self.domain = domain
        self.specs = specs
        self._pki = pki
        self._hosts: dict[str, MailHost] = {}
        self._listeners: list[_Listener] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._sessions: set[asyncio.BaseTransport] = set()

    # -- what tests read ----------------------------------------------------------------------

    @property
    def pki(self) -> Pki:
        assert self._pki is not None, "the fleet is not started"
        return self._pki

    @property
    def ca_bundle(self) -> Path:
        return self.pki.bundle_path

    @property
    def hosts(self) -> tuple[MailHost, ...]:
        return tuple(self._hosts.values())

    def __getitem__(self, case: str) -> MailHost:
        return self._hosts[case]

    def __iter__(self) -> Iterator[MailHost]:
        return iter(self._hosts.values())

    @property
    def resolve(self) -> dict[str, str]:
        """host name -> address, for a platform's ``resolve`` table."""
        return {host.name: host.address for host in self._hosts.values()}

    def zone(self) -> str:
        """The A record of every host, relative to ``domain``'s zone (``tests.fleet.dns_fleet``)."""
        suffix = "." + self.domain
        return "\n".join(f"{h.name.removesuffix(suffix)} A {h.address}" for h in self._hosts.values())

    def connections(self, case: str, port: int) -> int:
        """How many sessions ``case``'s ``port`` accepted so far."""
        return self._tally(case, port).accepted

    def peak(self, case: str, port: int) -> int:
        """The most sessions ``case``'s ``port`` held open at once."""
        return self._tally(case, port).peak

    def _tally(self, case: str, port: int) -> _Tally:
        host = self._hosts[case]
        return next(lst.tally for lst in self._listeners if lst.host == host and lst.port == port)

    # -- start and stop -------------------------------------------------------------------------

    def __enter__(self) -> MailFleet:
        try:
            self._start()
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop()

    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self._pki is None:
            self._pki = Pki.create(self.workdir / "mail-pki", organization="Platscan Mail Fleet")
        taken: set[str] = set()
        for case, spec in self.specs.items():
            name = f"{case.replace('_', '-')}.{self.domain}"
            address, sockets = _bind_somewhere(tuple(spec.ports), taken)
            taken.add(address)
            host = MailHost(case, name, address, dict(spec.ports), spec.description)
            self._hosts[case] = host
            context = self._context(name, spec.self_signed)
            self._listeners += [
                _Listener(host, port, spec.ports[port], sock, context) for port, sock in sockets.items()
            ]
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(_quiet)
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="mail-fleet", daemon=True)
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._serve_all(), loop)
        future.result(timeout=STARTUP_SECONDS)

    def _context(self, name: str, self_signed: bool) -> ssl.SSLContext:
        spec = LeafSpec(
            hosts=(name,),
            issuer=IssuerKind.SELF if self_signed else IssuerKind.INTERMEDIATE,
            ca_issuers_url=None if self_signed else DEFAULT_CA_ISSUERS_URL,
            ocsp_url=None if self_signed else DEFAULT_OCSP_URL,
        )
        leaf = self.pki.issue(name.replace(".", "-"), spec)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self.pki.write_chain(leaf)), str(leaf.key_path))
        return context

    async def _serve_all(self) -> None:
        for listener in self._listeners:
            self._servers.append(await self._serve(listener))

    async def _serve(self, listener: _Listener) -> asyncio.AbstractServer:
        loop = asyncio.get_running_loop()
        kind, context = listener.kind, listener.context
        implicit = context if kind in _IMPLICIT_TLS else None
        if kind in (Kind.SMTP_STARTTLS, Kind.SMTP_PLAIN, Kind.SMTP_AUTH_BEFORE_TLS, Kind.SMTP_PLAIN_AUTH, Kind.SMTPS):
            options = _smtp_options(kind, context, listener.host.name)
            return await loop.create_server(
                lambda: _CountedSmtp(self, listener.tally, _Sink(), **options),
                sock=listener.sock,
                ssl=implicit,
                ssl_handshake_timeout=_HANDSHAKE_SECONDS if implicit else None,
            )
        if kind is Kind.SMTP_BUSY:
            return await loop.create_server(
                lambda: _BusySmtp(self, listener.tally, listener.host.name), sock=listener.sock
            )
        session = _SESSIONS[kind]

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            self._sessions.add(writer.transport)
            listener.tally.opened(sock)
            try:
                await session(reader, writer, listener)
            except (OSError, ssl.SSLError, ValueError, asyncio.IncompleteReadError, TimeoutError):
                pass  # the client went away, sent too long a line, failed its handshake or idled
            finally:
                listener.tally.closed(sock)
                self._sessions.discard(writer.transport)
                writer.close()

        return await asyncio.start_server(
            handle,
            sock=listener.sock,
            ssl=implicit,
            ssl_handshake_timeout=_HANDSHAKE_SECONDS if implicit else None,
            limit=MAX_LINE,
        )

    def _stop(self) -> None:
        loop = self._loop
        if loop is not None and self._thread is not None and self._thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._close_all(), loop).result(timeout=5)
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout=5)
        if loop is not None and not loop.is_running():
            loop.close()
        for listener in self._listeners:
            listener.sock.close()
        self._loop = self._thread = None

    async def _close_all(self) -> None:
        for server in self._servers:
            server.close()
        for transport in list(self._sessions):
            transport.abort()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _bind_somewhere(ports: tuple[int, ...], taken: set[str]) -> tuple[str, dict[int, socket.socket]]:
    """A random 127.25.x.y address where every one of ``ports`` could be bound, with the bound sockets."""
    rng = random.SystemRandom()
    for _ in range(_ADDRESS_TRIES):
        address = f"127.25.{rng.randrange(0, 256)}.{rng.randrange(2, 255)}"
        if address in taken:
            continue
        sockets: dict[int, socket.socket] = {}
        try:
            for port in ports:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets[port] = sock
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a TIME_WAIT left by an earlier run
                sock.bind((address, port))
                sock.listen(64)
                sock.setblocking(False)
        except OSError as exc:
            for sock in sockets.values():
                sock.close()
            if exc.errno == errno.EADDRINUSE:
                continue
            raise
        return address, sockets
    raise OSError(errno.EADDRINUSE, f"no free 127.25.0.0/16 address for ports {list(ports)}")


def _quiet(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Failed handshakes (sslyze tries many a server refuses) are the point of the fleet, not news."""
    exception = context.get("exception")
    if isinstance(exception, (OSError, ssl.SSLError, asyncio.CancelledError)):
        return
    loop.default_exception_handler(context)


# -- SMTP (aiosmtpd) --------------------------------------------------------------------------------


class _Sink:
    """Accepts no mail: every recipient is refused, so nothing is ever queued."""

    async def handle_RCPT(self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        return "550 5.7.1 This test server accepts no mail"

    async def handle_exception(self, error: Exception) -> str:
        # A failed STARTTLS handshake (sslyze tries many a server refuses) is the point, not news:
        # without this, aiosmtpd logs each one's traceback.
        return "421 4.3.0 Session ended"


def _smtp_options(kind: Kind, context: ssl.SSLContext, hostname: str) -> dict[str, Any]:
    starttls = kind in (Kind.SMTP_STARTTLS, Kind.SMTP_AUTH_BEFORE_TLS)
    return {
        "hostname": hostname,
        "ident": "platscan mail fleet",
        "tls_context": context if starttls else None,
        # aiosmtpd sees implicit TLS as "no STARTTLS happened": on 465 the session is already TLS.
        "auth_require_tls": kind in (Kind.SMTP_STARTTLS, Kind.SMTP_PLAIN),
        "auth_exclude_mechanism": None,
        "timeout": IDLE_SECONDS,
    }


class _CountedSmtp(SMTP):
    """aiosmtpd's SMTP session, counted and closed with the fleet."""

    def __init__(self, fleet: MailFleet, tally: _Tally, handler: Any, **options: Any) -> None:
        super().__init__(handler, **options)
        self._fleet, self._tally = fleet, tally
        self._sock: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._sock is None:  # STARTTLS calls it again for the TLS transport
            self._sock = transport.get_extra_info("socket")
            # aiosmtpd writes a multi-line reply line by line: without this, Nagle's algorithm and the
            # client's delayed ACK hold each reply ~40 ms, and sslyze's hundreds of sessions take minutes.
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._tally.opened(self._sock)
            self._fleet._sessions.add(transport)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        # aiosmtpd calls it itself after a failed STARTTLS, then asyncio calls it again.
        self._tally.closed(self._sock)
        for transport in (self._original_transport, self.transport):
            if transport is not None:
                self._fleet._sessions.discard(transport)
        if self.transport is not None:
            super().connection_lost(error)


class _BusySmtp(asyncio.Protocol):
    """What a mail server says to a client over its session limit (Postfix's smtpd_client_connection_count_limit)."""

    def __init__(self, fleet: MailFleet, tally: _Tally, hostname: str) -> None:
        self._fleet, self._tally, self._hostname = fleet, tally, hostname
        self._sock: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._sock = transport.get_extra_info("socket")
        self._tally.opened(self._sock)
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(f"421 4.7.0 {self._hostname} Error: too many connections from you\r\n".encode())
        transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._tally.closed(self._sock)


# -- IMAP and POP3 ----------------------------------------------------------------------------------

Session = Callable[[asyncio.StreamReader, asyncio.StreamWriter, _Listener], Awaitable[None]]


async def _line(reader: asyncio.StreamReader) -> str | None:
    """The next command line without its CRLF; None at the end of the stream. A line longer than
    ``MAX_LINE`` raises ``ValueError`` (the session ends)."""
    raw = await asyncio.wait_for(reader.readline(), IDLE_SECONDS)
    if not raw:
        return None
    return raw.rstrip(b"\r\n").decode("utf-8", "replace")


async def _send(writer: asyncio.StreamWriter, *lines: str) -> None:
    writer.write("".join(f"{line}\r\n" for line in lines).encode())
    await writer.drain()


async def _start_tls(writer: asyncio.StreamWriter, context: ssl.SSLContext) -> None:
    await asyncio.wait_for(writer.start_tls(context), _HANDSHAKE_SECONDS)


def _imap_capabilities(kind: Kind, tls: bool) -> str:
    words = ["IMAP4rev1"]
    if tls:
        return " ".join([*words, "AUTH=PLAIN"])
    if kind is Kind.IMAP_STARTTLS:
        return " ".join([*words, "STARTTLS", "LOGINDISABLED"])
    if kind is Kind.IMAP_LOGIN_BEFORE_TLS:
        return " ".join([*words, "STARTTLS", "AUTH=PLAIN", "AUTH=LOGIN"])
    return " ".join([*words, "AUTH=PLAIN"])  # IMAP_PLAIN: LOGIN too, as IMAP4rev1 implies


async def _imap(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener: _Listener) -> None:
    kind = listener.kind
    tls = kind is Kind.IMAPS
    starttls = kind in (Kind.IMAP_STARTTLS, Kind.IMAP_LOGIN_BEFORE_TLS)
    await _send(writer, f"* OK [CAPABILITY {_imap_capabilities(kind, tls)}] {listener.host.name} IMAP ready")
    while (line := await _line(reader)) is not None:
        tag, _, rest = line.partition(" ")
        command = rest.split(" ", 1)[0].upper()
        if not tag or not command:
            await _send(writer, f"{tag or '*'} BAD Missing command")
        elif command == "CAPABILITY":
            await _send(writer, f"* CAPABILITY {_imap_capabilities(kind, tls)}", f"{tag} OK CAPABILITY completed")
        elif command == "NOOP":
            await _send(writer, f"{tag} OK NOOP completed")
        elif command == "LOGOUT":
            await _send(writer, "* BYE Logging out", f"{tag} OK LOGOUT completed")
            return
        elif command == "STARTTLS" and starttls and not tls:
            await _send(writer, f"{tag} OK Begin TLS negotiation now")
            await _start_tls(writer, listener.context)
            tls = True
        elif command == "STARTTLS":
            await _send(writer, f"{tag} BAD STARTTLS not available")
        elif command in ("LOGIN", "AUTHENTICATE") and kind is Kind.IMAP_STARTTLS and not tls:
            await _send(writer, f"{tag} NO [PRIVACYREQUIRED] Use STARTTLS first")
        elif command in ("LOGIN", "AUTHENTICATE"):
            await _send(writer, f"{tag} NO [AUTHENTICATIONFAILED] Authentication failed")
        else:
            await _send(writer, f"{tag} BAD Command not available")


def _pop3_capabilities(kind: Kind, tls: bool) -> list[str]:
    if tls:
        return ["TOP", "UIDL", "USER", "SASL PLAIN"]
    if kind is Kind.POP3_STLS:
        return ["TOP", "UIDL", "STLS"]  # Dovecot with disable_plaintext_auth: no USER, no SASL before TLS
    if kind is Kind.POP3_LOGIN_BEFORE_TLS:
        return ["TOP", "UIDL", "STLS", "USER", "SASL PLAIN"]
    return ["TOP", "UIDL", "USER", "SASL PLAIN"]


async def _pop3(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener: _Listener) -> None:
    kind = listener.kind
    tls = kind is Kind.POP3S
    stls = kind in (Kind.POP3_STLS, Kind.POP3_LOGIN_BEFORE_TLS)
    await _send(writer, f"+OK {listener.host.name} POP3 ready")
    while (line := await _line(reader)) is not None:
        command = line.split(" ", 1)[0].upper()
        if command == "CAPA":
            await _send(writer, "+OK Capability list follows", *_pop3_capabilities(kind, tls), ".")
        elif command == "NOOP":
            await _send(writer, "+OK")
        elif command == "QUIT":
            await _send(writer, "+OK Logging out")
            return
        elif command == "STLS" and stls and not tls:
            await _send(writer, "+OK Begin TLS negotiation")
            await _start_tls(writer, listener.context)
            tls = True
        elif command == "STLS":
            await _send(writer, "-ERR STLS not available")
        elif command in ("USER", "PASS", "AUTH", "APOP") and kind is Kind.POP3_STLS and not tls:
            await _send(writer, "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections")
        elif command in ("USER", "PASS", "AUTH", "APOP"):
            await _send(writer, "-ERR [AUTH] Authentication failed")
        else:
            await _send(writer, "-ERR Unknown command")


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener: _Listener) -> None:
    while await asyncio.wait_for(reader.read(4096), IDLE_SECONDS):
        pass


_SESSIONS: Mapping[Kind, Session] = {
    Kind.IMAP_STARTTLS: _imap,
    Kind.IMAP_PLAIN: _imap,
    Kind.IMAP_LOGIN_BEFORE_TLS: _imap,
    Kind.IMAPS: _imap,
    Kind.POP3_STLS: _pop3,
    Kind.POP3_PLAIN: _pop3,
    Kind.POP3_LOGIN_BEFORE_TLS: _pop3,
    Kind.POP3S: _pop3,
    Kind.SILENT: _silent,
}
