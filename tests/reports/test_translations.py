"""Every fixed string in both languages, and the checks' Vietnamese texts.

``test_checks_have_a_vietnamese_translation`` runs once per check family and lists the checks that
lack a translation. It fails only for the families in ``ENFORCED``: add a family there once its
translations are in its package's ``translations/vi.toml``.
"""

from __future__ import annotations

import re
import string
import tomllib
import warnings
from importlib import resources

import pytest

from reports.i18n import LANGUAGES, MESSAGES, Translator, load_translations
from scanner.family import discover_families
from scanner.plugin import discover_checks

ENFORCED = {"tls", "http", "ports", "auth"}
FAMILIES = ("tls", "ports", "http", "auth")  # the catalogue's families (DESIGN.md); new ones go here
CATALOGUE = discover_checks().checks
VIETNAMESE_LETTERS = re.compile(r"[ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]", re.I)


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class MissingTranslation(UserWarning):
    pass


@pytest.mark.parametrize("family", FAMILIES)
def test_checks_have_a_vietnamese_translation(family: str) -> None:
    translated = load_translations("vi")
    checks = [c for c in CATALOGUE if c.family == family]
    missing = sorted(
        c.id for c in checks if not all(translated.get(c.id, {}).get(f) for f in ("title", "why", "remediation"))
    )
    if family in ENFORCED:
        assert checks, f"no {family} checks installed"
        assert missing == [], f"checks without a Vietnamese title, why or remediation: {missing}"
    elif missing:
        message = f"{family}: {len(missing)} checks not yet translated: {', '.join(missing)}"
        warnings.warn(message, MissingTranslation, stacklevel=1)


def test_translations_name_real_checks_and_keep_every_snippet() -> None:
    translated = load_translations("vi")
    installed = {c.id: c for c in CATALOGUE}
    installed_families = {c.family for c in CATALOGUE}
    for check, text in translated.items():
        family = check.split(".", 1)[0]
        if family in installed_families:
            assert check in installed, f"vi.toml translates {check!r}, which no installed check has (typo?)"
        if check not in installed:
            continue
        # Fenced blocks first, then inline code that stays on one line (as reports/page_text.py pairs them).
        snippet = re.compile(r"```.*?```|`[^`\n]+`", re.S)
        english = snippet.findall(installed[check].remediation)
        vietnamese = snippet.findall(text.get("remediation", ""))
        assert sorted(english) == sorted(vietnamese), f"{check}: config snippets must stay exactly as in English"
        for field in ("title", "why", "remediation"):
            assert VIETNAMESE_LETTERS.search(text[field]), f"{check}.{field} is not Vietnamese (no diacritics)"


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_ships_its_own_literal_toml_with_only_its_checks(family: str) -> None:
    package = discover_families().by_name[family].package
    raw = (resources.files(package) / "translations" / "vi.toml").read_text(encoding="utf-8")
    doc = tomllib.loads(raw)
    assert set(doc) <= {"family", "checks", "messages"} and {"family", "checks"} <= set(doc)
    assert set(doc["family"]) == {"title"} and doc["family"]["title"].strip()
    for check, entry in doc["checks"].items():
        assert check.startswith(f"{family}."), f"{family}'s vi.toml translates another family's check {check}"
        assert set(entry) <= {"title", "finding", "why", "remediation"}, check


def test_every_message_exists_in_every_language_with_the_same_placeholders() -> None:
    for key, texts in MESSAGES.items():
        assert len(texts) == len(LANGUAGES), key
        en, vi = texts
        assert fields(en) == fields(vi), f"{key}: placeholders differ"
        if key != "details_in_english":  # a note only the Vietnamese report needs
            assert en.strip() and vi.strip(), key
    assert VIETNAMESE_LETTERS.search(Translator("vi")("fleet_title"))


def test_translator() -> None:
    t = Translator("vi")
    assert t("days_n", n=3) == "3 ngày"
    assert t.join(["a", "b", "c"]) == "a, b và c" and Translator("en").join(["a", "b"]) == "a and b"
    assert t.datetime("2026-11-21T20:56:33+00:00") == "21/11/2026 20:56 UTC"
    assert Translator("en").datetime("2026-11-21T20:56:33+00:00") == "2026-11-21 20:56 UTC"
    assert Translator("en").count("findings_count", 1) == "1 finding"
    with pytest.raises(ValueError, match="unknown report language"):
        Translator("fr")
    with pytest.raises(KeyError):
        t("no.such.key")
