"""The ports fleet: loopback listeners that speak just enough of a protocol for nmap to recognise it.

Usage::

    with start_ports_fleet() as fleet:
        fleet["telnet"].port, fleet["telnet"].expect
        targets = fleet.write_targets(tmp_path / "targets.toml")

Each :class:`BannerServer` sends a greeting when a client connects (FTP, SSH, MySQL, telnet) and/or
answers each request with a fixed reply (Redis), which is all nmap's service detection looks at.
Every listener binds 127.0.0.1 on a port the OS picks: every service is therefore on a
*non-standard* port, and recognising it proves detection from the service probe, not the port
number. The targets file limits the port scan to the fleet's own ports (``ports = [...]``), so the
tests never probe anything else on the machine (127.0.0.1:2024 is someone else's).
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from scanner.demo.tls_server import LOOPBACK, ListenerBase, PlainHttpServer

Responder = Callable[[bytes], bytes | None]

#: A telnet server's opening option negotiation (DO TERMINAL-TYPE, DO TSPEED, DO XDISPLOC,
#: DO NEW-ENVIRON, DO ENVIRON): what Linux telnetd sends first.
TELNET_GREETING = b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27\xff\xfd\x24"
FTP_GREETING = b"220 ProFTPD 1.3.5 Server (platscan test) [127.0.0.1]\r\n"
SSH_GREETING = b"SSH-2.0-OpenSSH_7.4\r\n"
MYSQL_VERSION = "5.7.33-log"
REDIS_NOAUTH = b"-NOAUTH Authentication required.\r\n"
REDIS_PONG = b"+PONG\r\n"
SMTP_GREETING = b"220 mail.ports.test ESMTP Postfix\r\n"


def mysql_greeting(version: str = MYSQL_VERSION, connection_id: int = 7) -> bytes:
    """A MySQL protocol v10 initial handshake packet (what a MySQL server sends on connect)."""
    salt = b"abcdefgh" + b"ijklmnopqrst"
    capabilities = 0xF7FF | (0x81BF << 16)  # CLIENT_PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH, ...
    payload = (
        b"\x0a"
        + version.encode("ascii")
        + b"\x00"
        + struct.pack("<I", connection_id)
        + salt[:8]
        + b"\x00"
        + struct.pack("<H", capabilities & 0xFFFF)
        + b"\x21"  # utf8_general_ci
        + struct.pack("<H", 0x0002)  # SERVER_STATUS_AUTOCOMMIT
        + struct.pack("<H", capabilities >> 16)
        + bytes([21])  # length of the auth plugin data
        + b"\x00" * 10
        + salt[8:]
        + b"\x00"
        + b"mysql_native_password\x00"
    )
    return struct.pack("<I", len(payload))[:3] + b"\x00" + payload


def telnet_responder(data: bytes) -> bytes | None:
    return b"\r\nDebian GNU/Linux 12\r\nlogin: " if data else None


def ftp_responder(data: bytes) -> bytes | None:
    command = data.strip().split(b" ", 1)[0].upper()
    if command == b"QUIT":
        return b"221 Goodbye.\r\n"
    if command == b"USER":
        return b"331 Password required\r\n"
    return b"500 Command not understood\r\n" if data.strip() else None


def ssh_responder(data: bytes) -> bytes | None:
    return b"Protocol mismatch.\r\n" if data and not data.startswith(b"SSH-") else None


def smtp_responder(starttls: bool) -> Responder:
    """An SMTP server's answers; EHLO lists STARTTLS when ``starttls``."""
    extensions = [b"PIPELINING", b"SIZE 10240000", *([b"STARTTLS"] if starttls else []), b"8BITMIME"]

    def respond(data: bytes) -> bytes | None:
        command = data.strip().split(b" ", 1)[0].upper()
        if command == b"EHLO":
            lines = [b"mail.ports.test", *extensions]
            return b"".join(b"250-" + line + b"\r\n" for line in lines[:-1]) + b"250 " + lines[-1] + b"\r\n"
        if command == b"HELO":
            return b"250 mail.ports.test\r\n"
        if command == b"QUIT":
            return b"221 2.0.0 Bye\r\n"
        return b"502 5.5.2 Error: command not recognized\r\n" if data.strip() else None

    return respond


def http_responder(server: str = "nginx") -> Responder:
    """A web server's answer to any request: a small page, ``Server: <server>``, then hang up."""
    body = b"<!doctype html><title>platscan</title><p>ok</p>"

    def respond(data: bytes) -> bytes | None:
        if b"\r\n\r\n" not in data and b"\n\n" not in data:
            return None
        head = f"HTTP/1.1 200 OK\r\nServer: {server}\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n"
        return head.encode("ascii") + b"Connection: close\r\n\r\n" + body

    return respond


def fixed_reply(reply: bytes) -> Responder:
    """A responder that answers every request with ``reply`` (a Redis with or without a password)."""

    def respond(data: bytes) -> bytes | None:
        return reply if data else None

    return respond


class BannerServer(ListenerBase):
    """Sends ``greeting`` on connect, then answers each chunk received with ``responder(chunk)``
    (nothing when it returns None), until the client closes or ``idle`` seconds pass in silence.

    ``close_after_reply`` hangs up after the first answer. The fake Redis servers do: a real one
    keeps the connection open, so nmap waits out each unanswered probe (5 s each, about 26 s at
    ``--version-intensity 2``); hanging up gives nmap the same bytes without the wait.
    """

    def __init__(
        self,
        greeting: bytes = b"",
        responder: Responder | None = None,
        *,
        close_after_reply: bool = False,
        host: str = LOOPBACK,
        port: int = 0,
        idle: float = 10.0,
    ) -> None:
        super().__init__(host=host, port=port, io_timeout=idle)
        self.greeting = greeting
        self.responder = responder
        self.close_after_reply = close_after_reply

    def handle(self, conn: socket.socket) -> None:
        if self.greeting:
            conn.sendall(self.greeting)
        while not self._stopping.is_set():
            data = conn.recv(4096)
            if not data:
                return
            reply = self.responder(data) if self.responder else None
            if reply:
                conn.sendall(reply)
                if self.close_after_reply:
                    return


def snmp_v1_response(request: bytes, name: bytes = b"snmp.ports.test") -> bytes | None:
    """An SNMPv1 GetResponse (community "public", sysName.0 = ``name``) to a v1 request for "public"."""
    if b"public" not in request:
        return None

    def tlv(tag: int, value: bytes) -> bytes:
        return bytes([tag, len(value)]) + value

    oid = bytes.fromhex("2b06010201010500")  # 1.3.6.1.2.1.1.5.0 sysName.0
    varbind = tlv(0x30, tlv(0x06, oid) + tlv(0x04, name))
    pdu = tlv(0x02, b"\x4c\x33\xa7\x56") + tlv(0x02, b"\x00") + tlv(0x02, b"\x00") + tlv(0x30, varbind)
    return tlv(0x30, tlv(0x02, b"\x00") + tlv(0x04, b"public") + tlv(0xA2, pdu))


class SnmpServer:
    """A UDP responder that answers SNMPv1 requests for community "public" (SNMP v1/v2c is cleartext).

    UDP port scans need root, and nmap only sends its SNMP probes to port 161: binding it needs root too.
    """

    def __init__(self, host: str = LOOPBACK, port: int = 161) -> None:
        self.host, self.port = host, port
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def __enter__(self) -> SnmpServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((self.host, self.port))
        sock.settimeout(0.2)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                data, peer = self._sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            reply = snmp_v1_response(data)
            if reply:
                with contextlib.suppress(OSError):
                    self._sock.sendto(reply, peer)

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(2)
        if self._sock is not None:
            self._sock.close()


@dataclass(frozen=True)
class PortCase:
    """One listener of the fleet and what the ports checks must make of it.

    Attributes:
        name: the case's key; also names the platform in ``write_targets``.
        description: what it imitates.
        allowed: whether its port goes into the platform's ``allowed_ports``.
        expect: check id -> the status the platform's host must get.
    """

    name: str
    description: str
    allowed: bool
    expect: Mapping[str, str] = field(default_factory=dict)


PORTS_CHECKS = [
    "ports.unexpected_open",
    "ports.cleartext_service",
    "ports.database_exposed",
    "ports.remote_admin_exposed",
    "ports.version_disclosure",
]


def _expect(**fails: str) -> Mapping[str, str]:
    out = {check: "pass" for check in PORTS_CHECKS}
    out.update({f"ports.{name}": status for name, status in fails.items()})
    return out


# One platform per case, so each case's verdicts are judged alone.
CASES: tuple[PortCase, ...] = (
    PortCase("web", "HTTP server on an allowed port, no version in its Server header", True, _expect()),
    PortCase(
        "unexpected_web",
        "the same HTTP server on a port the platform does not declare",
        False,
        _expect(unexpected_open="fail"),
    ),
    PortCase(
        "telnet",
        "telnet (option negotiation, then a login prompt), allowed",
        True,
        _expect(cleartext_service="fail", remote_admin_exposed="fail"),
    ),
    PortCase(
        "ftp",
        "ProFTPD 1.3.5 banner, allowed",
        True,
        _expect(cleartext_service="fail", version_disclosure="fail"),
    ),
    PortCase(
        "ssh",
        "OpenSSH 7.4 banner, not allowed",
        False,
        _expect(unexpected_open="fail", remote_admin_exposed="fail", version_disclosure="fail"),
    ),
    PortCase(
        "mysql",
        "MySQL 5.7.33 v10 handshake on a non-standard port, allowed",
        True,
        _expect(database_exposed="fail", version_disclosure="fail"),
    ),
    PortCase(
        "redis_noauth",
        "Redis that answers -NOAUTH (password set), allowed",
        True,
        _expect(database_exposed="fail"),
    ),
    PortCase(
        "redis_open",
        "Redis that answers +PONG (no password), not allowed",
        False,
        _expect(unexpected_open="fail", database_exposed="fail"),
    ),
    PortCase("smtp_starttls", "Postfix SMTP that offers STARTTLS, allowed", True, _expect()),
    PortCase(
        "smtp_plain",
        "Postfix SMTP without STARTTLS, allowed",
        True,
        _expect(cleartext_service="fail"),
    ),
)
CASE_NAMES = [case.name for case in CASES]


def _server(name: str) -> ListenerBase:
    if name in ("web", "unexpected_web"):
        return PlainHttpServer(headers={"Server": "nginx"})
    if name == "telnet":
        return BannerServer(TELNET_GREETING, telnet_responder)
    if name == "ftp":
        return BannerServer(FTP_GREETING, ftp_responder)
    if name == "ssh":
        return BannerServer(SSH_GREETING, ssh_responder)
    if name == "mysql":
        return BannerServer(mysql_greeting())
    if name == "redis_noauth":
        return BannerServer(responder=fixed_reply(REDIS_NOAUTH), close_after_reply=True)
    if name == "redis_open":
        return BannerServer(responder=fixed_reply(REDIS_PONG), close_after_reply=True)
    if name in ("smtp_starttls", "smtp_plain"):
        return BannerServer(SMTP_GREETING, smtp_responder(starttls=name == "smtp_starttls"))
    raise KeyError(name)


@dataclass(frozen=True)
class RunningCase:
    case: PortCase
    port: int

    @property
    def name(self) -> str:
        return self.case.name

    @property
    def host(self) -> str:
        return f"{self.case.name.replace('_', '-')}.ports.test"

    @property
    def expect(self) -> Mapping[str, str]:
        return self.case.expect


class PortsFleet:
    def __init__(self, running: Mapping[str, RunningCase]) -> None:
        self.cases = dict(running)

    def __getitem__(self, name: str) -> RunningCase:
        return self.cases[name]

    def write_targets(self, path: Path, *, scan: Mapping[str, object] | None = None) -> Path:
        """One platform per case: its host resolves to 127.0.0.1 and its port scan covers its own
        port only; ``allowed_ports`` holds that port when the case is ``allowed``, else a port that
        is surely closed (a platform always declares what it means to expose)."""
        settings = {"timeout": 3, "retries": 0, "endpoint_timeout": 60, **(scan or {})}
        lines = ["# Generated by tests/fleet/ports_fleet.py: one platform per ports case.", "[scan]"]
        lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
        for running in self.cases.values():
            allowed = running.port if running.case.allowed else 1
            lines += [
                "",
                "[[platforms]]",
                f"id = {json.dumps(running.name)}",
                f"name = {json.dumps('Ports case ' + running.name + ': ' + running.case.description)}",
                "level = 3",
                f"hosts = [{json.dumps(running.host)}]",
                f"ports = [{running.port}]",
                f"allowed_ports = [{allowed}]",
                f"resolve = {{ {json.dumps(running.host)} = {json.dumps(LOOPBACK)} }}",
            ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path


@contextlib.contextmanager
def start_ports_fleet(names: list[str] | None = None) -> Iterator[PortsFleet]:
    """Start one listener per case (all by default); stop them all on exit."""
    wanted = names or CASE_NAMES
    with contextlib.ExitStack() as stack:
        running = {}
        for case in CASES:
            if case.name in wanted:
                server = stack.enter_context(_server(case.name))
                running[case.name] = RunningCase(case, server.port)
        yield PortsFleet(running)
