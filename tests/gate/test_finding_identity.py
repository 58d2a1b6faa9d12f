"""A finding's identity is (check, endpoint, key), never its detail sentence: baselines read from a
real store and SARIF fingerprints keep a reworded finding and tell a new port or path apart."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

from checks.http.exposure import SensitiveFiles
from checks.ports.services import DatabaseExposed
from cli.gate import resolve_baseline
from reports import sarif
from reports.catalogue import check_texts
from scanner import assessment
from scanner.compliance import assess
from scanner.criteria import load_profile
from scanner.gate import Bar, Outcome, decide
from scanner.model import Endpoint, Platform, Result, ScanStatus, Severity, Status
from scanner.plugin import Verdict, installed_caps
from scanner.scoring import score_platform
from scanner.store import Store

PLATFORM = Platform(id="dvc", name="DVC", urls=("https://dvc.test/",))
HOST = Endpoint(platform="dvc", target="dvc.test", kind="host", host="dvc.test")
URL = Endpoint.for_url(PLATFORM, "https://dvc.test/")
DATABASE, FILES = DatabaseExposed(), SensitiveFiles()


def database(detail: str, key: str) -> Result:
    return DATABASE.from_verdict(HOST, Verdict(Status.FAIL, detail, {"host": "dvc.test"}, key=key))


def files(detail: str, key: str) -> Result:
    return FILES.from_verdict(URL, Verdict(Status.FAIL, detail, {"url": URL.target}, Severity.HIGH, key))


def stored_baseline(tmp_path: Path, results: list[Result]) -> Path:
    """A complete, graded scan of ``results`` in a real database, as a baseline scan leaves it."""
    db = tmp_path / "p.db"
    with Store(db) as store:
        scan_id = store.begin_scan("t.toml", {}, {}, [PLATFORM], [DATABASE.entry(), FILES.entry()])
        store.add_results(scan_id, results)
        store.finish_scan(scan_id, ScanStatus.COMPLETE)
        assessment.save_scores(store, scan_id)
    return db


def gate(db: Path, results: list[Result]) -> Outcome:
    with Store(db) as store:
        baseline = resolve_baseline(store, "1", "dvc")
    assert baseline is not None
    scored = score_platform(results, installed_caps())
    compliance = assess(load_profile("vn-baseline"), 3, results)
    return decide("dvc", results, scored, compliance, Bar(), baseline=baseline).outcome


def test_a_reworded_finding_with_the_same_key_is_known_debt(tmp_path: Path) -> None:
    old = [database("MySQL on 3306/tcp is reachable.", "tcp/3306"), files("Readable: /.env.", "/.env")]
    db = stored_baseline(tmp_path, old)
    with Store(db) as store:
        assert [r.key for r in store.results(1)] == ["/.env", "tcp/3306"], "keys are stored and read back"
    reworded = [
        database("A database is reachable on dvc.test: MySQL on 3306/tcp (guessed).", "tcp/3306"),
        files("Readable from https://dvc.test: /.env (an environment file).", "/.env"),
    ]
    assert gate(db, reworded) == Outcome.PASSED


def test_a_new_port_or_path_is_a_new_finding(tmp_path: Path) -> None:
    db = stored_baseline(tmp_path, [database("MySQL on 3306", "tcp/3306"), files("/.env", "/.env")])
    same_words = "MySQL on 3306"  # the detail is not what tells them apart either
    assert gate(db, [database(same_words, "tcp/3306,tcp/5432"), files("/.env", "/.env")]) == Outcome.BELOW_BAR
    assert gate(db, [database(same_words, "tcp/3306"), files("/.env", "/.env,/.git/HEAD")]) == Outcome.BELOW_BAR


def test_a_baseline_stored_before_keys_accepts_the_same_check(tmp_path: Path) -> None:
    """Rows of a scan stored before findings had keys read back with key "": the documented choice is
    to take them as the same finding (an upgrade must not fail every baselined gate)."""
    db = stored_baseline(tmp_path, [database("MySQL on 3306", "tcp/3306")])
    with sqlite3.connect(db) as conn:
        conn.execute("update results set finding_key = null")
    with Store(db) as store:
        assert store.results(1)[0].key == ""
    assert gate(db, [database("A database is reachable: MySQL on 3306/tcp.", "tcp/3306")]) == Outcome.PASSED


def test_json_output_carries_the_key() -> None:
    doc = database("MySQL on 3306", "tcp/3306").to_json()
    assert doc["key"] == "tcp/3306" and doc["detail"] == "MySQL on 3306"


def fingerprints(results: list[Result]) -> list[str]:
    entries = [DATABASE.entry(), FILES.entry()]
    doc = json.loads(sarif.render(results, entries, check_texts(entries, "en")))
    return [r["partialFingerprints"]["platscan/v1"] for r in doc["runs"][0]["results"]]


def test_sarif_fingerprints_follow_the_identity_not_the_wording() -> None:
    before = database("MySQL on 3306", "tcp/3306")
    reworded = replace(before, detail="A database is reachable on dvc.test: MySQL on 3306/tcp.")
    assert fingerprints([before]) == fingerprints([reworded]) == ["dvc|ports.database_exposed|dvc.test|tcp/3306"]
    assert fingerprints([replace(before, key="tcp/3306,tcp/5432")]) != fingerprints([before])
    assert fingerprints([replace(before, key="")]) == ["dvc|ports.database_exposed|dvc.test"], "as before keys"
