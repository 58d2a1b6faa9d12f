"""A grade claims only what was tested: real scans of an unreachable portal and of a fleet whose
hosts do not resolve, through the command line, the JSON report and the gate."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from scanner.demo.http_server import HttpSiteServer, Reply
from scanner.model import Severity
from scanner.scoring import WEIGHTS


def closed_port() -> int:
    """A port on 127.0.0.1 that refuses connections (bound, then closed: nothing listens)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_gate_on_a_refused_url_has_no_grade_and_does_not_pass(tmp_path: Path) -> None:
    port = closed_port()
    url = f"https://127.0.0.1:{port}/"
    run = CliRunner().invoke(
        main,
        ["gate", "--url", url, "--allowed-ports", str(port), "--db", str(tmp_path / "g.db"), "--timeout", "2"],
        catch_exceptions=False,
    )
    assert run.exit_code == 3, run.output
    # Five port checks may pass; the portal was never seen: no letter at all, and the reason.
    assert "grade -" in run.stdout and "grade A" not in run.stdout
    assert "could not be assessed: none of its 1 web URL(s) could be tested" in run.stdout
    report = CliRunner().invoke(
        main, ["report", "--db", str(tmp_path / "g.db"), "--format", "json", "-o", "-"], catch_exceptions=False
    )
    (platform,) = json.loads(report.stdout)["platforms"]
    assert (platform["grade"], platform["score"]) == (None, None)
    assert platform["scoring"]["assessed"] is False and platform["scoring"]["partial"] is True
    assert "could be tested" in platform["scoring"]["coverage"]["unreachable"]


def test_a_scan_of_unreachable_platforms_is_loud_and_exits_3(tmp_path: Path) -> None:
    with HttpSiteServer(lambda _: Reply(200, (("Content-Type", "text/html"),), b"<p>ok</p>")) as site:
        targets = tmp_path / "targets.toml"
        targets.write_text(
            "[scan]\ntimeout = 2\nretries = 0\n\n"
            '[[platforms]]\nid = "up"\nname = "Reachable"\n'
            f'urls = ["http://up.test:{site.port}/"]\nresolve = {{ "up.test" = "127.0.0.1" }}\n\n'
            '[[platforms]]\nid = "gone"\nname = "Not in DNS"\nurls = ["https://gone.invalid/"]\n',
            encoding="utf-8",
        )
        run = CliRunner().invoke(
            main,
            ["scan", str(targets), "--db", str(tmp_path / "s.db"), "--only", "http"],
            catch_exceptions=False,
        )
    assert run.exit_code == 3, run.output
    # Platforms in id order: "gone", then "up".
    gone, up = run.stdout[run.stdout.index("gone ") : run.stdout.index("up ")], run.stdout[run.stdout.index("up ") :]
    assert "NOT ASSESSED: none of its 1 web URL(s) could be tested" in gone
    assert "does not resolve" in gone and "check(s) could not run" in gone
    assert "grade " in up and "NOT ASSESSED" not in up
    assert "1 of 2 platform(s) could not be assessed (gone); exit 3" in run.stderr
    # Nothing is cut mid-word: every clipped line ends on a whole word and an ellipsis.
    for line in run.stdout.splitlines():
        if line.endswith("…"):
            assert not line[:-1].endswith(" "), line


def test_a_clipped_reason_ends_on_a_whole_word() -> None:
    from reports.text import clip_words as _clip

    reason = "https://gone.invalid/ does not resolve (Name or service not known)"
    assert _clip(reason, 40) == "https://gone.invalid/ does not resolve…"
    assert _clip("x" * 50, 10) == "x" * 9 + "…"  # one long word: cut, there is no boundary
    assert _clip(reason, 200) == reason


def test_requirements_only_an_active_scan_can_test_are_named(tmp_path: Path) -> None:
    """VN-E1 (lockout) rests on the opt-in active check: the gate and the JSON say so, instead of a
    silent "not tested" that no scheduled scan could ever change."""
    with HttpSiteServer(lambda _: Reply(200, (("Content-Type", "text/html"),), b"<p>ok</p>")) as site:
        url = f"http://127.0.0.1:{site.port}/"
        db = tmp_path / "g.db"
        run = CliRunner().invoke(
            main,
            ["gate", "--url", url, "--only", "http", "--db", str(db), "--timeout", "2"],
            catch_exceptions=False,
        )
    assert "compliance at level 3: " in run.stdout
    assert "VN-E1" in run.stdout and "only an authorised `platscan scan --active` can test" in run.stdout
    report = CliRunner().invoke(main, ["report", "--db", str(db), "--format", "json", "-o", "-"])
    (platform,) = json.loads(report.stdout)["platforms"]
    e1 = next(r for r in platform["compliance"]["requirements"] if r["id"] == "VN-E1")
    assert (
        e1["status"] == "not_tested" and e1["untested"] == ["auth.lockout"] and e1["needs_active"] == ["auth.lockout"]
    )
    # Exactly the requirements resting on active checks (lockout; user enumeration, advisory).
    needing = {r["id"]: r["needs_active"] for r in platform["compliance"]["requirements"] if r["needs_active"]}
    assert needing == {"VN-E1": ["auth.lockout"], "VN-E5": ["auth.user_enumeration"]}


@pytest.mark.skipif(shutil.which("nmap") is None, reason="needs Debian's nmap (scripts/bootstrap installs it)")
def test_one_server_banner_seen_by_two_families_deducts_once(tmp_path: Path) -> None:
    """`Server: Apache/2.4.58` fails http.version_disclosure and, through nmap, ports.version_disclosure:
    two results (both kept, both true), one underlying fact, one deduction."""
    banner = (("Server", "Apache/2.4.58 (Debian)"), ("Content-Type", "text/html"))
    with HttpSiteServer(lambda _: Reply(200, banner, b"<html><body>ok</body></html>")) as site:
        targets = tmp_path / "targets.toml"
        targets.write_text(
            "[scan]\ntimeout = 3\nretries = 0\n\n"
            f'[[platforms]]\nid = "v"\nname = "V"\nurls = ["http://v.test:{site.port}/"]\n'
            f'resolve = {{ "v.test" = "127.0.0.1" }}\nports = [{site.port}]\nallowed_ports = [{site.port}]\n',
            encoding="utf-8",
        )
        only = "http.version_disclosure,ports.version_disclosure"
        run = CliRunner().invoke(
            main, ["scan", str(targets), "--db", str(tmp_path / "v.db"), "--only", only], catch_exceptions=False
        )
    assert run.exit_code == 0, run.output
    report = CliRunner().invoke(main, ["report", "--db", str(tmp_path / "v.db"), "--format", "json", "-o", "-"])
    (platform,) = json.loads(report.stdout)["platforms"]
    by_check = {r["check"]: r for r in platform["results"]}
    assert {c: r["status"] for c, r in by_check.items()} == {
        "http.version_disclosure": "fail",
        "ports.version_disclosure": "fail",
    }
    fact = "software:apache/2.4.58@v.test"
    assert fact in by_check["http.version_disclosure"]["evidence"]["facts"]
    assert fact in by_check["ports.version_disclosure"]["evidence"]["facts"]
    assert platform["score"] == 100 - WEIGHTS[Severity.LOW], "one banner, one deduction"
