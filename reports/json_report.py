"""The ``platscan/1`` JSON document: the machine-readable contract other tools build on.

Fields are only ever added. ``score`` and ``grade`` use the current scoring rules
(``scoring.version``); ``scan.scoring_version`` is the version the scan was graded with when it ran.
"""

from __future__ import annotations

import json
from typing import Any

from reports.view import FleetView, PlatformView
from scanner.model import Result

SCHEMA = "platscan/1"


def platform_document(view: PlatformView) -> dict[str, Any]:
    score = view.score
    return {
        "id": view.id,
        "name": view.name,
        "owner": view.owner,
        "contact": view.contact,
        "level": view.level,
        "tags": list(view.tags),
        "score": score.score,
        "grade": score.grade,
        "scoring": {
            "version": score.version,
            "band": score.band,
            "partial": score.partial,
            "provisional": score.provisional,
            "assessed": score.assessed,
            "coverage": {
                "tested": score.coverage.tested,
                "applicable": score.coverage.applicable,
                "untested": {family: str(reason) for family, reason in score.coverage.untested.items()},
                "unreachable": None if score.coverage.unreachable is None else str(score.coverage.unreachable),
            },
            "caps": [{"check": cap.check, "grade": cap.grade} for cap in score.caps],
            "next_grade": score.next_grade,
            "fixes": list(score.fixes),
            "explanation": score.explain(),
        },
        "compliance": {
            "level": view.compliance.level,
            "compliant": view.compliance.compliant,
            "requirements": [
                {
                    "id": r.requirement.id,
                    "status": r.status.value,
                    "mandatory": r.requirement.mandatory,
                    "failing": list(r.failing),
                    "untested": list(r.untested),
                    "needs_active": list(r.needs_active),
                }
                for r in view.compliance.requirements
            ],
        },
        "new": [{"check": r.check, "endpoint": r.endpoint} for r in view.new],
        "fixed": [{"check": check, "endpoint": endpoint} for check, endpoint, _ in view.fixed],
        "results": [_result(view, r) for r in sorted(view.results, key=lambda r: (r.check, r.endpoint))],
    }


def _result(view: PlatformView, result: Result) -> dict[str, Any]:
    doc = result.to_json()
    waiver = view.waived.get((result.check, result.endpoint))
    if waiver is not None:
        doc["waived"] = {
            "reason": waiver.reason,
            "approved_by": waiver.approved_by,
            "expires": waiver.expires.isoformat(),
        }
    return doc


def scan_document(fleet: FleetView) -> dict[str, Any]:
    platforms = sorted(fleet.platforms, key=lambda p: p.id)
    return {
        "schema": SCHEMA,
        "scan": fleet.scan.to_json(),
        "profile": {
            "id": fleet.profile.id,
            "version": fleet.profile.version,
            "not_testable": [{"title": n.title, "levels": list(n.levels)} for n in fleet.profile.not_testable],
        },
        "previous_scan": fleet.previous.id if fleet.previous else None,
        "waivers": {
            "expired": [w.to_json() for w in fleet.expired_waivers],
            "stale": [w.to_json() for w in fleet.stale_waivers],
        },
        "platforms": [platform_document(p) for p in platforms],
    }


def render(fleet: FleetView) -> str:
    return json.dumps(scan_document(fleet), indent=2, ensure_ascii=False) + "\n"
