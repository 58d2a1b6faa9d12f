"""End to end: scan real local servers with the real CLI, write the HTML reports in both languages,
and open them in headless Chromium.

One of the servers is hostile: its certificate's subject CN and its HTTP headers and page carry
``<script>alert(1)</script>`` and ``"><img src=x onerror=alert(1)>`` (its SAN stays a valid DNS
name). The reports must show them as text, and the browser must run nothing but the report's own
script and fetch nothing at all.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scanner.demo.pki import IssuerKind, LeafSpec
from scanner.demo.tls_server import TlsServer, TlsServerConfig
from scanner.plugin import discover_checks
from tests.fleet.tls_fleet import start_tls_fleet
from tests.reports import browser
from tests.reports.test_html import Page, assert_self_contained_and_inert

PLATSCAN = [sys.executable, "-m", "scanner"]
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
CASES = ["good", "legacy", "expired", "wrong_host", "closed"]
HOSTILE_HOST = "hostile.fleet.test"


@dataclass(frozen=True)
class Scanned:
    workdir: Path
    reports: dict[str, Path]
    families: tuple[str, ...]
    grades: dict[str, str]  # platform -> grade, from the JSON report


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scanned]:
    workdir = tmp_path_factory.mktemp("e2e")
    families = tuple(sorted({c.family for c in discover_checks().checks} & {"tls", "http"}))
    with start_tls_fleet(workdir / "fleet", cases=CASES) as fleet:
        leaf = fleet.pki.issue(
            "hostile",
            LeafSpec(
                hosts=(HOSTILE_HOST,),
                issuer=IssuerKind.SELF,
                common_name=SCRIPT + IMG,
                ocsp_url=None,
                ca_issuers_url=None,
            ),
        )
        config = TlsServerConfig(
            cert_chain=leaf.cert_path,
            key=leaf.key_path,
            headers={"Server": f"Apache/2.4.1 {SCRIPT}", "X-Powered-By": f"PHP/7.2 {IMG}", "X-Note": IMG},
            body=f"<!doctype html><title>{SCRIPT}</title><p>{IMG}</p>",
        )
        with TlsServer(config) as hostile:
            targets = fleet.write_targets(workdir / "targets.toml", timeout=2, names=CASES)
            text = targets.read_text().replace("[scan]\n", "[scan]\nretries = 0\nendpoint_timeout = 20\n", 1)
            text += (  # a JSON string is a TOML basic string
                f'\n[[platforms]]\nid = "hostile"\nname = {json.dumps("Hostile " + SCRIPT)}\n'
                f"owner = {json.dumps('Test ' + IMG)}\nlevel = 3\n"
                f'urls = ["https://{HOSTILE_HOST}:{hostile.port}/"]\nresolve = {{ "{HOSTILE_HOST}" = "127.0.0.1" }}\n'
            )
            targets.write_text(text)
            db = workdir / "fleet.db"
            scan = subprocess.run(
                [*PLATSCAN, "scan", str(targets), "--db", str(db), "--only", ",".join(families), "-q"],
                capture_output=True,
                text=True,
                timeout=120,
            )
            # The fleet's "closed" case cannot be reached: stored, and said loudly (exit 3).
            assert scan.returncode == 3, scan.stderr
            assert "1 of 6 platform(s) could not be assessed (closed)" in scan.stderr
    out = workdir / "out"
    reports = {}
    for lang in ("en", "vi"):
        reports[f"fleet-{lang}"] = out / f"fleet-{lang}.html"
        reports[f"legacy-{lang}"] = out / f"legacy-{lang}.html"
        run = [*PLATSCAN, "report", "--db", str(db), "--format", "html", "--lang", lang]
        subprocess.run([*run, "-o", str(reports[f"fleet-{lang}"])], check=True, timeout=60, capture_output=True)
        subprocess.run(
            [*run, "--platform", "legacy", "-o", str(reports[f"legacy-{lang}"])],
            check=True,
            timeout=60,
            capture_output=True,
        )
        reports[f"hostile-{lang}"] = out / f"fleet-{lang}-platforms" / "hostile.html"
    doc = subprocess.run(
        [*PLATSCAN, "report", "--db", str(db), "--format", "json", "-o", "-"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    grades = {p["id"]: p["grade"] or "–" for p in json.loads(doc.stdout)["platforms"]}
    yield Scanned(workdir, reports, families, grades)


def test_reports_are_written_in_both_languages(scanned: Scanned) -> None:
    for name, path in scanned.reports.items():
        assert path.is_file(), name
    for lang in ("en", "vi"):
        pages = sorted(p.name for p in (scanned.workdir / "out" / f"fleet-{lang}-platforms").iterdir())
        assert pages == sorted(f"{case}.html" for case in [*CASES, "hostile"])


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_hostile_server_text_appears_only_as_text(scanned: Scanned, lang: str) -> None:
    texts = [path.read_text(encoding="utf-8") for name, path in scanned.reports.items() if name.endswith(lang)]
    for text in texts:
        page = assert_self_contained_and_inert(text)  # no <img>, one script (ours), no on* attributes
        assert "<script>alert" not in text.lower() and "<img" not in text.lower()
        assert not re.search(r"<[^>]*\sonerror\s*=", text, re.I), "onerror only ever inside escaped text"
        assert len(page.scripts) == 1
    hostile = Page(scanned.reports[f"hostile-{lang}"].read_text(encoding="utf-8")).plain
    said = {"en": "self-signed ('{label}')", "vi": "tự ký ('{label}')"}[lang]
    assert said.format(label=SCRIPT + IMG) in hostile, "the certificate's CN reached the report, as text"
    assert f"Hostile {SCRIPT}" in hostile and f"Test {IMG}" in hostile
    if "http" in scanned.families:
        assert SCRIPT in hostile.replace("\\", "")


@pytest.mark.skipif(
    not browser.available(), reason="Debian's chromium is not installed (scripts/bootstrap installs it)"
)
def test_reports_render_in_headless_chromium(scanned: Scanned, tmp_path: Path) -> None:
    with browser.Chromium(tmp_path / "profile") as chromium:
        for name, path in scanned.reports.items():
            page = chromium.open(path)
            state = page.evaluate(
                """({
                  ran: document.documentElement.classList.contains("js"),
                  lang: document.documentElement.lang,
                  scripts: document.scripts.length,
                  images: document.images.length,
                  rows: Array.from(document.querySelectorAll("#platform-table tbody tr"),
                                   r => [r.dataset.platform, r.querySelector(".badge [aria-hidden]").textContent]),
                  grade: document.querySelector("#platform-grade .badge [aria-hidden]")?.textContent,
                  title: document.title,
                })"""
            )
            assert state["ran"], f"{name}: the report's own script did not run (CSP hash?)"
            assert state["lang"] == name.rsplit("-", 1)[1]
            assert state["scripts"] == 1 and state["images"] == 0, name
            assert page.dialogs == [], f"{name}: an injected script ran: {page.dialogs}"
            assert page.requests == [path.resolve().as_uri()], f"{name}: requests beyond the file: {page.requests}"
            assert [m for m in page.console if "Content Security Policy" in m or "exception" in m] == [], name
            if name.startswith("fleet"):
                assert dict(state["rows"]) == scanned.grades, "every platform's grade, as the JSON report has it"
                assert state["rows"][0][1] == "–", "not graded (nothing listens) first, then worst first"
                check_sorting(page)
            else:
                assert state["grade"] == scanned.grades[name.rsplit("-", 1)[0]]
            if name.startswith("legacy"):
                check_printing(page, tmp_path / f"{name}.pdf")
            shot = page.screenshot(tmp_path / f"{name}.png")
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def check_printing(page: browser.Page, pdf: Path) -> None:
    """Printing opens every folded section (passing checks, evidence) and folds them back afterwards."""
    folded = page.evaluate('document.querySelectorAll("details:not([open])").length')
    assert folded >= 2
    page.evaluate(
        'window.foldedWhenPrinted = []; addEventListener("beforeprint", () => '
        'foldedWhenPrinted.push(document.querySelectorAll("details:not([open])").length))'
    )
    data = page.call("Page.printToPDF", printBackground=True)["data"]
    pdf.write_bytes(base64.b64decode(data))
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert page.evaluate("window.foldedWhenPrinted") == [0]
    assert page.evaluate('document.querySelectorAll("details:not([open])").length') == folded


def check_sorting(page: browser.Page) -> None:
    """Click the Score header twice and the Platform header once; the rows follow, aria-sort says how."""
    order = """(key) => {
        document.querySelector(`th[data-key=${key}] button`).click();
        const col = Number(document.querySelector(`th[data-key=${key}]`).dataset.col);
        return {
          sort: document.querySelector(`th[data-key=${key}]`).getAttribute("aria-sort"),
          values: Array.from(document.querySelectorAll("#platform-table tbody tr"),
                             r => r.cells[col].dataset.sort ?? r.cells[col].textContent.trim()),
        };
    }"""
    first = page.evaluate(f"({order})('score')")
    scores = [float(v) for v in first["values"]]
    assert first["sort"] == "ascending" and scores == sorted(scores) and len(scores) == len(CASES) + 1
    second = page.evaluate(f"({order})('score')")
    assert second["sort"] == "descending" and [float(v) for v in second["values"]] == sorted(scores, reverse=True)
    names = page.evaluate(f"({order})('platform')")
    assert names["sort"] == "ascending" and names["values"] == sorted(names["values"], key=str.casefold)
    assert page.evaluate('document.querySelectorAll("th[aria-sort]").length') == 1
