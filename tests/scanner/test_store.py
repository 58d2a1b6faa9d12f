"""The SQLite store on a real file: round trips, crash safety, and refusing what it cannot read."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from scanner.model import CatalogueEntry, Platform, Result, ScanStatus, Severity, Status
from scanner.store import ABANDONED, SCHEMA_VERSION, Store, StoreError

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
    without_markers(tmp_path / "p.db")
    with Store(tmp_path / "p.db") as store:
        assert store.scan(scan_id).status == ScanStatus.INTERRUPTED
        assert store.scan(other).status == ScanStatus.RUNNING, "this machine, whatever its name, and it still runs"


def dead_process() -> tuple[int, str]:
    """The pid and start time of a process that ran on this machine and has ended."""
    from scanner.store import _start_time

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    started = _start_time(proc.pid)
    proc.kill()
    proc.wait()
    return proc.pid, started


def test_a_scan_killed_under_another_host_name_of_this_machine_is_closed(tmp_path: Path) -> None:
    """A container restarted with a new host name: same boot id, the scanner's pid is gone."""
    from scanner.store import runner_token

    _, boot, _, _ = runner_token().split("|")
    pid, started = dead_process()
    with Store(tmp_path / "p.db") as store:
        renamed = store.begin_scan("t.toml", {}, {}, [PLATFORM])
        store.db.table("scans").update(renamed, {"runner": f"old-container-name|{boot}|{pid}|{started}"})
        elsewhere = store.begin_scan("t.toml", {}, {}, [PLATFORM])
        store.db.table("scans").update(elsewhere, {"runner": f"another-machine|another-boot|{pid}|{started}"})
    without_markers(tmp_path / "p.db")
    with Store(tmp_path / "p.db") as store:
        assert (store.scan(renamed).status, store.scan(renamed).error) == (ScanStatus.INTERRUPTED, ABANDONED)
        assert store.scan(elsewhere).status == ScanStatus.RUNNING, "another machine's scan cannot be judged here"


def without_markers(db: Path) -> None:
    """Judge by the runner tokens alone, as for scans of a platscan that kept no running markers."""
    for marker in db.parent.glob(f"{db.name}.scan-*.running"):
        marker.unlink()


def test_a_scanner_in_another_container_of_this_machine_is_seen_running(tmp_path: Path) -> None:
    """Its pid namespace is not ours, so its pid means nothing here; the lock on its marker does."""
    from scanner.store import runner_token

    _, boot, _, _ = runner_token().split("|")
    pid, started = dead_process()
    db = tmp_path / "p.db"
    with Store(db) as store:
        scan_id = store.begin_scan("t.toml", {}, {}, [PLATFORM])
        store.db.table("scans").update(scan_id, {"runner": f"sibling-container|{boot}|{pid}|{started}"})
    marker = tmp_path / f"p.db.scan-{scan_id}.running"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_FLOCK, str(marker)], stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with Store(db) as store:
            assert store.scan(scan_id).status == ScanStatus.RUNNING
    finally:
        holder.kill()
        holder.wait()
    with Store(db) as store:  # the kernel dropped the lock with the process
        assert (store.scan(scan_id).status, store.scan(scan_id).error) == (ScanStatus.INTERRUPTED, ABANDONED)
    assert not marker.exists()


HOLD_FLOCK = """
import fcntl, sys
handle = open(sys.argv[1])
fcntl.flock(handle, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""


def end_the_scanner(db: Path, scan_id: int) -> None:
    """As if the process that ran ``scan_id`` (this test) had ended since."""
    from scanner.store import runner_token

    host, boot, _, _ = runner_token().split("|")
    pid, started = dead_process()
    with sqlite3.connect(db) as conn:
        conn.execute("update scans set runner = ? where id = ?", [f"{host}|{boot}|{pid}|{started}", scan_id])


def catalogue_of(checks: Sequence[str]) -> list[CatalogueEntry]:
    return [CatalogueEntry(c, "tls", f"title of {c}", Severity.HIGH, f"fix {c}", criteria=("VN-A2",)) for c in checks]


def plan_for(endpoints: Sequence[str], checks: Sequence[str]) -> dict[tuple[str, str], list[str]]:
    return {("dvc", endpoint): list(checks) for endpoint in endpoints}


@pytest.mark.parametrize(
    ("status", "error", "reason"),
    [
        (ScanStatus.INTERRUPTED, "stopped by SIGTERM", "not run: the scan was interrupted (stopped by SIGTERM)"),
        (ScanStatus.FAILED, "MemoryError: ", "not run: the scan failed (MemoryError: )"),
    ],
)
def test_an_unfinished_scan_stores_its_unrun_checks_as_untested(
    tmp_path: Path, status: ScanStatus, error: str, reason: str
) -> None:
    from scanner.runner import save_scores

    checks = ["tls.protocol_legacy", "tls.protocol_tls13"]
    done = [replace(result(check, Status.PASS), endpoint="https://a.test/") for check in checks]
    with Store(tmp_path / "p.db") as store:
        scan_id = store.begin_scan("t.toml", {}, {}, [PLATFORM], catalogue_of(checks))
        store.save_plan(scan_id, plan_for(["https://a.test/", "https://b.test/"], checks))
        store.add_results(scan_id, done)
        store.finish_scan(scan_id, status, error)
        stored = store.results(scan_id)
        score = save_scores(store, scan_id)["dvc"]
    assert [r for r in stored if r.endpoint == "https://a.test/"] == done
    unrun = [r for r in stored if r.endpoint == "https://b.test/"]
    assert [(r.check, r.status, r.severity, r.detail, r.title, r.criteria) for r in unrun] == [
        (check, Status.ERROR, Severity.HIGH, reason, f"title of {check}", ("VN-A2",)) for check in checks
    ]
    assert score.partial and score.coverage.tested == 0 and score.grade is None


def test_a_complete_scan_gets_no_unrun_results(tmp_path: Path) -> None:
    with Store(tmp_path / "p.db") as store:
        scan_id = store.begin_scan("t.toml", {}, {}, [PLATFORM])
        store.save_plan(scan_id, plan_for(["https://dvc.test/"], ["tls.protocol_legacy"]))
        store.add_results(scan_id, [result()])
        store.finish_scan(scan_id, ScanStatus.COMPLETE)
        assert store.results(scan_id) == [result()]


@contextlib.contextmanager
def locked(db: Path) -> Iterator[None]:
    """Another connection holding the write lock, as a backup or an open `sqlite3` session does."""
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("begin immediate")
    try:
        yield
    finally:
        other.close()


def test_results_written_while_another_writer_holds_the_lock_are_kept_not_lost(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    with Store(db, lock_timeout=0.6) as store:
        scan_id = store.begin_scan("t.toml", {}, {}, [PLATFORM])
        with locked(db):
            started = time.monotonic()
            store.add_results(scan_id, [result()])  # neither waits nor fails: the scan goes on
            assert time.monotonic() - started < 2
            (kept,) = tmp_path.glob("p.db.unsaved.*.json")
            with pytest.raises(StoreError, match=r"locked by another process.*gave up after waiting 0.6 s"):
                store.finish_scan(scan_id, ScanStatus.COMPLETE)
    end_the_scanner(db, scan_id)
    with Store(db) as store:  # the next process to open the database stores them, and the end
        assert store.scan(scan_id).status == ScanStatus.COMPLETE
        assert store.results(scan_id) == [result()]
    assert not kept.exists()


def test_a_write_waits_for_the_lock_to_be_released(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    with Store(db, lock_timeout=30) as store:
        scan_id = store.begin_scan("t.toml", {}, {}, [PLATFORM])
        other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        other.execute("begin immediate")
        store.add_results(scan_id, [result()])  # kept for now
        threading.Timer(1.5, other.close).start()
        started = time.monotonic()
        store.finish_scan(scan_id, ScanStatus.COMPLETE)
        assert time.monotonic() - started >= 1.4
        assert store.scan(scan_id).status == ScanStatus.COMPLETE and store.results(scan_id) == [result()]
    assert not list(tmp_path.glob("p.db.unsaved.*"))
