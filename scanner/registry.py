"""The targets file: load it, validate every field, and build the platforms that are the scan's scope.

Every problem names the file, the line, the platform and the field, and all problems are reported
at once, so a fleet owner can fix a file in one pass. Unknown keys are errors: a typo such as
``alowed_ports`` must not silently widen what is accepted.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509

from scanner.model import AuthSettings, Endpoint, GateSettings, Platform, Severity, normalize_host
from scanner.plugin import ScanSettings

PORT_PRESETS = ("top-100", "top-1000", "all")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_RANGE_RE = re.compile(r"^(\d{1,5})-(\d{1,5})$")
_NUMERIC_RE = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*$")
_SECRET_KEYS = {"password", "username", "user", "pass", "token", "secret", "api_key"}

SCAN_KEYS = {
    "concurrency",
    "per_host",
    "timeout",
    "retries",
    "endpoint_timeout",
    "ca_bundle",
    "profile",
    "port_scan",
    "udp",
}
PORT_SCAN_METHODS = ("connect", "syn")
PLATFORM_KEYS = {
    "id",
    "name",
    "owner",
    "contact",
    "level",
    "urls",
    "hosts",
    "ports",
    "allowed_ports",
    "resolve",
    "tags",
    "auth",
    "gate",
}
GATE_KEYS = {"min_grade", "fail_on", "require_compliant"}
GRADES = ("A+", "A", "B", "C", "D", "F")
AUTH_KEYS = {
    "login_url",
    "protected_paths",
    "username_env",
    "password_env",
    "username_field",
    "password_field",
    "success_marker",
}


class TargetsError(Exception):
    """The targets file is unusable; ``problems`` holds one line per problem."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Targets:
    path: Path
    settings: ScanSettings
    platforms: tuple[Platform, ...]

    def platform(self, platform_id: str) -> Platform:
        for platform in self.platforms:
            if platform.id == platform_id:
                return platform
        known = ", ".join(p.id for p in self.platforms)
        raise KeyError(f"no platform {platform_id!r} in {self.path.name} (registered: {known})")

    def only(self, platform_ids: tuple[str, ...]) -> Targets:
        if not platform_ids:
            return self
        return replace(self, platforms=tuple(self.platform(pid) for pid in dict.fromkeys(platform_ids)))


def endpoints(platform: Platform) -> list[Endpoint]:
    """What checks run against: each registered URL, then each host of the platform."""
    out = [Endpoint.for_url(platform, url) for url in platform.urls]
    out.extend(Endpoint.for_host(platform, host) for host in platform.all_hosts)
    return out


def in_scope(platform: Platform, host: str) -> bool:
    """Whether platscan may contact ``host`` on behalf of ``platform``: only its registered hosts."""
    return normalize_host(host) in platform.all_hosts


class _Lines:
    """Finds the line of a key in the TOML text, so errors can point at it (tomllib keeps no positions)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers = [
            (number, line.split("#", 1)[0].strip())
            for number, line in enumerate(self.lines, start=1)
            if line.strip().startswith("[")
        ]

    def _end(self, start: int, stop_at: str | None = None) -> int:
        for number, header in self.headers:
            if number > start and (stop_at is None or header == stop_at):
                return number
        return len(self.lines) + 1

    def find(self, table: str, key: str | None, platform_index: int | None = None) -> int:
        """The line of ``key`` in [scan], in the n-th [[platforms]] or in its [platforms.auth]; 0 if unknown."""
        if table == "scan":
            starts = [n for n, h in self.headers if h == "[scan]"]
        else:
            starts = [n for n, h in self.headers if h == "[[platforms]]"]
            starts = starts[platform_index : platform_index + 1] if platform_index is not None else []
            if starts and table in ("auth", "gate"):
                block_end = self._end(starts[0], "[[platforms]]")
                header = f"[platforms.{table}]"
                starts = [n for n, h in self.headers if starts[0] < n < block_end and h == header]
        if not starts:
            return 0
        start = starts[0]
        if key is None:
            return start
        pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        for number in range(start + 1, self._end(start)):
            if pattern.match(self.lines[number - 1]):
                return number
        return start


class _Validator:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = _Lines(text)
        self.problems: list[str] = []

    def problem(self, where: str, line: int, message: str) -> None:
        location = f"{self.path.name}:{line}" if line else self.path.name
        self.problems.append(f"{location}: {where}: {message}")

    # ---- [scan] ----
    def scan(self, table: Any) -> ScanSettings:
        defaults = ScanSettings()
        if table is None:
            return defaults
        if not isinstance(table, dict):
            self.problem("scan", self.lines.find("scan", None), "must be a table ([scan])")
            return defaults

        def report(key: str, message: str) -> None:
            self.problem(f"scan.{key}", self.lines.find("scan", key), message)

        for key in sorted(set(table) - SCAN_KEYS):
            report(key, f"unknown key (expected one of: {', '.join(sorted(SCAN_KEYS))})")
        values: dict[str, Any] = {}
        numbers: dict[str, tuple[type, float, float]] = {
            "concurrency": (int, 1, 256),
            "per_host": (int, 1, 32),
            "timeout": (float, 0.5, 300),
            "retries": (int, 0, 5),
            "endpoint_timeout": (float, 5, 3600),
        }
        for key, (kind, low, high) in numbers.items():
            if key in table:
                value = _number(table[key], kind, low, high)
                if isinstance(value, str):
                    report(key, value)
                else:
                    values[key] = value
        if "profile" in table:
            profile = table["profile"]
            if not isinstance(profile, str) or not profile.strip():
                report("profile", "must be a profile name or a path to a profile file")
            elif profile.endswith(".toml") and not Path(profile).is_absolute():
                values["profile"] = str((self.path.parent / profile).resolve())
            else:
                values["profile"] = profile
        if "port_scan" in table:
            if table["port_scan"] in PORT_SCAN_METHODS:
                values["port_scan"] = table["port_scan"]
            else:
                report(
                    "port_scan",
                    f'{table["port_scan"]!r} is not a port scan type: "connect" (nmap -sT, any user) or '
                    '"syn" (nmap -sS, needs root)',
                )
        if "udp" in table:
            if isinstance(table["udp"], bool):
                values["udp"] = table["udp"]
            else:
                report("udp", "must be true or false (true also scans UDP 161, SNMP; needs root)")
        if "ca_bundle" in table:
            bundle = self.ca_bundle(table["ca_bundle"])
            if isinstance(bundle, str):
                report("ca_bundle", bundle)
            else:
                values["ca_bundle"] = bundle
        return replace(defaults, **values)

    def ca_bundle(self, value: Any) -> Path | str:
        if not isinstance(value, str) or not value:
            return "must be the path of a PEM file"
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = (self.path.parent / path).resolve()
        return check_ca_bundle(path)

    # ---- [[platforms]] ----
    def platforms(self, items: Any) -> list[Platform]:
        if items is None:
            self.problem("platforms", 0, "no platforms registered (add [[platforms]] tables)")
            return []
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            self.problem("platforms", 0, "must be an array of tables ([[platforms]])")
            return []
        out: list[Platform] = []
        first_line: dict[str, int] = {}
        for index, item in enumerate(items):
            platform = self.platform(index, item)
            if platform is None:
                continue
            if platform.id in first_line:
                self.problem(
                    f'platforms[{index}] ("{platform.id}")',
                    self.lines.find("platforms", "id", index),
                    f"id: duplicate platform id (first registered at line {first_line[platform.id]})",
                )
                continue
            first_line[platform.id] = self.lines.find("platforms", "id", index)
            out.append(platform)
        return out

    def platform(self, index: int, item: dict[str, Any]) -> Platform | None:
        raw_id = item.get("id")
        label = f'platforms[{index}] ("{raw_id}")' if isinstance(raw_id, str) else f"platforms[{index}]"
        before = len(self.problems)

        def report(key: str | None, message: str, table: str = "platforms") -> None:
            # For [platforms.auth] the key is "auth.<field>"; its line is found by the field alone.
            line_key = key
            if key and table in ("auth", "gate"):
                line_key = key.split(".", 1)[1]
            elif key:
                line_key = key.split("[", 1)[0].split(".", 1)[0]
            self.problem(label, self.lines.find(table, line_key, index), f"{key}: {message}" if key else message)

        for key in sorted(set(item) - PLATFORM_KEYS):
            if key.lower() in _SECRET_KEYS:
                report(key, "credentials never go in the targets file; name environment variables in [platforms.auth]")
            else:
                report(key, f"unknown key (expected one of: {', '.join(sorted(PLATFORM_KEYS))})")

        if not isinstance(raw_id, str) or not _ID_RE.match(raw_id):
            report("id", "required: lower-case letters, digits, '.', '_' or '-' (at most 64), e.g. \"dvc\"")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            report("name", "required: the platform's name")
        for key in ("owner", "contact"):
            if key in item and not isinstance(item[key], str):
                report(key, "must be a string")
        level = _number(item.get("level", 3), int, 1, 5)
        if isinstance(level, str):
            report("level", f"{level} (the security level, cấp độ 1-5)")

        urls = self.string_list(item, "urls", report)
        for n, url in enumerate(urls):
            message = url_problem(url)
            if message:
                report(f"urls[{n}]", message)
        hosts = self.string_list(item, "hosts", report)
        for n, host in enumerate(hosts):
            message = host_problem(host)
            if message:
                report(f"hosts[{n}]", message)
        if not item.get("urls") and not item.get("hosts"):
            report(None, "registers nothing to scan: give urls and/or hosts")

        ports: str | tuple[int, ...] = "top-1000"
        if "ports" in item:
            parsed_ports = parse_ports(item["ports"])
            if isinstance(parsed_ports, str) and parsed_ports not in PORT_PRESETS:
                report("ports", parsed_ports)
            else:
                ports = parsed_ports
        allowed: tuple[int, ...] = (80, 443)
        if "allowed_ports" in item:
            value = item["allowed_ports"]
            if isinstance(value, list) and all(_is_port(p) for p in value):
                allowed = tuple(sorted(set(value)))
            else:
                report("allowed_ports", "must be a list of port numbers 1-65535, e.g. [80, 443]")

        resolve: list[tuple[str, str]] = []
        own_hosts = {normalize_host(urlsplit(u).hostname or "") for u in urls} | {normalize_host(h) for h in hosts}
        if "resolve" in item:
            table = item["resolve"]
            if not isinstance(table, dict):
                report("resolve", 'must be a table of host = "address", e.g. { "dvc.example" = "10.0.0.5" }')
            else:
                for host, address in table.items():
                    if not isinstance(address, str) or not _is_ip(address):
                        report(f"resolve.{host}", f"{address!r} is not an IP address")
                    elif normalize_host(host) not in own_hosts:
                        report(f"resolve.{host}", "is not one of this platform's hosts (urls or hosts)")
                    else:
                        resolve.append((normalize_host(host), address))
        tags = self.string_list(item, "tags", report)
        auth = self.auth(item.get("auth"), own_hosts, report) if "auth" in item else None
        gate = self.gate(item.get("gate"), report) if "gate" in item else None

        if len(self.problems) > before:
            return None
        assert isinstance(raw_id, str) and isinstance(name, str) and isinstance(level, int)
        return Platform(
            id=raw_id,
            name=name.strip(),
            owner=str(item.get("owner", "")),
            contact=str(item.get("contact", "")),
            level=level,
            urls=tuple(urls),
            hosts=tuple(normalize_host(h) for h in hosts),
            ports=ports,
            allowed_ports=allowed,
            resolve=tuple(sorted(resolve)),
            tags=tuple(tags),
            auth=auth,
            gate=gate,
        )

    def string_list(self, item: dict[str, Any], key: str, report: Callable[[str, str], None]) -> list[str]:
        value = item.get(key, [])
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        report(key, "must be a list of strings")
        return []

    def gate(self, table: Any, report: Callable[..., None]) -> GateSettings | None:
        if not isinstance(table, dict):
            report("gate", "must be a table ([platforms.gate])")
            return None
        for key in sorted(set(table) - GATE_KEYS):
            report(f"gate.{key}", f"unknown key (expected one of: {', '.join(sorted(GATE_KEYS))})", "gate")
        for key in sorted(set(table) & GATE_KEYS):
            problem = _gate_problem(key, table[key])
            if problem:
                report(f"gate.{key}", problem, "gate")
        fail_on = table.get("fail_on")
        return GateSettings(
            min_grade=table.get("min_grade"),
            fail_on=Severity(fail_on) if fail_on in {s.value for s in Severity} else None,
            require_compliant=table.get("require_compliant"),
        )

    def auth(self, table: Any, own_hosts: set[str], report: Callable[..., None]) -> AuthSettings | None:
        if not isinstance(table, dict):
            report("auth", "must be a table ([platforms.auth])")
            return None

        def auth_report(key: str, message: str) -> None:
            report(f"auth.{key}", message, "auth")

        for key in sorted(set(table) - AUTH_KEYS):
            if key.lower() in _SECRET_KEYS:
                auth_report(key, "credentials never go in the targets file; use username_env / password_env")
            else:
                auth_report(key, f"unknown key (expected one of: {', '.join(sorted(AUTH_KEYS))})")
        login_url = table.get("login_url")
        if login_url is not None:
            message = url_problem(login_url) if isinstance(login_url, str) else "must be a URL"
            if not message and normalize_host(urlsplit(login_url).hostname or "") not in own_hosts:
                message = "is not on one of this platform's hosts"
            if message:
                auth_report("login_url", message)
        paths = table.get("protected_paths", [])
        if not (isinstance(paths, list) and all(isinstance(p, str) and p.startswith("/") for p in paths)):
            auth_report("protected_paths", 'must be a list of paths starting with "/"')
            paths = []
        for key in ("username_env", "password_env"):
            if key in table and not (isinstance(table[key], str) and _ENV_RE.match(table[key])):
                auth_report(key, "must be the name of an environment variable, e.g. DVC_SCAN_USER")
        for key in ("username_field", "password_field", "success_marker"):
            if key in table and not isinstance(table[key], str):
                auth_report(key, "must be a string")
        return AuthSettings(
            login_url=login_url if isinstance(login_url, str) else None,
            protected_paths=tuple(paths),
            username_env=table.get("username_env"),
            password_env=table.get("password_env"),
            username_field=table.get("username_field"),
            password_field=table.get("password_field"),
            success_marker=table.get("success_marker"),
        )


def _gate_problem(key: str, value: Any) -> str | None:
    if key == "min_grade" and value not in GRADES:
        return f"{value!r} is not a grade ({', '.join(GRADES)})"
    if key == "fail_on" and value not in {s.value for s in Severity}:
        return f"{value!r} is not a severity ({', '.join(s.value for s in Severity)})"
    if key == "require_compliant" and not isinstance(value, bool):
        return "must be true or false"
    return None


def _number(value: Any, kind: type, low: float, high: float) -> int | float | str:
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and isinstance(value, float)):
        return f"must be {'a whole number' if kind is int else 'a number'} from {low:g} to {high:g}"
    if not low <= value <= high:
        return f"{value} is out of range ({low:g}-{high:g})"
    return kind(value)  # type: ignore[no-any-return]


def _is_port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def host_problem(host: str) -> str | None:
    """Why ``host`` cannot be scanned, or None. Only single hosts: never ranges, CIDRs or wildcards."""
    if not host:
        return "is empty"
    if "/" in host or "*" in host or "," in host or " " in host:
        return f"{host!r} is not a single host name or address (ranges, CIDRs and wildcards are out of scope)"
    if _is_ip(host.strip("[]")):
        return None
    name = normalize_host(host)
    if len(name) > 253 or not all(_LABEL_RE.match(label) for label in name.split(".")):
        return f"{host!r} is not a valid host name"
    if _NUMERIC_RE.match(name):
        # 2130706433 or 0x7f.1 reach 127.0.0.1 through the resolver: say what is meant instead.
        return f"{host!r} looks like a numeric address but is not a dotted IP address; write the address plainly"
    return None


def url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"{url!r} is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return f"{url!r} is not an http(s) URL"
    if not parts.hostname:
        return f"{url!r} has no host"
    if parts.username is not None or parts.password is not None:
        return f"{url!r} contains credentials; name environment variables in [platforms.auth] instead"
    if port == 0:
        return f"{url!r} has port 0"
    return host_problem(parts.hostname)


def parse_ports(value: Any) -> str | tuple[int, ...]:
    """A preset name, or the sorted ports of a list of numbers and "a-b" ranges; a str message on error."""
    if isinstance(value, str):
        if value in PORT_PRESETS:
            return value
        return f"{value!r} is not one of {', '.join(PORT_PRESETS)} or a list of ports"
    if not isinstance(value, list) or not value:
        return 'must be "top-100", "top-1000", "all" or a list of ports and "a-b" ranges'
    out: set[int] = set()
    for entry in value:
        if _is_port(entry):
            out.add(entry)
            continue
        match = _RANGE_RE.match(entry) if isinstance(entry, str) else None
        if match and 1 <= int(match[1]) <= int(match[2]) <= 65535:
            out.update(range(int(match[1]), int(match[2]) + 1))
            continue
        return f"{entry!r} is not a port number or an 'a-b' range"
    return tuple(sorted(out))


def check_ca_bundle(path: Path) -> Path | str:
    """``path`` if it holds at least one PEM certificate, else a message saying what is wrong."""
    if not path.is_file():
        return f"{str(path)!r} does not exist"
    try:
        data = path.read_bytes()
        certs = x509.load_pem_x509_certificates(data)
    except OSError as exc:
        return f"{str(path)!r} cannot be read ({exc.strerror})"
    except ValueError:
        return f"{str(path)!r} is not a PEM file of certificates"
    if not certs:
        return f"{str(path)!r} holds no certificate"
    return path


def load_targets(path: Path, overrides: Mapping[str, Any] | None = None) -> Targets:
    """Read and validate a targets file; raise ``TargetsError`` listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TargetsError(path, [f"{path}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TargetsError(path, [f"{path}: cannot be read ({exc})"]) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TargetsError(path, [f"{path.name}: not valid TOML: {exc}"]) from None
    validator = _Validator(path, text)
    for key in sorted(set(doc) - {"scan", "platforms"}):
        validator.problem(key, 0, "unknown top-level key (expected [scan] and [[platforms]])")
    settings = validator.scan(doc.get("scan"))
    platforms = validator.platforms(doc.get("platforms"))
    if validator.problems:
        raise TargetsError(path, validator.problems)
    if overrides:
        settings = replace(settings, **dict(overrides))
    return Targets(path=path, settings=settings, platforms=tuple(platforms))
