"""The whole path on the ports fleet: `platscan scan --only ports` (the real CLI, engine, collector
workers running nmap, store) and `platscan report --format json`, checked against every case's verdict
for every ports check; and the same CLI on a machine without nmap."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from checks.ports._collect import nmap_path
from scanner.demo.tls_server import PlainHttpServer
from scanner.family import discover_families
from scanner.messages import Message, has_words
from tests.fleet.ports_fleet import CASE_NAMES, CASES, PORTS_CHECKS, start_ports_fleet

PLATSCAN = [sys.executable, "-m", "scanner"]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if nmap_path() is None:
        pytest.skip("nmap is not installed (apt-get install nmap)")
    workdir = tmp_path_factory.mktemp("ports-fleet-cli")
    with start_ports_fleet() as fleet:
        # Every case is its own platform on 127.0.0.1: let them all run at once (per_host counts by address).
        targets = fleet.write_targets(workdir / "targets.toml", scan={"per_host": 16, "concurrency": 16})
        db = workdir / "fleet.db"
        started = time.monotonic()
        scan = subprocess.run(
            [*PLATSCAN, "scan", str(targets), "--db", str(db), "--only", "ports"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        elapsed = time.monotonic() - started
        report = workdir / "report.json"
        subprocess.run(
            [*PLATSCAN, "report", "--db", str(db), "--format", "json", "-o", str(report)], check=True, timeout=60
        )
        yield {"scan": scan, "elapsed": elapsed, "doc": json.loads(report.read_text()), "fleet": fleet, "db": db}


def results_of(doc: dict[str, Any], case: str) -> dict[str, dict[str, Any]]:
    (platform,) = [p for p in doc["platforms"] if p["id"] == case]
    results: dict[str, dict[str, Any]] = {}
    for result in platform["results"]:
        assert result["check"] not in results, f"{case}: two results for {result['check']}"
        results[result["check"]] = result
    return results


def test_scan_runs_cleanly_with_hosts_in_parallel(scanned: dict[str, Any]) -> None:
    scan = scanned["scan"]
    assert scan.returncode == 0, scan.stderr
    assert "Traceback" not in scan.stderr and "warning" not in scan.stderr
    assert f"{len(CASES)} endpoints, {len(CASES) * len(PORTS_CHECKS)} results stored" in scan.stdout
    assert scanned["doc"]["scan"]["status"] == "complete"
    # ten hosts, each a few seconds of nmap: in parallel, not one after another
    assert scanned["elapsed"] < 30


@pytest.mark.parametrize("case", CASE_NAMES)
def test_every_ports_check_has_the_expected_verdict(scanned: dict[str, Any], case: str) -> None:
    running = scanned["fleet"][case]
    results = results_of(scanned["doc"], case)
    assert sorted(results) == sorted(PORTS_CHECKS)
    got = {check: result["status"] for check, result in results.items()}
    wrong = {check: (got[check], want) for check, want in running.expect.items() if got[check] != want}
    details = {check: results[check]["detail"] for check in wrong}
    assert wrong == {}, f"(got, expected): {wrong}\n{json.dumps(details, indent=1)}"
    assert all(result["endpoint"] == running.host for result in results.values())


def test_details_evidence_severity_and_criteria(scanned: dict[str, Any]) -> None:
    doc, fleet = scanned["doc"], scanned["fleet"]
    telnet = results_of(doc, "telnet")["ports.cleartext_service"]
    assert telnet["severity"] == "critical" and telnet["criteria"] == ["VN-B1"]
    assert f"Telnet on {fleet['telnet'].port}/tcp" in telnet["detail"]
    assert telnet["evidence"]["ports"][0]["allowed"] is True  # allowed, and still a failure
    ftp = results_of(doc, "ftp")
    assert ftp["ports.cleartext_service"]["severity"] == "high"
    assert "ProFTPD 1.3.5" in ftp["ports.version_disclosure"]["detail"]
    assert ftp["ports.version_disclosure"]["criteria"] == ["VN-C6"]
    assert "SFTP" in ftp["ports.cleartext_service"]["remediation"]

    mysql = results_of(doc, "mysql")["ports.database_exposed"]
    assert mysql["severity"] == "critical" and mysql["criteria"] == ["VN-B3"]
    assert mysql["evidence"]["ports"][0]["version"] == "5.7.33-log"
    redis = results_of(doc, "redis_open")["ports.database_exposed"]
    assert "Redis" in redis["detail"] and "without authentication" in redis["detail"]
    assert redis["evidence"]["ports"][0]["banner"] == "+PONG\\r\\n"
    assert results_of(doc, "redis_noauth")["ports.database_exposed"]["evidence"]["ports"][0]["authentication"] == (
        "required"
    )

    ssh = results_of(doc, "ssh")
    unexpected = ssh["ports.unexpected_open"]
    assert unexpected["severity"] == "medium" and unexpected["criteria"] == ["VN-B2"]
    (item,) = unexpected["evidence"]["unexpected"]
    assert (item["port"], item["service"], item["product"], item["version"]) == (
        fleet["ssh"].port,
        "ssh",
        "OpenSSH",
        "7.4",
    )
    assert item["banner"].startswith("SSH-2.0-OpenSSH_7.4")
    admin = ssh["ports.remote_admin_exposed"]
    assert admin["severity"] == "high" and admin["criteria"] == ["VN-B4"] and "VPN" in admin["remediation"]

    smtp = results_of(doc, "smtp_plain")["ports.cleartext_service"]
    assert "no STARTTLS offered" in smtp["detail"]
    web = results_of(doc, "web")
    assert web["ports.unexpected_open"]["detail"].startswith("Only allowed ports are open")
    assert web["ports.unexpected_open"]["evidence"]["open_ports"] == [f"{fleet['web'].port}/tcp"]


def test_findings_carry_the_ports_found_as_their_key(scanned: dict[str, Any]) -> None:
    fleet = scanned["fleet"]
    with sqlite3.connect(scanned["db"]) as conn:
        rows = conn.execute("select platform_id, check_id, finding_key from results").fetchall()
    keys = {(platform, check): key for platform, check, key in rows}
    assert keys[("mysql", "ports.database_exposed")] == f"tcp/{fleet['mysql'].port}"
    assert keys[("ssh", "ports.unexpected_open")] == f"tcp/{fleet['ssh'].port}"
    assert keys[("telnet", "ports.cleartext_service")] == f"tcp/{fleet['telnet'].port}"
    assert keys[("web", "ports.unexpected_open")] is None, "a pass found nothing to name"
    assert results_of(scanned["doc"], "mysql")["ports.database_exposed"]["key"] == f"tcp/{fleet['mysql'].port}"


def _sentences(message: Message) -> Iterator[Message]:
    """The message and every message nested in it."""
    yield message
    for value in message.params.values():
        if isinstance(value, Message):
            yield from _sentences(value)


def assert_said_in_vietnamese(results: list[dict[str, Any]]) -> None:
    """Every result is a message whose English is its detail, and each of its sentences with words reads
    differently with the Vietnamese templates: no English left inside a Vietnamese report."""
    vi = discover_families().messages("vi")
    for result in results:
        assert result["message"] is not None, result["detail"]
        message = Message.from_json(result["message"])
        assert str(message) == result["detail"]
        for sentence in _sentences(message):
            assert sentence.id in vi, f"{sentence.id} is not translated"
            if has_words(sentence.text):
                assert sentence.render(vi) != str(sentence), f"{sentence.id} reads the same in Vietnamese"


def test_every_result_is_a_message_said_in_vietnamese(scanned: dict[str, Any]) -> None:
    results = [r for case in CASE_NAMES for r in results_of(scanned["doc"], case).values()]
    assert {r["status"] for r in results} == {"pass", "fail"} and len(results) == len(CASE_NAMES) * len(PORTS_CHECKS)
    assert_said_in_vietnamese(results)
    telnet = Message.from_json(results_of(scanned["doc"], "telnet")["ports.cleartext_service"]["message"])
    said = telnet.render(discover_families().messages("vi"))
    assert said.startswith("Một dịch vụ truyền dữ liệu dưới dạng bản rõ") and "Telnet trên cổng" in said


def test_without_nmap_the_scan_says_so_once_and_the_other_families_run(tmp_path: Path) -> None:
    """PATH without nmap: one warning line with the install command, ports results are errors with that
    reason, and the tls family still scans its URL."""
    with PlainHttpServer() as web, start_ports_fleet(["ssh"]) as fleet:
        host = fleet["ssh"].host
        targets = tmp_path / "targets.toml"
        targets.write_text(
            "[scan]\ntimeout = 2\nretries = 0\n\n"
            '[[platforms]]\nid = "nonmap"\nname = "No nmap here"\n'
            f'urls = ["https://{host}:{web.port}/"]\nports = [{fleet["ssh"].port}]\n'
            f'resolve = {{ "{host}" = "127.0.0.1" }}\n',
            encoding="utf-8",
        )
        env = {**os.environ, "PATH": str(tmp_path)}  # python is started by its full path; nmap is not found
        db = tmp_path / "p.db"
        scan = subprocess.run(
            [*PLATSCAN, "scan", str(targets), "--db", str(db), "--only", "ports,tls"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert scan.returncode == 0, scan.stderr
        warnings = [line for line in scan.stderr.splitlines() if "nmap is not installed" in line]
        assert len(warnings) == 1 and "apt-get install nmap" in warnings[0] and warnings[0].startswith("warning:")
        assert "Traceback" not in scan.stderr
        report = subprocess.run(
            [*PLATSCAN, "report", "--db", str(db), "--format", "json", "-o", "-"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env=env,
        )
    (platform,) = json.loads(report.stdout)["platforms"]
    ports = [r for r in platform["results"] if r["check"].startswith("ports.")]
    tls = [r for r in platform["results"] if r["check"].startswith("tls.")]
    assert sorted(r["check"] for r in ports) == sorted(PORTS_CHECKS)
    assert all(r["status"] == "error" and "apt-get install nmap" in r["detail"] for r in ports)
    assert_said_in_vietnamese(ports)
    assert len(tls) == 28
    https = next(r for r in tls if r["check"] == "tls.https_available")
    assert https["status"] == "fail" and "plain HTTP" in https["detail"]  # judged: the family ran
