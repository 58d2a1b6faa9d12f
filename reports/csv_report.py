"""The CSV report: one row per result, for spreadsheets.

UTF-8 with a byte-order mark so Excel reads Vietnamese correctly, RFC 4180 quoting (CRLF line ends,
fields quoted when they need it), and no formula injection: a text cell that starts with ``=``, ``+``,
``-``, ``@`` (or a tab or carriage return) gets a leading apostrophe, so a spreadsheet shows a server's
``=HYPERLINK(...)`` banner as text instead of evaluating it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

from reports.i18n import CheckText, CheckTexts, Translator
from reports.view import FleetView
from scanner.model import Status

BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = (
    "scan",
    "platform_id",
    "platform",
    "owner",
    "level",
    "grade",
    "check",
    "family",
    "endpoint",
    "status",
    "severity",
    "title",
    "detail",
    "criteria",
    "new",
)


def neutralise(value: object) -> object:
    """A cell value that a spreadsheet will not evaluate as a formula; numbers pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def render(fleet: FleetView, lang: str = "en", texts: Mapping[str, CheckText] | None = None) -> str:
    t = Translator(lang)
    if texts is None:
        from reports.catalogue import catalogue_of

        texts = catalogue_of(fleet).texts
    titles = CheckTexts(lang, texts)
    out = io.StringIO()
    writer = csv.writer(out, dialect="excel", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([t(f"csv.{column}") for column in COLUMNS])
    for view in sorted(fleet.platforms, key=lambda p: p.id):
        new = {(r.check, r.endpoint) for r in view.new}
        for r in sorted(view.results, key=lambda r: (r.check, r.endpoint)):
            row: list[object] = [
                fleet.scan.id,
                view.id,
                view.name,
                view.owner,
                view.level,
                view.score.grade or "",
                r.check,
                r.check.split(".", 1)[0],
                r.endpoint,
                t(f"status.{r.status.value}") if lang != "en" else r.status.value,
                t(f"severity.{r.severity.value}") if lang != "en" else r.severity.value,
                titles.title(r.check, r.title),
                titles.detail(r),
                ";".join(r.criteria),
                t("yes") if r.status == Status.FAIL and (r.check, r.endpoint) in new else t("no"),
            ]
            writer.writerow([neutralise(value) for value in row])
    return BOM + out.getvalue()
