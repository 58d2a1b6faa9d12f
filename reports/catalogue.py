"""What a report knows about the checks of the scan it shows: the catalogue stored with that scan
(titles, texts, severities, families, as they were when it ran), so a report of last month's
scan shows last month's checks. A scan stored before the catalogue (schema 4) falls back to the
installed checks.

A module of its own so that where the catalogue comes from is decided in one place for every
renderer (HTML, CSV, SARIF).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from reports.i18n import CheckText, CheckTexts
from reports.view import FleetView
from scanner.model import CatalogueEntry, Result, Severity


@dataclass(frozen=True)
class Catalogue:
    """What the checks say about themselves: English texts and default severities."""

    texts: Mapping[str, CheckText]
    severities: Mapping[str, Severity]


def catalogue_of(fleet: FleetView) -> Catalogue:
    """The catalogue of ``fleet``'s scan as a report reads it."""
    entries = rules_of(fleet)
    return Catalogue(texts=_english(entries), severities={e.check: e.severity for e in entries})


def check_texts(entries: Iterable[CatalogueEntry], lang: str) -> CheckTexts:
    """The texts of the checks ``entries`` describe, in ``lang`` (translations over the English)."""
    return CheckTexts(lang, _english(entries))


def _english(entries: Iterable[CatalogueEntry]) -> dict[str, CheckText]:
    return {e.check: CheckText(e.title, e.why, e.remediation, e.finding) for e in entries}


def rules_of(fleet: FleetView) -> list[CatalogueEntry]:
    """Every check of ``fleet``'s scan, by id: its stored catalogue (the scan's whole selection,
    nothing installed since), or, for a scan stored without one, the installed checks that have
    results in it, and for a check no longer installed what its results say about it."""
    entries: Mapping[str, CatalogueEntry] = fleet.catalogue
    if not entries:
        installed = installed_entries()
        found: dict[str, CatalogueEntry] = {}
        for result in (r for view in fleet.platforms for r in view.results):
            if result.check not in found:
                found[result.check] = installed.get(result.check) or _entry_from(result)
        entries = found
    return [entries[check] for check in sorted(entries)]


def _entry_from(result: Result) -> CatalogueEntry:
    return CatalogueEntry(
        check=result.check,
        family=result.check.split(".", 1)[0],
        title=result.title,
        severity=result.severity,
        remediation=result.remediation,
    )


@cache
def installed_entries() -> Mapping[str, CatalogueEntry]:
    from scanner.plugin import discover_checks

    return {check.id: check.entry() for check in discover_checks().checks}
