"""The ``platscan/1`` JSON document: the machine-readable contract other tools build on."""

from __future__ import annotations

import json
from typing import Any

from scanner.model import Result, Scan
from scanner.store import Store

SCHEMA = "platscan/1"


def scan_document(store: Store, scan: Scan, platform: str | None = None) -> dict[str, Any]:
    """The whole stored scan (or one platform of it), results sorted by check and endpoint."""
    results = store.results(scan.id, platform)
    by_platform: dict[str, list[Result]] = {}
    for result in results:
        by_platform.setdefault(result.platform, []).append(result)
    platforms = []
    for row in store.platforms(scan.id):
        if platform is not None and row["id"] != platform:
            continue
        own = sorted(by_platform.get(row["id"], []), key=lambda r: (r.check, r.endpoint))
        platforms.append(
            {
                "id": row["id"],
                "name": row["name"],
                "owner": row["owner"],
                "contact": row["contact"],
                "level": row["level"],
                "tags": row["tags"],
                "score": None,
                "grade": None,
                "results": [r.to_json() for r in own],
            }
        )
    return {"schema": SCHEMA, "scan": scan.to_json(), "platforms": platforms}


def render(store: Store, scan: Scan, platform: str | None = None) -> str:
    return json.dumps(scan_document(store, scan, platform), indent=2, ensure_ascii=False, sort_keys=False) + "\n"
