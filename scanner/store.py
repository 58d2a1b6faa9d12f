"""The SQLite store: the only module that speaks SQL.

Each endpoint's results are written in their own transaction as they arrive, so a crash or a kill
loses at most the endpoints still in flight. Every result is stored, passes included: compliance
needs the proof that a check ran and passed.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from scanner import __version__
from scanner.model import Platform, Result, Scan, ScanStatus, Severity, Status
from scanner.scoring import PlatformScore

# 2: scores table (grades computed when a scan ends, kept for trends; `platscan rescore` redoes them).
# 3: gates table (the go-live gate's verdict per platform, for --baseline last-passed).
SCHEMA_VERSION = 3


class StoreError(Exception):
    pass


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            if path.parent and not path.parent.exists():
                raise StoreError(f"cannot open database {path}: directory {path.parent} does not exist")
            self.db = sqlite_utils.Database(path)
            self._migrate()
            self._close_abandoned_scans()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot use database {path}: {exc}") from None

    def close(self) -> None:
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
            results = self.db.table("results")
            # Reports read one scan (per platform); trends read one check on one endpoint across scans.
            results.create_index(["scan_id", "platform_id"], if_not_exists=True)
            results.create_index(["platform_id", "check_id", "endpoint"], if_not_exists=True)
            results.create_index(["scan_id", "status", "severity"], if_not_exists=True)
            self.db.table("meta").upsert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key")

    def _close_abandoned_scans(self) -> None:
        """A scan still 'running' whose process is gone was killed: call it interrupted."""
        rows = self.db.execute("select id, runner from scans where status = 'running'").fetchall()
        dead = [scan_id for scan_id, runner in rows if not _alive(runner)]
        if dead:
            with self.db.conn:
                for scan_id in dead:
                    self.db.table("scans").update(
                        scan_id, {"status": ScanStatus.INTERRUPTED.value, "error": "the scanning process ended"}
                    )

    # ---- writing ----
    def begin_scan(
        self, targets: str, settings: dict[str, Any], selection: dict[str, Any], platforms: Sequence[Platform]
    ) -> int:
        with self.db.conn:
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
        return scan_id

    def add_results(self, scan_id: int, results: Sequence[Result]) -> None:
        if not results:
            return
        with self.db.conn:
            self.db.table("results").insert_all(
                {
                    "scan_id": scan_id,
                    "platform_id": r.platform,
                    "check_id": r.check,
                    "family": r.check.split(".", 1)[0],
                    "endpoint": r.endpoint,
                    "status": r.status.value,
                    "severity": r.severity.value,
                    "title": r.title,
                    "detail": r.detail,
                    "evidence": json.dumps(r.evidence, sort_keys=True, default=str),
                    "remediation": r.remediation,
                    "criteria": json.dumps(list(r.criteria)),
                    "duration": round(r.duration, 4),
                }
                for r in results
            )

    def finish_scan(self, scan_id: int, status: ScanStatus, error: str | None = None) -> None:
        with self.db.conn:
            self.db.table("scans").update(scan_id, {"finished": utc_now(), "status": status.value, "error": error})

    def save_scores(self, scan_id: int, scores: Mapping[str, PlatformScore]) -> None:
        """Replace the stored grades of a scan (at its end, or when re-scored with newer rules)."""
        with self.db.conn:
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

    def save_gate(self, scan_id: int, platform: str, outcome: int, grade: str | None, reasons: Sequence[str]) -> None:
        with self.db.conn:
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

    def results(self, scan_id: int, platform: str | None = None) -> list[Result]:
        sql = "select * from results where scan_id = ?"
        params: list[Any] = [scan_id]
        if platform is not None:
            sql += " and platform_id = ?"
            params.append(platform)
        sql += " order by platform_id, check_id, endpoint, id"
        cols = self._columns("results")
        return [_result_from_row(dict(zip(cols, row, strict=True))) for row in self.db.execute(sql, params)]

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

    def verdicts(self, scan_id: int) -> dict[tuple[str, str, str], tuple[str, str]]:
        """(platform, check, endpoint) -> (status, severity) of a scan, without the heavy columns."""
        sql = "select platform_id, check_id, endpoint, status, severity from results where scan_id = ?"
        return {(p, c, e): (st, sev) for p, c, e, st, sev in self.db.execute(sql, [scan_id])}

    def _columns(self, table: str) -> list[str]:
        return [col.name for col in self.db[table].columns]


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


def _alive(runner: str | None) -> bool:
    """Whether the process that wrote ``runner`` still runs; unknown (another host) counts as alive."""
    parts = (runner or "").split("|")
    if len(parts) != 4 or not parts[2].isdigit():
        return False
    host, boot, pid, started = parts
    if host != socket.gethostname():
        return True
    if boot != _boot_id():
        return False
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


def _result_from_row(row: dict[str, Any]) -> Result:
    return Result(
        check=row["check_id"],
        platform=row["platform_id"],
        endpoint=row["endpoint"],
        status=Status(row["status"]),
        severity=Severity(row["severity"]),
        title=row["title"] or "",
        detail=row["detail"] or "",
        evidence=json.loads(row["evidence"] or "{}"),
        remediation=row["remediation"] or "",
        criteria=tuple(json.loads(row["criteria"] or "[]")),
        duration=row["duration"] or 0.0,
    )
