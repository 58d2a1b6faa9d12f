"""A server that trickles its answers costs one request budget, not one per probe (real CLI, real server).

Every answer's head arrives at once and its body a byte at a time, so no single read times out: only
the request budget (2 x timeout) cuts it. The first cut marks the origin too slow; the probes after it
are not sent, and the checks that needed them are `error` with that reason, never `pass`.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from scanner.demo.http_server import HttpSiteServer, Reply, Request

PROBE_CHECKS = ("http.cors", "http.trace_enabled", "http.security_txt", "http.sensitive_files", "http.error_disclosure")


def slow(request: Request) -> Reply:
    return Reply(200, (("Content-Type", "text/html"),), b"<html>", filler=200_000, body_trickle=0.01)


def test_a_trickling_origin_is_cut_once_and_its_probes_are_errors(tmp_path: Path) -> None:
    with HttpSiteServer(slow) as server:
        targets = tmp_path / "targets.toml"
        targets.write_text(
            "[scan]\ntimeout = 1\nretries = 0\n\n[[platforms]]\n"
            f'id = "slow"\nname = "Slow"\nurls = ["http://slow.test:{server.port}/"]\n'
            'resolve = { "slow.test" = "127.0.0.1" }\n'
        )
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "scanner", "scan", str(targets), "--db", str(tmp_path / "x.db"), "--only", "http"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        elapsed = time.monotonic() - started
        requests = server.requests
    assert run.returncode == 0, run.stderr
    with sqlite3.connect(tmp_path / "x.db") as db:
        verdicts = dict(db.execute("select check_id, status || ': ' || detail from results").fetchall())
    assert requests == 1, f"{requests} requests reached the trickling server"  # 16 without the cut rule
    for check in PROBE_CHECKS:
        assert verdicts[check].startswith("error: "), verdicts[check]
    assert "too slowly" in verdicts["http.cors"] and "2 s request budget" in verdicts["http.cors"]
    # The page itself was read as far as it came and is still judged on its headers.
    assert verdicts["http.content_type_options"].startswith("fail: ")
    assert elapsed < 30, elapsed  # ~53 s when every probe trickled to its budget
