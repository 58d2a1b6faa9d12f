"""The plain-text start of a mail session (SMTP, IMAP, POP3), before sslyze's STARTTLS scan.

One connection reads the greeting and asks for the capabilities (EHLO, CAPABILITY, CAPA), then says
goodbye. In that one session it tells apart what sslyze would take many connections to conclude, or
would misreport: a closed or silent port (the service is not offered), a server that offers no STARTTLS,
and a server that answers 421/450 because it limits sessions (never retried: retrying is what gets a
scanner blocked, and the answer says nothing about STARTTLS). Everything the server sends is data, cut
short; every read is bounded by ``timeout``.
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from dataclasses import dataclass

from sslyze.connection_helpers.opportunistic_tls_helpers import ProtocolWithOpportunisticTlsEnum as Opportunistic

from checks.tls.facts import Connectivity, ConnectivityFacts, connection_refused, could_not_connect, no_tcp
from scanner.evidence import clip, shorten
from scanner.messages import say
from scanner.reasons import network_error

#: The most a greeting or an answer may hold; a server that sends more is cut off there.
MAX_REPLY_BYTES = 16 * 1024
#: SMTP replies that mean "not now, too many of you" (RFC 5321 4.2.3); never retried.
SMTP_BUSY_CODES = frozenset({421, 450})
#: How an IMAP or POP3 server that refuses a session words a limit on sessions.
_BUSY_WORDS = re.compile(r"too many|connection limit|rate limit|try again later|busy", re.IGNORECASE)
_NAMES = {Opportunistic.SMTP: "SMTP", Opportunistic.IMAP: "IMAP", Opportunistic.POP3: "POP3"}
_COMMANDS = {Opportunistic.SMTP: "STARTTLS", Opportunistic.IMAP: "STARTTLS", Opportunistic.POP3: "STLS"}
_RESET_ERRORS = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)


@dataclass(frozen=True)
class SessionStart:
    """What the plain-text start of the session showed.

    Attributes:
        problem: why there is no TLS to scan (the port, the server, its capabilities), or None when
            sslyze may try STARTTLS.
        advertised: whether the capabilities list STARTTLS (STLS); None when the server lists none
            (a POP3 server without CAPA), so only asking can tell.
    """

    problem: ConnectivityFacts | None
    advertised: bool | None = None


class _Closed(Exception):
    """The server closed the connection before its reply was complete."""


class _Reader:
    """Lines from the server, each reply within ``timeout`` of being asked for."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self._sock = sock
        self._timeout = timeout
        self._buffer = b""
        self.received = 0

    def line(self, deadline: float) -> str:
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.received > MAX_REPLY_BYTES:
                raise TimeoutError
            self._sock.settimeout(remaining)
            chunk = self._sock.recv(4096)
            if not chunk:
                raise _Closed
            self.received += len(chunk)
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\n", 1)
        return raw.rstrip(b"\r").decode("utf-8", "replace")

    def next_line(self) -> str:
        return self.line(time.monotonic() + self._timeout)

    def smtp_reply(self) -> tuple[int | None, list[str]]:
        """An SMTP reply: its code (None if the first line has none) and its lines."""
        deadline = time.monotonic() + self._timeout
        lines = [self.line(deadline)]
        while len(lines[-1]) > 3 and lines[-1][:3].isdigit() and lines[-1][3] == "-":
            lines.append(self.line(deadline))
        head = lines[0][:3]
        return (int(head) if head.isdigit() else None), lines

    def until(self, done: re.Pattern[str]) -> list[str]:
        """Lines up to and including the first that matches ``done``."""
        deadline = time.monotonic() + self._timeout
        lines = [self.line(deadline)]
        while not done.match(lines[-1]):
            lines.append(self.line(deadline))
        return lines


def open_session(
    address: str, port: int, protocol: Opportunistic, timeout: float, ehlo_name: str = "localhost"
) -> SessionStart:
    """Connect, read the greeting, ask for the capabilities and leave: what stands in the way of STARTTLS."""
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except ConnectionRefusedError as exc:
        return SessionStart(ConnectivityFacts(Connectivity.NO_SERVICE, connection_refused(port), str(exc)))
    except _RESET_ERRORS as exc:
        return SessionStart(_reset(port, exc))
    except TimeoutError as exc:
        return SessionStart(ConnectivityFacts(Connectivity.NO_SERVICE, no_tcp(port, timeout), str(exc) or "timed out"))
    except OSError as exc:
        unreachable = could_not_connect(port, network_error(exc))
        return SessionStart(ConnectivityFacts(Connectivity.UNREACHABLE, unreachable, str(exc)))
    reader = _Reader(sock, timeout)
    with sock:
        try:
            if protocol is Opportunistic.SMTP:
                return _smtp(sock, reader, port, ehlo_name)
            if protocol is Opportunistic.IMAP:
                return _imap(sock, reader, port)
            return _pop3(sock, reader, port)
        except TimeoutError:
            if reader.received == 0:
                silent = say(
                    "tls.session.silent",
                    "The server accepted a connection on port {port} but sent no greeting within {seconds:g} s.",
                    port=port,
                    seconds=timeout,
                )
                return SessionStart(
                    ConnectivityFacts(Connectivity.NO_SERVICE, silent, "timed out waiting for a greeting")
                )
            unfinished = say(
                "tls.session.unfinished",
                "The server on port {port} started answering but did not finish within {seconds:g} s.",
                port=port,
                seconds=timeout,
            )
            return SessionStart(
                ConnectivityFacts(Connectivity.TIMEOUT, unfinished, f"received {reader.received} bytes, then nothing")
            )
        except _Closed:
            closed = say(
                "tls.session.closed",
                "The server on port {port} closed the connection during the {protocol} session's plain-text start.",
                port=port,
                protocol=_NAMES[protocol],
            )
            return SessionStart(ConnectivityFacts(Connectivity.ERROR, closed, "connection closed by the server"))
        except _RESET_ERRORS as exc:
            return SessionStart(_reset(port, exc))
        except OSError as exc:
            failed = could_not_connect(port, network_error(exc))
            return SessionStart(ConnectivityFacts(Connectivity.ERROR, failed, str(exc)))


def _smtp(sock: socket.socket, reader: _Reader, port: int, ehlo_name: str) -> SessionStart:
    code, lines = reader.smtp_reply()
    if code != 220:
        return SessionStart(_refusal(port, Opportunistic.SMTP, lines[0], busy=code in SMTP_BUSY_CODES))
    sock.sendall(f"EHLO {ehlo_name}\r\n".encode("ascii", "replace"))
    code, lines = reader.smtp_reply()
    if code != 250:
        return SessionStart(_refusal(port, Opportunistic.SMTP, lines[0], busy=code in SMTP_BUSY_CODES, command="EHLO"))
    keywords = [line[4:].split()[0].upper() for line in lines[1:] if line[4:].split()]
    _leave(sock, b"QUIT\r\n")
    if "STARTTLS" not in keywords:
        return SessionStart(_no_starttls(port, Opportunistic.SMTP, keywords), advertised=False)
    return SessionStart(None, advertised=True)


_IMAP_TAGGED = re.compile(r"^p1 ", re.IGNORECASE)


def _imap(sock: socket.socket, reader: _Reader, port: int) -> SessionStart:
    greeting = reader.next_line()
    if not greeting.upper().startswith(("* OK", "* PREAUTH")):
        return SessionStart(_refusal(port, Opportunistic.IMAP, greeting, busy=bool(_BUSY_WORDS.search(greeting))))
    sock.sendall(b"p1 CAPABILITY\r\n")
    lines = reader.until(_IMAP_TAGGED)
    _leave(sock, b"p2 LOGOUT\r\n")
    if not lines[-1][3:].upper().startswith("OK"):
        return SessionStart(None)
    capabilities = [
        word.upper() for line in lines if line.upper().startswith("* CAPABILITY") for word in line.split()[2:]
    ]
    if "STARTTLS" not in capabilities:
        return SessionStart(_no_starttls(port, Opportunistic.IMAP, capabilities), advertised=False)
    return SessionStart(None, advertised=True)


_POP3_END = re.compile(r"^(\.|-ERR)")


def _pop3(sock: socket.socket, reader: _Reader, port: int) -> SessionStart:
    greeting = reader.next_line()
    if not greeting.upper().startswith("+OK"):
        return SessionStart(_refusal(port, Opportunistic.POP3, greeting, busy=bool(_BUSY_WORDS.search(greeting))))
    sock.sendall(b"CAPA\r\n")
    first = reader.next_line()
    if not first.upper().startswith("+OK"):
        # A server without CAPA (RFC 2449) lists nothing: only STLS itself can tell, so sslyze asks.
        _leave(sock, b"QUIT\r\n")
        return SessionStart(None)
    lines = reader.until(_POP3_END)
    _leave(sock, b"QUIT\r\n")
    capabilities = [line.split()[0].upper() for line in lines[:-1] if line.split()]
    if "STLS" not in capabilities:
        return SessionStart(_no_starttls(port, Opportunistic.POP3, capabilities), advertised=False)
    return SessionStart(None, advertised=True)


def _leave(sock: socket.socket, goodbye: bytes) -> None:
    """Say goodbye without waiting for the answer: the session has told what it can."""
    with contextlib.suppress(OSError):
        sock.sendall(goodbye)


def _refusal(port: int, protocol: Opportunistic, answer: str, *, busy: bool, command: str = "") -> ConnectivityFacts:
    """RATE_LIMITED for an answer that limits sessions, else ERROR: the server did not let the session start."""
    said = shorten(answer, 120)
    error = f"{command or 'greeting'}: {said}"
    if busy:
        limited = say(
            "tls.session.busy_answer",
            "The server on port {port} answered '{answer}': it limits sessions, and platscan does not retry.",
            port=port,
            answer=said,
        )
        return ConnectivityFacts(Connectivity.RATE_LIMITED, limited, error)
    refused = say(
        "tls.session.refused",
        "The {protocol} server on port {port} refused the session: '{answer}'.",
        protocol=_NAMES[protocol],
        port=port,
        answer=said,
    )
    return ConnectivityFacts(Connectivity.ERROR, refused, error)


def _no_starttls(port: int, protocol: Opportunistic, capabilities: list[str]) -> ConnectivityFacts:
    plain = say(
        "tls.session.no_starttls",
        "The {protocol} server on port {port} does not offer {command}: its session stays in plain text.",
        protocol=_NAMES[protocol],
        port=port,
        command=_COMMANDS[protocol],
    )
    listed = ", ".join(clip([shorten(c, 40) for c in capabilities], 20)) or "none"
    return ConnectivityFacts(Connectivity.NO_STARTTLS, plain, f"capabilities: {listed}")


def _reset(port: int, exc: OSError) -> ConnectivityFacts:
    reset = say(
        "tls.session.reset",
        "The server on port {port} reset the connection during the session's plain-text start.",
        port=port,
    )
    return ConnectivityFacts(Connectivity.RESET, reset, f"{type(exc).__name__}: {exc}")


def starttls_command(protocol: Opportunistic) -> str:
    """The command that starts TLS in ``protocol``'s session ("STARTTLS", "STLS")."""
    return _COMMANDS[protocol]


def protocol_name(protocol: Opportunistic) -> str:
    return _NAMES[protocol]
