"""Which renderer writes which format; the CLI and the demo call this, never a renderer directly."""

from __future__ import annotations

from dataclasses import dataclass

from reports import csv_report, html, json_report, junit, sarif
from reports.catalogue import check_texts, rules_of
from reports.i18n import LANGUAGES
from reports.view import FleetView
from scanner.waivers import Waiver

FORMATS = ("json", "html", "csv", "sarif", "junit")
__all__ = ["FORMATS", "LANGUAGES", "OutputFile", "render_report"]


@dataclass(frozen=True)
class OutputFile:
    """One file of a report: ``name`` is None for the main file (the -o path), else a path relative to it."""

    name: str | None
    text: str


def render_report(
    fmt: str, fleet: FleetView, lang: str = "en", platform: str | None = None, main_name: str = "fleet.html"
) -> list[OutputFile]:
    """Render ``fleet`` as ``fmt``.

    HTML: with ``platform``, that platform's remediation page alone; otherwise the fleet page plus one
    page per platform in ``<stem of main_name>-platforms/`` (``main_name`` is the -o file's name, which
    the pages link back to).
    """
    if lang not in LANGUAGES:
        raise ValueError(f"unknown report language {lang!r} (known: {', '.join(LANGUAGES)})")
    if fmt == "json":
        return [OutputFile(None, json_report.render(fleet))]
    if fmt == "csv":
        return [OutputFile(None, csv_report.render(fleet, lang))]
    if fmt == "html":
        if platform is not None:
            return [OutputFile(None, html.render_platform(fleet, platform, lang))]
        return [OutputFile(name, text) for name, text in html.render_fleet(fleet, lang, main_name)]
    results = [r for view in fleet.platforms for r in view.results]
    texts = check_texts(rules_of(fleet), lang)
    if fmt == "sarif":
        return [OutputFile(None, sarif.render(results, rules_of(fleet), texts, waived(fleet)))]
    if fmt == "junit":
        names = {view.id: view.name for view in fleet.platforms}
        return [OutputFile(None, junit.render(results, texts, names, waived(fleet)))]
    raise ValueError(f"unknown report format {fmt!r} (known: {', '.join(FORMATS)})")


def waived(fleet: FleetView) -> dict[tuple[str, str, str], Waiver]:
    """(platform, check, endpoint) -> waiver, across the fleet."""
    return {(view.id, check, endpoint): w for view in fleet.platforms for (check, endpoint), w in view.waived.items()}
