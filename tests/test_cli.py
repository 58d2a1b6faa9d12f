"""The command line's contract: exit codes, clear messages for bad input, help with examples."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cli.main import main
from scanner.model import Platform, Result, ScanStatus, Severity, Status
from scanner.store import Store

ROOT = Path(__file__).parent.parent


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_bad_targets_file_exits_2_with_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "targets.toml"
    bad.write_text('[[platforms]]\nid = "Bad Id"\nname = "x"\nurls = ["ftp://x.example/"]\n')
    code, out, err = run("scan", str(bad), "--db", str(tmp_path / "p.db"))
    assert code == 2 and out == ""
    assert f"{bad} has 2 problem(s)" in err
    assert 'targets.toml:2: platforms[0] ("Bad Id"): id: required' in err
    assert "targets.toml:4: platforms[0] (\"Bad Id\"): urls[0]: 'ftp://x.example/' is not an http(s) URL" in err
    assert not (tmp_path / "p.db").exists(), "nothing is written for a rejected targets file"


def test_a_bad_waivers_file_or_timeout_leaves_no_database(tmp_path: Path) -> None:
    targets = tmp_path / "targets.toml"
    targets.write_text('[[platforms]]\nid = "p"\nname = "P"\nurls = ["https://p.example/"]\n')
    waivers = tmp_path / "w.toml"
    waivers.write_text("[[waivers]]\ncheck = 3\n")
    code, _, err = run("scan", str(targets), "--db", str(tmp_path / "p.db"), "--waivers", str(waivers))
    assert code == 2 and "w.toml" in err and "Traceback" not in err
    code, _, err = run("scan", str(targets), "--db", str(tmp_path / "p.db"), "--timeout", "nan")
    assert code == 2 and "'nan' is not a number of seconds" in err
    assert not (tmp_path / "p.db").exists()


def test_unknown_family_and_platform_are_usage_errors(tmp_path: Path) -> None:
    code, _, err = run("scan", str(ROOT / "targets.example.toml"), "--only", "tsl", "--db", str(tmp_path / "p.db"))
    assert code == 2 and "unknown check or family: tsl" in err
    code, _, err = run("scan", str(ROOT / "targets.example.toml"), "--platform", "nope", "--db", str(tmp_path / "p"))
    assert code == 2 and "no platform 'nope'" in err


def test_newer_database_is_a_usage_error(tmp_path: Path) -> None:
    import sqlite3

    Store(tmp_path / "p.db").close()
    with sqlite3.connect(tmp_path / "p.db") as conn:
        conn.execute("update meta set value = '99' where key = 'schema_version'")
    code, _, err = run("report", "--db", str(tmp_path / "p.db"), "-o", "-")
    assert code == 2 and "written by a newer platscan (schema 99" in err


def test_report_without_database_or_scan(tmp_path: Path) -> None:
    code, _, err = run("report", "--db", str(tmp_path / "absent.db"), "-o", str(tmp_path / "r.json"))
    assert code == 2 and "no database at" in err
    Store(tmp_path / "p.db").close()
    code, _, err = run("report", "--db", str(tmp_path / "p.db"), "--scan", "9", "-o", "-")
    assert code == 2 and "no scan 9" in err


def test_report_json_contract(tmp_path: Path) -> None:
    import json

    with Store(tmp_path / "p.db") as store:
        scan_id = store.begin_scan("t.toml", {}, {}, [Platform(id="dvc", name="Portal", owner="DST", level=3)])
        store.add_results(
            scan_id,
            [
                Result("tls.protocol_legacy", "dvc", "https://dvc.test/", Status.FAIL, Severity.HIGH, "Legacy", "bad"),
                Result("tls.cert_expired", "dvc", "https://dvc.test/", Status.PASS, Severity.CRITICAL, "Exp", "ok"),
            ],
        )
        store.finish_scan(scan_id, ScanStatus.COMPLETE)
    code, out, _ = run("report", "--db", str(tmp_path / "p.db"), "--format", "json", "-o", "-")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == "platscan/1"
    assert doc["scan"]["id"] == scan_id and doc["scan"]["status"] == "complete"
    (platform,) = doc["platforms"]
    assert (platform["id"], platform["level"], platform["score"], platform["grade"]) == ("dvc", 3, 80, "B")
    assert platform["scoring"]["caps"] == [{"check": "tls.protocol_legacy", "grade": "B"}]
    assert platform["scoring"]["fixes"] == ["tls.protocol_legacy"] and platform["scoring"]["next_grade"] == "A"
    assert platform["compliance"]["compliant"] is False
    assert [r["check"] for r in platform["results"]] == ["tls.cert_expired", "tls.protocol_legacy"]
    assert set(platform["results"][0]) >= {
        "check",
        "endpoint",
        "status",
        "severity",
        "title",
        "detail",
        "evidence",
        "remediation",
        "criteria",
    }
    code, _, err = run("report", "--db", str(tmp_path / "p.db"), "-o", "-", "--platform", "other")
    assert code == 2 and "no platform 'other'" in err


def test_a_bad_lock_timeout_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Store(tmp_path / "p.db").close()
    monkeypatch.setenv("PLATSCAN_LOCK_TIMEOUT", "soon")
    code, _, err = run("rescore", "--db", str(tmp_path / "p.db"))
    assert code == 2 and "PLATSCAN_LOCK_TIMEOUT must be a number of seconds, not 'soon'" in err


def test_python_dash_m_scanner_works() -> None:
    proc = subprocess.run([sys.executable, "-m", "scanner", "--version"], capture_output=True, text=True, check=True)
    assert proc.stdout.startswith("platscan, version")


@pytest.mark.parametrize("name", sorted(main.commands))  # type: ignore[attr-defined]
def test_every_command_has_help_with_an_example_and_is_in_the_readme(name: str) -> None:
    command = main.commands[name]  # type: ignore[attr-defined]
    assert isinstance(command, click.Command)
    code, out, _ = run(name, "--help")
    assert code == 0 and "Example" in out
    assert f"platscan {name}" in (ROOT / "README.md").read_text(encoding="utf-8")
