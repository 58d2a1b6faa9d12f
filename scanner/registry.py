"""The targets file: load it, validate every field, and build the platforms that are the scan's scope.

Every problem names the file, the line, the platform and the field, and all problems are reported
at once, so a fleet owner can fix a file in one pass. Unknown keys are errors: a typo such as
``alowed_ports`` must not silently widen what is accepted.
"""

from __future__ import annotations

import contextlib
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
from scanner.criteria import ProfileError, builtin_profiles, load_profile
from scanner.dns import split_server
from scanner.evidence import shorten
from scanner.family import Families, Family, PlatformSection, discover_families
from scanner.model import Endpoint, GateSettings, Platform, Severity
from scanner.plugin import ScanSettings, check_names
from scanner.urls import UnusableUrl, normalize_host, parse

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
#: A DNS label of a host name. "_" is legal in DNS (RFC 2181, section 11), the URL standard and browsers accept it,
#: and real platforms use it, so the registry does too (whether a certificate can name it is the tls family's say).
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_NUMERIC_RE = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*$")
_BRACKETED_RE = re.compile(r"\[([^\[\]]*)\](:[0-9]*)?")
#: Only digits, dots and hyphens (IPv4 ranges: 192.168.1.1-10, 10.0.0.1-10.0.0.20), or hex digits,
#: colons and a hyphen (IPv6 ranges). No host name is all digits, and a top-level domain never is.
_RANGE_RE = re.compile(r"^([0-9.]+-[0-9.]+|[0-9a-f:.]*:[0-9a-f:.]*-[0-9a-f:.]+)$", re.IGNORECASE)
_ONE_BY_ONE = "register each host on its own (ranges, CIDRs and wildcards are out of scope)"

SCAN_KEYS = {
    "concurrency",
    "per_host",
    "timeout",
    "retries",
    "endpoint_timeout",
    "ca_bundle",
    "profile",
    "dns_servers",
}
PLATFORM_KEYS = {
    "id",
    "name",
    "owner",
    "contact",
    "level",
    "urls",
    "hosts",
    "resolve",
    "tags",
    "gate",
}
GATE_KEYS = {"min_grade", "fail_on", "require_compliant"}
GRADES = ("A+", "A", "B", "C", "D", "F")
SEVERITIES = tuple(s.value for s in Severity)
#: Keys that would hold a secret: named in the error so that nobody retries with another spelling.
SECRET_KEYS = frozenset({"password", "username", "user", "pass", "token", "secret", "api_key"})


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
    """What checks run against: each registered URL, each host of the platform, then the services
    and DNS names its families declared (``Family.endpoints``)."""
    out = [Endpoint.for_url(platform, url) for url in platform.urls]
    out.extend(Endpoint.for_host(platform, host) for host in platform.all_hosts)
    out.extend(Endpoint.for_service(platform, service) for service in platform.services)
    out.extend(Endpoint.for_domain(platform, name) for name in platform.domains)
    return out


class _Lines(Lines):
    """Finds the line of a key in [scan], in the n-th [[platforms]] or in one of its tables ([platforms.gate])."""

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
        # Families that read the targets file validate what they read themselves.
        self.families = [f for f in families.by_name.values() if f.configure or f.configure_scan]
        self.families_with_endpoints = [f for f in families.by_name.values() if f.endpoints is not None]
        self.family_names = tuple(families.by_name)
        self.platform_keys = self._owned("platform", PLATFORM_KEYS, {f.name: f.platform_keys for f in self.families})
        # A family's table is [platforms.<name>], unless it reads a key of that name itself (ports).
        tables = {f.name for f in self.families if f.configure is not None and f.name not in f.platform_keys}
        self.tables = tables - PLATFORM_KEYS - set(self.platform_keys)
        self.scan_keys = self._owned("scan", SCAN_KEYS, {f.name: f.scan_keys for f in self.families})
        for name in sorted(tables - self.tables):
            self.problem(f"family {name}", 0, f"its table [platforms.{name}] would shadow the platform key {name!r}")

    def _owned(self, where: str, core: Collection[str], declared: Mapping[str, Collection[str]]) -> dict[str, str]:
        """key -> the family that reads it; a key that the core or another family already reads is refused."""
        owner: dict[str, str] = {}
        for family, keys in declared.items():
            for key in keys:
                if key in core or key in owner:
                    taken = "platscan itself" if key in core else f"the {owner[key]} family"
                    self.problem(f"family {family}", 0, f"declares the {where} key {key!r}, which {taken} reads")
                else:
                    owner[key] = family
        return owner

    def problem(self, where: str, line: int, message: str) -> None:
        location = f"{self.path.name}:{line}" if line else self.path.name
        self.problems.append(f"{location}: {where}: {message}")

    # ---- [scan] ----
    def scan(self, table: Any) -> ScanSettings:
        if table is not None and not isinstance(table, dict):
            self.problem("scan", self.lines.find("scan", None), "must be a table ([scan])")
            table = None
        defaults = ScanSettings()
        if table is None:
            return replace(defaults, families=self.family_scan_settings({}))

        report = self.problem_in_scan
        known = SCAN_KEYS | set(self.scan_keys)
        for key in sorted(set(table) - known):
            report(key, unknown_key(known))
        values: dict[str, Any] = {"families": self.family_scan_settings(table)}
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
        if "dns_servers" in table:
            servers = dns_servers_problem(table["dns_servers"])
            if isinstance(servers, str):
                report("dns_servers", servers)
            else:
                values["dns_servers"] = servers
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

    def problem_in_scan(self, key: str, message: str) -> None:
        self.problem(f"scan.{key_name(key)}", self.lines.find("scan", key), message)

    def family_scan_settings(self, table: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
        """Each family's scan-wide settings, from the ``[scan]`` keys it declared (defaults when none is set)."""
        out: list[tuple[str, Any]] = []
        for family in self.families:
            if family.configure_scan is None:
                continue
            own = {key: table[key] for key in family.scan_keys if key in table}
            try:
                out.append((family.name, family.configure_scan(own, self.problem_in_scan)))
            except Exception as exc:  # a family's validator must not crash the registry
                self.problem("scan", 0, f"the {family.name} family could not read it: {type(exc).__name__}: {exc}")
        return tuple(out)

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
        # Read now, so that its problems are listed with the rest of this file's, at this line.
        try:
            load_profile(str(path), self.known_checks())
        except ProfileError as exc:
            for problem in exc.problems:
                report("profile", problem)
            return None
        return str(path)

    def known_checks(self) -> frozenset[str]:
        """The installed check ids a profile may name, read from entry points without loading a check."""
        prefixes = tuple(f"{name}." for name in self.family_names)
        return frozenset(name for name in check_names() if name.startswith(prefixes))

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

        known = PLATFORM_KEYS | self.tables | set(self.platform_keys)
        for key in sorted(set(item) - known):
            if key.lower() in SECRET_KEYS:
                report(key, "credentials never go in the targets file; name the environment variables that hold them")
            else:
                report(key, unknown_key(known))

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
        gate = self.gate(item.get("gate"), report) if "gate" in item else None
        families = self.family_settings(item, frozenset(own_hosts), report)

        if len(self.problems) > before:
            return None
        assert isinstance(raw_id, str) and isinstance(name, str) and isinstance(level, int)
        platform = Platform(
            id=raw_id,
            name=name.strip(),
            owner=str(item.get("owner", "")),
            contact=str(item.get("contact", "")),
            level=level,
            urls=tuple(urls),
            hosts=tuple(normalize_host(h) for h in hosts),
            resolve=tuple(sorted(resolve)),
            tags=tuple(tags),
            gate=gate,
            families=families,
        )
        services, domains = self.declared_endpoints(platform, report)
        return replace(platform, services=services, domains=domains)

    def declared_endpoints(
        self, platform: Platform, report: Callable[..., None]
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The services and DNS names the families declare for ``platform``; a service off its
        registered hosts is the family's bug, reported and left out (the scope never widens)."""
        hosts = platform.all_hosts
        services: dict[str, None] = {}
        domains: dict[str, None] = {}
        for family in self.families_with_endpoints:
            try:
                declared = family.endpoints(platform.family_settings(family.name), hosts)  # type: ignore[misc]
            except Exception as exc:  # a family's code must not crash the registry
                report(
                    family.name, f"the {family.name} family could not list its endpoints: {type(exc).__name__}: {exc}"
                )
                continue
            for service in declared.services:
                problem = service_problem(service, hosts)
                if problem:
                    report(family.name, f"the {family.name} family declared {problem}")
                else:
                    services[service] = None
            for name in declared.domains:
                if host_problem(name) is None and normalize_host(name) not in hosts:
                    domains[normalize_host(name)] = None
        return tuple(services), tuple(domains)

    def family_settings(
        self, item: dict[str, Any], hosts: frozenset[str], report: Callable[..., None]
    ) -> tuple[tuple[str, Any], ...]:
        """Each family's settings for this platform, validated by the family: from its table
        ``[platforms.<name>]`` and its own keys of ``[[platforms]]``."""
        out: list[tuple[str, Any]] = []
        for family in self.families:
            if family.configure is None:
                continue
            table = item.get(family.name) if family.name in self.tables else None
            if table is not None and not isinstance(table, dict):
                report(family.name, f"must be a table ([platforms.{family.name}])")
                continue
            section = PlatformSection(
                table=table, keys={key: item[key] for key in family.platform_keys if key in item}, hosts=hosts
            )
            try:
                out.append((family.name, family.configure(section, self.family_report(family, report))))
            except Exception as exc:  # a family's validator must not crash the registry
                report(family.name, f"the {family.name} family could not read it: {type(exc).__name__}: {exc}")
        return tuple(out)

    @staticmethod
    def family_report(family: Family, report: Callable[..., None]) -> Callable[[str, str], None]:
        """Where a family's problem is: a key it declared in [[platforms]] itself, or one of its table."""

        def family_report(key: str, message: str) -> None:
            if re.split(r"[.\[]", key, maxsplit=1)[0] in family.platform_keys:
                report(key, message)
            else:
                report(f"{family.name}.{key}", message, family.name)

        return family_report

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
    if isinstance(address, str) and (problem := _range_problem(address, "give the one IP address to connect to")):
        return problem
    return f"{shown(address)} is not an IP address"


def _range_problem(value: str, hint: str = _ONE_BY_ONE) -> str | None:
    """Why ``value`` names many addresses (a CIDR block or a range such as 192.168.1.1-10), or None."""
    with contextlib.suppress(ValueError):
        if "/" in value and ipaddress.ip_network(value, strict=False):
            return f"{shown(value)} is a CIDR block, not one address; {hint}"
    if "-" in value and _RANGE_RE.match(value):
        return f"{shown(value)} is a range of addresses, not one; {hint}"
    return None


def host_problem(host: str) -> str | None:
    """Why ``host`` cannot be scanned, or None. Only single hosts: never ranges, CIDRs or wildcards."""
    if not host:
        return "is empty"
    if problem := _range_problem(host):
        return problem
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
        return f"{shown(url)} contains credentials; credentials never go in the targets file"
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


def service_problem(service: str, hosts: Collection[str]) -> str | None:
    """Why ``service`` (``scheme://host:port``) is not a service on one of ``hosts``, or None."""
    try:
        parts = urlsplit(service)
        port = parts.port
    except ValueError:
        return f"{shown(service)}, which is not a scheme://host:port URL"
    if not re.fullmatch(r"[a-z][a-z0-9+.-]*", parts.scheme) or port is None or parts.path or not parts.hostname:
        return f"{shown(service)}, which is not a scheme://host:port URL"
    if normalize_host(parts.hostname) not in hosts:
        return f"{shown(service)}, whose host is not one of the platform's hosts"
    return None


def dns_servers_problem(value: Any) -> tuple[str, ...] | str:
    """``[scan] dns_servers`` as ``address`` / ``address:port`` strings (IPv6 as ``[address]:port``),
    or why it is not a list of them."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        return 'must be a non-empty list of resolver addresses, e.g. ["10.20.0.53", "10.20.0.54:5353"]'
    out: list[str] = []
    for entry in value:
        address, port = split_server(entry)
        if address is None or not _is_ip(address):
            return f"{shown(entry)} is not an IP address, address:port or [IPv6]:port"
        if port is not None and not 1 <= port <= 65535:
            return f"{shown(entry)} has port {port}, out of range (1-65535)"
        out.append(entry.strip())
    return tuple(out)


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

    ``families`` (the installed ones by default) validate what they read of it."""
    try:
        text, doc = read_toml(path)
    except ConfigFileError as exc:
        raise TargetsError(path, [str(exc)]) from None
    return targets_from(doc, path, text, overrides, families)


def targets_from(
    doc: Mapping[str, Any],
    path: Path,
    text: str = "",
    overrides: Mapping[str, Any] | None = None,
    families: Families | None = None,
) -> Targets:
    """Validate a targets document (``text`` is its source, for line numbers; a document built by a
    command such as ``platscan gate --url`` has none, and ``path`` then names the option)."""
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
