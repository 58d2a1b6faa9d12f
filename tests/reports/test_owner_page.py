"""The owner's page in headless Chromium, in English and Vietnamese, from a real stored scan: it leads
with what to fix (gains from the scoring itself, toward the go-live bar and the next letter), shows
a score per family, words remediation in the platform's own names, folds the met requirements and
does not dress an advisory requirement as a mandatory failure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from reports.render import render_report
from reports.view import FleetView, build
from scanner.assessment import caps_of_scan
from scanner.criteria import load_profile
from scanner.family import discover_families
from scanner.model import Status
from scanner.scoring import score_platform
from scanner.store import Store
from tests.reports import browser
from tests.reports.owner_fleet import PAYLOAD, build_owner_fleet, write_pages

pytestmark = pytest.mark.skipif(
    not browser.available(), reason="Debian's chromium is not installed (scripts/bootstrap installs it)"
)

WORDS = {
    "en": {
        "bar": "To reach B, the go-live bar",
        "next": "To reach D, the next letter",
        "both": "To reach A, the next letter and the go-live bar",
        "meets": "The grade meets the go-live bar (B).",
        "plus": "A+ needs every applicable check tested.",
        "caps_f": "caps the grade at F",
        "alone_c": "fixing it alone gives C",
        "points": "−40 points",
        "advisory": "Advisory — not met",
        "no_grade": "No grade yet",
    },
    "vi": {
        "bar": "Để đạt hạng B, ngưỡng đưa vào vận hành",
        "next": "Để đạt hạng D, hạng kế tiếp",
        "both": "Để đạt hạng A, hạng kế tiếp và cũng là ngưỡng đưa vào vận hành",
        "meets": "Xếp hạng đã đạt ngưỡng đưa vào vận hành (B).",
        "plus": "Hạng A+ đòi hỏi mọi hạng mục áp dụng đều được kiểm tra.",
        "caps_f": "giới hạn xếp hạng ở F",
        "alone_c": "chỉ khắc phục mục này là đạt hạng C",
        "points": "−40 điểm",
        "advisory": "Khuyến nghị — chưa đáp ứng",
        "no_grade": "Chưa có xếp hạng",
    },
}

PLANS = """[...document.querySelectorAll('.fix-plan')].map(p => ({
  plan: p.dataset.plan, target: p.dataset.target, heading: p.querySelector('h3').textContent,
  note: (p.querySelector('.empty') || {}).textContent || '',
  items: [...p.querySelectorAll('li')].map(li => ({check: li.dataset.check, points: +li.dataset.points,
    text: li.textContent.replace(/\\s+/g, ' ').trim()}))}))"""


@dataclass(frozen=True)
class Reports:
    store: Store
    fleet: FleetView
    files: dict[str, Path]  # lang -> the fleet page; platform pages beside it


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reports]:
    workdir = tmp_path_factory.mktemp("owner")
    with build_owner_fleet(workdir / "platscan.db") as store:
        fleet = build(store, store.scan(), load_profile("vn-baseline"))
        yield Reports(store, fleet, write_pages(fleet, workdir))


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[browser.Chromium]:
    with browser.Chromium(tmp_path_factory.mktemp("chromium")) as running:
        yield running


def open_page(chromium: browser.Chromium, reports: Reports, lang: str, platform: str) -> browser.Page:
    page = chromium.open(reports.files[lang].parent / f"fleet.{lang}-platforms" / f"{platform}.html")
    assert page.requests == [
        reports.files[lang].parent.joinpath(f"fleet.{lang}-platforms", f"{platform}.html").as_uri()
    ]
    return page


def js(page: browser.Page, expression: str) -> Any:
    return json.loads(page.evaluate(f"JSON.stringify({expression})"))


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_the_page_leads_with_the_fixes_that_gain_most(chromium: browser.Chromium, reports: Reports, lang: str) -> None:
    page = open_page(chromium, reports, lang, "cong")
    words = WORDS[lang]
    tops = js(page, "['grade', 'fixes', 'findings', 'compliance'].map(id => document.getElementById(id).offsetTop)")
    assert tops == sorted(tops), "grade and why, what to fix, findings, then compliance"
    bar, upcoming = js(page, PLANS)
    assert (bar["plan"], bar["target"], upcoming["plan"], upcoming["target"]) == ("bar", "B", "next", "D")
    assert bar["heading"].startswith(words["bar"]) and upcoming["heading"].startswith(words["next"])
    # the go-live list is longer than "to reach D", and its first fix alone already gives a C
    assert [(i["check"], i["points"]) for i in bar["items"]] == [("tls.cert_expired", 40), ("tls.protocol_legacy", 20)]
    assert [i["check"] for i in upcoming["items"]] == ["tls.cert_expired"]
    first = bar["items"][0]["text"]
    assert first.startswith(words["points"]) and words["caps_f"] in first and words["alone_c"] in first
    others = js(
        page, "[...document.querySelectorAll('#other-fixes li')].map(li => [li.dataset.check, +li.dataset.points])"
    )
    assert others == [["http.hsts", 10], ["tls.ocsp_stapling", 3], ["http.security_txt", 2]]
    assert js(page, "document.querySelector('#other-fixes li').checkVisibility()") is False, "folded"
    # each fix links to its finding on the page
    page.evaluate("document.querySelector('.fix-plan li a').click()")
    target = js(page, "[location.hash, document.querySelector(location.hash).dataset.check]")
    assert target[0].startswith("#finding-") and target[1] == "tls.cert_expired"


def test_what_a_fix_gains_is_the_scoring_functions_own_answer(reports: Reports) -> None:
    scan = reports.store.scan()
    caps = caps_of_scan(reports.store, scan.id)
    results = reports.store.results(scan.id, "cong")
    now = score_platform(results, caps)
    page = {f.name: f.text for f in render_report("html", reports.fleet, "en", None, "fleet.html")}
    text = page["fleet-platforms/cong.html"]
    for check in {r.check for r in results if r.status in (Status.FAIL, Status.WARN)}:
        fixed = score_platform([replace(r, status=Status.PASS) if r.check == check else r for r in results], caps)
        assert fixed.score is not None and now.score is not None
        assert f'data-check="{check}" data-points="{fixed.score - now.score}"' in text, check


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_the_bar_is_the_platforms_own_and_said_when_met(
    chromium: browser.Chromium, reports: Reports, lang: str
) -> None:
    words = WORDS[lang]
    (both,) = js(open_page(chromium, reports, lang, "dvc"), PLANS)  # min_grade = "A" in its [platforms.gate]
    assert (both["plan"], both["target"], [i["check"] for i in both["items"]]) == ("both", "A", ["tls.protocol_legacy"])
    assert both["heading"].startswith(words["both"])
    met, upcoming = js(open_page(chromium, reports, lang, "motcua"), PLANS)  # an A, partly tested
    assert (met["plan"], met["note"], met["items"]) == ("bar", words["meets"], [])
    assert (upcoming["target"], upcoming["note"], upcoming["items"]) == ("A+", words["plus"], [])
    page = open_page(chromium, reports, lang, "yte")
    assert js(page, PLANS) == [] and words["no_grade"] in js(page, "document.getElementById('fixes').textContent")


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_a_bar_per_family_with_the_familys_own_title(chromium: browser.Chromium, reports: Reports, lang: str) -> None:
    page = open_page(chromium, reports, lang, "cong")
    bars = js(
        page,
        """[...document.querySelectorAll('#family-scores li')].map(li => ({family: li.dataset.family,
          title: li.querySelector('.family-name').textContent, score: li.querySelector('.family-score').textContent,
          ratio: li.querySelector('.fill').offsetWidth / li.querySelector('.bar').clientWidth}))""",
    )
    families = discover_families().by_name
    # tls: 100 - 40 - 20 - 3; http: 100 - 10 - 1.5 (a warning costs half)
    assert {b["family"]: b["score"] for b in bars} == {"auth": "100", "http": "88", "ports": "100", "tls": "37"}
    assert all(b["title"] == families[b["family"]].title_in(lang) for b in bars)
    assert all(abs(b["ratio"] - int(b["score"]) / 100) < 0.02 for b in bars), bars


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_remediation_speaks_of_the_platforms_own_hosts(chromium: browser.Chromium, reports: Reports, lang: str) -> None:
    page = open_page(chromium, reports, lang, "cong")
    fixes = js(
        page,
        """Object.fromEntries([...document.querySelectorAll('article.finding')].map(a =>
          [a.dataset.check, a.querySelector('.remediation').textContent]))""",
    )
    assert "/etc/ssl/cong/fullchain.pem" in fixes["tls.cert_expired"]
    assert "/etc/ssl/cong/chain.pem" in fixes["tls.ocsp_stapling"]
    assert "mailto:security@cong.nghean.example" in fixes["http.security_txt"]
    text = js(page, "document.body.textContent")
    assert "{host}" not in text and "{platform}" not in text and "dvc" not in text
    junit = render_report("junit", reports.fleet, lang)[0].text
    assert "/etc/ssl/cong/chain.pem" in junit and "{platform}" not in junit


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_met_requirements_fold_and_advisory_is_not_a_failure(
    chromium: browser.Chromium, reports: Reports, lang: str
) -> None:
    page = open_page(chromium, reports, lang, "cong")
    rows = """(table) => [...document.querySelectorAll(table + ' tbody tr')].map(tr => ({id: tr.dataset.requirement,
      status: tr.dataset.status, shown: tr.checkVisibility(),
      css: tr.querySelector('.verdict').className, label: tr.querySelector('.verdict').textContent.trim(),
      colour: getComputedStyle(tr.querySelector('.verdict')).color}))"""
    open_rows = js(page, f"({rows})('#requirements')")
    met = js(page, f"({rows})('#requirements-met')")
    assert open_rows and all(r["status"] != "met" and r["shown"] for r in open_rows)
    assert met and all(r["status"] == "met" and not r["shown"] for r in met), "met rows are folded"
    page.evaluate("document.querySelector('#met-requirements summary').click()")
    assert all(r["shown"] for r in js(page, f"({rows})('#requirements-met')"))
    by_id = {r["id"]: r for r in open_rows}
    mandatory, advisory = by_id["VN-A6"], by_id["VN-A6R"]  # both have a failing check
    assert mandatory["css"] == "verdict bad" and mandatory["colour"] == "rgb(180, 35, 24)"
    assert advisory["css"] == "verdict advisory" and advisory["colour"] != mandatory["colour"]
    assert advisory["label"].endswith(WORDS[lang]["advisory"]) and "✗" not in advisory["label"]


def test_server_text_on_the_owners_page_stays_text(chromium: browser.Chromium, reports: Reports) -> None:
    for lang in ("en", "vi"):
        page = open_page(chromium, reports, lang, "cong")
        assert PAYLOAD in js(page, "document.querySelector('[data-check=\"http.hsts\"] dd:nth-of-type(2)').textContent")
        assert page.dialogs == [] and js(page, "document.images.length") == 0
