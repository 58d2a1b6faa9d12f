"""`platscan demo` is safe to run again and to explore: the same endpoints in the same workdir (a
true diff between two runs), nothing overwritten that it did not create, and `--serve` to try the
other commands against its fleet."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest

from tests.reports import browser

PLATSCAN = [sys.executable, "-m", "scanner"]
DEMO_NAMES = ("targets.toml", "platscan-demo.db", "report.json", "fleet.html", "waivers.example.toml")


#: Runs a command without the right to bind ports below 1024, as an ordinary user (root loses only that).
WITHOUT_LOW_PORTS = ["setpriv", "--bounding-set", "-net_bind_service"] if os.geteuid() == 0 else []


def platscan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PLATSCAN, *args], capture_output=True, text=True, timeout=180)


def demo(workdir: Path) -> subprocess.CompletedProcess[str]:
    return platscan("demo", "--workdir", str(workdir), "-q")


def demo_ports(workdir: Path) -> dict[str, int]:
    doc = tomllib.loads((workdir / "targets.toml").read_text(encoding="utf-8"))
    return {p["id"]: int(p["urls"][0].rsplit(":", 1)[1].rstrip("/")) for p in doc["platforms"]}


def refused(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_a_second_demo_run_in_the_same_workdir_finds_nothing_new_and_nothing_fixed(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    first = demo(workdir)
    assert first.returncode == 0, first.stderr
    ports = demo_ports(workdir)
    second = demo(workdir)
    assert second.returncode == 0, second.stderr
    assert "is taken" not in second.stderr, "every port was free again"
    assert demo_ports(workdir) == ports, "the same endpoints as the first run"

    doc = json.loads((workdir / "report.json").read_text(encoding="utf-8"))
    assert (doc["scan"]["id"], doc["previous_scan"]) == (2, 1)
    assert sum(1 for p in doc["platforms"] for r in p["results"] if r["status"] == "fail") > 10, "the flaws remain"
    assert {p["id"]: (p["new"], p["fixed"]) for p in doc["platforms"]} == {p: ([], []) for p in ports}

    with browser.Chromium(tmp_path / "profile") as chromium:
        page = chromium.open(workdir / "fleet.html")
        changes = page.evaluate(
            "({heading: document.querySelector('#new h3').textContent,"
            " items: document.querySelectorAll('#changes li').length,"
            " new: document.querySelector('#new .empty').textContent,"
            " fixed: document.querySelector('#fixed .empty').textContent})"
        )
    assert changes == {
        "heading": "New since scan #1",
        "items": 0,
        "new": "No new failures.",
        "fixed": "Nothing fixed.",
    }


@pytest.mark.parametrize("name", [*DEMO_NAMES, "pki", "fleet-platforms", "platscan-demo.json"])
def test_the_demo_overwrites_nothing_it_did_not_create(tmp_path: Path, name: str) -> None:
    workdir = tmp_path / "mine"
    workdir.mkdir()
    mine = workdir / name
    if name in ("pki", "fleet-platforms"):
        mine.mkdir()
        (mine / "notes.txt").write_text("my notes\n")
    else:
        mine.write_text('# my own file\n[[platforms]]\nid = "dvc"\n')
    before = {p: p.read_bytes() for p in workdir.rglob("*") if p.is_file()}
    proc = demo(workdir)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert str(mine) in proc.stderr and "nothing was written" in proc.stderr and "Traceback" not in proc.stderr
    assert {p: p.read_bytes() for p in workdir.rglob("*") if p.is_file()} == before, "nothing written or replaced"


def test_the_demo_takes_its_own_files_back_but_no_one_elses(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    # A workdir the demo wrote to but was stopped halfway: its manifest claims what it wrote.
    workdir.mkdir()
    (workdir / "platscan-demo.json").write_text(json.dumps({"schema": "platscan-demo/1", "created": ["fleet.html"]}))
    (workdir / "fleet.html").write_text("half written")
    (workdir / "waivers.example.toml").write_text("# mine\n")
    proc = demo(workdir)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    # Only the file the manifest does not list is refused (fleet.html is checked before it).
    assert proc.stderr.splitlines() == [
        f"platscan: {str(workdir / 'waivers.example.toml')!r} was not created by platscan demo, which would "
        "overwrite it; nothing was written: give --workdir a new or empty folder, or move the file away"
    ]
    assert (workdir / "waivers.example.toml").read_text() == "# mine\n"


def test_demo_serve_keeps_the_fleet_up_for_other_commands_until_sigterm(tmp_path: Path) -> None:
    """Run as an ordinary user: the demo says its mail host cannot start, and serves the rest."""
    workdir = tmp_path / "demo"
    workdir.mkdir()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        # As a previous run would leave it, but with dvc's old port now held by someone else.
        manifest = {"schema": "platscan-demo/1", "created": [], "platform_ports": {"dvc": taken}}
        (workdir / "platscan-demo.json").write_text(json.dumps(manifest))
        stderr = (tmp_path / "serve.err").open("w")
        proc = subprocess.Popen(
            [*WITHOUT_LOW_PORTS, *PLATSCAN, "demo", "--workdir", str(workdir), "--serve", "-q"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            lines = read_until(proc, "(the first gate passes", timeout=150)
            targets = workdir / "targets.toml"
            assert f"Targets:     {targets}" in lines
            waivers = workdir / "waivers.example.toml"
            assert any(line.strip().startswith(f"platscan gate {targets} ") and str(waivers) in line for line in lines)
            assert any("--baseline 1" in line for line in lines)
            ports = demo_ports(workdir)
            assert ports["dvc"] != taken
            assert f"port {taken} of demo platform dvc is taken; serving it on {ports['dvc']}" in read(tmp_path)
            assert (
                "warning: the demo mail servers were not started (cannot listen on 127.0.0.25:25: Permission denied; "
                "ports below 1024 need root): the mail platform's mail checks report what they find on its mail ports\n"
            ) in read(tmp_path)

            db = tmp_path / "mine.db"
            scan = platscan("scan", str(targets), "--db", str(db), "--only", "tls")
            assert scan.returncode == 0, scan.stdout + scan.stderr
            # 6 URLs, and the standard mail ports of the mail platform's 2 hosts (7 each): tls runs on those too.
            assert re.search(r"scan 1 complete: 20 endpoints, \d+ results stored", scan.stdout), scan.stdout
            args = ("--platform", "motcua", "--only", "tls", "--waivers", str(waivers))
            waived = platscan("gate", str(targets), "--db", str(db), *args)
            assert "waived: 1 (tls.protocol_legacy)" in waived.stdout, waived.stdout + waived.stderr
            assert proc.poll() is None, "still serving"
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
            stderr.close()
    assert code == 0, read(tmp_path)
    assert "SIGTERM: stopping the demo fleet" in read(tmp_path)
    assert all(refused(port) for port in ports.values()), "every demo server stopped"


def read(tmp_path: Path) -> str:
    return (tmp_path / "serve.err").read_text()


def read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> list[str]:
    """The lines the process prints up to the one starting with ``marker``."""
    assert proc.stdout is not None
    stdout = proc.stdout
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            assert proc.poll() is None, f"demo --serve exited with {proc.returncode}: {''.join(seen)}"
            continue
        seen.append(line.rstrip("\n"))
        if line.startswith(marker):
            return seen
    raise AssertionError(f"no {marker!r} within {timeout} s: {seen}")
