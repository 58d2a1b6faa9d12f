"""``platscan init``: the shipped example targets file, written for a new user, naming no real host."""

from __future__ import annotations

import ipaddress
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from cli.init import example_targets
from scanner.registry import load_targets

ROOT = Path(__file__).parent.parent

#: RFC 2606 and RFC 6761: names that can never be someone's real host.
RESERVED_SUFFIXES = (".example", ".test", ".invalid", ".localhost", ".example.com", ".example.net", ".example.org")
RESERVED_NAMES = {"localhost", "example.com", "example.net", "example.org"}
#: Loopback as the demo uses it, and the documentation ranges (RFC 5737, RFC 3849).
ALLOWED_NETWORKS = [
    ipaddress.ip_network(n)
    for n in ("127.0.0.1/32", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
]

_URL = re.compile(r"https?://[^\s\"'\]\[,]+|https?://\[[0-9a-fA-F:]+\][^\s\"',]*")
_EMAIL = re.compile(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)")
_IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])")


def platscan_init(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scanner", "init", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def strings(value: Any) -> Iterator[str]:
    """Every string in a parsed TOML document, keys included (``resolve`` keys are host names)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def is_reserved_name(host: str) -> bool:
    host = host.lower().rstrip(".")
    return host in RESERVED_NAMES or host.endswith(RESERVED_SUFFIXES)


def is_allowed_address(text: str) -> bool:
    address = ipaddress.ip_address(text)
    return any(address in network for network in ALLOWED_NETWORKS)


def hosts_and_addresses(text: str) -> tuple[set[str], set[str]]:
    """Every host name and IP address the file mentions: in URLs, e-mail addresses, ``hosts``,
    ``resolve`` (keys and values), and anywhere in the text, comments included."""
    names: set[str] = set()
    addresses: set[str] = set(_IPV4.findall(text))
    doc = tomllib.loads(text)
    found = [urlsplit(url).hostname or "" for url in _URL.findall(text)]
    found += _EMAIL.findall(text)
    for platform in doc["platforms"]:
        found += platform.get("hosts", [])
        for host, address in platform.get("resolve", {}).items():
            found.append(host)
            addresses.add(address)
    for value in strings(doc):
        try:
            ipaddress.ip_address(value)
        except ValueError:
            continue
        addresses.add(value)
    for host in found:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            names.add(host)
        else:
            addresses.add(host)
    return names, addresses


def test_init_writes_the_example_that_load_targets_accepts(tmp_path: Path) -> None:
    done = platscan_init(tmp_path)
    assert done.returncode == 0, done.stderr
    written = tmp_path / "targets.toml"
    assert written.read_text(encoding="utf-8") == example_targets()
    assert "platscan scan targets.toml" in done.stdout

    targets = load_targets(written)
    assert len(targets.platforms) >= 5
    assert any(p.resolve for p in targets.platforms), "the example shows a go-live platform with resolve"
    names, addresses = hosts_and_addresses(written.read_text(encoding="utf-8"))
    registered = {host for p in targets.platforms for host in p.all_hosts}
    resolved = {address for p in targets.platforms for _, address in p.resolve}
    assert registered and registered <= names and resolved <= addresses
    assert not [n for n in names if not is_reserved_name(n)], "every host name is reserved (RFC 2606/6761)"
    assert not [a for a in addresses if not is_allowed_address(a)], "only loopback or documentation addresses"


def test_the_checks_of_this_test_would_catch_a_real_host() -> None:
    names, addresses = hosts_and_addresses(
        '[[platforms]]\nid = "x"\nname = "X"\nurls = ["https://dichvucong.gov.vn/"]\n'
        'contact = "a@nghean.gov.vn"\nresolve = { "dichvucong.gov.vn" = "10.20.0.5" }\n'
    )
    assert {"dichvucong.gov.vn", "nghean.gov.vn"} <= names
    assert not any(is_reserved_name(n) for n in names)
    assert addresses == {"10.20.0.5"} and not is_allowed_address("10.20.0.5")


def test_init_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    mine = tmp_path / "fleet.toml"
    mine.write_text("# my fleet\n", encoding="utf-8")
    refused = platscan_init(tmp_path, "fleet.toml")
    assert refused.returncode == 2 and "already exists" in refused.stderr and "--force" in refused.stderr
    assert mine.read_text(encoding="utf-8") == "# my fleet\n"

    forced = platscan_init(tmp_path, "fleet.toml", "--force")
    assert forced.returncode == 0, forced.stderr
    assert mine.read_text(encoding="utf-8") == example_targets()


@pytest.mark.parametrize("path", ["sub/dir/targets.toml", "."])
def test_init_path_argument(tmp_path: Path, path: str) -> None:
    done = platscan_init(tmp_path, path)
    if path == ".":  # a directory is not a file to write
        assert done.returncode == 2 and "Traceback" not in done.stderr
    else:
        assert done.returncode == 0, done.stderr
        assert (tmp_path / path).read_text(encoding="utf-8") == example_targets()


def test_the_repository_copy_is_the_shipped_example() -> None:
    # One source of truth: the package's file; the copy at the top of the repository is for readers.
    assert (ROOT / "targets.example.toml").read_text(encoding="utf-8") == example_targets()
