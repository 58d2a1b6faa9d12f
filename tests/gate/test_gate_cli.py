"""`platscan gate` against live local endpoints: every exit code, each bar option, waivers, baseline."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from junitparser import JUnitXml

from tests.fleet.tls_fleet import TlsFleet, start_tls_fleet

PLATSCAN = [sys.executable, "-m", "scanner"]
SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text())


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsFleet]:
    with start_tls_fleet(tmp_path_factory.mktemp("gate"), cases=["good", "legacy", "closed"]) as running:
        yield running


def targets(fleet: TlsFleet, tmp_path: Path, *names: str, extra: str = "") -> Path:
    path = fleet.write_targets(tmp_path / "targets.toml", timeout=2, names=names)
    path.write_text(path.read_text().replace("[scan]\n", "[scan]\nretries = 0\n", 1) + extra)
    return path


def gate(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PLATSCAN, "gate", *map(str, args), "--only", "tls"], capture_output=True, text=True, timeout=120
    )


def test_passing_platform_exits_0_and_writes_ci_files(fleet: TlsFleet, tmp_path: Path) -> None:
    proc = gate(
        targets(fleet, tmp_path, "good"),
        "--db",
        tmp_path / "p.db",
        "--junit",
        tmp_path / "j.xml",
        "--sarif",
        tmp_path / "s.sarif",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASSED  good" in proc.stdout and "gate passed: 1 platform(s)" in proc.stdout
    jsonschema.Draft7Validator(SCHEMA).validate(json.loads((tmp_path / "s.sarif").read_text()))
    (suite,) = list(JUnitXml.fromfile(str(tmp_path / "j.xml")))
    assert suite.tests == 28 and suite.failures == 0 and suite.errors == 0


def test_below_the_bar_exits_1_with_reasons_and_fixes(fleet: TlsFleet, tmp_path: Path) -> None:
    proc = gate(targets(fleet, tmp_path, "legacy"), "--db", tmp_path / "p.db", "--sarif", tmp_path / "s.sarif")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILED  legacy" in proc.stdout
    assert "1 unwaived failure(s) at high or above" in proc.stdout
    assert "[high] tls.protocol_legacy" in proc.stdout and "fix: " in proc.stdout
    assert "is below the minimum B" in proc.stdout and "to reach" in proc.stdout
    # The list that gets the platform to go-live, not only to the next letter.
    next_letter = re.search(r"^  to reach ([A-F][+]?): fix (.+)$", proc.stdout, re.M)
    to_bar = re.search(r"^  to reach the bar \(B\): fix (.+)$", proc.stdout, re.M)
    assert next_letter is not None
    if next_letter.group(1) != "B":
        assert to_bar is not None and set(next_letter.group(2).split(", ")) <= set(to_bar.group(1).split(", "))
    results = json.loads((tmp_path / "s.sarif").read_text())["runs"][0]["results"]
    assert "tls.protocol_legacy" in {r["ruleId"] for r in results}


def test_bar_options(fleet: TlsFleet, tmp_path: Path) -> None:
    path = targets(fleet, tmp_path, "legacy")
    relaxed = gate(path, "--db", tmp_path / "p.db", "--min-grade", "D", "--fail-on", "critical")
    assert relaxed.returncode == 0, relaxed.stdout
    # the same bar from the targets file, and an option overriding it back
    per_platform = targets(
        fleet, tmp_path, "legacy", extra='\n[platforms.gate]\nmin_grade = "D"\nfail_on = "critical"\n'
    )
    assert gate(per_platform, "--db", tmp_path / "p.db").returncode == 0
    assert gate(per_platform, "--db", tmp_path / "p.db", "--fail-on", "high").returncode == 1
    compliant = gate(targets(fleet, tmp_path, "good"), "--db", tmp_path / "p.db", "--require-compliant")
    assert compliant.returncode == 1, "with only tls checked, compliance at level 3 cannot be established"
    assert "compliance at level 3 not established" in compliant.stdout


def test_could_not_scan_exits_3(fleet: TlsFleet, tmp_path: Path) -> None:
    proc = gate(targets(fleet, tmp_path, "closed", "good"), "--db", tmp_path / "p.db")
    assert proc.returncode == 3, proc.stdout
    assert "COULD NOT SCAN  closed" in proc.stdout and "refused" in proc.stdout.lower()
    assert "PASSED  good" in proc.stdout


def test_usage_errors_exit_2(fleet: TlsFleet, tmp_path: Path) -> None:
    assert gate("--db", tmp_path / "p.db").returncode == 2
    both = gate(targets(fleet, tmp_path, "good"), "--url", "https://x.example/")
    assert both.returncode == 2 and "either a TARGETS file or --url" in both.stderr
    assert gate("--url", "ftp://x.example/").returncode == 2
    bad = tmp_path / "w.toml"
    bad.write_text('[[waivers]]\nplatform = "legacy"\n')
    proc = gate(targets(fleet, tmp_path, "legacy"), "--waivers", bad, "--db", tmp_path / "p.db")
    assert proc.returncode == 2 and "w.toml:1: waivers[0]: check: required" in proc.stderr


def test_adhoc_url_is_its_own_scope(fleet: TlsFleet, tmp_path: Path) -> None:
    good = fleet["good"]
    proc = gate(
        "--url",
        good.url,
        "--level",
        "3",
        "--resolve",
        f"{good.host}=127.0.0.1",
        "--ca-bundle",
        fleet.ca_bundle,
        "--db",
        tmp_path / "p.db",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    untrusted = gate("--url", good.url, "--resolve", f"{good.host}=127.0.0.1", "--db", tmp_path / "p.db")
    assert untrusted.returncode == 1, "without the test CA the certificate is untrusted: capped at F"
    other = gate("--url", good.url, "--resolve", "elsewhere.test=127.0.0.1", "--db", tmp_path / "p.db")
    assert other.returncode == 2 and "the URL is the whole scope" in other.stderr


WAIVER = """
[[waivers]]
platform = "legacy"
check = "{check}"
reason = "kiosks need TLS 1.0 until March"
approved_by = "CISO"
expires = {expires}
"""


def test_waivers_applied_expired_and_stale(fleet: TlsFleet, tmp_path: Path) -> None:
    path = targets(fleet, tmp_path, "legacy")
    waivers = tmp_path / "waivers.toml"  # found beside the targets file without an option
    soon = (dt.date.today() + dt.timedelta(days=200)).isoformat()
    waivers.write_text(
        WAIVER.format(check="tls.protocol_legacy", expires=soon) + WAIVER.format(check="tls.cipher_cbc", expires=soon)
    )
    applied = gate(path, "--db", tmp_path / "p.db", "--quiet")
    assert applied.returncode == 0, applied.stdout
    report = subprocess.run([*PLATSCAN, "report", "--db", tmp_path / "p.db", "-o", "-"], capture_output=True, text=True)
    legacy = {r["check"]: r for r in json.loads(report.stdout)["platforms"][0]["results"]}["tls.protocol_legacy"]
    assert legacy["status"] == "fail" and legacy["waived"]["reason"] == "kiosks need TLS 1.0 until March"
    waivers.write_text(WAIVER.format(check="tls.protocol_legacy", expires="2020-01-01"))
    expired = gate(path, "--db", tmp_path / "p.db")
    assert expired.returncode == 1 and "expired on 2020-01-01; it no longer applies" in expired.stdout
    waivers.write_text(WAIVER.format(check="tls.cert_expired", expires=soon))
    stale = gate(path, "--db", tmp_path / "p.db")
    assert "waiver for legacy tls.cert_expired (line 2) is stale" in stale.stdout, "its check passed"


def test_only_what_was_tested_can_be_stale(fleet: TlsFleet, tmp_path: Path) -> None:
    """A --platform/--only scan says nothing of the waivers of what it did not test; an expired
    waiver is expired whatever its check found."""
    path = targets(fleet, tmp_path, "good", "legacy")
    soon = (dt.date.today() + dt.timedelta(days=200)).isoformat()
    entry = '[[waivers]]\nplatform = "{platform}"\ncheck = "{check}"\nreason = "r"\napproved_by = "CISO"\n'
    entries = [
        ("good", "tls.cert_expired", soon),  # a platform the scan leaves out
        ("legacy", "http.hsts", soon),  # a family the scan leaves out
        ("legacy", "tls.cert_expired", soon),  # tested, and it passes: stale
        ("legacy", "tls.cert_lifetime", "2020-01-01"),  # expired, though its check passes
    ]
    (tmp_path / "waivers.toml").write_text(
        "".join(entry.format(platform=p, check=c) + f"expires = {e}\n\n" for p, c, e in entries)
    )
    proc = gate(path, "--platform", "legacy", "--db", tmp_path / "p.db")
    warnings = [line for line in proc.stdout.splitlines() if line.startswith("warning: waiver")]
    assert warnings == [
        "warning: waiver for legacy tls.cert_lifetime (line 22) expired on 2020-01-01; it no longer applies",
        "warning: waiver for legacy tls.cert_expired (line 15) is stale: its checks passed on every endpoint "
        "it names; remove it",
    ], proc.stdout
    report = subprocess.run([*PLATSCAN, "report", "--db", tmp_path / "p.db", "-o", "-"], capture_output=True, text=True)
    summary = json.loads(report.stdout)["waivers"]
    assert [w["check"] for w in summary["stale"]] == ["tls.cert_expired"]
    assert [(w["check"], w["line"]) for w in summary["expired"]] == [("tls.cert_lifetime", 22)]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("platform", "legasy", "platform: 'legasy' is not registered in targets.toml (did you mean legacy?)"),
        ("check", "tls.protocol_legacyy", "check: 'tls.protocol_legacyy' names no installed check (did you mean "),
        ("check", "whois.*", "check: 'whois.*' names no installed check (platscan checks lists them)"),
        ("endpoint", "https://other.example/*", "endpoint: 'https://other.example/*' matches none of legacy's"),
    ],
)
def test_a_waiver_that_can_never_apply_is_refused(
    fleet: TlsFleet, tmp_path: Path, field: str, value: str, message: str
) -> None:
    path = targets(fleet, tmp_path, "good", "legacy")
    entry = {"platform": "legacy", "check": "tls.protocol_legacy", field: value}
    body = "".join(f'{key} = "{text}"\n' for key, text in entry.items())
    soon = dt.date.today() + dt.timedelta(days=30)
    (tmp_path / "waivers.toml").write_text(f'\n[[waivers]]\n{body}reason = "r"\napproved_by = "a"\nexpires = {soon}\n')
    # --platform good: the file is checked against every registered platform, not the selection.
    proc = gate(path, "--platform", "good", "--db", tmp_path / "p.db")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"waivers.toml:2: waivers[0]: {message}" in proc.stderr
    assert not (tmp_path / "p.db").exists(), "refused before the database is created"


def test_baseline_mode(fleet: TlsFleet, tmp_path: Path) -> None:
    path = targets(fleet, tmp_path, "legacy")
    first = gate(path, "--db", tmp_path / "p.db")
    assert first.returncode == 1
    assert gate(path, "--db", tmp_path / "p.db", "--baseline", "last-passed").returncode == 1, "nothing passed yet"
    again = gate(path, "--db", tmp_path / "p.db", "--baseline", "1")
    assert again.returncode == 0, again.stdout
    assert "new or worse than scan 1" in again.stdout
    assert gate(path, "--db", tmp_path / "p.db", "--baseline", "99").returncode == 2
