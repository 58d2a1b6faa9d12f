"""The fleet page in headless Chromium, in English and Vietnamese, from a real stored first scan:
the reason for each grade, worst score first inside a grade, the most common failures, the
waivers (what they hide, what lapses soon, what expired, what is stale) and coverage said once per
reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reports.catalogue import catalogue_of
from reports.i18n import CheckTexts
from reports.page_text import finding_title
from reports.view import FleetView, build
from scanner.criteria import load_profile
from scanner.family import discover_families
from tests.reports import browser
from tests.reports.owner_fleet import DNS_ERROR, PAYLOAD, build_owner_fleet, write_pages

pytestmark = pytest.mark.skipif(
    not browser.available(), reason="Debian's chromium is not installed (scripts/bootstrap installs it)"
)

WORDS = {
    "en": {
        "capped": "Capped at F: “{}”",
        "share": "2 of 5 platforms",
        "waived": "1 waived",
        "expiring": "Waivers expiring within 30 days: 1",
        "line": "line {}",
        "hint": "2 waived failures are not counted",
        "tag": "Waived 2",
        "first": "This is the first scan in this database",
    },
    "vi": {
        "capped": "Bị giới hạn ở hạng F: “{}”",
        "share": "2/5 nền tảng",
        "waived": "1 được miễn trừ",
        "expiring": "Miễn trừ hết hạn trong vòng 30 ngày: 1",
        "line": "dòng {}",
        "hint": "2 lỗi được miễn trừ không được tính",
        "tag": "Được miễn trừ 2",
        "first": "Đây là lần quét đầu tiên trong cơ sở dữ liệu",
    },
}


@dataclass(frozen=True)
class Reports:
    fleet: FleetView
    files: dict[str, Path]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reports]:
    workdir = tmp_path_factory.mktemp("fleet")
    with build_owner_fleet(workdir / "platscan.db") as store:
        fleet = build(store, store.scan(), load_profile("vn-baseline"))
    yield Reports(fleet, write_pages(fleet, workdir))


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[browser.Chromium]:
    with browser.Chromium(tmp_path_factory.mktemp("chromium")) as running:
        yield running


def open_fleet(chromium: browser.Chromium, reports: Reports, lang: str) -> browser.Page:
    page = chromium.open(reports.files[lang])
    assert page.requests == [reports.files[lang].as_uri()] and page.dialogs == []
    return page


def js(page: browser.Page, expression: str) -> Any:
    return json.loads(page.evaluate(f"JSON.stringify({expression})"))


ROWS = """[...document.querySelectorAll('#platform-table tbody tr')].map(tr => ({id: tr.dataset.platform,
  reason: (tr.querySelector('.grade-reason') || {textContent: ''}).textContent.trim(),
  cell: tr.querySelector('.platform-name').textContent.replace(/\\s+/g, ' '),
  coverage: [...tr.querySelectorAll('.coverage-lines li')].map(li => li.textContent)}))"""


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_each_row_says_why_its_grade_worst_score_first(chromium: browser.Chromium, reports: Reports, lang: str) -> None:
    rows = js(open_fleet(chromium, reports, lang), ROWS)
    # no grade first, then the Fs lowest score first (cong 25 before hcc 77), then B, then A
    assert [r["id"] for r in rows] == ["yte", "cong", "hcc", "dvc", "motcua"]
    texts = CheckTexts(lang, catalogue_of(reports.fleet).texts)
    reasons = {r["id"]: r["reason"].split(": ", 1)[-1] if r["id"] == "yte" else r["reason"] for r in rows}
    capped = WORDS[lang]["capped"]
    assert reasons["cong"].endswith(capped.format(finding_title(texts, "tls.cert_expired")))
    assert reasons["hcc"].endswith(capped.format(finding_title(texts, "http.sensitive_files")))
    assert finding_title(texts, "tls.protocol_legacy") in reasons["dvc"] and "B" in reasons["dvc"]
    assert len(set(reasons.values())) == len(rows), "no two grades explained alike"


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_the_most_common_failures_on_a_first_scan(chromium: browser.Chromium, reports: Reports, lang: str) -> None:
    page = open_fleet(chromium, reports, lang)
    assert WORDS[lang]["first"] in js(page, "document.getElementById('changes').textContent")
    common = js(
        page,
        """[...document.querySelectorAll('#common li[data-check]')].map(li => ({check: li.dataset.check,
          share: li.querySelector('.share').textContent,
          waived: (li.querySelector('.tag-waived') || {}).textContent || '',
          platforms: [...li.querySelectorAll('.affected a')].map(a => a.textContent)}))""",
    )
    # two platforms each: the high one before the low one; then single platforms, worst first
    assert [c["check"] for c in common[:3]] == ["tls.protocol_legacy", "tls.ocsp_stapling", "tls.cert_expired"]
    assert common[0]["share"] == WORDS[lang]["share"] and common[0]["platforms"] == ["cong", "dvc"]
    (mismatch,) = [c for c in common if c["check"] == "tls.cert_hostname_mismatch"]
    assert mismatch["waived"] == WORDS[lang]["waived"] and mismatch["platforms"] == ["motcua"]


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_waived_findings_stay_visible_with_what_lapses(chromium: browser.Chromium, reports: Reports, lang: str) -> None:
    page = open_fleet(chromium, reports, lang)
    words = WORDS[lang]
    waived = js(
        page,
        """[...document.querySelectorAll('#waived-table tbody tr')].map(tr => [tr.dataset.platform, tr.dataset.check,
          'soon' in tr.dataset, tr.cells[2].querySelector('.sev').textContent, tr.cells[5].textContent])""",
    )
    high = {"en": "High", "vi": "Cao"}[lang]
    assert [w[:4] for w in waived[:1]] == [["motcua", "tls.cert_hostname_mismatch", True, high]], "a waived high shows"
    assert [w[1:3] for w in waived] == [["tls.cert_hostname_mismatch", True], ["http.csp", False]], (
        "first to lapse first"
    )
    assert PAYLOAD in waived[0][4] and page.dialogs == [], "the waiver's reason is text"
    summary = js(page, "document.getElementById('waivers-summary').textContent")
    assert words["expiring"] in summary
    expired = js(page, "document.getElementById('waivers-expired').textContent")
    stale = js(page, "document.getElementById('waivers-stale').textContent")
    assert "cong" in expired and "http.hsts" in expired and words["line"].format(17) in expired
    assert "motcua" in stale and "tls.protocol_legacy" in stale and words["line"].format(24) in stale
    rows = {r["id"]: r for r in js(page, ROWS)}
    assert words["tag"] in rows["motcua"]["cell"] and words["hint"] in js(
        page, "document.getElementById('waived-hint').textContent"
    )


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_coverage_says_a_reason_once_with_its_families(chromium: browser.Chromium, reports: Reports, lang: str) -> None:
    rows = {r["id"]: r for r in js(open_fleet(chromium, reports, lang), ROWS)}
    titles = {name: family.title_in(lang) for name, family in discover_families().by_name.items()}
    _, families = rows["motcua"]["coverage"]  # partial: one line for the two families the DNS error stopped
    assert titles["auth"] in families and titles["ports"] in families and DNS_ERROR in families
    assert " ".join(rows["motcua"]["coverage"]).count(DNS_ERROR) == 1 and titles["tls"] not in families
    unreachable = " ".join(rows["yte"]["coverage"])
    assert unreachable.count("connection timed out after 3 seconds") == 1
    assert all(titles[f] in rows["yte"]["coverage"][-1] for f in ("auth", "http", "tls"))


def test_sorting_still_reads_the_right_columns(chromium: browser.Chromium, reports: Reports) -> None:
    page = open_fleet(chromium, reports, "en")
    page.evaluate("document.querySelector('th[data-key=\"critical\"] button').click()")
    page.evaluate("document.querySelector('th[data-key=\"critical\"] button').click()")  # descending
    assert js(page, ROWS)[0]["id"] == "cong", "the one platform with a critical failure"
    page.evaluate("document.querySelector('th[data-key=\"score\"] button').click()")
    page.evaluate("document.querySelector('th[data-key=\"score\"] button').click()")
    assert [r["id"] for r in js(page, ROWS)] == ["motcua", "dvc", "hcc", "cong", "yte"]
