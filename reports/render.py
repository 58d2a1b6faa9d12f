"""Which renderer writes which format; the CLI and the demo call this, never a renderer directly."""

from __future__ import annotations

from dataclasses import dataclass

from reports import json_report
from reports.view import FleetView

FORMATS = ("json",)
LANGUAGES = ("en", "vi")


@dataclass(frozen=True)
class OutputFile:
    """One file of a report: ``name`` is None for the main file (the -o path), else a path relative to it."""

    name: str | None
    text: str


def render_report(fmt: str, fleet: FleetView, lang: str = "en", platform: str | None = None) -> list[OutputFile]:
    if fmt == "json":
        return [OutputFile(None, json_report.render(fleet))]
    raise ValueError(f"unknown report format {fmt!r} (known: {', '.join(FORMATS)})")
