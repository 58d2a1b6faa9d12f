"""The HTML reports: the fleet overview for the security team and a remediation page per platform.

Every page is one self-contained file: inline CSS, inline SVG charts, one small inline script (table
sorting; opening folded sections for printing) allowed by its hash in a strict Content-Security-Policy,
no external asset of any kind (``reports.page_assets``). Everything the pages show comes from
:mod:`reports.view`: the page models (``reports.fleet_page``, ``reports.platform_page``) turn a view
into plain numbers, strings and geometry, and the templates only lay them out. This module is where
the two meet, and the entry points ``reports.render`` calls.

Server-supplied text (details, evidence, certificate subjects, headers) only ever reaches a page as
an escaped template variable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from reports.catalogue import Catalogue, catalogue_of
from reports.fleet_page import fleet_page
from reports.i18n import CheckTexts, Translator
from reports.page_assets import content_security_policy, environment, script, stylesheet
from reports.page_parts import page_name
from reports.platform_page import platform_page
from reports.view import FleetView
from scanner import __version__
from scanner.model import ScanStatus
from scanner.scoring import SCORING_VERSION


@dataclass(frozen=True)
class Meta:
    label: str
    value: str


def scan_meta(fleet: FleetView, t: Translator) -> list[Meta]:
    scan = fleet.scan
    then = scan.scoring_version if scan.scoring_version is not None else "–"
    scoring = (
        f"v{SCORING_VERSION}" if then == SCORING_VERSION else t("scoring_version_value", now=SCORING_VERSION, then=then)
    )
    previous = t("scan_number", id=fleet.previous.id) if fleet.previous else t("no_previous_scan")
    return [
        Meta(t("scan"), f"#{scan.id}"),
        Meta(t("started"), t.datetime(scan.started)),
        Meta(t("finished"), t.datetime(scan.finished)),
        Meta(t("status"), t(f"scan_status.{scan.status.value}")),
        Meta(t("previous_scan"), previous),
        Meta(t("profile"), f"{fleet.profile.id} {fleet.profile.version}".strip()),
        Meta(t("platscan_version"), scan.platscan_version),
        Meta(t("scoring_version"), scoring),
    ]


def _footer(fleet: FleetView, t: Translator) -> str:
    return t(
        "generated_by",
        version=__version__,
        scan=fleet.scan.id,
        scoring=SCORING_VERSION,
        profile=f"{fleet.profile.id} {fleet.profile.version}".strip(),
    )


def _page_context(fleet: FleetView, t: Translator) -> dict[str, Any]:
    incomplete = None
    if fleet.scan.status != ScanStatus.COMPLETE:
        incomplete = t("scan_incomplete_note", status=t(f"scan_status.{fleet.scan.status.value}"))
    return {
        "lang": t.lang,
        "t": t,
        "csp": content_security_policy(),
        "css": Markup(stylesheet()),  # our own file
        "script": Markup(script()),  # our own file, hashed into the CSP
        "meta": scan_meta(fleet, t),
        "footer": _footer(fleet, t),
        "incomplete": incomplete,
        "generator": f"platscan {__version__}",
    }


def pages_directory(main_name: str) -> str:
    """Where the platform pages of the fleet report ``main_name`` go, relative to it."""
    stem = main_name.rsplit(".", 1)[0] if "." in main_name else main_name
    return f"{stem or 'fleet'}-platforms"


def render_fleet_page(
    fleet: FleetView, lang: str = "en", main_name: str = "fleet.html", catalogue: Catalogue | None = None
) -> str:
    """The fleet overview page alone (its platform links point into ``pages_directory(main_name)``)."""
    t = Translator(lang)
    catalogue = catalogue or catalogue_of(fleet)
    texts = CheckTexts(lang, catalogue.texts)
    page = fleet_page(fleet, t, texts, catalogue, quote(pages_directory(main_name)))
    template = environment().get_template("fleet.html.j2")
    return template.render(**_page_context(fleet, t), title=t("fleet_title"), page=page)


def render_fleet(
    fleet: FleetView, lang: str = "en", main_name: str = "fleet.html", catalogue: Catalogue | None = None
) -> list[tuple[str | None, str]]:
    """The fleet page (name None) and one page per platform, as (name relative to the fleet page, HTML)."""
    t = Translator(lang)
    catalogue = catalogue or catalogue_of(fleet)
    texts = CheckTexts(lang, catalogue.texts)
    pages = pages_directory(main_name)
    out: list[tuple[str | None, str]] = [(None, render_fleet_page(fleet, lang, main_name, catalogue))]
    template = environment().get_template("platform.html.j2")
    base = _page_context(fleet, t)
    back = "../" + quote(main_name)
    for view in fleet.platforms:
        page = platform_page(view, fleet, t, texts, back)
        title = f"{view.name} — {t('platform_kicker')}"
        out.append((f"{pages}/{page_name(view.id)}", template.render(**base, title=title, page=page)))
    return out


def render_platform(fleet: FleetView, platform: str, lang: str = "en", catalogue: Catalogue | None = None) -> str:
    """The remediation page of one platform, on its own (no link back to a fleet page)."""
    t = Translator(lang)
    catalogue = catalogue or catalogue_of(fleet)
    texts = CheckTexts(lang, catalogue.texts)
    found = [p for p in fleet.platforms if p.id == platform]
    if not found:
        raise ValueError(f"scan {fleet.scan.id} has no platform {platform!r}")
    view = found[0]
    page = platform_page(view, fleet, t, texts, None)
    return (
        environment()
        .get_template("platform.html.j2")
        .render(**_page_context(fleet, t), title=f"{view.name} — {t('platform_kicker')}", page=page)
    )
