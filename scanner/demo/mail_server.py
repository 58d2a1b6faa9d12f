"""Small mail servers for the demo fleet: SMTP (with STARTTLS, RFC 3207) and IMAP (RFC 3501, STARTTLS).

They speak enough of the real protocols for a mail scanner and for sslyze's STARTTLS support, and
accept no mail and no login: SMTP greets (220), answers EHLO with its extensions, upgrades with
STARTTLS, answers HELO, RSET, NOOP, QUIT and turns AUTH down (535); everything else is 502. IMAP
greets with its capabilities, answers CAPABILITY, NOOP, LOGOUT, STARTTLS, and refuses LOGIN
(before TLS as ``LOGINDISABLED`` promises, after it as a failed login). Lines are bounded
(``MAX_LINE``); a longer one ends the session. What a client pipelined behind STARTTLS is
discarded, never read as if it came over TLS (CVE-2011-0411).

All services of one :class:`MailServer` run on one asyncio loop in a daemon thread; ``start()``
binds every port first, in the caller's thread, and raises :class:`BindError` naming the port that
could not be bound (the others are released)::

    config = MailServerConfig(address="127.0.0.25", hostname="mx.nghean.example", tls=tls_config,
                              services=(SmtpService(25), SmtpService(587, auth=True), ImapService(143)))
    with MailServer(config) as server:
        smtplib.SMTP("127.0.0.25", 25).ehlo()
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import logging
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from scanner.demo.tls_server import TlsServerConfig

__all__ = ["MAX_LINE", "BindError", "ImapService", "MailServer", "MailServerConfig", "SmtpService"]

log = logging.getLogger(__name__)

#: Longest line accepted, CRLF included: RFC 5321 4.5.3.1.4 allows 512 for a command; AUTH's
#: initial response may be longer (RFC 4954 4), IMAP commands too.
MAX_LINE = 4096
_QUEUED_LINES = 64  # lines read ahead before reading pauses (a client flooding commands)
_MAX_SESSIONS = 100
_HANDSHAKE_TIMEOUT = 10.0


@dataclass(frozen=True)
class SmtpService:
    """An SMTP port.

    Attributes:
        port: 25 (MX) or 587 (submission).
        auth: offers AUTH (submission), after STARTTLS.
        auth_before_tls: offers AUTH before STARTTLS too: passwords may cross in cleartext (a flaw).
    """

    port: int
    auth: bool = False
    auth_before_tls: bool = False


@dataclass(frozen=True)
class ImapService:
    """An IMAP port with STARTTLS and ``LOGINDISABLED`` until TLS."""

    port: int = 143


@dataclass(frozen=True)
class MailServerConfig:
    """One mail host.

    Attributes:
        address: the address it listens on (a 127.0.0.x other than 127.0.0.1 for the standard ports).
        hostname: its name in greetings.
        tls: its certificate and TLS settings (STARTTLS).
        services: its ports.
        idle_timeout: seconds a session may wait for the client's next line.
    """

    address: str
    hostname: str
    tls: TlsServerConfig
    services: tuple[SmtpService | ImapService, ...]
    idle_timeout: float = 30.0


class BindError(Exception):
    """A port of the mail server could not be bound (``error`` says why: not root, in use)."""

    def __init__(self, address: str, port: int, error: OSError) -> None:
        self.address = address
        self.port = port
        self.error = error
        super().__init__(f"cannot listen on {address}:{port}: {error.strerror or error}")

    @property
    def needs_root(self) -> bool:
        return self.error.errno in (errno.EACCES, errno.EPERM)


class _Closed(Exception):
    """The client went away, idled too long, or sent a line longer than ``MAX_LINE``."""


class _Channel(asyncio.Protocol):
    """Line-based I/O over a transport that STARTTLS replaces with a TLS one."""

    def __init__(
        self, session: Callable[[_Channel], Awaitable[None]], idle_timeout: float, running: set[asyncio.Task[None]]
    ) -> None:
        self._session = session
        self._running = running  # the server's sessions, for stop() to cancel
        self._idle_timeout = idle_timeout
        self._buffer = bytearray()
        self._lines: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._paused = False
        self.transport: asyncio.Transport | None = None
        self.too_long = False
        self.secure = False

    # asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        task = asyncio.get_running_loop().create_task(self._run())
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[: end + 1])
            del self._buffer[: end + 1]
            if len(line) > MAX_LINE:
                self._overflow()
                return
            self._lines.put_nowait(line)
        if len(self._buffer) > MAX_LINE:
            self._overflow()
        elif self._lines.qsize() >= _QUEUED_LINES and self.transport is not None and not self._paused:
            self._paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool | None:
        self._lines.put_nowait(None)
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._lines.put_nowait(None)

    # for sessions ---------------------------------------------------------------------------

    async def readline(self) -> str:
        """The next line without its line ending; raises ``_Closed`` when there is none."""
        try:
            line = await asyncio.wait_for(self._lines.get(), self._idle_timeout)
        except TimeoutError:
            raise _Closed("idle") from None
        if self._paused and self._lines.qsize() < _QUEUED_LINES // 2 and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        if line is None:
            raise _Closed("the client closed the connection")
        return line.rstrip(b"\r\n").decode("utf-8", "replace")

    def send(self, *lines: str) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write("".join(f"{line}\r\n" for line in lines).encode("utf-8"))

    async def start_tls(self, context: ssl.SSLContext) -> None:
        """Upgrade to TLS; what the client sent before the handshake is discarded."""
        assert self.transport is not None
        self._buffer.clear()
        while not self._lines.empty():
            if self._lines.get_nowait() is None:
                raise _Closed("the client closed the connection")
        loop = asyncio.get_running_loop()
        try:
            upgraded = await loop.start_tls(
                self.transport, self, context, server_side=True, ssl_handshake_timeout=_HANDSHAKE_TIMEOUT
            )
        except (OSError, TimeoutError, ConnectionError) as exc:  # ssl.SSLError is an OSError
            raise _Closed(f"TLS handshake failed: {exc}") from None
        if upgraded is None:
            raise _Closed("the connection closed during the TLS handshake")
        assert isinstance(upgraded, asyncio.Transport)
        self.transport = upgraded
        self.secure = True

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _overflow(self) -> None:
        self.too_long = True
        self._buffer.clear()
        self._lines.put_nowait(None)
        if self.transport is not None:
            self.transport.pause_reading()

    async def _run(self) -> None:
        try:
            await self._session(self)
        except _Closed as exc:
            log.debug("mail session ended: %s", exc)
        finally:
            self.close()


class _Smtp:
    """One SMTP session."""

    def __init__(self, service: SmtpService, hostname: str, context: ssl.SSLContext) -> None:
        self.service = service
        self.hostname = hostname
        self.context = context

    async def __call__(self, channel: _Channel) -> None:
        channel.send(f"220 {self.hostname} ESMTP platscan demo mail server (accepts no mail)")
        while True:
            try:
                line = await channel.readline()
            except _Closed:
                if channel.too_long:
                    channel.send("500 5.5.2 Line too long")
                raise
            verb, _, argument = line.strip().partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                channel.send(*self._ehlo(argument.strip(), channel.secure))
            elif verb == "HELO":
                channel.send(f"250 {self.hostname}" if argument.strip() else "501 5.5.4 Syntax: HELO hostname")
            elif verb == "STARTTLS":
                if channel.secure:
                    channel.send("503 5.5.1 TLS already active")
                elif argument.strip():
                    channel.send("501 5.5.4 Syntax: STARTTLS")
                else:
                    channel.send("220 2.0.0 Ready to start TLS")
                    await channel.start_tls(self.context)
            elif verb == "AUTH":
                await self._auth(channel, argument.split())
            elif verb in ("RSET", "NOOP"):
                channel.send("250 2.0.0 OK")
            elif verb == "QUIT":
                channel.send(f"221 2.0.0 {self.hostname} closing connection")
                return
            elif verb in ("MAIL", "RCPT", "DATA", "BDAT"):
                channel.send("502 5.5.1 This demo mail server accepts no mail")
            else:
                channel.send("502 5.5.1 Command not implemented")

    def _offers_auth(self, secure: bool) -> bool:
        return self.service.auth and (secure or self.service.auth_before_tls)

    def _ehlo(self, client: str, secure: bool) -> list[str]:
        if not client:
            return ["501 5.5.4 Syntax: EHLO hostname"]
        extensions = ["PIPELINING", "SIZE 10240000"]
        if not secure:
            extensions.append("STARTTLS")
        if self._offers_auth(secure):
            extensions.append("AUTH PLAIN LOGIN")
        extensions += ["ENHANCEDSTATUSCODES", "8BITMIME"]
        lines = [f"{self.hostname} Hello {client}", *extensions]
        return [f"250{'-' if n < len(lines) - 1 else ' '}{text}" for n, text in enumerate(lines)]

    async def _auth(self, channel: _Channel, words: list[str]) -> None:
        if not self._offers_auth(channel.secure):
            channel.send("530 5.7.0 Must issue a STARTTLS command first" if self.service.auth else "502 5.5.1 No AUTH")
            return
        mechanism = words[0].upper() if words else ""
        if mechanism not in ("PLAIN", "LOGIN"):
            channel.send("504 5.5.4 Unrecognized authentication type")
            return
        # Read the credentials as a real server would, then turn them down: the demo has no accounts.
        prompts = [] if len(words) > 1 else [""] if mechanism == "PLAIN" else ["Username:"]
        if mechanism == "LOGIN":
            prompts.append("Password:")
        for prompt in prompts:
            channel.send(f"334 {base64.b64encode(prompt.encode()).decode()}")
            if (await channel.readline()).strip() == "*":
                channel.send("501 5.7.0 Authentication cancelled")
                return
        channel.send("535 5.7.8 Authentication credentials invalid")


class _Imap:
    """One IMAP session."""

    def __init__(self, hostname: str, context: ssl.SSLContext) -> None:
        self.hostname = hostname
        self.context = context

    @staticmethod
    def _capabilities(secure: bool) -> str:
        return "IMAP4rev1 AUTH=PLAIN" if secure else "IMAP4rev1 STARTTLS LOGINDISABLED"

    async def __call__(self, channel: _Channel) -> None:
        channel.send(f"* OK [CAPABILITY {self._capabilities(False)}] {self.hostname} IMAP4rev1 platscan demo ready")
        while True:
            try:
                line = await channel.readline()
            except _Closed:
                if channel.too_long:
                    channel.send("* BYE Line too long")
                raise
            tag, _, rest = line.strip().partition(" ")
            command, _, _ = rest.partition(" ")
            command = command.upper()
            if not tag or not command:
                channel.send("* BAD Missing tag or command")
            elif line.rstrip().endswith("}"):
                channel.send(f"{tag} BAD Literals are not supported by this server")
            elif command == "CAPABILITY":
                channel.send(f"* CAPABILITY {self._capabilities(channel.secure)}", f"{tag} OK CAPABILITY completed")
            elif command == "NOOP":
                channel.send(f"{tag} OK NOOP completed")
            elif command == "LOGOUT":
                channel.send(f"* BYE {self.hostname} logging out", f"{tag} OK LOGOUT completed")
                return
            elif command == "STARTTLS":
                if channel.secure:
                    channel.send(f"{tag} BAD TLS already active")
                else:
                    channel.send(f"{tag} OK Begin TLS negotiation now")
                    await channel.start_tls(self.context)
            elif command in ("LOGIN", "AUTHENTICATE"):
                if channel.secure:
                    channel.send(f"{tag} NO [AUTHENTICATIONFAILED] Authentication failed")
                else:
                    channel.send(f"{tag} NO [PRIVACYREQUIRED] LOGIN is disabled until STARTTLS")
            else:
                channel.send(f"{tag} BAD Command unknown or not allowed in this state")


class MailServer:
    """The services of one mail host on ``config.address`` (see the module docstring)."""

    def __init__(self, config: MailServerConfig) -> None:
        self.config = config
        self._context = config.tls.context()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.Server] = []
        self._sessions: set[asyncio.Task[None]] = set()  # touched only on the loop's thread

    @property
    def ports(self) -> tuple[int, ...]:
        return tuple(service.port for service in self.config.services)

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("already started")
        sockets = self._bind()
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(_quiet)
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                for service, sock in zip(self.config.services, sockets, strict=True):
                    self._servers.append(loop.run_until_complete(self._serve(loop, service, sock)))
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=f"MailServer:{self.config.address}", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            self.stop()
            for sock in sockets:
                sock.close()
            raise failure[0]
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            with contextlib.suppress(TimeoutError, RuntimeError):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=5.0)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(5.0)
        if not thread.is_alive():
            loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _bind(self) -> list[socket.socket]:
        bound: list[socket.socket] = []
        for service in self.config.services:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # As the TLS servers do: a restarted demo binds its ports again while old sessions linger.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.config.address, service.port))
                sock.listen(64)
            except OSError as exc:
                sock.close()
                for other in bound:
                    other.close()
                raise BindError(self.config.address, service.port, exc) from exc
            sock.setblocking(False)
            bound.append(sock)
        return bound

    async def _serve(
        self, loop: asyncio.AbstractEventLoop, service: SmtpService | ImapService, sock: socket.socket
    ) -> asyncio.Server:
        session: Callable[[_Channel], Awaitable[None]]
        if isinstance(service, SmtpService):
            session = _Smtp(service, self.config.hostname, self._context)
        else:
            session = _Imap(self.config.hostname, self._context)
        busy = _busy_reply(service, self.config.hostname)
        idle = self.config.idle_timeout

        def protocol() -> asyncio.Protocol:
            if len(self._sessions) >= _MAX_SESSIONS:
                return _Refuse(busy)
            return _Channel(session, idle, self._sessions)

        return await loop.create_server(protocol, sock=sock)

    async def _shutdown(self) -> None:
        for server in self._servers:
            server.close()
        tasks = list(self._sessions)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()


class _Refuse(asyncio.Protocol):
    """Says the server is busy and closes: what a real mail server does past its connection limit."""

    def __init__(self, reply: str) -> None:
        self.reply = reply

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(f"{self.reply}\r\n".encode())
        transport.close()


def _busy_reply(service: SmtpService | ImapService, hostname: str) -> str:
    if isinstance(service, SmtpService):
        return f"421 4.7.0 {hostname} Too many connections, try again later"
    return "* BYE Too many connections, try again later"


def _quiet(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # A scanner aborting handshakes by the hundred is the normal case here, not something to print.
    log.debug("mail server: %s", context.get("message"), exc_info=context.get("exception"))
