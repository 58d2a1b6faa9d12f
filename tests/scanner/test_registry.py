"""The targets file: what is accepted, and that every problem names file, line, platform and field."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from checks.auth.settings import auth_settings
from checks.ports.settings import PortScanSettings, PortSettings, parse_ports, port_settings
from scanner.model import Endpoint
from scanner.registry import TargetsError, endpoints, load_targets
from scanner.urls import in_scope

GOOD = """
[scan]
concurrency = 4
timeout = 5
profile = "vn-baseline"

[[platforms]]
id = "dvc"
name = "Provincial Public Service Portal"
owner = "Department of Science and Technology"
level = 3
urls = ["https://dvc.nghean.example/", "http://dvc.nghean.example:8080/app"]
hosts = ["mail.dvc.nghean.example"]
ports = ["1-1024", 8443]
allowed_ports = [443, 80]
resolve = { "dvc.nghean.example" = "10.20.0.5" }
tags = ["citizen-facing"]

[platforms.auth]
login_url = "https://dvc.nghean.example/login"
protected_paths = ["/admin/"]
username_env = "DVC_SCAN_USER"
password_env = "DVC_SCAN_PASS"

[[platforms]]
id = "mail"
name = "Official e-mail"
hosts = ["mail.nghean.example"]
"""


def write(tmp_path: Path, text: str, name: str = "targets.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(TargetsError) as info:
        load_targets(write(tmp_path, text))
    return info.value.problems


def test_good_file_loads_every_field(tmp_path: Path) -> None:
    targets = load_targets(write(tmp_path, GOOD))
    assert targets.settings.concurrency == 4 and targets.settings.timeout == 5.0
    dvc, mail = targets.platforms
    assert dvc.level == 3 and mail.level == 3  # the default level
    # The families' own keys, validated by the families and handed back through the platform.
    ports = port_settings(dvc)
    assert ports.allowed_ports == (80, 443)
    assert ports.ports[:2] == (1, 2) and ports.ports[-1] == 8443 and len(ports.ports) == 1025
    assert port_settings(mail) == PortSettings()  # the family's defaults when a platform sets none
    assert dvc.address_for("DVC.nghean.example") == "10.20.0.5"
    auth = auth_settings(dvc)
    assert auth is not None and auth.password_env == "DVC_SCAN_PASS"
    assert auth_settings(mail) is None
    assert dvc.all_hosts == ("dvc.nghean.example", "mail.dvc.nghean.example")
    kinds = [(e.kind, e.target, e.port, e.address) for e in endpoints(dvc)]
    assert kinds == [
        ("url", "https://dvc.nghean.example/", 443, "10.20.0.5"),
        ("url", "http://dvc.nghean.example:8080/app", 8080, "10.20.0.5"),
        ("host", "dvc.nghean.example", None, "10.20.0.5"),
        ("host", "mail.dvc.nghean.example", None, None),
    ]


def test_scope_is_the_registered_hosts_only(tmp_path: Path) -> None:
    dvc = load_targets(write(tmp_path, GOOD)).platforms[0]
    assert in_scope(dvc, "dvc.nghean.example") and in_scope(dvc, "MAIL.dvc.nghean.example.")
    assert not in_scope(dvc, "evil.example") and not in_scope(dvc, "nghean.example")


def test_malformed_toml_names_file_and_line(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, '[[platforms]]\nid = "dvc"\nname = "x\n')
    assert problem.startswith("targets.toml: not valid TOML") and "line 3" in problem


def test_bad_url_names_file_line_platform_and_field(tmp_path: Path) -> None:
    text = GOOD + '\n[[platforms]]\nid = "bad"\nname = "Bad"\nurls = ["https://ok.example/", "htp://x"]\n'
    (problem,) = problems(tmp_path, text)
    line = textwrap.dedent(text).splitlines().index('urls = ["https://ok.example/", "htp://x"]') + 1
    assert problem == f"targets.toml:{line}: platforms[2] (\"bad\"): urls[1]: 'htp://x' is not an http(s) URL"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
        [scan]
        timeout = "fast"
        colour = "blue"

        [[platforms]]
        id = "a"
        name = "A"
        urls = "https://a.example/"
        level = 9
        alowed_ports = [443]

        [[platforms]]
        id = "b"
        name = "B"
        urls = ["https:///nohost"]
        """,
    )
    text = "\n".join(found)
    assert "targets.toml:3: scan.timeout: must be a number from 0.5 to 300" in text
    assert "targets.toml:4: scan.colour: unknown key" in text
    assert 'targets.toml:9: platforms[0] ("a"): urls: must be a list of strings' in text
    assert 'targets.toml:10: platforms[0] ("a"): level: 9 is out of range (1-5)' in text
    assert 'targets.toml:11: platforms[0] ("a"): alowed_ports: unknown key' in text
    assert "platforms[1] (\"b\"): urls[0]: 'https:///nohost' has no host" in text
    assert len(found) == 6


def test_duplicate_ids_are_errors(tmp_path: Path) -> None:
    (problem,) = problems(
        tmp_path,
        '[[platforms]]\nid = "dvc"\nname = "A"\nhosts = ["a.example"]\n\n'
        '[[platforms]]\nid = "dvc"\nname = "B"\nhosts = ["b.example"]\n',
    )
    assert problem == 'targets.toml:7: platforms[1] ("dvc"): id: duplicate platform id (first registered at line 2)'


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ('urls = ["https://user:pw@a.example/"]', "contains credentials"),
        ('hosts = ["10.0.0.0/24"]', "ranges, CIDRs and wildcards are out of scope"),
        ('hosts = ["*.a.example"]', "ranges, CIDRs and wildcards are out of scope"),
        ('hosts = ["a.example"]\npassword = "hunter2"', "credentials never go in the targets file"),
        ('hosts = ["a.example"]\nresolve = { "other.example" = "10.0.0.1" }', "is not one of this platform's hosts"),
        ('hosts = ["a.example"]\nresolve = { "a.example" = "ten" }', "'ten' is not an IP address"),
        ('hosts = ["a.example"]\nports = "top-5"', "'top-5' is not one of top-100"),
        ('hosts = ["a.example"]\nports = ["90-80"]', "'90-80' is not a port number"),
        ('hosts = ["a.example"]\nallowed_ports = [443, 70000]', "allowed_ports: must be a list of port numbers"),
        ("", "registers nothing to scan"),
    ],
)
def test_field_problems(tmp_path: Path, snippet: str, expected: str) -> None:
    (problem,) = problems(tmp_path, f'[[platforms]]\nid = "a"\nname = "A"\n{snippet}\n')
    assert expected in problem and 'platforms[0] ("a")' in problem


def test_auth_problems_point_into_the_auth_table(tmp_path: Path) -> None:
    (problem,) = problems(
        tmp_path,
        '[[platforms]]\nid = "a"\nname = "A"\nurls = ["https://a.example/"]\n\n'
        '[platforms.auth]\nlogin_url = "https://elsewhere.example/login"\n',
    )
    assert problem == 'targets.toml:7: platforms[0] ("a"): auth.login_url: is not on one of this platform\'s hosts'


def test_ca_bundle_missing_or_not_pem(tmp_path: Path) -> None:
    base = '[[platforms]]\nid = "a"\nname = "A"\nhosts = ["a.example"]\n'
    (missing,) = problems(tmp_path, '[scan]\nca_bundle = "nope.pem"\n' + base)
    assert missing.startswith("targets.toml:2: scan.ca_bundle:") and "does not exist" in missing
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    (junk,) = problems(tmp_path, '[scan]\nca_bundle = "junk.pem"\n' + base)
    assert "is not a PEM file of certificates" in junk or "holds no certificate" in junk


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TargetsError, match="no such file"):
        load_targets(tmp_path / "absent.toml")


def test_parse_ports() -> None:
    assert parse_ports("top-100") == "top-100"
    assert parse_ports([22, "80-82"]) == (22, 80, 81, 82)
    assert isinstance(parse_ports([True]), str)


def test_endpoint_for_ipv6_url() -> None:
    from scanner.model import Platform

    platform = Platform(id="v6", name="v6", urls=("https://[::1]:8443/",))
    endpoint = Endpoint.for_url(platform, platform.urls[0])
    assert (endpoint.host, endpoint.port, endpoint.scheme) == ("::1", 8443, "https")


def test_host_names_have_one_spelling(tmp_path: Path) -> None:
    targets = load_targets(
        write(
            tmp_path,
            '[[platforms]]\nid = "a"\nname = "A"\nurls = ["https://DVC.Nghean.example./", "https://[::1]:8443/"]\n'
            'hosts = ["[::1]", "cổng.nghean.example"]\nresolve = { "dvc.nghean.example" = "10.0.0.5" }\n',
        )
    )
    (platform,) = targets.platforms
    assert platform.all_hosts == ("dvc.nghean.example", "::1", "xn--cng-qmz.nghean.example")
    assert in_scope(platform, "dvc.nghean.example.") and in_scope(platform, "CỔNG.nghean.example")
    (first, *_) = endpoints(platform)
    assert (first.host, first.address) == ("dvc.nghean.example", "10.0.0.5")


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "127.1"])
def test_numeric_aliases_of_addresses_are_refused(tmp_path: Path, host: str) -> None:
    (problem,) = problems(tmp_path, f'[[platforms]]\nid = "a"\nname = "A"\nhosts = ["{host}"]\n')
    assert "looks like a numeric address" in problem


def test_profile_path_is_relative_to_the_targets_file(tmp_path: Path) -> None:
    text = '[scan]\nprofile = "profiles/mine.toml"\n[[platforms]]\nid = "a"\nname = "A"\nhosts = ["a.example"]\n'
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "mine.toml").write_text(
        '[profile]\nid = "mine"\ntitle = "Mine"\nversion = "1"\n\n'
        '[[requirements]]\nid = "M1"\ntitle = "TLS"\nlevels = [1]\nchecks = ["tls.protocol_legacy"]\n'
    )
    targets = load_targets(write(tmp_path, text))
    assert targets.settings.profile == str(tmp_path / "profiles" / "mine.toml")
    (problem,) = problems(tmp_path, text.replace("mine.toml", "typo.toml"))
    assert problem == (
        "targets.toml:2: scan.profile: not a built-in profile (vn-baseline), "
        f"and '{tmp_path / 'profiles' / 'typo.toml'}' does not exist"
    )


def test_repeated_platform_selection_is_harmless(tmp_path: Path) -> None:
    targets = load_targets(write(tmp_path, GOOD)).only(("dvc", "dvc"))
    assert [p.id for p in targets.platforms] == ["dvc"]


def test_port_scan_settings(tmp_path: Path) -> None:
    base = '[[platforms]]\nid = "a"\nname = "A"\nhosts = ["a.example"]\n'
    defaults = load_targets(write(tmp_path, base)).settings
    assert defaults.family_settings("ports") == PortScanSettings("connect", False)  # no root needed, no slow UDP
    chosen = load_targets(write(tmp_path, '[scan]\nport_scan = "syn"\nudp = true\n' + base)).settings
    assert chosen.family_settings("ports") == PortScanSettings("syn", True)
    scan_type, udp = problems(tmp_path, '[scan]\nport_scan = "stealth"\nudp = "yes"\n' + base)
    assert scan_type.startswith("targets.toml:2: scan.port_scan: 'stealth' is not a port scan type")
    assert '"connect"' in scan_type and '"syn"' in scan_type
    assert udp.startswith("targets.toml:3: scan.udp: must be true or false")


@pytest.mark.parametrize(
    "url",
    [
        " https://portal.nghean.example/",  # urlsplit keeps the host; the HTTP client refuses the URL
        "https://portal.nghean.example\\@other.nghean.example/",  # urlsplit: other; urllib3: portal
        "https://[fe80::1%25eth0]/",  # a zone id the parsers spell differently
    ],
)
def test_a_url_parsers_read_differently_is_refused(tmp_path: Path, url: str) -> None:
    found = problems(tmp_path, f'[[platforms]]\nid = "p"\nname = "P"\nurls = [{json.dumps(url)}]\n')
    assert len(found) == 1 and "urls[0]" in found[0], found


def test_one_host_gets_one_resolve_address(tmp_path: Path) -> None:
    text = """
    [[platforms]]
    id = "p"
    name = "P"
    urls = ["https://portal.nghean.example/"]
    resolve = { "portal.nghean.example" = "10.0.0.5", "Portal.Nghean.Example." = "10.0.0.6" }
    """
    found = problems(tmp_path, text)
    assert len(found) == 1 and "second address" in found[0] and ":6:" in found[0], found


def test_scope_and_endpoints_use_the_dialled_spelling(tmp_path: Path) -> None:
    text = """
    [[platforms]]
    id = "p"
    name = "P"
    urls = ["https://faß.nghean.example/"]
    """
    (platform,) = load_targets(write(tmp_path, text)).platforms
    assert platform.all_hosts == ("xn--fa-hia.nghean.example",)  # IDNA 2008, as urllib3 dials it
    assert endpoints(platform)[0].host == "xn--fa-hia.nghean.example"
