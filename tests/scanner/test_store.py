"""The SQLite store on a real file: round trips, crash safety, and refusing what it cannot read."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.model import Platform, Result, ScanStatus, Severity, Status
from scanner.store import SCHEMA_VERSION, Store, StoreError

PLATFORM = Platform(id="dvc", name="Portal", owner="DST", level=3, urls=("https://dvc.test/",))


def result(check: str = "tls.protocol_legacy", status: Status = Status.FAIL) -> Result:
    return Result(
        check=check,
        platform="dvc",
        endpoint="https://dvc.test/",
        status=status,
        severity=Severity.HIGH,
        title="Legacy TLS",
        detail="TLS 1.0 and TLS 1.1 are accepted",
        evidence={"accepted": ["TLSv1.0", "TLSv1.1"], "note": "<script>alert(1)</script>"},
        remediation="ssl_protocols TLSv1.2 TLSv1.3;",
        criteria=("VN-A2",),
        duration=0.25,
    )


def test_round_trip(tmp_path: Path) -> None:
    with Store(tmp_path / "p.db") as store:
        scan_id = store.begin_scan("targets.toml", {"timeout": 3}, {"only": []}, [PLATFORM])
        store.add_results(scan_id, [result(), result("tls.protocol_tls13", Status.PASS)])
        store.finish_scan(scan_id, ScanStatus.COMPLETE)
    with Store(tmp_path / "p.db") as store:
        scan = store.scan()
        assert scan.id == scan_id and scan.status == ScanStatus.COMPLETE and scan.finished
        assert store.platforms(scan_id)[0]["owner"] == "DST"
        loaded = store.results(scan_id)
        assert [r.check for r in loaded] == ["tls.protocol_legacy", "tls.protocol_tls13"]
        assert loaded[0] == result()


def test_results_survive_a_killed_scanner(tmp_path: Path) -> None:
    """A process that stores one endpoint's results and is then killed loses nothing it stored."""
    db = tmp_path / "p.db"
    code = f"""
import os, signal
from scanner.model import Platform, Result, Severity, Status
from scanner.store import Store
from pathlib import Path
store = Store(Path({str(db)!r}))
scan_id = store.begin_scan("t.toml", {{}}, {{}}, [Platform(id="dvc", name="x")])
store.add_results(scan_id, [Result("tls.x", "dvc", "https://dvc.test/", Status.PASS, Severity.LOW, "t", "d")])
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", code], check=False)
    assert proc.returncode == -9
    with Store(db) as store:
        scan = store.scan()
        assert scan.status == ScanStatus.INTERRUPTED and scan.error == "the scanning process ended"
        assert len(store.results(scan.id)) == 1


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    Store(tmp_path / "p.db").close()
    with sqlite3.connect(tmp_path / "p.db") as conn:
        conn.execute("update meta set value = ? where key = 'schema_version'", [str(SCHEMA_VERSION + 1)])
    with pytest.raises(StoreError, match="written by a newer platscan"):
        Store(tmp_path / "p.db")


def test_foreign_database_and_garbage_are_refused(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("create table t (x)")
    with pytest.raises(StoreError, match="not a platscan one"):
        Store(tmp_path / "other.db")
    (tmp_path / "junk.db").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="cannot use database"):
        Store(tmp_path / "junk.db")


def test_unwritable_location(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "no" / "such" / "dir" / "p.db")
    # A parent that is a file cannot hold a database, whoever runs the test (CI runs as root).
    (tmp_path / "plain-file").write_text("x")
    with pytest.raises(StoreError, match="cannot use database"):
        Store(tmp_path / "plain-file" / "p.db")


def test_missing_scan(tmp_path: Path) -> None:
    with Store(tmp_path / "p.db") as store:
        with pytest.raises(StoreError, match="no scans"):
            store.scan()
        with pytest.raises(StoreError, match="no scan 4"):
            store.scan(4)


def test_a_reused_pid_is_not_mistaken_for_the_scanner(tmp_path: Path) -> None:
    """In a container every run may be pid 1: the start time tells two processes apart."""
    from scanner.store import runner_token

    with Store(tmp_path / "p.db") as store:
        scan_id = store.begin_scan("t.toml", {}, {}, [PLATFORM])
        host, boot, pid, started = runner_token().split("|")
        store.db.table("scans").update(scan_id, {"runner": f"{host}|{boot}|{pid}|{int(started) + 1}"})
        other = store.begin_scan("t.toml", {}, {}, [PLATFORM])
        store.db.table("scans").update(other, {"runner": f"another-host|{boot}|{pid}|{started}"})
    with Store(tmp_path / "p.db") as store:
        assert store.scan(scan_id).status == ScanStatus.INTERRUPTED
        assert store.scan(other).status == ScanStatus.RUNNING, "a scan on another host cannot be judged from here"
