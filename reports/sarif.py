"""SARIF 2.1.0 for CI systems: one rule per check of the scan's stored catalogue, one result per finding."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from reports.i18n import CheckTexts
from scanner import __version__
from scanner.model import CatalogueEntry, Result, Severity, Status
from scanner.waivers import Waiver

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

LEVELS: Mapping[Severity, str] = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub code scanning reads this CVSS-like number to rank security findings.
SECURITY_SEVERITY: Mapping[Severity, str] = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def _rule(check: CatalogueEntry, texts: CheckTexts) -> dict[str, Any]:
    words = check.check.split(".", 1)[-1].split("_")
    text = texts.get(check.check, check.title, check.remediation)
    return {
        "id": check.check,
        "name": "".join(word.capitalize() for word in words),
        # A rule is shown beside an alert: it names the failing state ("The certificate has expired").
        "shortDescription": {"text": text.failure},
        "fullDescription": {"text": text.why or text.failure},
        "help": {"text": text.remediation},
        "defaultConfiguration": {"level": LEVELS[check.severity]},
        "properties": {
            "tags": ["security", check.family],
            "precision": "high",
            "security-severity": SECURITY_SEVERITY[check.severity],
        },
    }


def fingerprint(result: Result) -> str:
    """The finding's identity, as code scanning tracks an alert across runs: platform, check,
    endpoint and the family's key (what was found), never the detail sentence, so rewording a
    message keeps the alert and a new port or path opens a new one. Without a key it is what it
    was before keys existed."""
    identity = f"{result.platform}|{result.check}|{result.endpoint}"
    return f"{identity}|{result.key}" if result.key else identity


def render(
    results: Sequence[Result],
    catalogue: Sequence[CatalogueEntry],
    texts: CheckTexts,
    waivers: Mapping[tuple[str, str, str], Waiver] | None = None,
    executed: bool = True,
) -> str:
    """``results`` of any platforms in the language of ``texts``; failures and warnings become SARIF
    results, errors notifications."""
    waivers = waivers or {}
    checks = sorted(catalogue, key=lambda c: c.check)
    index = {check.check: i for i, check in enumerate(checks)}
    sarif_results = []
    notifications = []
    for result in sorted(results, key=lambda r: (r.platform, r.check, r.endpoint)):
        if result.status == Status.ERROR:
            notifications.append(
                {
                    "level": "error",
                    "message": {"text": f"{result.platform} {result.check} {result.endpoint}: {texts.detail(result)}"},
                    "descriptor": {"id": result.check},
                }
            )
            continue
        if result.status not in (Status.FAIL, Status.WARN):
            continue
        entry: dict[str, Any] = {
            "ruleId": result.check,
            "level": LEVELS[result.severity] if result.status == Status.FAIL else "note",
            "message": {"text": f"{texts.failure(result.check, result.title)}: {texts.detail(result)}"},
            "locations": [
                {
                    "physicalLocation": {"artifactLocation": {"uri": result.endpoint}},
                    "logicalLocations": [{"name": result.platform, "kind": "module"}],
                }
            ],
            "partialFingerprints": {"platscan/v1": fingerprint(result)},
            "properties": {
                "platform": result.platform,
                "severity": result.severity.value,
                "status": result.status.value,
                "criteria": list(result.criteria),
            },
        }
        if result.check in index:
            entry["ruleIndex"] = index[result.check]
        waiver = waivers.get((result.platform, result.check, result.endpoint))
        if waiver is not None:
            entry["suppressions"] = [
                {
                    "kind": "external",
                    "justification": f"{waiver.reason} (approved by {waiver.approved_by}, until {waiver.expires})",
                }
            ]
        sarif_results.append(entry)
    run = {
        "tool": {
            "driver": {
                "name": "platscan",
                "version": __version__,
                "rules": [_rule(check, texts) for check in checks],
            }
        },
        "invocations": [{"executionSuccessful": executed, "toolExecutionNotifications": notifications}],
        "results": sarif_results,
    }
    return json.dumps({"version": "2.1.0", "$schema": SARIF_SCHEMA, "runs": [run]}, indent=2, ensure_ascii=False) + "\n"
