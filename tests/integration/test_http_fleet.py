"""The whole path on the HTTP fleet: `platscan scan --only http` (the real CLI, engine, collector
workers, store) and `platscan report --format json`, checked against every case's verdict for every
http check on both of its registered URLs."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fleet.http_fleet import CASE_NAMES, CASES, HTTP_CHECKS, start_http_fleet

PLATSCAN = [sys.executable, "-m", "scanner"]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("http-fleet-cli")
    with start_http_fleet(workdir) as fleet:
        targets = fleet.write_targets(timeout=2)
        db = workdir / "fleet.db"
        started = time.monotonic()
        scan = subprocess.run(
            [*PLATSCAN, "scan", str(targets), "--db", str(db), "--only", "http"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        elapsed = time.monotonic() - started
        report = workdir / "report.json"
        subprocess.run(
            [*PLATSCAN, "report", "--db", str(db), "--format", "json", "-o", str(report)], check=True, timeout=60
        )
        html = workdir / "report.html"
        rendered = subprocess.run(
            [*PLATSCAN, "report", "--db", str(db), "--format", "html", "--platform", "script_header", "-o", str(html)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        yield {
            "scan": scan,
            "elapsed": elapsed,
            "doc": json.loads(report.read_text()),
            "fleet": fleet,
            "html": html.read_text() if rendered.returncode == 0 else None,
            "db": db,
        }


def results_of(doc: dict[str, Any], case: str, endpoint: str) -> dict[str, dict[str, Any]]:
    (platform,) = [p for p in doc["platforms"] if p["id"] == case]
    results: dict[str, dict[str, Any]] = {}
    for result in platform["results"]:
        if result["endpoint"] != endpoint:
            continue
        assert result["check"] not in results, f"{case}: two results for {result['check']} on {endpoint}"
        results[result["check"]] = result
    return results


def test_scan_runs_cleanly_and_quickly(scanned: dict[str, Any]) -> None:
    scan = scanned["scan"]
    # Stored whole; the "closed" case cannot be reached, so it has no grade and the scan says so (exit 3).
    assert scan.returncode == 3 and "could not be assessed (closed)" in scan.stderr, scan.stderr
    assert "Traceback" not in scan.stderr
    endpoints = 2 * len(CASES)
    assert f"{endpoints} endpoints, {endpoints * len(HTTP_CHECKS)} results stored" in scan.stdout
    assert scanned["elapsed"] < 60
    assert scanned["doc"]["scan"]["status"] == "complete"
    assert scanned["fleet"].canary.connections == 0


@pytest.mark.parametrize("case", CASE_NAMES)
def test_every_http_check_has_the_expected_verdict(scanned: dict[str, Any], case: str) -> None:
    site = scanned["fleet"][case]
    for endpoint, expected in ((site.https_url, site.expect), (site.http_url, site.expect_plain)):
        results = results_of(scanned["doc"], case, endpoint)
        assert sorted(results) == sorted(HTTP_CHECKS)
        wrong = {
            check: (results[check]["status"], want, results[check]["detail"])
            for check, want in expected.items()
            if results[check]["status"] != want
        }
        assert wrong == {}, endpoint


def test_details_evidence_criteria_and_remediation(scanned: dict[str, Any]) -> None:
    doc, fleet = scanned["doc"], scanned["fleet"]

    def result(case: str, check: str) -> dict[str, Any]:
        return results_of(doc, case, fleet[case].https_url)[check]

    hsts = result("hsts_short", "http.hsts")
    assert hsts["detail"].startswith("HSTS max-age is 300 seconds")
    assert hsts["evidence"]["header"] == "Strict-Transport-Security: max-age=300"
    assert hsts["criteria"] == ["VN-A3"] and "nginx" in hsts["remediation"] and "IIS" in hsts["remediation"]
    git = result("git_exposed", "http.sensitive_files")
    assert "/.git/HEAD" in git["detail"] and git["evidence"]["exposed"][0]["proof"] == "ref: refs/heads/main"
    assert git["criteria"] == ["VN-C5"]
    offsite = result("main_offsite", "http.csp")
    assert offsite["evidence"]["not_followed"] == f"https://127.0.0.1:{fleet.canary.port}/"
    redirect = result("offsite_redirect", "http.https_redirect")
    assert redirect["evidence"]["target"] == "https://elsewhere.example/"
    script = result("script_header", "http.referrer_policy")
    assert script["evidence"]["header"] == "Referrer-Policy: <script>alert('platscan')</script>"
    assert result("server_version", "http.version_disclosure")["severity"] == "medium"
    assert result("cookie_insecure", "http.cookie_flags")["severity"] == "high"
    assert result("good", "http.referrer_policy")["criteria"] == ["VN-D4"]


def test_findings_carry_keys_of_what_was_found(scanned: dict[str, Any]) -> None:
    """The stored key names the paths and cookies found, not the detail's words; single findings have none."""
    fleet = scanned["fleet"]
    with sqlite3.connect(scanned["db"]) as conn:
        rows = conn.execute("select platform_id, check_id, endpoint, finding_key from results").fetchall()
    keys = {(platform, check, endpoint): key for platform, check, endpoint, key in rows}

    def key(case: str, check: str) -> str | None:
        return keys[(case, check, fleet[case].https_url)]

    assert key("git_exposed", "http.sensitive_files") == "/.git/HEAD"
    assert key("autoindex", "http.directory_listing") == "/static/"
    assert key("cookie_insecure", "http.cookie_flags") == "sessionid:no-secure"
    assert key("good", "http.sensitive_files") is None and key("hsts_short", "http.hsts") is None
    doc_result = results_of(scanned["doc"], "git_exposed", fleet["git_exposed"].https_url)["http.sensitive_files"]
    assert doc_result["key"] == "/.git/HEAD", "the JSON report carries it too"


def test_a_script_in_a_header_is_escaped_in_the_html_report(scanned: dict[str, Any]) -> None:
    html = scanned["html"]
    if html is None:
        pytest.skip("the HTML report is not available in this build")
    assert "<script>alert('platscan')</script>" not in html
    assert "&lt;script&gt;" in html
