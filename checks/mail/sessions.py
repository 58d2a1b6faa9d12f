"""The mail family's own sessions with a mail server: what it offers before and after TLS.

One session per service: connect, read the greeting, ask for the capabilities (SMTP ``EHLO``, IMAP
``CAPABILITY``, POP3 ``CAPA``), start TLS (``STARTTLS`` / ``STLS``, or the handshake first on an
implicit-TLS port), ask for the capabilities again over TLS, say goodbye. No credential is ever
sent. The TLS itself is the tls family's to judge: this client accepts any certificate and any
protocol version, so that "TLS works" means the server's TLS, not this machine's policy.

Rules every session follows (the reasons are in ``scanner.politeness`` and issue 13):

* It runs inside ``one_at_a_time(address, budget)``: one session at a time per mail server.
* Every read and write is bounded by the scan's timeout, the whole session by the endpoint's
  budget, and every reply by ``MAX_REPLY_BYTES``; a silent port costs one timeout.
* A 421/450 answer (or an IMAP/POP3 refusal that words a session limit) ends the session as
  ``RATE_LIMITED`` and is never retried: retrying is what gets a scanner blocked, and the answer
  says nothing about STARTTLS.
* Nothing listening, no TCP answer, or no greeting: ``NOT_OFFERED``; a reset, a close mid-session
  or an answer that is not the protocol: ``ERROR``.
"""

from __future__ import annotations

import contextlib
import enum
import re
import socket
import ssl
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from scanner.evidence import clip, shorten
from scanner.messages import Message, say
from scanner.politeness import Busy, one_at_a_time
from scanner.reasons import network_error

#: The most one reply (a greeting, a capability list) may hold; a server that sends more is cut off.
MAX_REPLY_BYTES = 16 * 1024
#: The most capabilities kept: a real server lists a dozen or two.
MAX_CAPABILITIES = 40
#: SMTP replies that mean "not now, too many of you" (RFC 5321 4.2.3); never retried.
SMTP_BUSY_CODES = frozenset({421, 450})
#: How an IMAP or POP3 server that turns a session away words a limit on sessions.
_BUSY_WORDS = re.compile(
    r"too many|maximum number of connections|connection limit|rate limit|try again later|busy", re.IGNORECASE
)
#: A plain-text server answering a ClientHello: OpenSSL reads its "220 ..." or "* OK" as a bad record.
_PLAINTEXT_TLS_ERRORS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST")
_RESETS = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)


class Protocol(enum.StrEnum):
    SMTP = "smtp"
    IMAP = "imap"
    POP3 = "pop3"

    @property
    def label(self) -> str:
        return self.value.upper()

    @property
    def starttls(self) -> str:
        """The command that starts TLS in this protocol's session."""
        return "STLS" if self is Protocol.POP3 else "STARTTLS"


#: Service scheme -> (protocol, implicit TLS): how the mail family's service endpoints are spoken.
SCHEMES: dict[str, tuple[Protocol, bool]] = {
    "smtp": (Protocol.SMTP, False),
    "smtps": (Protocol.SMTP, True),
    "imap": (Protocol.IMAP, False),
    "imaps": (Protocol.IMAP, True),
    "pop3": (Protocol.POP3, False),
    "pop3s": (Protocol.POP3, True),
}


class Outcome(enum.StrEnum):
    COMPLETE = "complete"  # the session said what it offers (with or without TLS)
    NOT_OFFERED = "not_offered"  # nothing listens, no TCP answer, or no greeting
    RATE_LIMITED = "rate_limited"  # 421/450 or a session limit: not tested, never retried
    ERROR = "error"  # reset, closed mid-session, not the protocol, the lock not had


@dataclass(frozen=True)
class SessionTarget:
    """One service to talk to: ``host`` (SNI and EHLO context) at ``address``:``port``."""

    host: str
    address: str
    port: int
    protocol: Protocol
    implicit_tls: bool

    @property
    def key(self) -> tuple[str, str, str, int, str, bool]:
        return ("mail.session", self.host, self.address, self.port, self.protocol.value, self.implicit_tls)


@dataclass(frozen=True)
class SessionFacts:
    """What one session showed.

    Attributes:
        outcome: whether the session said what it offers (see ``Outcome``).
        reason: why not, when it did not (a message).
        error: the technical cause, for the evidence ("" when none).
        greeting: the server's greeting, shortened.
        capabilities: what it lists before TLS (upper case; for an implicit-TLS port, over TLS).
        starttls_offered: the capabilities list STARTTLS (STLS); None when the server lists none
            (a POP3 server without CAPA), so only asking could tell.
        starttls_reply: the answer to STARTTLS/STLS, shortened ("" when not asked).
        tls_version: the protocol of the TLS session ("TLSv1.3"); "" when none was established.
        tls_error: why the handshake failed ("" when it did not).
        plaintext_reply: an implicit-TLS port answered in plain text instead of TLS.
        tls_capabilities: what it lists over TLS.
        seconds: how long the session itself took.
        waited: how long it waited for another session with the server to end (``scanner.politeness``).
    """

    target: SessionTarget
    outcome: Outcome
    reason: Message | None = None
    error: str = ""
    greeting: str = ""
    capabilities: tuple[str, ...] = ()
    starttls_offered: bool | None = None
    starttls_reply: str = ""
    tls_version: str = ""
    tls_error: str = ""
    plaintext_reply: bool = False
    tls_capabilities: tuple[str, ...] = ()
    seconds: float = 0.0
    waited: float = 0.0

    @property
    def tls(self) -> bool:
        return bool(self.tls_version)

    def evidence(self) -> dict[str, object]:
        """The small JSON object a result shows of this session."""
        target = self.target
        out: dict[str, object] = {
            "host": target.host,
            "address": target.address,
            "port": target.port,
            "protocol": target.protocol.value,
            "implicit_tls": target.implicit_tls,
            "outcome": self.outcome.value,
        }
        if self.greeting:
            out["greeting"] = self.greeting
        if self.capabilities:
            out["capabilities"] = clip(self.capabilities)
        if self.starttls_reply:
            out["starttls_reply"] = self.starttls_reply
        if self.tls_version:
            out["tls_version"] = self.tls_version
        if self.tls_capabilities:
            out["capabilities_after_tls"] = clip(self.tls_capabilities)
        if self.tls_error:
            out["tls_error"] = self.tls_error
        if self.error:
            out["error"] = self.error
        out["session_seconds"] = self.seconds
        if self.waited >= 0.1:
            out["waited_seconds"] = self.waited
        return out


def collect_session(target: SessionTarget, timeout: float, budget: float, ehlo_name: str) -> SessionFacts:
    """Talk to ``target`` once, holding its server's session lock; every failure is a fact."""
    started = time.monotonic()
    deadline = started + max(0.5, budget)
    try:
        with one_at_a_time(target.address, max(0.0, deadline - time.monotonic())) as waited:
            facts = _Session(target, max(0.5, float(timeout)), deadline, ehlo_name).run()
            facts = replace(facts, waited=round(waited, 3))
    except Busy as exc:
        busy = say(
            "mail.session.lock_wait",
            "Another session with the server at {address} did not end within {seconds:g} s (platscan opens one "
            "session at a time with a mail server).",
            address=target.address,
            seconds=round(budget),
        )
        facts = SessionFacts(target, Outcome.ERROR, busy, str(exc), waited=round(time.monotonic() - started, 3))
    return replace(facts, seconds=round(time.monotonic() - started - facts.waited, 3))


# -- the session ------------------------------------------------------------------------------------


class _Closed(Exception):
    """The server closed the connection before its reply was complete."""


class _Stop(Exception):
    """The session ends here with these facts."""

    def __init__(self, facts: SessionFacts) -> None:
        super().__init__(facts.outcome.value)
        self.facts = facts


@dataclass
class _Session:
    target: SessionTarget
    timeout: float
    deadline: float
    ehlo_name: str
    sock: socket.socket | None = None
    buffer: bytes = b""
    received: int = 0
    #: What was learnt so far, kept when the session ends early.
    found: dict[str, object] = field(default_factory=dict)

    def run(self) -> SessionFacts:
        target = self.target
        try:
            self._connect()
        except _Stop as stop:
            return stop.facts
        assert self.sock is not None
        try:
            if target.implicit_tls:
                self._handshake(implicit=True)
            return self._converse()
        except _Stop as stop:
            return stop.facts
        except TimeoutError:
            return self._timed_out()
        except _Closed:
            closed = say(
                "mail.session.closed",
                "The {protocol} server on port {port} closed the connection during the session.",
                protocol=target.protocol.label,
                port=target.port,
            )
            return self._facts(Outcome.ERROR, closed, "connection closed by the server")
        except _RESETS as exc:
            return self._facts(Outcome.ERROR, self._reset(), f"{type(exc).__name__}: {exc}")
        except OSError as exc:
            failed = say(
                "mail.session.failed",
                "The session with port {port} failed: {reason}.",
                port=target.port,
                reason=network_error(exc),
            )
            return self._facts(Outcome.ERROR, failed, str(exc))
        finally:
            with contextlib.suppress(OSError):
                self.sock.close()

    # -- connection and TLS --

    def _left(self) -> float:
        """Seconds the next operation may take: the scan's timeout, within the session's budget."""
        left = min(self.timeout, self.deadline - time.monotonic())
        if left <= 0:
            raise TimeoutError
        return left

    def _connect(self) -> None:
        target = self.target
        try:
            self.sock = socket.create_connection((target.address, target.port), timeout=self._left())
        except ConnectionRefusedError as exc:
            refused = say(
                "mail.session.refused",
                "Nothing listens on port {port} of {host} (connection refused).",
                port=target.port,
                host=target.host,
            )
            raise _Stop(self._facts(Outcome.NOT_OFFERED, refused, str(exc))) from None
        except TimeoutError:
            silent = say(
                "mail.session.no_answer",
                "Port {port} of {host} did not answer within {seconds:g} s (filtered, or the host is down).",
                port=target.port,
                host=target.host,
                seconds=self.timeout,
            )
            raise _Stop(self._facts(Outcome.NOT_OFFERED, silent, "connect timed out")) from None
        except _RESETS as exc:
            raise _Stop(self._facts(Outcome.ERROR, self._reset(), f"{type(exc).__name__}: {exc}")) from None
        except OSError as exc:
            unreachable = say(
                "mail.session.unreachable",
                "Could not connect to port {port} of {host}: {reason}.",
                port=target.port,
                host=target.host,
                reason=network_error(exc),
            )
            raise _Stop(self._facts(Outcome.ERROR, unreachable, str(exc))) from None

    def _handshake(self, *, implicit: bool) -> None:
        assert self.sock is not None
        context = _client_context()
        self.sock.settimeout(self._left())
        try:
            tls = context.wrap_socket(self.sock, server_hostname=_sni(self.target.host))
        except ssl.SSLError as exc:
            said = shorten(str(exc.reason or exc), 200)
            plaintext = implicit and any(marker in str(exc) for marker in _PLAINTEXT_TLS_ERRORS)
            raise _Stop(self._facts(Outcome.COMPLETE, tls_error=said, plaintext_reply=plaintext)) from None
        except TimeoutError:
            if implicit:
                raise  # no greeting and no handshake: a silent port
            failed = say(
                "mail.session.handshake_timeout",
                "The TLS handshake on port {port} did not complete within {seconds:g} s.",
                port=self.target.port,
                seconds=self.timeout,
            )
            raise _Stop(self._facts(Outcome.COMPLETE, tls_error=str(failed))) from None
        except _RESETS as exc:
            if implicit:
                raise
            raise _Stop(self._facts(Outcome.COMPLETE, tls_error=f"{type(exc).__name__}: {exc}")) from None
        self.sock = tls
        self.buffer = b""  # nothing sent before the handshake may be read as if it came over TLS
        self.found["tls_version"] = tls.version() or "TLS"

    # -- reading --

    def _line(self, deadline: float) -> str:
        assert self.sock is not None
        while b"\n" not in self.buffer:
            left = min(deadline, self.deadline) - time.monotonic()
            if left <= 0 or self.received > MAX_REPLY_BYTES:
                raise TimeoutError
            self.sock.settimeout(left)
            chunk = self.sock.recv(4096)
            if not chunk:
                raise _Closed
            self.received += len(chunk)
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\n", 1)
        return raw.rstrip(b"\r").decode("utf-8", "replace")

    def _reply_deadline(self) -> float:
        return time.monotonic() + self._left()

    def _send(self, line: str) -> None:
        assert self.sock is not None
        self.sock.settimeout(self._left())
        self.sock.sendall(line.encode("ascii", "replace") + b"\r\n")

    def _leave(self, goodbye: str) -> None:
        """Say goodbye without waiting for the answer: the session has told what it can."""
        with contextlib.suppress(OSError):
            self._send(goodbye)

    # -- the protocols --

    def _converse(self) -> SessionFacts:
        talk: Callable[[], SessionFacts] = {
            Protocol.SMTP: self._smtp,
            Protocol.IMAP: self._imap,
            Protocol.POP3: self._pop3,
        }[self.target.protocol]
        return talk()

    def _smtp_reply(self) -> tuple[int | None, list[str]]:
        deadline = self._reply_deadline()
        lines = [self._line(deadline)]
        while len(lines[-1]) > 3 and lines[-1][:3].isdigit() and lines[-1][3] == "-":
            lines.append(self._line(deadline))
        head = lines[0][:3]
        return (int(head) if head.isdigit() else None), lines

    def _ehlo(self) -> tuple[str, ...]:
        self._send(f"EHLO {self.ehlo_name}")
        code, lines = self._smtp_reply()
        if code in SMTP_BUSY_CODES:
            raise _Stop(self._busy(lines[0]))
        if code != 250:
            return ()  # no ESMTP: no STARTTLS and no AUTH either
        return _keywords(line[4:] for line in lines[1:])

    def _smtp(self) -> SessionFacts:
        code, lines = self._smtp_reply()
        self.found["greeting"] = shorten(lines[0], 200)
        if code in SMTP_BUSY_CODES:
            return self._busy(lines[0])
        if code != 220:
            return self._refused(lines[0]) if code else self._not_protocol(lines[0])
        capabilities = self._ehlo()
        if self.target.implicit_tls:
            self._leave("QUIT")
            return self._facts(Outcome.COMPLETE, capabilities_over_tls=capabilities)
        self.found["capabilities"] = capabilities
        offered = "STARTTLS" in capabilities
        self.found["starttls_offered"] = offered
        if not offered:
            self._leave("QUIT")
            return self._facts(Outcome.COMPLETE)
        self._send("STARTTLS")
        code, lines = self._smtp_reply()
        self.found["starttls_reply"] = shorten(lines[0], 200)
        if code in SMTP_BUSY_CODES:
            return self._busy(lines[0])
        if code != 220:
            self._leave("QUIT")
            return self._facts(Outcome.COMPLETE)
        self._handshake(implicit=False)
        after = self._ehlo()
        self._leave("QUIT")
        return self._facts(Outcome.COMPLETE, capabilities_over_tls=after)

    def _imap_tagged(self, tag: str) -> list[str]:
        deadline = self._reply_deadline()
        lines = [self._line(deadline)]
        while not lines[-1].upper().startswith(f"{tag.upper()} "):
            lines.append(self._line(deadline))
        return lines

    def _imap_capability(self, tag: str) -> tuple[str, ...]:
        self._send(f"{tag} CAPABILITY")
        lines = self._imap_tagged(tag)
        return _keywords(word for line in lines if line.upper().startswith("* CAPABILITY") for word in line.split()[2:])

    def _imap(self) -> SessionFacts:
        greeting = self._line(self._reply_deadline())
        self.found["greeting"] = shorten(greeting, 200)
        upper = greeting.upper()
        if not upper.startswith(("* OK", "* PREAUTH")):
            if _BUSY_WORDS.search(greeting):
                return self._busy(greeting)
            return self._refused(greeting) if upper.startswith("* BYE") else self._not_protocol(greeting)
        capabilities = self._imap_capability("p1")
        if self.target.implicit_tls:
            self._leave("p2 LOGOUT")
            return self._facts(Outcome.COMPLETE, capabilities_over_tls=capabilities)
        self.found["capabilities"] = capabilities
        offered = "STARTTLS" in capabilities
        self.found["starttls_offered"] = offered
        if not offered:
            self._leave("p2 LOGOUT")
            return self._facts(Outcome.COMPLETE)
        self._send("p2 STARTTLS")
        answer = self._imap_tagged("p2")[-1]
        self.found["starttls_reply"] = shorten(answer, 200)
        if not answer[3:].upper().startswith("OK"):
            self._leave("p3 LOGOUT")
            return self._facts(Outcome.COMPLETE)
        self._handshake(implicit=False)
        after = self._imap_capability("p3")
        self._leave("p4 LOGOUT")
        return self._facts(Outcome.COMPLETE, capabilities_over_tls=after)

    def _pop3_capa(self) -> tuple[str, ...] | None:
        """The CAPA list (RFC 2449), one entry per line ("SASL PLAIN LOGIN" kept whole); None without CAPA."""
        self._send("CAPA")
        deadline = self._reply_deadline()
        first = self._line(deadline)
        if not first.upper().startswith("+OK"):
            return None
        lines = [self._line(deadline)]
        while lines[-1] != ".":
            lines.append(self._line(deadline))
        entries = [" ".join(line.split()).upper() for line in lines[:-1] if line.strip()]
        return tuple(shorten(entry, 80) for entry in entries[:MAX_CAPABILITIES])

    def _pop3(self) -> SessionFacts:
        greeting = self._line(self._reply_deadline())
        self.found["greeting"] = shorten(greeting, 200)
        if not greeting.upper().startswith("+OK"):
            if _BUSY_WORDS.search(greeting):
                return self._busy(greeting)
            return self._refused(greeting) if greeting.upper().startswith("-ERR") else self._not_protocol(greeting)
        capabilities = self._pop3_capa()
        if self.target.implicit_tls:
            self._leave("QUIT")
            return self._facts(Outcome.COMPLETE, capabilities_over_tls=capabilities or ())
        self.found["capabilities"] = capabilities or ()
        # Without CAPA only STLS itself can tell whether it is offered.
        offered = None if capabilities is None else any(entry.split()[0] == "STLS" for entry in capabilities)
        self.found["starttls_offered"] = offered
        if offered is False:
            self._leave("QUIT")
            return self._facts(Outcome.COMPLETE)
        self._send("STLS")
        answer = self._line(self._reply_deadline())
        self.found["starttls_reply"] = shorten(answer, 200)
        if not answer.upper().startswith("+OK"):
            self._leave("QUIT")
            return self._facts(Outcome.COMPLETE)
        self._handshake(implicit=False)
        after = self._pop3_capa()
        self._leave("QUIT")
        return self._facts(Outcome.COMPLETE, capabilities_over_tls=after or ())

    # -- facts --

    def _facts(
        self,
        outcome: Outcome,
        reason: Message | None = None,
        error: str = "",
        *,
        tls_error: str = "",
        plaintext_reply: bool = False,
        capabilities_over_tls: tuple[str, ...] | None = None,
    ) -> SessionFacts:
        found = self.found
        offered = found.get("starttls_offered")
        capabilities = found.get("capabilities", ())
        if self.target.implicit_tls and capabilities_over_tls is not None:
            capabilities = capabilities_over_tls
        return SessionFacts(
            target=self.target,
            outcome=outcome,
            reason=reason,
            error=shorten(error, 200),
            greeting=str(found.get("greeting", "")),
            capabilities=tuple(capabilities) if isinstance(capabilities, tuple) else (),
            starttls_offered=offered if isinstance(offered, bool) else None,
            starttls_reply=str(found.get("starttls_reply", "")),
            tls_version=str(found.get("tls_version", "")),
            tls_error=tls_error,
            plaintext_reply=plaintext_reply,
            tls_capabilities=tuple(capabilities_over_tls or ()),
        )

    def _timed_out(self) -> SessionFacts:
        target = self.target
        if self.received == 0 and "tls_version" not in self.found:
            silent = say(
                "mail.session.silent",
                "The server on port {port} of {host} accepted the connection but did not answer within {seconds:g} s.",
                port=target.port,
                host=target.host,
                seconds=self.timeout,
            )
            return self._facts(Outcome.NOT_OFFERED, silent, "timed out waiting for the greeting")
        unfinished = say(
            "mail.session.unfinished",
            "The {protocol} server on port {port} started the session but did not answer within {seconds:g} s.",
            protocol=target.protocol.label,
            port=target.port,
            seconds=self.timeout,
        )
        return self._facts(Outcome.ERROR, unfinished, f"received {self.received} bytes, then nothing")

    def _busy(self, answer: str) -> SessionFacts:
        said = shorten(answer, 120)
        limited = say(
            "mail.session.rate_limited",
            "Rate-limited, not tested: the server on port {port} answered '{answer}' (platscan does not retry).",
            port=self.target.port,
            answer=said,
        )
        return self._facts(Outcome.RATE_LIMITED, limited, said)

    def _refused(self, answer: str) -> SessionFacts:
        said = shorten(answer, 120)
        refused = say(
            "mail.session.turned_away",
            "The {protocol} server on port {port} refused the session: '{answer}'.",
            protocol=self.target.protocol.label,
            port=self.target.port,
            answer=said,
        )
        return self._facts(Outcome.ERROR, refused, said)

    def _not_protocol(self, answer: str) -> SessionFacts:
        said = shorten(answer, 120)
        other = say(
            "mail.session.not_protocol",
            "The server on port {port} does not speak {protocol}: it answered '{answer}'.",
            port=self.target.port,
            protocol=self.target.protocol.label,
            answer=said,
        )
        return self._facts(Outcome.ERROR, other, said)

    def _reset(self) -> Message:
        return say(
            "mail.session.reset",
            "The server on port {port} reset the connection.",
            port=self.target.port,
        )


def _keywords(entries: Iterable[str]) -> tuple[str, ...]:
    """Capability keywords, upper case, shortened and capped (a server's list is data)."""
    words: list[str] = []
    for entry in entries:
        text = " ".join(entry.split()).upper()
        if text and text not in words:
            words.append(shorten(text, 80))
        if len(words) >= MAX_CAPABILITIES:
            break
    return tuple(words)


def _client_context() -> ssl.SSLContext:
    """A context that completes a handshake with any server TLS: no verification, every protocol
    and suite OpenSSL still has (whether they are good is the tls family's verdict)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    with contextlib.suppress(ssl.SSLError):
        context.set_ciphers("ALL:@SECLEVEL=0")
    return context


def _sni(host: str) -> str | None:
    """The SNI name: none for an address (RFC 6066 3 forbids literal addresses)."""
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return host or None
    return None
