"""`platscan scan` and `report` against a database that other processes and the file system get in
the way of: another writer holding the lock, read-only media, the directory removed mid-scan, a full
disk, a scanner killed outright. Real CLI subprocesses, a real SQLite file, a real second process.

The fleet is two plain-HTTP platforms on loopback: `site` answers at once, `hang` accepts and never
answers, so every scan lasts `endpoint_timeout` (5 s) after `site` is stored; that is the window in
which the tests interfere.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.demo.http_server import HttpSiteServer, Reply, Request
from scanner.demo.tls_server import SilentServer
from tests.fleet.http_fleet import HTTP_CHECKS

PLATSCAN = [sys.executable, "-m", "scanner"]
CHECKS = len(HTTP_CHECKS)
HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("begin immediate")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def page(request: Request) -> Reply:
    return Reply(200, (("Content-Type", "text/html; charset=utf-8"),), b"<!doctype html><title>ok</title><p>ok")


@pytest.fixture
def targets(tmp_path: Path) -> Iterator[Path]:
    with HttpSiteServer(page) as site, SilentServer() as hang:
        path = tmp_path / "targets.toml"
        path.write_text(
            "[scan]\ntimeout = 1\nendpoint_timeout = 5\n"
            + "".join(
                f'\n[[platforms]]\nid = "{name}"\nname = "{name}"\nurls = ["http://{name}.test:{port}/"]\n'
                f'resolve = {{ "{name}.test" = "127.0.0.1" }}\n'
                for name, port in (("site", site.port), ("hang", hang.port))
            )
        )
        yield path


def scan(targets: Path, db: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*PLATSCAN, "scan", str(targets), "--db", str(db), "--only", "http"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
        start_new_session=True,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def query(db: Path, sql: str) -> int:
    """A number from the database, read the way any other reader would (0 while it cannot be read)."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return int(conn.execute(sql).fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def site_stored(db: Path) -> bool:
    return query(db, "select count(*) from results where platform_id = 'site'") == CHECKS


@contextlib.contextmanager
def write_lock(db: Path, seconds: float = 600) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the database's write lock, as a backup or an `sqlite3` session would."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def report(db: Path, **env: str) -> dict[str, Any]:
    proc = subprocess.run(
        [*PLATSCAN, "report", "--db", str(db), "--format", "json", "-o", "-"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def results_of(doc: dict[str, Any], platform: str) -> list[dict[str, Any]]:
    (view,) = [p for p in doc["platforms"] if p["id"] == platform]
    return list(view["results"])


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def assert_whole_scan(doc: dict[str, Any]) -> None:
    assert doc["scan"]["status"] == "complete"
    assert len(results_of(doc, "site")) == CHECKS and len(results_of(doc, "hang")) == CHECKS
    assert {r["status"] for r in results_of(doc, "hang")} == {"error"}  # it never answers


# ---- another writer holds the lock ----


def test_a_scan_waits_for_a_writer_that_holds_the_lock_longer_than_sqlites_default(
    targets: Path, tmp_path: Path
) -> None:
    db = tmp_path / "fleet.db"
    sqlite3.connect(db).close()
    with write_lock(db, seconds=6) as holder:  # SQLite's default wait, which failed the scan, is 5 s
        started = time.monotonic()
        code, out, err = finish(scan(targets, db, PLATSCAN_LOCK_TIMEOUT="60"))
        assert holder.poll() is not None, "the scan finished while the lock was still held"
    assert code == 3 and "could not be assessed (hang)" in err, err  # stored; "hang" has no grade
    assert time.monotonic() - started >= 5
    assert f"2 endpoints, {2 * CHECKS} results stored in {db}" in out
    assert_whole_scan(report(db))


def test_a_lock_held_past_the_wait_fails_in_one_line_and_the_results_are_kept(targets: Path, tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    proc = scan(targets, db, PLATSCAN_LOCK_TIMEOUT="1")
    try:
        wait_until(lambda: query(db, "select count(*) from scans") == 1, "the scan to begin")
        with write_lock(db):  # from the first endpoint's results to after the scan gave up
            code, out, err = finish(proc)
            line = one_line(err)
            assert code == 2
            assert line.startswith(f"platscan: database {db} is locked by another process")
            assert "gave up after waiting 1 s" in line and "is kept in" in line
            (kept,) = tmp_path.glob("fleet.db.unsaved.*.json")
            assert str(kept) in line and "complete" not in out
            assert query(db, "select count(*) from scans where status = 'running'") == 1
            started = time.monotonic()
            doc = report(db)  # a reader does not wait for the lock, and cannot store them yet
            assert time.monotonic() - started < 30 and doc["scan"]["status"] == "running"
    finally:
        proc.kill()
    doc = report(db)  # the lock is gone: the next command stores what the scan kept aside
    assert_whole_scan(doc)
    assert not kept.exists()


def test_reading_never_needs_the_write_lock(targets: Path, tmp_path: Path) -> None:
    """Even with a scan to close (a reader closes it only when the database is free)."""
    db = tmp_path / "fleet.db"
    proc = scan(targets, db)
    wait_until(lambda: site_stored(db), "the site to be stored")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    with write_lock(db):
        started = time.monotonic()
        doc = report(db, PLATSCAN_LOCK_TIMEOUT="300")
        assert time.monotonic() - started < 60, "the report waited for the lock"
        assert doc["scan"]["status"] == "running"
    assert report(db)["scan"]["status"] == "interrupted"


# ---- the file system ----


@contextlib.contextmanager
def tmpfs(where: Path, size: str = "4m") -> Iterator[Path]:
    """A small file system of its own (root only), to fill up or make read-only for real."""
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root with CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path) -> Path:
    """Fill the file system of ``folder`` to the last byte."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_report_reads_a_database_on_read_only_media(targets: Path, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "media") as folder:
        code, _, err = finish(scan(targets, folder / "fleet.db"))
        assert code == 3 and "could not be assessed (hang)" in err, err  # stored; "hang" has no grade
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        with pytest.raises(OSError, match="Read-only file system"):
            (folder / "probe").write_text("x")
        assert_whole_scan(report(folder / "fleet.db"))


def test_a_database_removed_during_the_scan_is_not_reported_as_stored(targets: Path, tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    db = tmp_path / "data" / "fleet.db"
    db.parent.mkdir()
    proc = scan(targets, db, TMPDIR=str(tmp_path / "tmp"))
    wait_until(lambda: site_stored(db), "the site to be stored")
    for path in db.parent.iterdir():
        path.unlink()
    db.parent.rmdir()
    code, out, err = finish(proc)
    line = one_line(err)
    assert code == 2 and "stored" not in out
    assert line.startswith(f"platscan: the database {db} was deleted or replaced while platscan wrote to it")
    (copy,) = (tmp_path / "tmp").glob("fleet.db.recovered.*.db")
    assert f"what it wrote is saved as {copy}" in line
    assert_whole_scan(report(copy))


def test_a_full_disk_fails_in_one_line_and_the_results_are_kept(targets: Path, tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    with tmpfs(tmp_path / "small") as folder:
        db = folder / "fleet.db"
        proc = scan(targets, db, TMPDIR=str(tmp_path / "tmp"))
        wait_until(lambda: query(db, "select count(*) from scans") == 1, "the scan to begin")
        filler = fill(folder)
        code, out, err = finish(proc)
        line = one_line(err)
        assert code == 2 and "stored" not in out
        assert line.startswith(f"platscan: cannot use database {db}: database or disk is full")
        (kept,) = (tmp_path / "tmp").glob("fleet.db.unsaved.*.json")
        assert f"is kept in {kept}: move that file beside {db}" in line
        filler.unlink()
        shutil.move(kept, folder / kept.name)  # as the message says
        assert_whole_scan(report(db))
        assert not (folder / kept.name).exists()


def test_a_report_on_a_full_disk_leaves_no_partial_file(targets: Path, tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    code, _, err = finish(scan(targets, db))
    assert code == 3 and "could not be assessed (hang)" in err, err  # stored; "hang" has no grade
    with tmpfs(tmp_path / "small", size="1m") as folder:
        out = folder / "fleet.html"
        out.write_text("the previous report")
        fill(folder)
        proc = subprocess.run(
            [*PLATSCAN, "report", "--db", str(db), "--format", "html", "-o", str(out)], capture_output=True, text=True
        )
        assert proc.returncode == 2
        assert one_line(proc.stderr).startswith(f"platscan: cannot write {folder}")
        assert "No space left on device" in proc.stderr
        assert out.read_text() == "the previous report"
        assert sorted(p.name for p in folder.iterdir() if p.is_file()) == ["filler", "fleet.html"]
    with open("/dev/full", "w") as full:
        to_full = subprocess.run(
            [*PLATSCAN, "report", "--db", str(db), "-o", "-"], stdout=full, stderr=subprocess.PIPE, text=True
        )
    assert to_full.returncode == 2
    assert one_line(to_full.stderr) == "platscan: cannot write to standard output: No space left on device"


# ---- a scanner killed outright ----


def test_a_killed_scan_is_closed_later_with_its_unrun_checks_untested(targets: Path, tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    proc = scan(targets, db)
    wait_until(lambda: site_stored(db), "the site to be stored")
    os.killpg(proc.pid, signal.SIGKILL)  # no handler runs: only a later command can close the scan
    proc.wait()
    doc = report(db)
    assert (doc["scan"]["status"], doc["scan"]["error"]) == ("interrupted", "the scanning process ended")
    hang = results_of(doc, "hang")
    assert sorted(r["check"] for r in hang) == sorted(HTTP_CHECKS)
    assert {(r["status"], r["detail"]) for r in hang} == {
        ("error", "not run: the scan was interrupted (the scanning process ended)")
    }
    (view,) = [p for p in doc["platforms"] if p["id"] == "hang"]
    assert view["grade"] is None and view["scoring"]["coverage"]["tested"] == 0
    assert view["scoring"]["coverage"]["untested"]["http"].startswith("not run:")
    assert "not run" not in {r["detail"][:7] for r in results_of(doc, "site")}
    assert query(db, "select count(*) from scores where scan_id = 1") == 2, "graded when closed, for trends"
    assert not list(tmp_path.glob("fleet.db.scan-*.running")), "the dead scanner's marker is cleared"
