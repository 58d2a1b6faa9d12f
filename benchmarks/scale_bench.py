"""Benchmark: a 500-platform fleet on 50 local endpoints, `platscan scan --only tls,http`: wall time,
peak memory of the process tree, and database bytes per scan and per result.

Starts N local HTTPS sites (the http benchmark's servers; each is also the TLS endpoint sslyze
scans) and registers P platforms on them, platform i with one URL on site i mod N, as platforms that
share servers do. Then:

1. runs the `platscan` console script, as users do, with ``--only tls,http`` while sampling the
   PSS of its process tree every 50 ms (tls_bench's sampler): the peak of the whole tree, of the
   main process, of the collector processes together, and how many collectors ran at once;
2. measures the database the scan wrote: its bytes (less those of an empty database) per scan and
   per result, the largest tables and indexes, and the same results written the way schema 3 stored
   them (every row holding its check's title, remediation and criteria), measured the same way.

Targets (issue 8): peak PSS of the process tree <= 300 MB; the database stores each check's text
once per scan. On loopback the sites and the scanner share the machine's cores.

Usage: .venv/bin/python benchmarks/scale_bench.py [--platforms 500] [--endpoints 50] [--concurrency N]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from pathlib import Path

from http_bench import fleet
from tls_bench import peak_memory, process_memory, process_tree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the schema-3 writer lives with the tests

from scanner.demo.http_server import LOOPBACK, HttpSiteServer
from scanner.demo.pki import Pki
from scanner.store import Store
from tests.scanner.schema3 import SCHEMA_3, copy_as_schema_3

MB = 2**20


def write_targets(path: Path, pki: Pki, sites: list[tuple[str, HttpSiteServer, HttpSiteServer]], count: int) -> Path:
    # All sites are on one address here; in a real fleet they are different servers, so the
    # per-server politeness limit must not serialise them (as in tls_bench).
    lines = ["[scan]", "timeout = 5", "retries = 0", "per_host = 32", f'ca_bundle = "{pki.bundle_path}"']
    for n in range(count):
        host, https, _ = sites[n % len(sites)]
        lines += [
            "",
            "[[platforms]]",
            f'id = "p{n:05d}"',
            f'name = "Nền tảng dùng chung {n}"',
            f'urls = ["https://{host}:{https.port}/"]',
            f'resolve = {{ "{host}" = "{LOOPBACK}" }}',
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def tree_roles(root: int) -> tuple[int, int, int, int]:
    """PSS of the whole tree, of ``root``, and of the collectors (the forkserver's children), and
    how many collectors run (bytes, bytes, bytes, count)."""
    depths = process_tree(root)
    pss = {pid: process_memory(pid)[1] for pid in depths}
    collectors = [pid for pid, depth in depths.items() if depth >= 2]
    return sum(pss.values()), pss[root], sum(pss[pid] for pid in collectors), len(collectors)


def database_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def empty_bytes(workdir: Path) -> tuple[int, int]:
    """Bytes of an empty database: the current schema, and schema 3."""
    Store(workdir / "empty.db").close()
    old = sqlite3.connect(workdir / "empty3.db")
    old.executescript(SCHEMA_3)
    old.close()
    return database_bytes(workdir / "empty.db"), database_bytes(workdir / "empty3.db")


def largest_objects(path: Path, count: int = 4) -> list[tuple[str, int]]:
    with sqlite3.connect(path) as conn:
        sql = "select name, sum(pgsize) from dbstat group by name order by 2 desc limit ?"
        return [(name, int(size)) for name, size in conn.execute(sql, [count])]


def result_count(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("select count(*) from results").fetchone()[0])


ROW_COLUMNS = ("evidence", "detail", "title", "remediation")


def row_bytes(path: Path, columns: tuple[str, ...] = ROW_COLUMNS) -> dict[str, float]:
    """Average bytes per result row of ``columns`` (NULL counts 0)."""
    with sqlite3.connect(path) as conn:
        sums = ", ".join(f"avg(coalesce(length(cast({column} as blob)), 0))" for column in columns)
        return dict(zip(columns, conn.execute(f"select {sums} from results").fetchone(), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platforms", type=int, default=500)
    parser.add_argument("--endpoints", type=int, default=50)
    parser.add_argument("--concurrency", type=int, help="platscan --concurrency (default: its own)")
    args = parser.parse_args()
    platscan = str(Path(sys.executable).with_name("platscan"))
    with tempfile.TemporaryDirectory(prefix="platscan-scale-bench-") as tmp:
        work = Path(tmp)
        db = work / "scale.db"
        with fleet(work, args.endpoints) as (pki, sites):
            targets = write_targets(work / "targets.toml", pki, sites, args.platforms)
            command = [platscan, "scan", str(targets), "--db", str(db), "--only", "tls,http", "--quiet"]
            if args.concurrency:
                command += ["--concurrency", str(args.concurrency)]
            seconds, (tree, main_pss, collectors, running) = peak_memory(command, tree_roles)
        empty, empty3 = empty_bytes(work)
        copy_as_schema_3(db, work / "schema3.db")
        rows = result_count(db)
        stored, stored3 = database_bytes(db) - empty, database_bytes(work / "schema3.db") - empty3
        largest = largest_objects(db)
        per_row, per_row3 = row_bytes(db), row_bytes(work / "schema3.db")

    print(f"platscan scan --only tls,http: {args.platforms} platforms on {args.endpoints} local endpoints")
    show("wall time", f"{seconds:7.1f} s")
    show("peak PSS, whole process tree", f"{tree / MB:7.0f} MB  (target <= 300)")
    show("peak PSS, main process", f"{main_pss / MB:7.0f} MB")
    show("peak PSS, collectors together", f"{collectors / MB:7.0f} MB  (at most {running} at once)")
    print(f"database: {rows} results")
    show("bytes per scan, stored catalogue", f"{stored / 1e6:7.2f} MB  {stored / rows:6.0f} B per result")
    show("bytes per scan, text in every row (schema 3)", f"{stored3 / 1e6:7.2f} MB  {stored3 / rows:6.0f} B per result")
    print(f"  ratio catalogue / per-row = {stored / stored3:.2f}")
    print("  largest: " + ", ".join(f"{name} {size / 1e6:.2f} MB" for name, size in largest))
    for label, columns in (("stored catalogue", per_row), ("text in every row", per_row3)):
        print(f"  per row, {label + ':':<18} " + ", ".join(f"{name} {size:.0f} B" for name, size in columns.items()))


def show(label: str, value: str) -> None:
    print(f"  {label:<46}{value}")


if __name__ == "__main__":
    main()
