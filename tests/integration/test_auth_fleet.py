"""The whole path on the auth fleet through the real CLI: `platscan scan --only auth` (engine, collector
workers, store), then the same with `--active`, then `platscan report` (JSON, HTML, CSV); every case's
verdicts, what the applications received, and proof that the test accounts' credentials, which reach
the scanner only through environment variables, appear in no database, report, or output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.auth_app import ACTIVE, CASES, PASSIVE, AuthFleet, start_auth_fleet

PLATSCAN = [sys.executable, "-m", "scanner"]
WITH_ACCOUNT = {case.name for case in CASES if case.credentials and case.name != "http_action"}


def run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PLATSCAN, *args], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("auth-fleet-cli")
    with start_auth_fleet(workdir) as fleet:
        targets = fleet.write_targets(timeout=2)
        text = targets.read_text()
        targets.write_text(text.replace("retries = 0\n", "retries = 0\nper_host = 16\nconcurrency = 16\n"))
        env = {**os.environ, **fleet.environ()}
        db = workdir / "fleet.db"
        outputs: list[subprocess.CompletedProcess[str]] = []
        started = time.monotonic()
        passive = run(["scan", str(targets), "--db", str(db), "--only", "auth"], env)
        passive_seconds = time.monotonic() - started
        outputs.append(passive)
        counts_after_passive = {app.name: (dict(app.app.failed_logins), app.app.posts) for app in fleet}
        refused = run(["scan", str(targets), "--db", str(db), "--only", "auth.lockout"], env)
        outputs.append(refused)
        started = time.monotonic()
        active = run(["scan", str(targets), "--db", str(db), "--only", "auth", "--active"], env)
        active_seconds = time.monotonic() - started
        outputs.append(active)
        reports = workdir / "reports"
        for scan_id in ("1", "2"):
            outputs.append(
                run(
                    [
                        "report",
                        "--db",
                        str(db),
                        "--scan",
                        scan_id,
                        "--format",
                        "json",
                        "-o",
                        str(reports / f"{scan_id}.json"),
                    ],
                    env,
                )
            )
        outputs.append(run(["report", "--db", str(db), "--format", "html", "-o", str(reports / "fleet.html")], env))
        outputs.append(run(["report", "--db", str(db), "--format", "csv", "-o", str(reports / "fleet.csv")], env))
        yield {
            "fleet": fleet,
            "passive": passive,
            "active": active,
            "refused": refused,
            "outputs": outputs,
            "seconds": (passive_seconds, active_seconds),
            "counts_after_passive": counts_after_passive,
            "docs": {n: json.loads((reports / f"{n}.json").read_text()) for n in ("1", "2")},
            "workdir": workdir,
            "reports": reports,
            "db": db,
        }


def results_of(doc: dict[str, Any], case: str, endpoint: str) -> dict[str, dict[str, Any]]:
    (platform,) = [p for p in doc["platforms"] if p["id"] == case]
    results: dict[str, dict[str, Any]] = {}
    for result in platform["results"]:
        if result["endpoint"] == endpoint:
            assert result["check"] not in results, f"{case}: two results for {result['check']}"
            results[result["check"]] = result
    return results


def test_the_scans_run_cleanly_and_quickly(scanned: dict[str, Any]) -> None:
    for name in ("passive", "active"):
        scan = scanned[name]
        assert scan.returncode == 0, scan.stderr
        assert "Traceback" not in scan.stderr
    endpoints = 2 * len(CASES)
    assert f"{endpoints} endpoints, {endpoints * len(PASSIVE)} results stored" in scanned["passive"].stdout
    assert (
        f"{endpoints} endpoints, {endpoints * (len(PASSIVE) + len(ACTIVE))} results stored" in scanned["active"].stdout
    )
    assert all(seconds < 20 for seconds in scanned["seconds"]), scanned["seconds"]


def test_active_checks_never_run_without_active(scanned: dict[str, Any]) -> None:
    doc = scanned["docs"]["1"]
    checks = {r["check"] for p in doc["platforms"] for r in p["results"]}
    assert checks == set(PASSIVE)
    for case, (failed, posts) in scanned["counts_after_passive"].items():
        assert failed == {"test account": 0, "other": 0}, case  # not one failed login
        assert posts == (1 if case in WITH_ACCOUNT else 0), case  # only the session cookie's login
    refused = scanned["refused"]
    assert refused.returncode == 2 and "no check to run" in refused.stderr


@pytest.mark.parametrize("case", [case.name for case in CASES])
def test_every_auth_check_has_the_expected_verdict(scanned: dict[str, Any], case: str) -> None:
    app = scanned["fleet"][case]
    for scan_id, checks in (("1", PASSIVE), ("2", PASSIVE + ACTIVE)):
        doc = scanned["docs"][scan_id]
        for endpoint, expected in ((app.https_url, app.case.expect), (app.http_url, app.case.expect_plain)):
            results = results_of(doc, case, endpoint)
            assert sorted(results) == sorted(checks)
            wrong = {
                c: (results[c]["status"], expected[c], results[c]["detail"])
                for c in checks
                if results[c]["status"] != expected[c]
            }
            assert wrong == {}, (scan_id, endpoint)


def test_criteria_and_what_the_lockout_sent(scanned: dict[str, Any]) -> None:
    doc, fleet = scanned["docs"]["2"], scanned["fleet"]

    def result(case: str, check: str) -> dict[str, Any]:
        return results_of(doc, case, fleet[case].https_url)[check]

    assert result("good", "auth.admin_exposed")["criteria"] == ["VN-C1"]
    assert result("good", "auth.lockout")["criteria"] == ["VN-E1"]
    assert result("good", "auth.user_enumeration")["criteria"] == ["VN-E5"]
    assert result("good", "auth.protected_paths")["criteria"] == ["VN-E6"]
    assert result("good", "auth.login_https")["criteria"] == ["VN-A4"]
    assert result("good", "auth.session_cookie")["criteria"] == ["VN-D7"]
    sent = result("good", "auth.lockout")["evidence"]["sent"]
    app = fleet["good"].app
    assert sent["failed_logins_test_account"] == app.failed_logins["test account"] == 6
    assert sent["failed_logins_unknown_user"] == app.failed_logins["other"] == 3
    assert app.locked
    nolock = result("nolock", "auth.lockout")
    assert nolock["severity"] == "high" and "11 failed logins (N = 10 at level 1)" in nolock["detail"]


def test_credentials_are_never_stored_or_printed(scanned: dict[str, Any]) -> None:
    fleet: AuthFleet = scanned["fleet"]
    secrets = [s.encode() for s in fleet.secrets()]
    workdir: Path = scanned["workdir"]
    files = [p for p in workdir.rglob("*") if p.is_file() and "pki" not in p.parts and p.name != "targets.toml"]
    assert scanned["db"] in files and any(p.suffix == ".html" for p in files) and any(p.suffix == ".csv" for p in files)
    assert len([p for p in files if p.suffix == ".html"]) > 1  # the fleet page and the platform pages
    for path in files:
        data = path.read_bytes()
        leaked = [s.decode() for s in secrets if s in data]
        assert leaked == [], path
    for output in scanned["outputs"]:
        for text in (output.stdout, output.stderr):
            assert [s for s in fleet.secrets() if s in text] == []
    # The session logins did happen, with those credentials, so their absence above means something.
    assert fleet["good"].app.logins_ok >= 2
