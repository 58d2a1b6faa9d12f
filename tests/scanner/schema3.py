"""Databases as platscan wrote them at schema 3, where every result row held its check's title,
remediation and criteria in full: for the migration tests, and as the per-row baseline that
benchmarks/scale_bench.py measures the stored catalogue against.

``SCHEMA_3`` is the schema that version's ``Store`` created, as ``.schema`` printed it for a
database it wrote; ``copy_as_schema_3`` writes the scans of a current database as it stored them.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from scanner.model import Result
from scanner.store import Store

SCHEMA_3 = """
PRAGMA journal_mode = wal;
CREATE TABLE "meta" (
   "key" TEXT PRIMARY KEY,
   "value" TEXT
);
CREATE TABLE "scans" (
   "id" INTEGER PRIMARY KEY,
   "started" TEXT NOT NULL,
   "finished" TEXT,
   "status" TEXT NOT NULL,
   "platscan_version" TEXT NOT NULL,
   "scoring_version" INTEGER,
   "targets" TEXT,
   "settings" TEXT,
   "selection" TEXT,
   "runner" TEXT,
   "error" TEXT
);
CREATE TABLE "platforms" (
   "scan_id" INTEGER REFERENCES "scans"("id"),
   "id" TEXT,
   "name" TEXT,
   "owner" TEXT,
   "contact" TEXT,
   "level" INTEGER,
   "tags" TEXT,
   "config" TEXT,
   PRIMARY KEY ("scan_id", "id")
);
CREATE TABLE "results" (
   "id" INTEGER PRIMARY KEY,
   "scan_id" INTEGER NOT NULL REFERENCES "scans"("id"),
   "platform_id" TEXT NOT NULL,
   "check_id" TEXT NOT NULL,
   "family" TEXT,
   "endpoint" TEXT NOT NULL,
   "status" TEXT NOT NULL,
   "severity" TEXT NOT NULL,
   "title" TEXT,
   "detail" TEXT,
   "evidence" TEXT,
   "remediation" TEXT,
   "criteria" TEXT,
   "duration" REAL
);
CREATE TABLE "scores" (
   "scan_id" INTEGER REFERENCES "scans"("id"),
   "platform_id" TEXT,
   "score" INTEGER,
   "grade" TEXT,
   "partial" INTEGER,
   "scoring_version" INTEGER,
   PRIMARY KEY ("scan_id", "platform_id")
);
CREATE TABLE "gates" (
   "scan_id" INTEGER REFERENCES "scans"("id"),
   "platform_id" TEXT,
   "outcome" INTEGER,
   "grade" TEXT,
   "reasons" TEXT,
   PRIMARY KEY ("scan_id", "platform_id")
);
CREATE INDEX "idx_results_scan_id_platform_id"
    ON "results" ("scan_id", "platform_id");
CREATE INDEX "idx_results_platform_id_check_id_endpoint"
    ON "results" ("platform_id", "check_id", "endpoint");
CREATE INDEX "idx_results_scan_id_status_severity"
    ON "results" ("scan_id", "status", "severity");
INSERT INTO meta VALUES ('schema_version', '3');
"""

# Copied as they are: these tables did not change in schema 4.
_VERBATIM = {
    "scans": "id, started, finished, status, platscan_version, scoring_version, targets, settings, selection, "
    "runner, error",
    "platforms": "scan_id, id, name, owner, contact, level, tags, config",
    "scores": "scan_id, platform_id, score, grade, partial, scoring_version",
    "gates": "scan_id, platform_id, outcome, grade, reasons",
}


def schema_3_row(scan_id: int, r: Result) -> tuple[object, ...]:
    """A result row as schema 3 stored it: the check's text in full, evidence with spaced separators."""
    return (
        scan_id,
        r.platform,
        r.check,
        r.check.split(".", 1)[0],
        r.endpoint,
        r.status.value,
        r.severity.value,
        r.title,
        r.detail,
        json.dumps(r.evidence, sort_keys=True, default=str),
        r.remediation,
        json.dumps(list(r.criteria)),
        round(r.duration, 4),
    )


def copy_as_schema_3(source: Path, target: Path) -> None:
    """Write every scan of the database at ``source`` into a new schema-3 database at ``target``."""
    with Store(source) as store:
        scans = [scan.id for scan in store.scans()]
        rows = [schema_3_row(scan_id, r) for scan_id in scans for r in store.results(scan_id)]
    conn = sqlite3.connect(target)
    try:
        conn.executescript(SCHEMA_3)
        conn.execute("attach database ? as source", [str(source)])
        with conn:
            for table, columns in _VERBATIM.items():
                conn.execute(f"insert into {table} ({columns}) select {columns} from source.{table}")
            conn.executemany(
                "insert into results (scan_id, platform_id, check_id, family, endpoint, status, severity, title, "
                "detail, evidence, remediation, criteria, duration) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        conn.execute("detach database source")
    finally:
        conn.close()
