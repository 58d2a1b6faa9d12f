"""The SQLite store: the only module that speaks SQL.

Each endpoint's results are written in their own transaction as they arrive, so a crash or a kill
loses at most the endpoints still in flight. Every result is stored, passes included: compliance
needs the proof that a check ran and passed. A result row keeps what the result observed; what its
check says about itself (title, remediation, criteria) is stored once per scan, in the scan's
catalogue, and joined back in when results are read (``results_full`` does the same in SQL).

Other processes use the database too (a backup, `sqlite3` in a terminal, another scan finishing).
A write waits for their lock (``lock_timeout``, in short attempts so that Ctrl-C still works);
results that cannot be written yet are kept in memory and in a file beside the database, and are
written with the next write or, if this process cannot, by the next one that opens the database.
Reading never needs the write lock, and a database on read-only media can be read.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import glob
import json
import os
import secrets
import socket
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlite_utils

from scanner import __version__
from scanner.assessment import save_scores as grade_scan
from scanner.files import write_atomically
from scanner.messages import Message, MessageError
from scanner.model import Cap, CatalogueEntry, Platform, Result, Scan, ScanStatus, Severity, Status
from scanner.scoring import PlatformScore

# 2: scores table (grades computed when a scan ends, kept for trends; `platscan rescore` redoes them).
# 3: gates table (the go-live gate's verdict per platform, for --baseline last-passed).
# 4: catalogue table (each check's static text once per scan); a result row's title, remediation,
#    criteria and family are NULL when they are its check's catalogue entry's. Rows of older scans
#    keep their own text, so they read back as they were.
# 5: catalogue.caps (the grade caps each check declared, JSON), so a stored scan is graded with the
#    caps it ran with. NULL in rows of older scans: they are graded with the installed checks' caps.
# 6: results.finding_key (``Result.key``, what the family says was found; NULL when there is none).
#    NULL in rows of older scans: they read back with key "".
SCHEMA_VERSION = 7

#: How long, in all, a write waits for another process's write lock before giving up.
LOCK_TIMEOUT = 300.0
#: How long SQLite waits within one attempt; signal handlers run between attempts.
BUSY_SLICE = 0.5
#: Why a scan still marked running, whose process is gone, was closed.
ABANDONED = "the scanning process ended"

_T = TypeVar("_T")
_P = ParamSpec("_P")


class StoreError(Exception):
    pass


def _waits(method: Callable[Concatenate[Store, _P], _T]) -> Callable[Concatenate[Store, _P], _T]:
    """A write that waits for other writers, after the results not written yet (see ``Store._write``)."""

    @functools.wraps(method)
    def write(store: Store, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        return store._write(functools.partial(method, store, *args, **kwargs))

    return write


#: How an unfinished scan ended, for the reason given to the checks that never ran.
_ENDED = {ScanStatus.INTERRUPTED: "was interrupted", ScanStatus.FAILED: "failed", ScanStatus.RUNNING: "did not end"}


@dataclass
class _Unsaved:
    """What a store could not write yet: endpoints' results and scans' ends, in order."""

    results: list[tuple[int, list[Result]]] = field(default_factory=list)
    finishes: dict[int, tuple[ScanStatus, str | None]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.results or self.finishes)

    def count(self) -> int:
        return sum(len(batch) for _, batch in self.results)

    def scan_ids(self) -> set[int]:
        return {scan_id for scan_id, _ in self.results} | set(self.finishes)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "platscan-unsaved/1",
            "results": [[scan_id, [_result_to_json(r) for r in batch]] for scan_id, batch in self.results],
            "finishes": [[scan_id, status.value, error] for scan_id, (status, error) in self.finishes.items()],
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> _Unsaved:
        if doc.get("format") != "platscan-unsaved/1":
            raise ValueError("not a platscan file of unsaved results")
        return cls(
            results=[(int(scan_id), [_result_from_json(r) for r in batch]) for scan_id, batch in doc["results"]],
            finishes={int(scan_id): (ScanStatus(status), error) for scan_id, status, error in doc["finishes"]},
        )


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store:
    """The database at ``path``.

    A writer (``write=True``) creates it if needed and waits up to ``lock_timeout`` seconds for
    other writers. A reader (``write=False``: reports) never waits for the write lock and opens a
    database on read-only media; the upkeep it does on opening (see ``_upkeep``) happens only if
    the database is free at that moment.
    """

    def __init__(self, path: Path, *, write: bool = True, lock_timeout: float = LOCK_TIMEOUT) -> None:
        self.path = path
        self.writer = write
        self.lock_timeout = lock_timeout if write else 0.0
        self._unsaved = _Unsaved()
        self._kept: Path | None = None  # the file holding a copy of what is unsaved, if any
        self._running: dict[int, int] = {}  # scan id -> descriptor holding its "running" marker's lock
        self._token = secrets.token_hex(4)
        try:
            if path.parent and not path.parent.exists():
                raise StoreError(f"cannot open database {path}: directory {path.parent} does not exist")
            self.db = sqlite_utils.Database(_connect(path, write))
            self._attempt(self._migrate, self.lock_timeout)
            self._identity = _identity(path)
            self._upkeep()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot use database {path}: {exc}") from None

    def close(self) -> None:
        self._keep_aside()  # whatever could not be written outlives this process
        for fd in self._running.values():
            os.close(fd)  # a scan this store did not finish is, from now on, one whose scanner has gone
        self._running.clear()
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- schema ----
    def _migrate(self) -> None:
        tables = set(self.db.table_names())
        if "meta" in tables:
            row = self.db.execute("select value from meta where key = 'schema_version'").fetchone()
            found = int(row[0]) if row else 0
            if found > SCHEMA_VERSION:
                raise StoreError(
                    f"database {self.path} was written by a newer platscan (schema {found}; "
                    f"this version reads up to {SCHEMA_VERSION}): upgrade platscan or use another --db"
                )
            if found == SCHEMA_VERSION:
                return
            if "runner" not in self.db.table("scans").columns_dict:
                self.db.table("scans").add_column("runner", str)
        elif tables:
            raise StoreError(f"{self.path} is an SQLite database, but not a platscan one (no meta table)")
        with self.db.conn:
            self.db.execute("pragma journal_mode = wal")
            self.db.table("meta").create({"key": str, "value": str}, pk="key", if_not_exists=True)
            self.db.table("scans").create(
                {
                    "id": int,
                    "started": str,
                    "finished": str,
                    "status": str,
                    "platscan_version": str,
                    "scoring_version": int,
                    "targets": str,
                    "settings": str,
                    "selection": str,
                    "runner": str,
                    "error": str,
                },
                pk="id",
                not_null={"started", "status", "platscan_version"},
                if_not_exists=True,
            )
            self.db.table("platforms").create(
                {
                    "scan_id": int,
                    "id": str,
                    "name": str,
                    "owner": str,
                    "contact": str,
                    "level": int,
                    "tags": str,
                    "config": str,
                },
                pk=("scan_id", "id"),
                foreign_keys=[("scan_id", "scans", "id")],
                if_not_exists=True,
            )
            self.db.table("results").create(
                {
                    "id": int,
                    "scan_id": int,
                    "platform_id": str,
                    "check_id": str,
                    "family": str,
                    "endpoint": str,
                    "status": str,
                    "severity": str,
                    "title": str,
                    "detail": str,
                    "evidence": str,
                    "remediation": str,
                    "criteria": str,
                    "duration": float,
                    "finding_key": str,
                    "message": str,
                },
                pk="id",
                foreign_keys=[("scan_id", "scans", "id")],
                not_null={"scan_id", "platform_id", "check_id", "endpoint", "status", "severity"},
                if_not_exists=True,
            )
            self.db.table("scores").create(
                {
                    "scan_id": int,
                    "platform_id": str,
                    "score": int,
                    "grade": str,
                    "partial": int,
                    "scoring_version": int,
                },
                pk=("scan_id", "platform_id"),
                foreign_keys=[("scan_id", "scans", "id")],
                if_not_exists=True,
            )
            self.db.table("gates").create(
                {"scan_id": int, "platform_id": str, "outcome": int, "grade": str, "reasons": str},
                pk=("scan_id", "platform_id"),
                foreign_keys=[("scan_id", "scans", "id")],
                if_not_exists=True,
            )
            if "finding_key" not in self.db.table("results").columns_dict:  # schema 5 -> 6
                self.db.table("results").add_column("finding_key", str)
                self.db.execute("drop view if exists results_full")  # recreated below, with the key
            if "message" not in self.db.table("results").columns_dict:  # schema 6 -> 7
                self.db.table("results").add_column("message", str)
                self.db.execute("drop view if exists results_full")  # recreated below, with the message
            # Reports, grading and the gate read one scan, or one platform of it.
            self.db.table("results").create_index(["scan_id", "platform_id"], if_not_exists=True)
            self._create_catalogue()
            self.db.table("meta").upsert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key")

    # ---- the stored catalogue: each check's static text once per scan ----
    def _create_catalogue(self) -> None:
        """The catalogue table and ``results_full``, the results as every reader sees them (for SQL
        by hand: ``Store.results`` joins the same way in Python, sharing each text among its rows)."""
        self.db.table("catalogue").create(
            {
                "scan_id": int,
                "check_id": str,
                "family": str,
                "title": str,
                "severity": str,
                "remediation": str,
                "why": str,
                "active": int,
                "criteria": str,
                "caps": str,
                "finding": str,
            },
            pk=("scan_id", "check_id"),
            foreign_keys=[("scan_id", "scans", "id")],
            not_null={"family", "title", "severity", "remediation", "criteria"},
            if_not_exists=True,
        )
        if "caps" not in self.db.table("catalogue").columns_dict:  # schema 4 -> 5
            self.db.table("catalogue").add_column("caps", str)
        if "finding" not in self.db.table("catalogue").columns_dict:  # schema 6 -> 7
            self.db.table("catalogue").add_column("finding", str)
        self.db.execute(_RESULTS_FULL)
        # No query reads results across scans or by status (the store is the only module with SQL):
        # these indexes of schema 3 cost 8 % of a scan's bytes for nothing.
        self.db.execute("drop index if exists idx_results_platform_id_check_id_endpoint")
        self.db.execute("drop index if exists idx_results_scan_id_status_severity")

    def _insert_catalogue(self, scan_id: int, catalogue: Sequence[CatalogueEntry]) -> None:
        self.db.table("catalogue").insert_all(
            {
                "scan_id": scan_id,
                "check_id": entry.check,
                "family": entry.family,
                "title": entry.title,
                "severity": entry.severity.value,
                "remediation": entry.remediation,
                "why": entry.why,
                "active": int(entry.active),
                "criteria": _criteria_json(entry.criteria),
                "caps": _caps_json(entry.caps),
                "finding": entry.finding,
            }
            for entry in catalogue
        )

    def catalogue(self, scan_id: int) -> dict[str, CatalogueEntry]:
        """check id -> what the check said about itself in scan ``scan_id`` (empty for a scan from
        before schema 4, whose rows hold their own text, or a database not migrated yet). An entry's
        ``caps`` is None when the scan did not record them (before schema 5)."""
        if "catalogue" not in self.db.table_names():
            return {}
        columns = self.db.table("catalogue").columns_dict
        caps = "caps" if "caps" in columns else "null"  # a reader of schema 4
        finding = "finding" if "finding" in columns else "null"  # a reader of schema 6
        sql = (
            f"select check_id, family, title, severity, remediation, why, active, criteria, {caps}, {finding} "
            "from catalogue where scan_id = ?"
        )
        return {
            check: CatalogueEntry(
                check=check,
                family=family,
                title=title,
                severity=Severity(severity),
                remediation=remediation,
                why=why or "",
                active=bool(active),
                criteria=tuple(json.loads(criteria)),
                caps=_caps_from_json(caps),
                finding=finding or "",
            )
            for check, family, title, severity, remediation, why, active, criteria, caps, finding in self.db.execute(
                sql, [scan_id]
            )
        }

    # ---- finishing what earlier processes could not ----
    def _upkeep(self) -> None:
        """Add the results earlier processes kept aside, then close the scans whose process is gone.

        In that order, so that a scan whose process kept its results and its end aside is closed
        as that process meant to (complete, or interrupted and why), not as abandoned.
        """
        try:
            self._import_kept()
            self._close_abandoned_scans()
        except StoreError:
            if self.writer:
                raise
            # A reader must not need the write lock: the next writer does this.

    def _import_kept(self) -> None:
        pattern = f"{glob.escape(self.path.name)}.unsaved.*.json"
        for kept in sorted(self.path.parent.glob(pattern)):
            try:
                unsaved = _Unsaved.from_json(json.loads(kept.read_bytes()))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not one of ours, or unreadable: left for a person to look at
            if not all(self._ended_here(scan_id) for scan_id in unsaved.scan_ids()):
                continue  # its process still runs and writes them itself, or another database's
            closed = self._write(functools.partial(self._restore, unsaved))
            kept.unlink(missing_ok=True)
            for scan_id in closed:
                grade_scan(self, scan_id)

    def _restore(self, unsaved: _Unsaved) -> list[int]:
        """Write results kept aside (an endpoint already stored is skipped: the file may have been
        written just before its process managed to store them) and apply the scan ends they carry;
        returns the scans that are closed now."""
        closed = []
        with self.db.atomic():
            for scan_id, batch in unsaved.results:
                if batch and not self._has_endpoint(scan_id, batch[0].platform, batch[0].endpoint):
                    self._insert_results(scan_id, batch)
            for scan_id, (status, error) in unsaved.finishes.items():
                if self.scan(scan_id).status == ScanStatus.RUNNING:
                    self._close_scan(scan_id, status, error)
                    closed.append(scan_id)
        return closed

    def _close_abandoned_scans(self) -> None:
        """A scan still 'running' whose process is gone was killed: close it as interrupted (its
        checks that never ran become `error` results) and grade it."""
        rows = self.db.execute("select id, runner from scans where status = 'running'").fetchall()
        for scan_id, runner in rows:
            if not self._scanner_runs(scan_id, runner):
                if self._write(functools.partial(self._close_if_running, scan_id)):
                    grade_scan(self, scan_id)
                with contextlib.suppress(OSError):
                    self._running_marker(scan_id).unlink(missing_ok=True)

    def _close_if_running(self, scan_id: int) -> bool:
        """Close an abandoned scan, unless its scanner closed it after all since it was read."""
        with self.db.atomic():
            if self.scan(scan_id).status != ScanStatus.RUNNING:
                return False
            self._close_scan(scan_id, ScanStatus.INTERRUPTED, ABANDONED)
            return True

    def _ended_here(self, scan_id: int) -> bool:
        """Whether ``scan_id`` is a scan of this database whose process no longer runs."""
        row = self.db.execute("select status, runner from scans where id = ?", [scan_id]).fetchone()
        return row is not None and not (row[0] == ScanStatus.RUNNING.value and self._scanner_runs(scan_id, row[1]))

    # ---- whether a running scan's process still runs ----
    def _running_marker(self, scan_id: int) -> Path:
        return self.path.with_name(f"{self.path.name}.scan-{scan_id}.running")

    @contextlib.contextmanager
    def _marking_running(self) -> Iterator[Callable[[int], None]]:
        """For the transaction that creates a scan: ``mark(scan_id)`` takes the scan's running
        marker before the row is committed (so nobody sees the row without it), and the marker is
        let go again if the transaction does not commit."""
        marked: list[int] = []

        def mark(scan_id: int) -> None:
            self._hold_running_marker(scan_id)
            marked.append(scan_id)

        try:
            yield mark
        except BaseException:
            for scan_id in marked:
                self._release_running_marker(scan_id)
            raise

    def _hold_running_marker(self, scan_id: int) -> None:
        """Lock a file named for the scan for as long as this store runs it. The kernel drops the
        lock when the process ends, however it ends, and every process that shares the file sees
        that: other containers, host names and pid namespaces of this machine included."""
        if scan_id in self._running:
            return
        try:
            fd = os.open(self._running_marker(scan_id), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return  # no marker: others judge by the runner token alone
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return
        self._running[scan_id] = fd

    def _release_running_marker(self, scan_id: int) -> None:
        fd = self._running.pop(scan_id, None)
        if fd is not None:
            with contextlib.suppress(OSError):
                self._running_marker(scan_id).unlink()
            os.close(fd)

    def _scanner_runs(self, scan_id: int, runner: str | None) -> bool:
        """Whether the process running ``scan_id`` still runs: on this machine its marker's lock
        says, when there is one (a free lock on a marker left behind: it has died); else, and for
        another machine (where a lock may not be seen), its runner token."""
        if not _this_boot(runner):
            return _alive(runner)
        try:
            fd = os.open(self._running_marker(scan_id), os.O_RDONLY)
        except OSError:
            return _alive(runner)  # an older platscan's scan, or one that could not create its marker
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return _alive(runner)
        finally:
            os.close(fd)
        return False

    def _has_endpoint(self, scan_id: int, platform: str, endpoint: str) -> bool:
        sql = "select 1 from results where scan_id = ? and platform_id = ? and endpoint = ? limit 1"
        return self.db.execute(sql, [scan_id, platform, endpoint]).fetchone() is not None

    # ---- writing ----
    @_waits
    def begin_scan(
        self,
        targets: str,
        settings: dict[str, Any],
        selection: dict[str, Any],
        platforms: Sequence[Platform],
        catalogue: Sequence[CatalogueEntry] = (),
    ) -> int:
        """Open a scan of ``platforms``; ``catalogue`` holds what the checks it runs say about themselves."""
        with self._marking_running() as mark, self.db.atomic():
            scans = self.db.table("scans")
            scans.insert(
                {
                    "started": utc_now(),
                    "status": ScanStatus.RUNNING.value,
                    "platscan_version": __version__,
                    "targets": targets,
                    "settings": json.dumps(settings, sort_keys=True, default=str),
                    "selection": json.dumps(selection, sort_keys=True),
                    "runner": runner_token(),
                }
            )
            scan_id = int(scans.last_pk or 0)
            mark(scan_id)
            self.db.table("platforms").insert_all(
                {
                    "scan_id": scan_id,
                    "id": p.id,
                    "name": p.name,
                    "owner": p.owner,
                    "contact": p.contact,
                    "level": p.level,
                    "tags": json.dumps(list(p.tags)),
                    "config": json.dumps(asdict(p), sort_keys=True),
                }
                for p in platforms
            )
            self._insert_catalogue(scan_id, catalogue)
        return scan_id

    def add_results(self, scan_id: int, results: Sequence[Result]) -> None:
        """Store one endpoint's results: now if the database is free, else with the next write.

        Never waits and never fails, so another process's lock does not stall the scan: results
        that cannot be written yet are kept in memory and in a file beside the database (see
        ``_keep_aside``); ``finish_scan`` waits for them to be written.
        """
        if results:
            self._unsaved.results.append((scan_id, list(results)))
        try:
            self._attempt(self._flush, patience=0.0)
        except StoreError:
            self._keep_aside()

    def _insert_results(self, scan_id: int, results: Sequence[Result]) -> None:
        if not results:
            return
        catalogue = self.catalogue(scan_id)
        with self.db.atomic():
            self.db.table("results").insert_all(_result_row(scan_id, r, catalogue.get(r.check)) for r in results)

    def finish_scan(self, scan_id: int, status: ScanStatus, error: str | None = None) -> None:
        """Close a scan once its results are written (waiting for other writers up to lock_timeout).

        On StoreError the results and the end of the scan are kept aside (see ``_keep_aside``) and
        the next process to open the database stores them.
        """
        self._unsaved.finishes[scan_id] = (status, error)
        self._write(lambda: None)

    def save_plan(self, scan_id: int, planned: Mapping[tuple[str, str], Sequence[str]]) -> None:
        """Record what a scan is going to run, (platform, endpoint) -> check ids, so that a scan
        that ends early can record every check that never ran as `error`.

        Kept compactly: the check ids once, each endpoint once with the positions of its checks in
        that list; what the checks say about themselves is in the scan's catalogue already.
        """
        positions: dict[str, int] = {}
        for checks in planned.values():
            for check in checks:
                positions.setdefault(check, len(positions))
        plan = {
            "checks": list(positions),
            "units": [[p, e, [positions[c] for c in checks]] for (p, e), checks in planned.items()],
        }
        self._write(functools.partial(self._insert_plan, scan_id, plan))

    def _insert_plan(self, scan_id: int, plan: Mapping[str, Any]) -> None:
        with self.db.atomic():
            table = self.db.table("scan_plans")
            # A table of its own, created by the first scan that needs it: older databases lack it,
            # and older platscan versions ignore it.
            table.create({"scan_id": int, "plan": str}, pk="scan_id", if_not_exists=True)
            table.upsert({"scan_id": scan_id, "plan": json.dumps(plan, separators=(",", ":"))}, pk="scan_id")

    def _close_scan(self, scan_id: int, status: ScanStatus, error: str | None) -> None:
        """Mark a scan finished. An unfinished one first gets an `error` result for every planned
        check of every endpoint that has none (endpoints are stored whole), so every reader (reports,
        gate, rescore, coverage) counts what never ran as untested."""
        with self.db.atomic():
            if status != ScanStatus.COMPLETE:
                reason = f"not run: the scan {_ENDED[status]} ({error or status.value})"
                self._insert_results(scan_id, self._not_run(scan_id, reason))
            self.db.table("scans").update(scan_id, {"finished": utc_now(), "status": status.value, "error": error})

    def _not_run(self, scan_id: int, reason: str) -> list[Result]:
        if "scan_plans" not in self.db.table_names():
            return []
        row = self.db.execute("select plan from scan_plans where scan_id = ?", [scan_id]).fetchone()
        if row is None:
            return []  # scanned by a version that recorded no plan
        plan = json.loads(row[0])
        done = set(self.db.execute("select distinct platform_id, endpoint from results where scan_id = ?", [scan_id]))
        entries = self.catalogue(scan_id)
        return [
            _not_run_result(entries.get(check) or replace(_NO_ENTRY, check=check), platform, endpoint, reason)
            for platform, endpoint, indexes in plan["units"]
            if (platform, endpoint) not in done
            for check in (plan["checks"][i] for i in indexes)
        ]

    @_waits
    def save_scores(self, scan_id: int, scores: Mapping[str, PlatformScore]) -> None:
        """Replace the stored grades of a scan (at its end, or when re-scored with newer rules)."""
        with self.db.atomic():
            self.db.execute("delete from scores where scan_id = ?", [scan_id])
            self.db.table("scores").insert_all(
                {
                    "scan_id": scan_id,
                    "platform_id": platform,
                    "score": score.score,
                    "grade": score.grade,
                    "partial": int(score.partial),
                    "scoring_version": score.version,
                }
                for platform, score in scores.items()
            )
            versions = {score.version for score in scores.values()}
            self.db.table("scans").update(scan_id, {"scoring_version": max(versions, default=None)})

    @_waits
    def save_gate(self, scan_id: int, platform: str, outcome: int, grade: str | None, reasons: Sequence[str]) -> None:
        with self.db.atomic():
            self.db.table("gates").upsert(
                {
                    "scan_id": scan_id,
                    "platform_id": platform,
                    "outcome": outcome,
                    "grade": grade,
                    "reasons": json.dumps(list(reasons), ensure_ascii=False),
                },
                pk=("scan_id", "platform_id"),
            )

    def last_passed(self, platform: str, before: int) -> int | None:
        """The latest scan before ``before`` in which ``platform`` passed the gate."""
        row = self.db.execute(
            "select max(scan_id) from gates where platform_id = ? and outcome = 0 and scan_id < ?", [platform, before]
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    # ---- waiting for other writers, keeping aside what cannot be written, checking the file ----
    def _write(self, action: Callable[[], _T]) -> _T:
        """Write what is unsaved, then run ``action``, waiting up to ``lock_timeout`` for other
        writers. On failure (or Ctrl-C while waiting) what is unsaved is kept aside, and the
        StoreError says where."""

        def flush_then_act() -> _T:
            self._flush()
            return action()

        try:
            return self._attempt(flush_then_act, self.lock_timeout)
        except StoreError as exc:
            raise StoreError(f"{exc}{self._kept_note()}") from None
        except BaseException:
            self._keep_aside()
            raise

    def _attempt(self, action: Callable[[], _T], patience: float) -> _T:
        """Run ``action``, again while another process holds the write lock, for ``patience`` s in all."""
        deadline = time.monotonic() + patience
        while True:
            try:
                return action()
            except sqlite3.Error as exc:
                if not _locked(exc):
                    raise StoreError(f"cannot use database {self.path}: {exc}") from None
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"database {self.path} is locked by another process (a backup, an open sqlite3 "
                        f"session, another scan?); gave up after waiting {patience:g} s"
                    ) from None
            # SQLite already waited BUSY_SLICE; this pause only matters when it answers busy at once.
            time.sleep(0.05)

    def _flush(self) -> None:
        """Write what is unsaved, oldest first: each endpoint's results, and each scan's end, in a
        transaction of its own, so what is written stays written when a later one fails."""
        while self._unsaved.results:
            scan_id, batch = self._unsaved.results[0]
            self._insert_results(scan_id, batch)
            # A signal landing between the commit and this line would write the batch twice on the
            # next flush: a duplicate row, which scoring ignores, rather than a lost one.
            del self._unsaved.results[0]
        while self._unsaved.finishes:
            scan_id, (status, error) = next(iter(self._unsaved.finishes.items()))
            self._close_scan(scan_id, status, error)
            del self._unsaved.finishes[scan_id]
            self._release_running_marker(scan_id)
        self._drop_kept()

    def _keep_aside(self) -> Path | None:
        """Copy what is unsaved into a file beside the database, which the next process to open it
        imports; on a full or vanished file system, into the temporary directory. Replaces the
        previous copy, so it is always whole and current; the copy goes once all is written."""
        if not self._unsaved:
            self._drop_kept()
            return None
        name = f"{self.path.name}.unsaved.{self._token}.json"
        data = json.dumps(self._unsaved.to_json(), ensure_ascii=False, default=str).encode()
        for folder in (self.path.parent, Path(tempfile.gettempdir())):
            try:
                write_atomically(folder / name, data)
            except OSError:
                continue
            if self._kept is not None and self._kept != folder / name:
                self._drop_kept()
            self._kept = folder / name
            return self._kept
        return None  # a previous copy, if any, stays: older, but better than nothing

    def _drop_kept(self) -> None:
        if self._kept is not None:
            try:
                self._kept.unlink(missing_ok=True)
            except OSError:
                return  # stale copies are harmless: importing skips what is already stored
            self._kept = None

    def _kept_note(self) -> str:
        """The end of an error message: where the unsaved results are."""
        if not self._unsaved:
            return ""
        scans = ", ".join(str(scan_id) for scan_id in sorted(self._unsaved.scan_ids()))
        pieces = [f"{count} result(s)"] if (count := self._unsaved.count()) else []
        pieces += ["its end"] if self._unsaved.finishes else []
        what = f"what scan {scans} could not write ({' and '.join(pieces)})"
        kept = self._keep_aside()
        if kept is None:
            return f"; {what} could not be kept anywhere and is lost"
        if kept.parent == self.path.parent:
            return f"; {what} is kept in {kept} and added the next time platscan opens the database"
        return f"; {what} is kept in {kept}: move that file beside {self.path}, and the next platscan command adds it"

    def confirm_in_place(self) -> None:
        """Raise StoreError if the file written is no longer the one at ``path`` (deleted, or its
        directory removed, or replaced by another file) after saving a copy of what was written:
        SQLite keeps writing to an open file that no longer has a name, and nobody would find it."""
        if _identity(self.path) == self._identity:
            return
        note = "could not save a copy"
        for folder in (self.path.parent, Path(tempfile.gettempdir())):
            target = folder / f"{self.path.name}.recovered.{self._token}.db"
            try:
                self._copy_to(target)
            except (OSError, sqlite3.Error) as exc:
                note = f"could not save a copy: {exc}"
                continue
            note = f"what it wrote is saved as {target}"
            break
        raise StoreError(f"the database {self.path} was deleted or replaced while platscan wrote to it; {note}")

    def _copy_to(self, target: Path) -> None:
        copy = sqlite3.connect(target)
        try:
            self.db.conn.backup(copy)
        except BaseException:
            copy.close()
            target.unlink(missing_ok=True)
            raise
        copy.close()

    # ---- reading ----
    def scan(self, scan_id: int | None = None) -> Scan:
        """The scan ``scan_id``, or the latest one."""
        if scan_id is None:
            row = self.db.execute("select * from scans order by id desc limit 1").fetchone()
            if row is None:
                raise StoreError(f"no scans in {self.path} yet: run `platscan scan TARGETS --db {self.path}` first")
        else:
            row = self.db.execute("select * from scans where id = ?", [scan_id]).fetchone()
            if row is None:
                raise StoreError(f"no scan {scan_id} in {self.path}")
        return _scan_from_row(dict(zip(self._columns("scans"), row, strict=True)))

    def scan_settings(self, scan_id: int) -> dict[str, Any]:
        row = self.db.execute("select settings from scans where id = ?", [scan_id]).fetchone()
        return dict(json.loads(row[0])) if row and row[0] else {}

    def scans(self) -> list[Scan]:
        cols = self._columns("scans")
        return [
            _scan_from_row(dict(zip(cols, row, strict=True)))
            for row in self.db.execute("select * from scans order by id").fetchall()
        ]

    def platforms(self, scan_id: int) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "select id, name, owner, contact, level, tags from platforms where scan_id = ? order by id", [scan_id]
        ).fetchall()
        return [
            {"id": r[0], "name": r[1], "owner": r[2], "contact": r[3], "level": r[4], "tags": json.loads(r[5])}
            for r in rows
        ]

    def platform_settings(self, scan_id: int) -> dict[str, dict[str, Any]]:
        """platform id -> its registered settings as the scan stored them (``Platform`` as JSON: urls,
        hosts, gate, ...); {} for a platform stored without them."""
        rows = self.db.execute("select id, config from platforms where scan_id = ?", [scan_id]).fetchall()
        return {r[0]: dict(json.loads(r[1])) if r[1] else {} for r in rows}

    def results(self, scan_id: int, platform: str | None = None) -> list[Result]:
        sql = "select * from results where scan_id = ?"
        params: list[Any] = [scan_id]
        if platform is not None:
            sql += " and platform_id = ?"
            params.append(platform)
        sql += " order by platform_id, check_id, endpoint, id"
        cols = self._columns("results")
        catalogue = self.catalogue(scan_id)
        return [
            _result_from_row(row, catalogue.get(row["check_id"]))
            for row in (dict(zip(cols, values, strict=True)) for values in self.db.execute(sql, params))
        ]

    def results_by_platform(self, scan_id: int) -> Iterator[tuple[str, list[Result]]]:
        """Each platform of the scan (in id order) with its results, one platform at a time: a reader
        of a big scan (grading, the scan's summary) holds one platform's results, not the scan's."""
        for row in self.platforms(scan_id):
            yield row["id"], self.results(scan_id, row["id"])

    def stored_scores(self, scan_ids: Sequence[int]) -> dict[int, dict[str, tuple[int | None, str | None]]]:
        """scan id -> platform id -> (score, grade), for the scans asked for."""
        out: dict[int, dict[str, tuple[int | None, str | None]]] = {scan_id: {} for scan_id in scan_ids}
        if not scan_ids:
            return out
        marks = ",".join("?" * len(scan_ids))
        sql = f"select scan_id, platform_id, score, grade from scores where scan_id in ({marks})"
        for scan_id, platform, score, grade in self.db.execute(sql, list(scan_ids)):
            out[scan_id][platform] = (score, grade)
        return out

    def durations(self, scan_id: int) -> dict[tuple[str, str], float]:
        """(platform, endpoint) -> seconds its checks took in scan ``scan_id``: per endpoint, the
        slowest family's sum (an endpoint's families run at once). Empty for a scan stored before
        the catalogue (schema 4), whose checks' families are not recorded."""
        if "catalogue" not in self.db.table_names():
            return {}
        sql = (
            "select r.platform_id, r.endpoint, c.family, sum(r.duration) from results r "
            "join catalogue c on c.scan_id = r.scan_id and c.check_id = r.check_id "
            "where r.scan_id = ? group by r.platform_id, r.endpoint, c.family"
        )
        out: dict[tuple[str, str], float] = {}
        for platform, endpoint, _, seconds in self.db.execute(sql, [scan_id]):
            out[(platform, endpoint)] = max(out.get((platform, endpoint), 0.0), seconds or 0.0)
        return out

    def verdicts(self, scan_id: int) -> dict[tuple[str, str, str], tuple[str, str]]:
        """(platform, check, endpoint) -> (status, severity) of a scan, without the heavy columns."""
        sql = "select platform_id, check_id, endpoint, status, severity from results where scan_id = ?"
        return {(p, c, e): (st, sev) for p, c, e, st, sev in self.db.execute(sql, [scan_id])}

    def _columns(self, table: str) -> list[str]:
        return [col.name for col in self.db[table].columns]


def _connect(path: Path, write: bool) -> sqlite3.Connection:
    """A connection whose own waits for a lock are short (see ``Store._attempt``); a reader does not
    create the file, and reads one on read-only media."""
    uri = path.absolute().as_uri()
    try:
        conn = sqlite3.connect(f"{uri}?mode={'rwc' if write else 'rw'}", uri=True, timeout=BUSY_SLICE)
        conn.execute("select count(*) from sqlite_master").fetchone()  # opens the file now
        return conn
    except sqlite3.OperationalError:
        if write or not _on_read_only_media(path):
            raise
    # A WAL database needs its shared-memory index file, which read-only media cannot hold; nothing
    # can change the file there, which is exactly what `immutable` tells SQLite.
    return sqlite3.connect(f"{uri}?immutable=1", uri=True)


def _on_read_only_media(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file is at ``path`` (device and inode), or None when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _locked(exc: sqlite3.Error) -> bool:
    """Whether SQLite gave up because another connection holds a lock (worth trying again)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return "locked" in str(exc) or "busy" in str(exc)
    return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _not_run_result(entry: CatalogueEntry, platform: str, endpoint: str, reason: str) -> Result:
    return Result(
        check=entry.check,
        platform=platform,
        endpoint=endpoint,
        status=Status.ERROR,
        severity=entry.severity,
        title=entry.title,
        detail=reason,
        remediation=entry.remediation,
        criteria=entry.criteria,
    )


def _result_to_json(result: Result) -> dict[str, Any]:
    message = None if result.message is None else result.message.to_json()
    return {**asdict(result), "criteria": list(result.criteria), "message": message}


def _result_from_json(doc: Mapping[str, Any]) -> Result:
    return Result(
        **{
            **doc,
            "status": Status(doc["status"]),
            "severity": Severity(doc["severity"]),
            "criteria": tuple(doc["criteria"]),
            "message": Message.from_json(doc["message"]) if doc.get("message") else None,
        }
    )


def runner_token(pid: int | None = None) -> str:
    """Who runs a scan: host, boot, pid and the process's start time, so that a reused pid (every
    container's first process is pid 1) is not mistaken for the scanner that wrote the row."""
    pid = pid or os.getpid()
    return f"{socket.gethostname()}|{_boot_id()}|{pid}|{_start_time(pid)}"


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _this_boot(runner: str | None) -> bool:
    """Whether ``runner`` ran on this machine since it booted, whatever its host name was."""
    parts = (runner or "").split("|")
    return len(parts) == 4 and bool(parts[1]) and parts[1] == _boot_id()


def _alive(runner: str | None) -> bool:
    """Whether the process that wrote ``runner`` still runs; unknown (another machine) counts as alive.

    The boot id, not the host name, says whether it ran on this machine since it booted: a
    container restarted with a new host name shares the machine's boot id, and its old scanner's
    pid is then judged here like any other.
    """
    parts = (runner or "").split("|")
    if len(parts) != 4 or not parts[2].isdigit():
        return False
    host, boot, pid, started = parts
    if not _this_boot(runner):
        if host != socket.gethostname():
            return True  # another machine, or no boot id to tell: it cannot be judged from here
        if boot:
            return False  # this machine has rebooted since
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return _start_time(int(pid)) == started


def _scan_from_row(row: dict[str, Any]) -> Scan:
    return Scan(
        id=row["id"],
        started=row["started"],
        finished=row["finished"],
        status=ScanStatus(row["status"]),
        platscan_version=row["platscan_version"],
        scoring_version=row["scoring_version"],
        targets=row["targets"] or "",
        error=row["error"],
    )


# The results with their catalogue's text filled in, as ``_result_from_row`` reads them.
_RESULTS_FULL = """
create view if not exists results_full as
select r.id, r.scan_id, r.platform_id, r.check_id, coalesce(r.family, c.family) as family, r.endpoint,
       r.status, r.severity, coalesce(r.title, c.title, '') as title, r.detail, r.evidence,
       coalesce(r.remediation, c.remediation, '') as remediation, coalesce(r.criteria, c.criteria, '[]') as criteria,
       r.duration, r.finding_key, r.message
from results as r left join catalogue as c on c.scan_id = r.scan_id and c.check_id = r.check_id
"""

_V = TypeVar("_V")


def _own(value: _V, shared: _V | None) -> _V | None:
    """What a row stores of a result's text: None when it is its catalogue entry's."""
    return None if value == shared else value


def _result_row(scan_id: int, r: Result, entry: CatalogueEntry | None) -> dict[str, Any]:
    """A result as stored: what it observed, and its check's text only where it differs from ``entry``."""
    criteria = _own(tuple(r.criteria), entry.criteria if entry else None)
    return {
        "scan_id": scan_id,
        "platform_id": r.platform,
        "check_id": r.check,
        "family": _own(r.check.split(".", 1)[0], entry.family if entry else None),
        "endpoint": r.endpoint,
        "status": r.status.value,
        "severity": r.severity.value,
        "title": _own(r.title, entry.title if entry else None),
        "detail": r.detail,
        "evidence": _evidence_json(r.evidence),
        "remediation": _own(r.remediation, entry.remediation if entry else None),
        "criteria": None if criteria is None else _criteria_json(criteria),
        "duration": round(r.duration, 4),
        "finding_key": r.key or None,
        "message": None if r.message is None else json.dumps(r.message.to_json(), ensure_ascii=False),
    }


def _evidence_json(evidence: Mapping[str, Any]) -> str:
    # Compact separators: a result's evidence is the largest thing it stores. ASCII escapes stay, so
    # text that is not valid Unicode (a lone surrogate from a server's bytes) is still stored.
    return json.dumps(evidence, sort_keys=True, default=str, separators=(",", ":"))


def _caps_json(caps: Sequence[Cap] | None) -> str | None:
    """A catalogue entry's caps as stored: grade and severity of each, strictest first (None: unknown)."""
    if caps is None:
        return None
    return json.dumps([{"grade": cap.grade, "min_severity": cap.min_severity.value} for cap in caps])


def _caps_from_json(text: str | None) -> tuple[Cap, ...] | None:
    if text is None:
        return None
    return tuple(Cap(doc["grade"], Severity(doc["min_severity"])) for doc in json.loads(text))


def _criteria_json(criteria: Sequence[str]) -> str:
    return json.dumps(list(criteria))


def _result_from_row(row: Mapping[str, Any], entry: CatalogueEntry | None) -> Result:
    """A stored result, its NULL text columns filled from its check's catalogue ``entry``."""
    shared = entry or _NO_ENTRY
    return Result(
        check=row["check_id"],
        platform=row["platform_id"],
        endpoint=row["endpoint"],
        status=Status(row["status"]),
        severity=Severity(row["severity"]),
        title=shared.title if row["title"] is None else row["title"],
        detail=row["detail"] or "",
        evidence=json.loads(row["evidence"] or "{}"),
        remediation=shared.remediation if row["remediation"] is None else row["remediation"],
        criteria=shared.criteria if row["criteria"] is None else tuple(json.loads(row["criteria"])),
        duration=row["duration"] or 0.0,
        key=row.get("finding_key") or "",
        message=_message_from_json(row.get("message")),
    )


def _message_from_json(text: str | None) -> Message | None:
    """A stored message; None when there is none, or when it is unreadable (a hand-edited row): the
    stored English ``detail`` is then what reports show."""
    if not text:
        return None
    try:
        return Message.from_json(json.loads(text))
    except (ValueError, MessageError):
        return None


#: What a row without its own text and without a catalogue entry reads as (as before schema 4).
_NO_ENTRY = CatalogueEntry(check="", family="", title="", severity=Severity.INFO, remediation="")
