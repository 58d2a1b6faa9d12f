"""`--lang vi` end to end: the demo fleet (every family, real servers) scanned, its terminal summary,
its report in headless Chromium and its stored results, all in Vietnamese."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scanner.family import discover_families
from scanner.messages import Message, has_words
from scanner.plugin import discover_checks
from tests.reports import browser

PLATSCAN = [sys.executable, "-m", "scanner"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    workdir = tmp_path_factory.mktemp("demo-vi") / "demo"
    # The locale alone picks Vietnamese: what a Vietnamese administrator's terminal says.
    env = {**os.environ, "LANG": "vi_VN.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}
    proc = subprocess.run(
        [*PLATSCAN, "demo", "--workdir", str(workdir)], capture_output=True, text=True, timeout=180, env=env
    )
    assert proc.returncode == 0, proc.stderr
    return workdir, proc


def test_every_stored_sentence_is_a_translated_message(demo: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    workdir, _ = demo
    doc = json.loads((workdir / "report.json").read_text())
    vi = discover_families().messages("vi")
    results: list[dict[str, Any]] = [r for p in doc["platforms"] for r in p["results"]]
    families = {r["check"].split(".")[0] for r in results}
    assert families >= {"tls", "http", "ports", "auth"}, "the demo covers every built-in family"
    untranslated = set()
    for result in results:
        assert result["message"] is not None, (result["check"], result["detail"])
        message = Message.from_json(result["message"])
        assert str(message) == result["detail"], "the stored English is the message's English"
        untranslated |= {m.id for m in message.nested() if m.id not in vi}
    assert untranslated == set()


def test_the_terminal_speaks_vietnamese_under_a_vietnamese_locale(
    demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _, proc = demo
    assert "hạng F (" in proc.stdout and "lần quét 1 hoàn tất" in proc.stdout
    assert "Báo cáo HTML:" in proc.stdout
    assert "Hệ thống thư điện tử công vụ" in proc.stdout, "the demo platforms' names in Vietnamese"
    for english in ("grade ", "results stored in", "checks tested", "HTML report:"):
        assert english not in proc.stdout


@pytest.mark.skipif(
    not browser.available(), reason="Debian's chromium is not installed (scripts/bootstrap installs it)"
)
def test_the_owners_page_has_no_english_sentence_left(
    demo: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    """The mail platform's page as Chromium renders it: the English of every check's title, finding
    and every sentence its results said is absent (data a server sent may stay as it is)."""
    workdir, _ = demo
    doc = json.loads((workdir / "report.json").read_text())
    (mail,) = [p for p in doc["platforms"] if p["id"] == "mail"]
    with browser.Chromium(tmp_path) as chromium:
        page = chromium.open(workdir / "fleet-platforms" / "mail.html")
        text = json.loads(page.evaluate("JSON.stringify(document.body.innerText)"))
    assert "Hệ thống thư điện tử công vụ" in text and "Sở Khoa học và Công nghệ" in text
    english = []
    translated = discover_families().translations("vi")
    for check in discover_checks().checks:
        vi = translated.get(check.id, {})
        # A term the Vietnamese keeps ("Đính kèm trạng thái OCSP (OCSP stapling)") is not English left over.
        english += [text for text in (check.title, check.finding) if text not in vi.get("title", "")]
    for result in mail["results"]:
        english += [str(m) for m in Message.from_json(result["message"]).nested() if has_words(m.text)]
    left = sorted({sentence for sentence in english if sentence and sentence in text})
    assert left == []
