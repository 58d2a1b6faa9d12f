"""What the ports family reads from the targets file, validated here (the registry delegates to it).

Per platform, keys of ``[[platforms]]`` itself (they predate family tables and stay where fleet
files have them)::

    ports = "top-1000"          # "top-100", "top-1000", "all", or a list of ports and "a-b" ranges
    allowed_ports = [80, 443]   # the allow-list ports.unexpected_open judges against

and scan-wide, keys of ``[scan]``::

    port_scan = "connect"       # "connect" (nmap -sT, any user) or "syn" (nmap -sS, needs root)
    udp = false                 # also scan UDP 161 (SNMP); needs root
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scanner.config import shown
from scanner.family import PlatformSection, Report
from scanner.model import Platform
from scanner.plugin import ScanSettings

FAMILY_NAME = "ports"
PORT_PRESETS = ("top-100", "top-1000", "all")
PORT_SCAN_METHODS = ("connect", "syn")
PLATFORM_KEYS = ("ports", "allowed_ports")
SCAN_KEYS = ("port_scan", "udp")
_RANGE_RE = re.compile(r"^(\d{1,5})-(\d{1,5})$")


@dataclass(frozen=True)
class PortSettings:
    """One platform's port scan: what to scan (``ports``) and what may be open (``allowed_ports``)."""

    ports: str | tuple[int, ...] = "top-1000"
    allowed_ports: tuple[int, ...] = (80, 443)


@dataclass(frozen=True)
class PortScanSettings:
    """How every host of the scan is port-scanned (``[scan] port_scan`` and ``udp``)."""

    method: str = "connect"
    udp: bool = False


def configure(section: PlatformSection, report: Report) -> PortSettings:
    values = section.keys
    ports: str | tuple[int, ...] = PortSettings.ports
    if "ports" in values:
        parsed = parse_ports(values["ports"])
        if isinstance(parsed, str) and parsed not in PORT_PRESETS:
            report("ports", parsed)
        else:
            ports = parsed
    allowed = PortSettings.allowed_ports
    if "allowed_ports" in values:
        value = values["allowed_ports"]
        if isinstance(value, list) and all(is_port(p) for p in value):
            allowed = tuple(sorted(set(value)))
        else:
            report("allowed_ports", "must be a list of port numbers 1-65535, e.g. [80, 443]")
    return PortSettings(ports=ports, allowed_ports=allowed)


def configure_scan(values: Mapping[str, Any], report: Report) -> PortScanSettings:
    method = PortScanSettings.method
    if "port_scan" in values:
        value = values["port_scan"]
        if isinstance(value, str) and value in PORT_SCAN_METHODS:
            method = value
        else:
            report(
                "port_scan",
                f'{shown(value)} is not a port scan type: "connect" (nmap -sT, any user) or '
                '"syn" (nmap -sS, needs root)',
            )
    udp = PortScanSettings.udp
    if "udp" in values:
        if isinstance(values["udp"], bool):
            udp = values["udp"]
        else:
            report("udp", "must be true or false (true also scans UDP 161, SNMP; needs root)")
    return PortScanSettings(method=method, udp=udp)


def port_settings(platform: Platform) -> PortSettings:
    """The platform's port settings (the defaults for a platform not read from a targets file)."""
    settings = platform.family_settings(FAMILY_NAME)
    return settings if isinstance(settings, PortSettings) else PortSettings()


def port_scan_settings(settings: ScanSettings) -> PortScanSettings:
    found = settings.family_settings(FAMILY_NAME)
    return found if isinstance(found, PortScanSettings) else PortScanSettings()


def parse_ports(value: Any) -> str | tuple[int, ...]:
    """A preset name, or the sorted ports of a list of numbers and "a-b" ranges; a str message on error."""
    if isinstance(value, str):
        if value in PORT_PRESETS:
            return value
        return f"{shown(value)} is not one of {', '.join(PORT_PRESETS)} or a list of ports"
    if not isinstance(value, list) or not value:
        return 'must be "top-100", "top-1000", "all" or a list of ports and "a-b" ranges'
    out: set[int] = set()
    for entry in value:
        if is_port(entry):
            out.add(entry)
            continue
        match = _RANGE_RE.match(entry) if isinstance(entry, str) else None
        if match and 1 <= int(match[1]) <= int(match[2]) <= 65535:
            out.update(range(int(match[1]), int(match[2]) + 1))
            continue
        return f"{shown(entry)} is not a port number or an 'a-b' range"
    return tuple(sorted(out))


def is_port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535
