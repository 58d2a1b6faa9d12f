"""Small promises of the command line, through the real commands: the check catalogue's table, what
`report` refuses to write to standard output, nothing left behind by a refused scan or gate, ranges
refused in the targets file, gate options that go with --url only, the gate's baseline notice and
its `fix:` lines."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.gate import first_sentences
from scanner.demo.fleet import DEMO_PLATFORMS, DemoFleet
from scanner.family import discover_families
from scanner.plugin import discover_checks
from tests.reports.fixtures import build_store

PLATSCAN = [sys.executable, "-m", "scanner"]
ONE_PLATFORM = '[[platforms]]\nid = "dvc"\nname = "Portal"\nurls = ["https://dvc.nghean.example/"]\n'


def platscan(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PLATSCAN, *map(str, args)], capture_output=True, text=True, timeout=180, cwd=cwd)


def test_the_checks_table_has_a_header_and_marks_the_active_checks() -> None:
    proc = platscan("checks")
    assert proc.returncode == 0, proc.stderr
    header, *rows = proc.stdout.splitlines()
    assert header.split() == ["ID", "FAMILY", "SEVERITY", "CRITERIA", "ACTIVE", "TITLE"]
    column = header.index("ACTIVE")
    marked = {row.split()[0]: row[column:].split()[0] for row in rows if row.startswith(("auth.", "tls."))}
    assert marked["auth.lockout"] == marked["auth.user_enumeration"] == "active"
    assert marked["auth.login_https"] == marked["tls.protocol_legacy"] == "-"
    assert (
        rows[-1] == "active: sends more than ordinary traffic (login attempts); only `platscan scan --active` runs it"
    )


def test_the_catalogue_in_vietnamese_names_each_check_and_its_finding() -> None:
    proc = platscan("checks", "--format", "json", "--lang", "vi")
    assert proc.returncode == 0, proc.stderr
    rows = {row["id"]: row for row in json.loads(proc.stdout)}
    vi = discover_families().translations("vi")
    for check in discover_checks().checks:
        assert rows[check.id]["title"] == vi[check.id]["title"] != check.title, check.id
        assert rows[check.id]["finding"] == vi[check.id]["finding"], check.id


def test_a_fleet_page_on_standard_output_is_refused_but_one_platform_page_is_fine(tmp_path: Path) -> None:
    build_store(tmp_path / "p.db", scans=1).close()
    proc = platscan("report", "--db", tmp_path / "p.db", "--format", "html", "-o", "-")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "links to the platform pages lead nowhere" in proc.stderr and "--platform ID" in proc.stderr
    assert "-o FILE" in proc.stderr
    proc = platscan("report", "--db", tmp_path / "p.db", "--format", "html", "--platform", "dvc", "-o", "-")
    assert proc.returncode == 0 and proc.stdout.startswith("<!doctype html>"), proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("scan", "{targets}", "--platform", "nope"), "no platform 'nope'"),
        (("scan", "{targets}", "--only", "tsl"), "unknown check or family: tsl"),
        (("scan", "{targets}", "--concurrency", "0"), "Invalid value for '--concurrency'"),
        (("gate", "{targets}", "--platform", "nope"), "no platform 'nope'"),
        (("gate", "{targets}", "--baseline", "yesterday"), "'yesterday' is not a scan number or last-passed"),
        (("gate", "{targets}", "--baseline", "3"), "--baseline: no scan 3: there is no database at"),
        (("gate", "--url", "https://dvc.nghean.example/", "--baseline", "3"), "no scan 3"),
        (("gate", "{targets}", "--level", "2"), "--level: only with --url"),
        (("gate", "{targets}", "--allowed-ports", "443"), "--allowed-ports: only with --url"),
        (("gate", "{targets}", "--resolve", "dvc.nghean.example=10.0.0.5"), "--resolve: only with --url"),
        (("gate", "{targets}", "--level", "3", "--resolve", "a=10.0.0.5"), "--level, --resolve: only with --url"),
    ],
)
def test_a_refused_scan_or_gate_leaves_no_database(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    targets = tmp_path / "targets.toml"
    targets.write_text(ONE_PLATFORM)
    proc = platscan(*(arg.format(targets=targets) for arg in args), "--db", tmp_path / "p.db")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == [targets], "no database, journal or lock file"


def test_ranges_and_cidrs_are_refused_in_hosts_and_resolve(tmp_path: Path) -> None:
    targets = tmp_path / "targets.toml"
    targets.write_text(
        "[[platforms]]\n"
        'id = "dvc"\n'
        'name = "Portal"\n'
        'urls = ["https://dvc.nghean.example/", "https://10.0.0.1-9/"]\n'
        'hosts = ["192.168.1.1-10", "10.20.0.0/24", "10.0.0.1-10.0.0.20", "fe80::1-fe80::5", "mail.nghean.example"]\n'
        'resolve = { "dvc.nghean.example" = "10.20.0.0/28", "mail.nghean.example" = "10.20.0.5-6" }\n'
    )
    proc = platscan("scan", targets, "--db", tmp_path / "p.db")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    where = 'targets.toml:{line}: platforms[0] ("dvc"): {field}: '
    one_by_one = "register each host on its own (ranges, CIDRs and wildcards are out of scope)"
    expected = [
        where.format(line=4, field="urls[1]") + f"'10.0.0.1-9' is a range of addresses, not one; {one_by_one}",
        where.format(line=5, field="hosts[0]") + f"'192.168.1.1-10' is a range of addresses, not one; {one_by_one}",
        where.format(line=5, field="hosts[1]") + f"'10.20.0.0/24' is a CIDR block, not one address; {one_by_one}",
        where.format(line=5, field="hosts[2]") + f"'10.0.0.1-10.0.0.20' is a range of addresses, not one; {one_by_one}",
        where.format(line=5, field="hosts[3]") + f"'fe80::1-fe80::5' is a range of addresses, not one; {one_by_one}",
        where.format(line=6, field="resolve.dvc.nghean.example")
        + "'10.20.0.0/28' is a CIDR block, not one address; give the one IP address to connect to",
        where.format(line=6, field="resolve.mail.nghean.example")
        + "'10.20.0.5-6' is a range of addresses, not one; give the one IP address to connect to",
    ]
    assert [line.strip() for line in proc.stderr.splitlines()[1:]] == expected
    assert proc.stderr.startswith(f"platscan: {targets} has 7 problem(s):")


def test_a_bad_profile_is_listed_with_the_other_targets_file_problems(tmp_path: Path) -> None:
    (tmp_path / "strict.toml").write_text(
        '[profile]\nid = "strict"\ntitle = "Strict"\nversion = "1"\n\n'
        '[[requirements]]\nid = "S1"\ntitle = "TLS"\nlevels = [1]\nchecks = ["tls.protocol_legcy"]\n'
    )
    targets = tmp_path / "targets.toml"
    targets.write_text('[scan]\ntimeout = 5\nprofile = "strict.toml"\n\n' + ONE_PLATFORM.replace('"dvc"', '"Dvc"'))
    proc = platscan("scan", targets, "--db", tmp_path / "p.db")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [
        f"platscan: {targets} has 2 problem(s):",
        f"  targets.toml:3: scan.profile: {tmp_path / 'strict.toml'}:10: requirements[0] (S1): checks: "
        "unknown check id 'tls.protocol_legcy'",
        "  targets.toml:6: platforms[0] (\"Dvc\"): id: required: lower-case letters, digits, '.', '_' or '-' "
        '(at most 64), e.g. "dvc"',
    ]
    assert not (tmp_path / "p.db").exists()


@pytest.fixture(scope="module")
def motcua(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The demo's motcua platform (TLS 1.0, missing headers, no security.txt), live on loopback."""
    (platform,) = [p for p in DEMO_PLATFORMS if p.id == "motcua"]
    with DemoFleet(tmp_path_factory.mktemp("motcua"), platforms=(platform,)) as fleet:
        yield fleet.targets_path


def test_gate_baseline_last_passed_without_a_pass_says_it_gates_against_the_full_bar(
    motcua: Path, tmp_path: Path
) -> None:
    db = tmp_path / "p.db"
    args = ("--db", db, "--only", "tls,http", "--fail-on", "info")
    proc = platscan("gate", motcua, *args, "--baseline", "last-passed")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert (
        f"notice: --baseline last-passed: motcua has never passed a gate in {db}; it is gated against the full bar"
        in proc.stderr
    )
    assert "bar: min grade B, fail on info" in proc.stdout

    fixes = [line.strip().removeprefix("fix: ") for line in proc.stdout.splitlines() if line.strip().startswith("fix:")]
    blocking = re.findall(r"^\s+\[\w+\] (\S+) ", proc.stdout, re.MULTILINE)
    assert len(fixes) == len(blocking) >= 8 and "http.security_txt" in blocking
    for fix in fixes:
        assert fix.endswith((".", "!", "?", ".)")) and not fix.endswith(("e.g.", "i.e.", ":")), fix
    # Its remediation's first line hands over to the snippets with "…, e.g.": the sentence is ended there.
    security_txt = fixes[blocking.index("http.security_txt")]
    assert security_txt == (
        "Publish /.well-known/security.txt over HTTPS as text/plain, with at least one Contact and one Expires "
        "(less than a year ahead)."
    )


def test_the_fix_line_is_the_remediations_first_whole_sentences() -> None:
    assert first_sentences("Accept only TLS 1.2 and TLS 1.3.\nnginx: `ssl_protocols TLSv1.2;`") == (
        "Accept only TLS 1.2 and TLS 1.3."
    )
    assert first_sentences("Send it on every response, with at least one year:\nnginx: `add_header …`") == (
        "Send it on every response, with at least one year."
    )
    assert first_sentences("Use a DH group (e.g. ffdhe2048) or drop DHE. Then reload.", budget=30) == (
        "Use a DH group (e.g. ffdhe2048) or drop DHE."
    ), "at least one whole sentence, never cut"
    assert first_sentences("Set `a. b` now. Then `c`.") == "Set `a. b` now. Then `c`."
    for check in discover_checks().checks:
        fix = first_sentences(check.remediation)
        prose = " ".join(check.remediation.split())
        assert fix and fix.endswith((".", "!", "?", ".)")), (check.id, fix)
        assert prose.startswith(fix.rstrip(".")), (check.id, fix)
