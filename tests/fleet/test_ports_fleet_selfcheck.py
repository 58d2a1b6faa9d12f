"""The ports fleet's listeners speak what they claim to (without nmap), and its targets file is valid."""

from __future__ import annotations

import re
import socket
import struct
from pathlib import Path

from checks.ports.settings import port_settings
from scanner.registry import load_targets
from tests.fleet.ports_fleet import CASE_NAMES, PORTS_CHECKS, mysql_greeting, snmp_v1_response, start_ports_fleet


def talk(port: int, send: bytes = b"", wait_for: int = 1) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        data = b""
        if send:
            sock.sendall(send)
        while len(data) < wait_for:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data


def test_listeners_answer_like_the_services_they_imitate() -> None:
    with start_ports_fleet() as fleet:
        assert talk(fleet["ssh"].port) == b"SSH-2.0-OpenSSH_7.4\r\n"
        assert talk(fleet["ftp"].port).startswith(b"220 ProFTPD 1.3.5 Server")
        assert talk(fleet["telnet"].port).startswith(b"\xff\xfd\x18")
        assert talk(fleet["redis_noauth"].port, b"PING\r\n") == b"-NOAUTH Authentication required.\r\n"
        assert talk(fleet["redis_open"].port, b"*1\r\n$4\r\nPING\r\n") == b"+PONG\r\n"
        with socket.create_connection(("127.0.0.1", fleet["smtp_starttls"].port), timeout=3) as sock:
            assert sock.recv(1024).startswith(b"220 ")
            sock.sendall(b"EHLO scanner\r\n")
            assert b"250-STARTTLS\r\n" in sock.recv(1024)
        assert talk(fleet["web"].port, b"GET / HTTP/1.0\r\n\r\n", 12).startswith(b"HTTP/1.1 200 OK")
        greeting = talk(fleet["mysql"].port, wait_for=4)
        assert greeting == mysql_greeting()


def test_mysql_greeting_is_a_protocol_10_handshake() -> None:
    packet = mysql_greeting("8.0.36")
    length = struct.unpack("<I", packet[:3] + b"\x00")[0]
    assert length == len(packet) - 4 and packet[3] == 0  # sequence id 0
    payload = packet[4:]
    assert payload[0] == 10 and payload[1 : payload.index(b"\x00")] == b"8.0.36"
    assert payload.endswith(b"mysql_native_password\x00")


def test_snmp_response_matches_nmaps_signature() -> None:
    reply = snmp_v1_response(b"0\x26\x02\x01\x00\x04\x06public\xa0...")
    assert reply is not None and reply[0] == 0x30 and reply[1] == len(reply) - 2
    assert re.match(
        rb"^0.*\x02\x01\0\x04\x06public\xa2.*\x06\x08\+\x06\x01\x02\x01\x01\x05\0\x04[^\0]([^\0]+)", reply, re.S
    )
    assert snmp_v1_response(b"no community here") is None


def test_targets_limit_each_platform_to_its_own_port(tmp_path: Path) -> None:
    with start_ports_fleet() as fleet:
        targets = load_targets(fleet.write_targets(tmp_path / "targets.toml", scan={"per_host": 16}))
    assert targets.settings.per_host == 16 and targets.settings.family_settings("ports").method == "connect"
    assert [p.id for p in targets.platforms] == CASE_NAMES
    for platform in targets.platforms:
        running = fleet[platform.id]
        ports = port_settings(platform)
        assert ports.ports == (running.port,)
        assert ports.allowed_ports == ((running.port,) if running.case.allowed else (1,))
        assert platform.address_for(running.host) == "127.0.0.1"
        assert sorted(running.expect) == sorted(PORTS_CHECKS)
