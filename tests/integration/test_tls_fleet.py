"""The whole path on the TLS fleet: `platscan scan` (the real CLI, engine, sslyze, store) and
`platscan report --format json`, checked against every case's verdict for every TLS check."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from scanner.family import discover_families
from scanner.messages import Message, has_words
from tests.fleet.tls_fleet import CASE_NAMES, CASES, TLS_CHECKS, start_tls_fleet

PLATSCAN = [sys.executable, "-m", "scanner"]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("tls-fleet")
    with start_tls_fleet(workdir) as fleet:
        targets = fleet.write_targets(timeout=2)
        text = targets.read_text().replace("[scan]\n", "[scan]\nretries = 0\nendpoint_timeout = 20\n", 1)
        targets.write_text(text)
        db = workdir / "fleet.db"
        started = time.monotonic()
        scan = subprocess.run(
            [*PLATSCAN, "scan", str(targets), "--db", str(db), "--only", "tls"],
            capture_output=True,
            text=True,
            timeout=240,
        )
        elapsed = time.monotonic() - started
        report = workdir / "report.json"
        subprocess.run([*PLATSCAN, "report", "--db", str(db), "-o", str(report)], check=True, timeout=60)
        doc = json.loads(report.read_text())
        yield {"scan": scan, "elapsed": elapsed, "doc": doc, "fleet": fleet}


def results_of(doc: dict[str, Any], case: str) -> dict[str, dict[str, Any]]:
    (platform,) = [p for p in doc["platforms"] if p["id"] == case]
    results: dict[str, dict[str, Any]] = {}
    for result in platform["results"]:
        assert result["check"] not in results, f"{case}: two results for {result['check']}"
        results[result["check"]] = result
    return results


def test_scan_runs_cleanly_and_within_its_bounds(scanned: dict[str, Any]) -> None:
    scan = scanned["scan"]
    # Stored whole, and loud about the cases nobody could reach (they get no grade): exit 3.
    assert scan.returncode == 3, scan.stderr
    assert "platform(s) could not be assessed (closed, reset, silent, trickle)" in scan.stderr
    assert "Traceback" not in scan.stderr
    assert f"{len(CASES)} endpoints, {len(CASES) * len(TLS_CHECKS)} results stored" in scan.stdout
    # silent and trickle are cut off by their timeouts; nothing waits for minutes.
    assert scanned["elapsed"] < 120
    assert scanned["doc"]["scan"]["status"] == "complete"


@pytest.mark.parametrize("case", CASE_NAMES)
def test_every_tls_check_has_the_expected_verdict(scanned: dict[str, Any], case: str) -> None:
    expected = scanned["fleet"][case].expect
    results = results_of(scanned["doc"], case)
    assert sorted(results) == sorted(TLS_CHECKS)
    got = {check: result["status"] for check, result in results.items()}
    wrong = {check: (got[check], want) for check, want in expected.items() if got[check] != want}
    details = {check: results[check]["detail"] for check in wrong}
    assert wrong == {}, f"(got, expected): {wrong}\n{json.dumps(details, indent=1)}"


def test_details_are_specific_and_evidence_is_kept(scanned: dict[str, Any]) -> None:
    doc = scanned["doc"]
    legacy = results_of(doc, "legacy")["tls.protocol_legacy"]
    assert "TLS 1.0" in legacy["detail"] and "TLS 1.1" in legacy["detail"]
    assert legacy["severity"] == "high" and legacy["criteria"] == ["VN-A2"]
    expired = results_of(doc, "expired")["tls.cert_expired"]
    assert "expired" in expired["detail"] and expired["severity"] == "critical"
    assert "expired.fleet.test" in json.dumps(expired["evidence"])
    null = results_of(doc, "null_cipher")["tls.cipher_insecure"]
    assert null["severity"] == "critical" and "NULL" in null["detail"]
    # sslyze cannot negotiate with a NULL-only server; the suite it chose from a hand-built hello is the finding.
    null_only = results_of(doc, "null_only")["tls.cipher_insecure"]
    assert null_only["severity"] == "critical" and "TLS_RSA_WITH_NULL_SHA256 (NULL) with TLS 1.2" in null_only["detail"]
    assert null_only["evidence"]["raw_handshakes"][0]["code"] == "0x003B"
    wrong = results_of(doc, "wrong_host")["tls.cert_hostname_mismatch"]
    assert "wrong-host.fleet.test" in wrong["detail"] and "other.fleet.test" in wrong["detail"]
    assert "refused" in results_of(doc, "closed")["tls.https_available"]["detail"].lower()
    assert results_of(doc, "good")["tls.protocol_tls13"]["remediation"]


def test_unscannable_endpoints_never_pass(scanned: dict[str, Any]) -> None:
    for case in ("closed", "silent", "trickle"):
        statuses = {r["status"] for r in results_of(scanned["doc"], case).values()}
        assert statuses == {"error"}, case


def test_every_result_is_a_message_that_reads_in_vietnamese(scanned: dict[str, Any]) -> None:
    """Every sentence the tls checks said about the real fleet (passes, failures, warnings, skips, the errors of
    closed, reset and silent ports) is a stored message whose English is the detail, and it and every phrase
    nested in it that has words read differently with the Vietnamese templates: no English inside a Vietnamese
    report."""
    vi = discover_families().messages("vi")
    results = [r for case in CASE_NAMES for r in results_of(scanned["doc"], case).values()]
    assert [(r["check"], r["detail"]) for r in results if r["message"] is None] == []
    english: list[tuple[str, str]] = []
    said: set[str] = set()
    for result in results:
        message = Message.from_json(result["message"])
        assert str(message) == result["detail"]
        for sentence in message.nested():
            said.add(sentence.id)
            if has_words(sentence.text) and sentence.render(vi) == str(sentence):
                english.append((sentence.id, str(sentence)))
    assert english == [], "sentences that read in English in a Vietnamese report"
    assert {r["status"] for r in results} == {"pass", "fail", "warn", "skip", "error"}
    assert len({i for i in said if i.startswith("tls.")}) > 60, "the fleet says many different things"
    closed = Message.from_json(results_of(scanned["doc"], "closed")["tls.https_available"]["message"])
    assert closed.render(vi) == "Không quét được closed.fleet.test:{port}: Kết nối tới cổng {port} bị từ chối.".format(
        port=scanned["fleet"]["closed"].port
    )
