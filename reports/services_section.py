"""The platform page's "Services and domains" section: what its families found on the services they
declared on its hosts (``smtp://mx1.example:25``) and on the names they only look up in DNS.

Driven by endpoint kinds, never by a family: a **domain row** is every "domain" endpoint of the
platform, and every host whose results include a name-level check, that is a check of a family that
declares endpoint kind "domain" or a check that also ran on one of the platform's domain endpoints
(a mail domain that is also a registered host). A **service row** is every declared service with a
result: "not offered" when every result skipped (a closed port is not a finding), else a tally per
family, worst first, each count linked to where the page explains it.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from reports.i18n import CheckTexts, Translator
from reports.page_text import family_name, status_label
from reports.text import clip_words
from reports.view import PlatformView
from scanner.family import discover_families
from scanner.model import Result, Status

#: Worst first: what the owner acts on leads a cell and a tally.
STATUS_ORDER: tuple[Status, ...] = (Status.FAIL, Status.WARN, Status.ERROR, Status.PASS, Status.SKIP)
_RANK = {status: rank for rank, status in enumerate(STATUS_ORDER)}
#: Written beside every chip, so a status never depends on colour alone.
ICONS: Mapping[Status, str] = {
    Status.PASS: "✓",
    Status.FAIL: "✗",
    Status.WARN: "!",
    Status.ERROR: "?",
    Status.SKIP: "–",
}
#: A table cell says what was observed in a line; the finding itself has the whole sentence.
DETAIL_WIDTH = 120
#: (check, endpoint, key) -> the anchor of its finding on the page.
Anchors = Mapping[tuple[str, str, str], str]


@dataclass(frozen=True)
class Chip:
    """One result in a cell: its status (icon and label), its key when the check gives several
    results on one name, what it observed (not for a pass) and where the page says more."""

    status: str
    icon: str
    label: str
    key: str
    detail: str
    href: str


@dataclass(frozen=True)
class Column:
    check: str
    title: str


@dataclass(frozen=True)
class DomainRow:
    """A name and, per column, the chips of that check's results on it (empty: it did not run there)."""

    name: str
    kind: str
    cells: tuple[tuple[Chip, ...], ...]


@dataclass(frozen=True)
class Tally:
    status: str
    label: str
    href: str


@dataclass(frozen=True)
class FamilyTally:
    family: str
    title: str
    tallies: tuple[Tally, ...]


@dataclass(frozen=True)
class ServiceRow:
    service: str
    offered: bool
    families: tuple[FamilyTally, ...]


@dataclass(frozen=True)
class ServicesSection:
    columns: tuple[Column, ...]
    domains: tuple[DomainRow, ...]
    services: tuple[ServiceRow, ...]


def services_section(
    view: PlatformView,
    t: Translator,
    texts: CheckTexts,
    family_of: Callable[[str], str],
    anchors: Anchors,
) -> ServicesSection | None:
    """The section for ``view``; None for a platform whose families declared no service or domain."""
    if not view.services and not view.domains:
        return None
    by_endpoint: dict[str, list[Result]] = {}
    for result in view.results:
        by_endpoint.setdefault(result.endpoint, []).append(result)

    def href(result: Result) -> str:
        if result.status in (Status.FAIL, Status.WARN):
            anchor = anchors.get((result.check, result.endpoint, result.key))
            return f"#{anchor}" if anchor else "#findings"
        return "#not-tested" if result.status == Status.ERROR else ""

    names = _name_rows(view, by_endpoint, family_of)
    checks = sorted({r.check for _, results in names for r in results})
    columns = tuple(Column(check, texts.title(check, _stored_title(check, view.results))) for check in checks)
    domains = tuple(
        DomainRow(
            name=name,
            kind="domain" if name in view.domains else "host",
            cells=tuple(_chips([r for r in results if r.check == check], t, texts, href) for check in checks),
        )
        for name, results in names
    )
    services = tuple(
        _service_row(service, by_endpoint[service], t, family_of, href)
        for service in view.services
        if by_endpoint.get(service)
    )
    return ServicesSection(columns=columns, domains=domains, services=services)


def _name_rows(
    view: PlatformView, by_endpoint: Mapping[str, list[Result]], family_of: Callable[[str], str]
) -> list[tuple[str, list[Result]]]:
    """Each name with its name-level results: the domain endpoints first (as declared), then the
    hosts (in the platform's order) where a name-level check found something other than a skip."""
    on_domains = {r.check for name in view.domains for r in by_endpoint.get(name, ())}
    kinds = _domain_families()

    def name_level(result: Result) -> bool:
        return result.check in on_domains or family_of(result.check) in kinds

    rows = [(name, list(by_endpoint[name])) for name in view.domains if by_endpoint.get(name)]
    for host in view.hosts:
        if host in view.domains:
            continue
        results = [r for r in by_endpoint.get(host, ()) if name_level(r)]
        if any(r.status != Status.SKIP for r in results):
            rows.append((host, results))
    return rows


def _chips(
    results: Iterable[Result], t: Translator, texts: CheckTexts, href: Callable[[Result], str]
) -> tuple[Chip, ...]:
    return tuple(
        Chip(
            status=r.status.value,
            icon=ICONS[r.status],
            label=status_label(r.status, t),
            key=r.key,
            detail="" if r.status == Status.PASS else clip_words(texts.detail(r), DETAIL_WIDTH),
            href=href(r),
        )
        for r in sorted(results, key=lambda r: (_RANK[r.status], r.key))
    )


def _service_row(
    service: str,
    results: list[Result],
    t: Translator,
    family_of: Callable[[str], str],
    href: Callable[[Result], str],
) -> ServiceRow:
    if all(r.status == Status.SKIP for r in results):
        return ServiceRow(service, offered=False, families=())
    by_family: dict[str, list[Result]] = {}
    for result in results:
        by_family.setdefault(family_of(result.check), []).append(result)
    families = []
    for family, own in by_family.items():
        counts = Counter(r.status for r in own)
        # Each count links to its first result's explanation: a finding, the untested list, the passes.
        first: dict[Status, Result] = {}
        for result in sorted(own, key=lambda r: (r.check, r.key)):
            first.setdefault(result.status, result)
        tallies = tuple(
            Tally(status.value, t.count(f"tally.{status.value}", counts[status]), href(first[status]) or "#passing")
            for status in STATUS_ORDER
            if counts[status]
        )
        families.append(FamilyTally(family, family_name(family, t), tallies))
    families.sort(key=lambda f: (_RANK[Status(f.tallies[0].status)], f.title))
    return ServiceRow(service, offered=True, families=tuple(families))


def _stored_title(check: str, results: Iterable[Result]) -> str:
    return next((r.title for r in results if r.check == check), "")


@functools.cache  # the installed families do not change while a report renders
def _domain_families() -> frozenset[str]:
    """The families whose checks run on names only looked up in DNS: their results on a host are
    about the name, not the machine."""
    return frozenset(name for name, family in discover_families().by_name.items() if "domain" in family.endpoint_kinds)
