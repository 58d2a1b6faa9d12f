"""The targets file: load it, validate every field, and build the platforms that are the scan's scope.

Every problem names the file, the line, the platform and the field, and all problems are reported
at once, so a fleet owner can fix a file in one pass. Unknown keys are errors: a typo such as
``alowed_ports`` must not silently widen what is accepted.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from cryptography import x509

from scanner.config import (
    ConfigFileError,
    Lines,
    existing_file,
    key_name,
    read_toml,
    shown,
    shown_path,
    unknown_key,
)
from scanner.criteria import builtin_profiles
from scanner.evidence import shorten
from scanner.family import Families, discover_families
from scanner.model import AuthSettings, Endpoint, GateSettings, Platform, Severity
from scanner.plugin import ScanSettings
from scanner.urls import UnusableUrl, normalize_host, parse

PORT_PRESETS = ("top-100", "top-1000", "all")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_RANGE_RE = re.compile(r"^(\d{1,5})-(\d{1,5})$")
_NUMERIC_RE = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*$")
_BRACKETED_RE = re.compile(r"\[([^\[\]]*)\](:[0-9]*)?")
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
SEVERITIES = tuple(s.value for s in Severity)
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


class _Lines(Lines):
    """Finds the line of a key in [scan], in the n-th [[platforms]] or in its [platforms.auth] / [platforms.gate]."""

    def find(self, table: str, key: str | None, platform_index: int | None = None) -> int:
        """The line of ``key`` (of the table itself when ``key`` is None); 0 if unknown."""
        if table == "scan":
            starts = self.tables("[scan]")
        else:
            starts = self.tables("[[platforms]]")
            starts = starts[platform_index : platform_index + 1] if platform_index is not None else []
            if starts and table != "platforms":
                block_end = self.end(starts[0], "[[platforms]]")
                starts = self.tables(f"[platforms.{table}]", starts[0], block_end)
        if not starts:
            return 0
        return starts[0] if key is None else self.key(starts[0], key)


class _Validator:
    def __init__(self, path: Path, text: str, families: Families) -> None:
        self.path = path
        self.lines = _Lines(text)
        self.problems: list[str] = []
        # [platforms.<name>] tables that a family declares and validates itself.
        self.tables = {name: f for name, f in families.by_name.items() if f.configure is not None}

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
            self.problem(f"scan.{key_name(key)}", self.lines.find("scan", key), message)

        for key in sorted(set(table) - SCAN_KEYS):
            report(key, unknown_key(SCAN_KEYS))
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
            profile = self.profile(table["profile"], report)
            if profile is not None:
                values["profile"] = profile
        if "port_scan" in table:
            if _choice(table["port_scan"], PORT_SCAN_METHODS):
                values["port_scan"] = table["port_scan"]
            else:
                report(
                    "port_scan",
                    f'{shown(table["port_scan"])} is not a port scan type: "connect" (nmap -sT, any user) or '
                    '"syn" (nmap -sS, needs root)',
                )
        if "udp" in table:
            if isinstance(table["udp"], bool):
                values["udp"] = table["udp"]
            else:
                report("udp", "must be true or false (true also scans UDP 161, SNMP; needs root)")
        if "ca_bundle" in table:
            value = table["ca_bundle"]
            bundle = (
                ca_bundle_file(value, self.path.parent) if isinstance(value, str) else "must be a path (a PEM file)"
            )
            if isinstance(bundle, str):
                report("ca_bundle", bundle)
            else:
                values["ca_bundle"] = bundle
        return replace(defaults, **values)

    def profile(self, value: Any, report: Callable[[str, str], None]) -> str | None:
        """A built-in profile's name as it is, a profile file as its absolute path; None when neither (reported)."""
        builtin = builtin_profiles()
        if isinstance(value, str) and value in builtin:
            return value
        if not isinstance(value, str) or not value.strip():
            report("profile", "must be a profile name or a path to a profile file")
            return None
        path = existing_file(value, self.path.parent)
        if isinstance(path, str):
            report("profile", f"not a built-in profile ({', '.join(builtin)}), and {path}")
            return None
        return str(path)

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
        label = f"platforms[{index}]"
        if isinstance(raw_id, str):
            label += f' ("{raw_id}")' if key_name(raw_id) == raw_id else f" ({key_name(raw_id)})"
        before = len(self.problems)

        def report(key: str | None, message: str, table: str = "platforms") -> None:
            # For [platforms.auth] the key is "auth.<field>"; its line is found by the field alone.
            line_key = key
            if key and table != "platforms":
                line_key = key.split(".", 1)[1]
            elif key:
                line_key = key.split("[", 1)[0].split(".", 1)[0]
            line = self.lines.find(table, line_key, index)
            self.problem(label, line, f"{key_name(key)}: {message}" if key else message)

        for key in sorted(set(item) - PLATFORM_KEYS - set(self.tables)):
            if key.lower() in _SECRET_KEYS:
                report(key, "credentials never go in the targets file; name environment variables in [platforms.auth]")
            else:
                report(key, unknown_key(PLATFORM_KEYS | set(self.tables)))

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

        # The platform's own hosts (its scope) come from the entries that are valid only.
        own_hosts: set[str] = set()
        urls = self.string_list(item, "urls", report)
        for n, url in enumerate(urls):
            message = url_problem(url)
            if message:
                report(f"urls[{n}]", message)
            else:
                own_hosts.add(parse(url).host)
        hosts = self.string_list(item, "hosts", report)
        for n, host in enumerate(hosts):
            message = host_problem(host)
            if message:
                report(f"hosts[{n}]", message)
            else:
                own_hosts.add(normalize_host(host))
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
        if "resolve" in item:
            table = item["resolve"]
            if not isinstance(table, dict):
                report("resolve", 'must be a table of host = "address", e.g. { "dvc.example" = "10.0.0.5" }')
            else:
                for host, address in table.items():
                    problem = address_problem(address)
                    if problem:
                        report(f"resolve.{host}", problem)
                    elif normalize_host(host) not in own_hosts:
                        report(f"resolve.{host}", "is not one of this platform's hosts (urls or hosts)")
                    elif any(name == normalize_host(host) for name, _ in resolve):
                        # "Portal.Example" and "portal.example" are one host: which address would win?
                        report(f"resolve.{host}", f"gives {normalize_host(host)} a second address; one per host")
                    else:
                        resolve.append((normalize_host(host), address))
        tags = self.string_list(item, "tags", report)
        auth = self.auth(item.get("auth"), own_hosts, report) if "auth" in item else None
        gate = self.gate(item.get("gate"), report) if "gate" in item else None
        families = self.family_tables(item, report)

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
            families=families,
        )

    def family_tables(self, item: dict[str, Any], report: Callable[..., None]) -> tuple[tuple[str, Any], ...]:
        """The ``[platforms.<family>]`` tables, each validated by the family that declares it."""
        out: list[tuple[str, Any]] = []
        for name, family in self.tables.items():
            if name not in item:
                continue
            table = item[name]
            if not isinstance(table, dict):
                report(name, f"must be a table ([platforms.{name}])")
                continue

            def family_report(key: str, message: str, name: str = name) -> None:
                report(f"{name}.{key}", message, name)

            assert family.configure is not None
            try:
                out.append((name, family.configure(table, family_report)))
            except Exception as exc:  # a family's validator must not crash the registry
                report(name, f"the {name} family could not read this table: {type(exc).__name__}: {exc}")
        return tuple(out)

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
            report(f"gate.{key}", unknown_key(GATE_KEYS), "gate")
        for key in sorted(set(table) & GATE_KEYS):
            problem = _gate_problem(key, table[key])
            if problem:
                report(f"gate.{key}", problem, "gate")
        fail_on, min_grade, require = (table.get(key) for key in ("fail_on", "min_grade", "require_compliant"))
        return GateSettings(
            min_grade=min_grade if _choice(min_grade, GRADES) else None,
            fail_on=Severity(fail_on) if _choice(fail_on, SEVERITIES) else None,
            require_compliant=require if isinstance(require, bool) else None,
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
                auth_report(key, unknown_key(AUTH_KEYS))
        login_url = table.get("login_url")
        if login_url is not None:
            message = url_problem(login_url) if isinstance(login_url, str) else "must be a URL"
            if not message and parse(login_url).host not in own_hosts:
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


def _choice(value: Any, choices: Collection[str]) -> TypeGuard[str]:
    """Whether ``value`` is one of ``choices``; a list or table is simply not (it cannot even be hashed)."""
    return isinstance(value, str) and value in choices


def _gate_problem(key: str, value: Any) -> str | None:
    if key == "min_grade" and not _choice(value, GRADES):
        return f"{shown(value)} is not a grade ({', '.join(GRADES)})"
    if key == "fail_on" and not _choice(value, SEVERITIES):
        return f"{shown(value)} is not a severity ({', '.join(SEVERITIES)})"
    if key == "require_compliant" and not isinstance(value, bool):
        return "must be true or false"
    return None


def _number(value: Any, kind: type, low: float, high: float) -> int | float | str:
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and isinstance(value, float)):
        return f"must be {'a whole number' if kind is int else 'a number'} from {low:g} to {high:g}"
    if not low <= value <= high:
        return f"{shown(value)} is out of range ({low:g}-{high:g})"
    return kind(value)  # type: ignore[no-any-return]


def _is_port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def _is_ip(value: str, version: int | None = None) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return version is None or address.version == version


def address_problem(address: Any) -> str | None:
    """Why ``address`` cannot be where a host is reached (``resolve``, ``--resolve``), or None.

    Only an IP address: a name there would be looked up in DNS, which is what ``resolve`` is for
    avoiding (and would let the address that is contacted change under the scan)."""
    if isinstance(address, str) and _is_ip(address):
        return None
    return f"{shown(address)} is not an IP address"


def host_problem(host: str) -> str | None:
    """Why ``host`` cannot be scanned, or None. Only single hosts: never ranges, CIDRs or wildcards."""
    if not host:
        return "is empty"
    if "/" in host or "*" in host or "," in host or " " in host:
        return f"{shown(host)} is not a single host name or address (ranges, CIDRs and wildcards are out of scope)"
    if host.startswith("[") and host.endswith("]") and _is_ip(host[1:-1], version=6):
        return None
    if "[" in host or "]" in host:
        return f"{shown(host)}: only an IPv6 address goes in brackets"
    if _is_ip(host):
        return None
    name = normalize_host(host)
    if len(name) > 253 or not all(_LABEL_RE.match(label) for label in name.split(".")):
        return f"{shown(host)} is not a valid host name"
    if _NUMERIC_RE.match(name):
        # 2130706433 or 0x7f.1 reach 127.0.0.1 through the resolver: say what is meant instead.
        return f"{shown(host)} looks like a numeric address but is not a dotted IP address; write the address plainly"
    return None


def url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # brackets that hold no IPv6 address, a port that is not a number, …
        return f"{shown(url)} is not a valid URL ({shorten(str(exc), 100)})"
    if parts.scheme not in ("http", "https"):
        return f"{shown(url)} is not an http(s) URL"
    if not parts.hostname:
        return f"{shown(url)} has no host"
    if parts.username is not None or parts.password is not None:
        return f"{shown(url)} contains credentials; name environment variables in [platforms.auth] instead"
    if port == 0:
        return f"{shown(url)} has port 0"
    host_port = parts.netloc.rpartition("@")[2]
    if "[" in host_port or "]" in host_port:
        # urlsplit reads "a[::1]b" as the host ::1: the host must be the whole bracketed part.
        bracketed = _BRACKETED_RE.fullmatch(host_port)
        if not bracketed or not _is_ip(bracketed[1], version=6):
            return f"{shown(url)}: only an IPv6 address goes in brackets, and the brackets hold the whole host"
    elif problem := host_problem(parts.hostname):
        return problem
    return _dialled_differently(url, parts.hostname, port)


def _dialled_differently(url: str, host: str, port: int | None) -> str | None:
    """Why ``url`` would be dialled at another host or port than the one it seems to name, or None.

    The scope is built from what the HTTP client dials (``scanner.urls.parse``); a URL that the
    standard parsers read differently (spaces around it, a zone id, a backslash) is refused here.
    """
    try:
        target = parse(url)
    except UnusableUrl as exc:
        return f"{exc}; write the URL plainly"
    if url != url.strip() or target.host != normalize_host(host) or target.port != (port or target.port):
        return f"{shown(url)} is read as {target.host}:{target.port} by the HTTP client; write the URL plainly"
    return None


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
        if _is_port(entry):
            out.add(entry)
            continue
        match = _RANGE_RE.match(entry) if isinstance(entry, str) else None
        if match and 1 <= int(match[1]) <= int(match[2]) <= 65535:
            out.update(range(int(match[1]), int(match[2]) + 1))
            continue
        return f"{shown(entry)} is not a port number or an 'a-b' range"
    return tuple(sorted(out))


def ca_bundle_file(value: str, base: Path) -> Path | str:
    """The PEM file of trust anchors that ``value`` names (relative to ``base``), or why it cannot be used."""
    path = existing_file(value, base)
    if isinstance(path, str):
        return path
    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except OSError as exc:
        return f"{shown_path(path)} cannot be read ({exc.strerror or exc})"
    except ValueError:
        return f"{shown_path(path)} is not a PEM file of certificates"
    if not certs:
        return f"{shown_path(path)} holds no certificate"
    return path


def load_targets(path: Path, overrides: Mapping[str, Any] | None = None, families: Families | None = None) -> Targets:
    """Read and validate a targets file; raise ``TargetsError`` listing every problem.

    ``families`` (the installed ones by default) validate their own ``[platforms.<name>]`` tables."""
    try:
        text, doc = read_toml(path)
    except ConfigFileError as exc:
        raise TargetsError(path, [str(exc)]) from None
    validator = _Validator(path, text, families if families is not None else discover_families())
    for key in sorted(set(doc) - {"scan", "platforms"}):
        validator.problem(key_name(key), 0, "unknown top-level key (expected [scan] and [[platforms]])")
    settings = validator.scan(doc.get("scan"))
    platforms = validator.platforms(doc.get("platforms"))
    if validator.problems:
        raise TargetsError(path, validator.problems)
    if overrides:
        settings = replace(settings, **dict(overrides))
    return Targets(path=path, settings=settings, platforms=tuple(platforms))
