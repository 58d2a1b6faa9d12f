"""The stored catalogue (schema 4): each check's static text once per scan, results read back whole,
and schema-3 databases (the check's text in every row) migrated without changing a report."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from scanner.criteria import Profile, Requirement
from scanner.engine import Job
from scanner.model import Platform, Result, Status
from scanner.plugin import Check, ScanSettings
from scanner.registry import Targets
from scanner.runner import execute_scan
from scanner.store import SCHEMA_VERSION, Store
from tests.reports.fixtures import build_store
from tests.scanner.sample_checks import Probe, VariedRemediation
from tests.scanner.schema3 import copy_as_schema_3

CHECKS: tuple[Check, ...] = (Probe(), VariedRemediation())
PROFILE = Profile(
    id="test",
    title="test profile",
    version="1",
    requirements=(
        Requirement("T-1", "One", "Một", "c", "l", "I", (1, 2, 3), True, ("sample.probe", "sample.varied")),
        Requirement("T-2", "Two", "Hai", "c", "l", "I", (3,), False, ("sample.varied",)),
    ),
)
# Two platforms on the same two hosts, and one "odd" host whose remediation is its own.
FLEET = (
    Platform(id="dvc", name="Portal", urls=("https://a.test/", "https://odd.test/")),
    Platform(id="mail", name="Mail", urls=("https://a.test/", "https://b.test/")),
)


class Keep:
    """An observer that keeps every result the engine produced, as it produced them."""

    def __init__(self) -> None:
        self.results: list[Result] = []

    def started(self, total: int) -> None:
        pass

    def finished(self, job: Job, results: Sequence[Result]) -> None:
        self.results.extend(results)


@pytest.fixture(autouse=True)
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "collect.log"
    monkeypatch.setenv("PLATSCAN_TEST_LOG", str(path))
    return path


def scan(store: Store, fleet: Sequence[Platform] = FLEET) -> tuple[int, list[Result]]:
    kept = Keep()
    targets = Targets(path=Path("targets.toml"), settings=ScanSettings(concurrency=2), platforms=tuple(fleet))
    outcome = execute_scan(targets, CHECKS, store, PROFILE, observer=kept)
    return outcome.scan_id, kept.results


def in_store_order(results: Sequence[Result]) -> list[Result]:
    """``results`` as the store gives them back: in its order, durations to 0.1 ms."""
    ordered = sorted(results, key=lambda r: (r.platform, r.check, r.endpoint))
    return [replace(r, duration=round(r.duration, 4)) for r in ordered]


def test_results_read_back_as_the_engine_produced_them(tmp_path: Path) -> None:
    with Store(tmp_path / "p.db") as store:
        scan_id, produced = scan(store)
    with Store(tmp_path / "p.db") as store:
        stored = store.results(scan_id)
        assert stored == in_store_order(produced)
        assert store.results(scan_id, "dvc") == [r for r in stored if r.platform == "dvc"]
    odd = next(r for r in stored if r.endpoint == "https://odd.test/" and r.check == "sample.varied")
    assert (odd.title, odd.remediation) == ("Varied, oddly", "The fix for odd.test.")
    usual = next(r for r in stored if r.endpoint == "https://b.test/" and r.check == "sample.varied")
    assert (usual.title, usual.remediation, usual.criteria) == ("Varied", "The usual fix.", ("T-1", "T-2"))


def test_each_static_text_is_stored_once_per_scan(tmp_path: Path) -> None:
    with Store(tmp_path / "p.db") as store:
        first, _ = scan(store)
        second, _ = scan(store)
    with sqlite3.connect(tmp_path / "p.db") as conn:
        for scan_id in (first, second):
            catalogue = conn.execute(
                "select check_id, title, remediation, criteria from catalogue where scan_id = ? order by check_id",
                [scan_id],
            ).fetchall()
            assert catalogue == [
                ("sample.probe", "Probe", "Nothing to do.", '["T-1"]'),
                ("sample.varied", "Varied", "The usual fix.", '["T-1", "T-2"]'),
            ]
            # 8 results per scan; only the odd host's carries text of its own.
            own = conn.execute(
                "select endpoint, check_id, title, remediation, criteria, family from results "
                "where scan_id = ? and (title is not null or remediation is not null or criteria is not null "
                "or family is not null)",
                [scan_id],
            ).fetchall()
            assert own == [("https://odd.test/", "sample.varied", "Varied, oddly", "The fix for odd.test.", None, None)]
            assert conn.execute("select count(*) from results where scan_id = ?", [scan_id]).fetchone() == (8,)
        # Evidence is stored compactly (it is what rows mostly hold).
        sql = "select evidence from results where check_id = 'sample.varied' and endpoint = ? limit 1"
        (evidence,) = conn.execute(sql, ["https://a.test/"]).fetchone()
        assert evidence == '{"host":"a.test"}'


def test_results_full_view_joins_the_catalogue_as_the_store_does(tmp_path: Path) -> None:
    with Store(tmp_path / "p.db") as store:
        scan_id, _ = scan(store)
        expected = [(r.check, r.endpoint, r.title, r.remediation) for r in store.results(scan_id)]
        rows = store.db.execute(
            "select check_id, endpoint, title, remediation, criteria, family from results_full where scan_id = ? "
            "order by platform_id, check_id, endpoint, id",
            [scan_id],
        ).fetchall()
    assert [row[:4] for row in rows] == expected
    assert {row[5] for row in rows} == {"sample"} and rows[0][4] == '["T-1"]'


def test_a_result_of_a_check_missing_from_the_catalogue_keeps_its_text(tmp_path: Path) -> None:
    """Scans begun without a catalogue (older callers) still store and read every result whole."""
    result = Result("x.unlisted", "dvc", "https://a.test/", Status.PASS, Probe.severity, "T", "d", {}, "R", ("C",))
    with Store(tmp_path / "p.db") as store:
        scan_id = store.begin_scan("t.toml", {}, {}, FLEET[:1])
        store.add_results(scan_id, [result])
        assert store.results(scan_id) == [result]
        assert store.catalogue(scan_id) == {}


def reports(db: Path, scan_id: int) -> dict[str, str]:
    """The scan's reports as `platscan report` writes them to standard output."""
    out = {}
    for fmt in ("json", "csv", "sarif", "junit"):
        args = ["report", "--db", str(db), "--scan", str(scan_id), "--format", fmt, "-o", "-"]
        run = CliRunner().invoke(main, args, catch_exceptions=False)
        assert run.exit_code == 0, run.stderr
        out[fmt] = run.stdout
    args = ["report", "--db", str(db), "--scan", str(scan_id), "--format", "html", "--platform", "dvc", "-o", "-"]
    out["html"] = CliRunner().invoke(main, args, catch_exceptions=False).stdout
    return out


def test_a_schema_3_database_migrates_and_reads_back_identically(tmp_path: Path) -> None:
    # The source: the report fixtures' three scans (whole text in rows) and a scan with a catalogue.
    source = tmp_path / "source.db"
    with build_store(source) as store:
        catalogued, _ = scan(store, (*FLEET, Platform(id="dvc2", name="P2", urls=("https://odd2.test/",))))
        scans = [s.id for s in store.scans()]
        expected = {scan_id: store.results(scan_id) for scan_id in scans}
    old = tmp_path / "old.db"
    copy_as_schema_3(source, old)
    with sqlite3.connect(old) as conn:
        assert conn.execute("select value from meta").fetchone() == ("3",)
        assert "catalogue" not in {name for (name,) in conn.execute("select name from sqlite_master")}
    before = {scan_id: reports(source, scan_id) for scan_id in (scans[-2], catalogued)}

    with Store(old) as store:
        assert {scan_id: store.results(scan_id) for scan_id in scans} == expected
        assert store.catalogue(catalogued) == {}, "old scans keep their own text; nothing is rewritten"
        added, produced = scan(store)
        assert store.results(added) == in_store_order(produced)
    with sqlite3.connect(old) as conn:
        assert conn.execute("select value from meta").fetchone() == (str(SCHEMA_VERSION),)
        indexes = {name for (name,) in conn.execute("select name from sqlite_master where type = 'index'")}
        assert "idx_results_platform_id_check_id_endpoint" not in indexes
        assert "idx_results_scan_id_platform_id" in indexes
        own = conn.execute("select count(*) from results where scan_id = ? and remediation is not null", [added])
        assert own.fetchone() == (1,), "a scan added after the migration stores its catalogue once"
    assert {scan_id: reports(old, scan_id) for scan_id in (scans[-2], catalogued)} == before


def test_reports_of_a_scan_use_the_catalogue_it_ran_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An upgrade that renames a check's title or drops a check does not rewrite last month's SARIF,
    CSV or HTML: they show the checks as they were when the scan ran, and only those."""
    db = tmp_path / "p.db"
    with Store(db) as store:
        scan_id, _ = scan(store)
        versions = store.scan_settings(scan_id)["family_versions"]
    assert versions == {}, "the sample family is not declared: no version to record"  # see the example family
    monkeypatch.setattr(Probe, "title", "Renamed after the scan")
    produced = reports(db, scan_id)
    sarif_rules = json.loads(produced["sarif"])["runs"][0]["tool"]["driver"]["rules"]
    assert {rule["id"]: rule["shortDescription"]["text"] for rule in sarif_rules} == {
        "sample.probe": "Probe",
        "sample.varied": VariedRemediation.title,
    }, "the rules are the scan's two checks with their stored titles, not today's catalogue"
    for fmt in ("csv", "html", "junit", "json"):
        assert "Renamed after the scan" not in produced[fmt], fmt
