"""SARIF validated against the official 2.1.0 schema; JUnit read back by a JUnit XML reader."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import jsonschema
from junitparser import Error, Failure, JUnitXml, Skipped

from reports import junit, sarif
from reports.catalogue import check_texts
from scanner.messages import say
from scanner.model import Result, Severity, Status
from scanner.plugin import discover_checks
from scanner.waivers import Waiver

SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text())
URL = "https://dvc.nghean.example/"
RESULTS = [
    Result(
        "tls.protocol_legacy",
        "dvc",
        URL,
        Status.FAIL,
        Severity.HIGH,
        "Legacy TLS",
        "TLS 1.0 and TLS 1.1 are accepted",
        remediation="ssl_protocols TLSv1.2 TLSv1.3;",
        criteria=("VN-A2",),
        duration=0.5,
    ),
    Result("tls.cert_lifetime", "dvc", URL, Status.FAIL, Severity.LOW, "Lifetime", "valid for 800 days"),
    Result("tls.cert_untrusted", "dvc", URL, Status.WARN, Severity.MEDIUM, "Untrusted", "SHA-1 in chain"),
    Result("tls.protocol_tls13", "dvc", URL, Status.PASS, Severity.LOW, "TLS 1.3", "TLS 1.3 accepted"),
    Result("tls.cert_revoked", "dvc", URL, Status.SKIP, Severity.CRITICAL, "Revoked", "no stapled response"),
    Result("tls.vuln_robot", "mail", "https://mail.nghean.example/", Status.ERROR, Severity.HIGH, "ROBOT", "timed out"),
]
WAIVER = Waiver("dvc", "tls.cert_lifetime", "*", "renewal is automated in Q1", "CISO", dt.date(2027, 3, 31))
WAIVED = {("dvc", "tls.cert_lifetime", URL): WAIVER}
ENGLISH = check_texts([check.entry() for check in discover_checks().checks], "en")


def test_sarif_is_valid_and_complete() -> None:
    entries = [check.entry() for check in discover_checks().checks]
    doc = json.loads(sarif.render(RESULTS, entries, check_texts(entries, "en"), WAIVED))
    jsonschema.Draft7Validator(SCHEMA).validate(doc)
    (run,) = doc["runs"]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert "tls.protocol_legacy" in rules and rules["tls.protocol_legacy"]["help"]["text"].strip()
    assert rules["tls.protocol_legacy"]["defaultConfiguration"]["level"] == "error"
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert set(by_rule) == {"tls.protocol_legacy", "tls.cert_lifetime", "tls.cert_untrusted"}
    legacy = by_rule["tls.protocol_legacy"]
    assert legacy["level"] == "error" and "TLS 1.0 and TLS 1.1" in legacy["message"]["text"]
    assert run["tool"]["driver"]["rules"][legacy["ruleIndex"]]["id"] == "tls.protocol_legacy"
    assert by_rule["tls.cert_lifetime"]["suppressions"][0]["justification"].startswith("renewal is automated")
    assert by_rule["tls.cert_untrusted"]["level"] == "note"
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert [n["descriptor"]["id"] for n in notes] == ["tls.vuln_robot"]


def test_junit_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(junit.render(RESULTS, ENGLISH, {"dvc": "Public Service Portal"}, WAIVED))
    xml = JUnitXml.fromfile(str(path))
    suites = {suite.name: suite for suite in xml}
    dvc = suites["dvc: Public Service Portal"]
    assert (dvc.tests, dvc.failures, dvc.errors, dvc.skipped) == (5, 1, 0, 2)
    cases = {case.name: case for case in dvc}
    legacy = cases[f"tls.protocol_legacy [{URL}]"]
    (failure,) = legacy.result
    assert isinstance(failure, Failure) and failure.message == "TLS 1.0 and TLS 1.1 are accepted"
    assert failure.type == "high" and "ssl_protocols TLSv1.2 TLSv1.3;" in (failure.text or "")
    (skipped,) = cases[f"tls.cert_lifetime [{URL}]"].result
    assert isinstance(skipped, Skipped) and skipped.message.startswith("waived: renewal is automated")
    assert cases[f"tls.cert_untrusted [{URL}]"].is_passed, "warnings never fail a build"
    (error,) = next(iter(suites["mail: mail"])).result
    assert isinstance(error, Error) and error.message == "timed out"


def test_junit_survives_control_characters_from_servers(tmp_path: Path) -> None:
    hostile = Result(
        "auth.login_https", "dvc", URL, Status.FAIL, Severity.CRITICAL, "Login", "Location: /x\x00\x1b[31m"
    )
    path = tmp_path / "junit.xml"
    path.write_text(junit.render([hostile], ENGLISH))
    (suite,) = list(JUnitXml.fromfile(str(path)))
    (case,) = list(suite)
    (failure,) = case.result
    assert failure.message.startswith("Location: /x")


def test_ci_files_honour_the_language(tmp_path: Path) -> None:
    """A stored message renders in the report's language; the failure is named by its finding."""
    said = say("scan.error.refused", "connection refused")
    refused = Result("tls.vuln_robot", "dvc", URL, Status.ERROR, Severity.HIGH, "ROBOT", str(said), message=said)
    failing = replace(RESULTS[0], message=say("scan.error.timeout", "timed out"), detail="timed out")
    entries = [check.entry() for check in discover_checks().checks]
    vi = check_texts(entries, "vi")
    path = tmp_path / "junit.xml"
    path.write_text(junit.render([refused, failing], vi))
    cases = {case.name: case for suite in JUnitXml.fromfile(str(path)) for case in suite}
    (error,) = cases[f"tls.vuln_robot [{URL}]"].result
    assert error.message == "kết nối bị từ chối"
    (failure,) = cases[f"tls.protocol_legacy [{URL}]"].result
    assert failure.message == "hết thời gian chờ"
    assert (failure.text or "").startswith(vi.failure("tls.protocol_legacy") + "\n\n"), "named by its finding"
    assert "Cách khắc phục" in (failure.text or "")
    doc = json.loads(sarif.render([failing], entries, vi))
    (result,) = doc["runs"][0]["results"]
    assert result["message"]["text"] == f"{vi.failure('tls.protocol_legacy')}: hết thời gian chờ"
