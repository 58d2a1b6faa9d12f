"""Messages: what checks say is an id with parameters, rendered per language.

The unit tests pin rendering and storage; the contract tests read each family's source (as a
linter does) so that every sentence a check says is a message with a Vietnamese template, and
every check has a neutral title and a failing-state finding in both languages.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reports.i18n import CheckTexts
from scanner.family import discover_families
from scanner.messages import Message, MessageError, placeholders, render_detail, say
from scanner.model import CatalogueEntry, Platform, Result, ScanStatus, Severity, Status
from scanner.plugin import discover_checks
from scanner.reasons import network_error
from scanner.store import Store

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = ("tls", "http", "ports", "auth", "mail", "dns")
CORE = ROOT / "scanner"


def test_render_nested_lists_numbers_and_braces() -> None:
    inner = say("tls.x.why", "because {value}", value="{evil}")
    message = say("tls.x.said", "{versions} in {n:.1f} s {{literal}}: {why}", versions=["A", "B"], n=2.25, why=inner)
    assert str(message) == "A, B in 2.2 s {literal}: because {evil}"
    vi = {"tls.x.said": "{versions} trong {n:.1f} giây: {why}", "tls.x.why": "vì {value}"}
    assert message.render(vi) == "A, B trong 2.2 giây: vì {evil}", "a server's braces are data, not placeholders"


def test_a_translation_that_changes_placeholders_is_not_used() -> None:
    message = say("tls.x.said", "{n} ports open", n=3)
    assert message.render({"tls.x.said": "{count} cổng mở"}) == "3 ports open"
    assert message.render({"tls.x.said": "{n} cổng mở"}) == "3 cổng mở"


def test_stored_form_round_trips() -> None:
    message = say("http.x.y", "{a} {b} {c}", a="x", b=["1", "2"], c=say("http.x.z", "{n}", n=4))
    assert Message.from_json(message.to_json()) == message
    with pytest.raises(MessageError):
        Message.from_json({"id": "x"})
    assert render_detail("stored", None, {}) == "stored"


def test_say_refuses_what_does_not_fit() -> None:
    with pytest.raises(MessageError, match="missing"):
        say("tls.x.y", "{a} and {b}", a="1")
    with pytest.raises(MessageError, match="unused"):
        say("tls.x.y", "nothing", a="1")
    with pytest.raises(MessageError, match="message id"):
        say("Bad Id", "x")


def test_network_errors_are_messages() -> None:
    assert str(network_error(ConnectionRefusedError(111, "Connection refused"))) == "connection refused"
    assert network_error(TimeoutError()).id == "scan.error.timeout"
    other = network_error(OSError("something odd"))
    assert other.id == "scan.error.other" and str(other) == "something odd"


# ---- contract: every family's sentences are messages, translated ---------------------------------


@dataclass(frozen=True)
class Said:
    path: Path
    line: int
    id: str
    text: str


def _sources(directory: Path) -> Iterator[Path]:
    yield from sorted(p for p in directory.rglob("*.py") if "translations" not in p.parts)


def _said(directory: Path) -> list[Said]:
    """Every ``say(...)`` call under ``directory``; its id and template must be literals."""
    out = []
    for path in _sources(directory):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "say":
                first, second = [*node.args, None, None][:2]
                if not (isinstance(first, ast.Constant) and isinstance(second, ast.Constant)):
                    pytest.fail(f"{path.name}:{node.lineno}: say() needs a literal id and English template")
                out.append(Said(path, node.lineno, str(first.value), str(second.value)))
    return out


def _is_prose(node: ast.expr) -> bool:
    """An expression that builds English text in place: a literal, an f-string, a concatenation, a format."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return True
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _is_prose(node.left) or _is_prose(node.right)
    if isinstance(node, ast.IfExp):
        return _is_prose(node.body) or _is_prose(node.orelse)
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "join")


# Calls whose argument is a sentence for the report: Verdict(status, detail), self.result(endpoint,
# status, detail), CollectionError(reason) and its kind.
_SENTENCE_ARGS = {"Verdict": 1, "result": 2, "CollectionError": 0, "CollectionTimeout": 0}


def _plain_sentences(directory: Path) -> list[str]:
    found = []
    for path in _sources(directory):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name not in _SENTENCE_ARGS:
                continue
            index = _SENTENCE_ARGS[name]
            args = list(node.args[index : index + 1]) + [
                k.value for k in node.keywords if k.arg in ("detail", "reason")
            ]
            found += [f"{path.relative_to(ROOT)}:{node.lineno}" for arg in args if _is_prose(arg)]
    return found


def _vi_messages(directory: Path) -> dict[str, str]:
    path = directory / "translations" / "vi.toml"
    return dict(tomllib.loads(path.read_text()).get("messages", {})) if path.is_file() else {}


@pytest.mark.parametrize("family", FAMILIES)
def test_every_sentence_of_a_family_is_a_message(family: str) -> None:
    assert _plain_sentences(ROOT / "checks" / family) == [], "say(...) instead of plain English text"


@pytest.mark.parametrize("family", [*FAMILIES, "scan"])
def test_every_message_is_translated_with_the_same_placeholders(family: str) -> None:
    directory = CORE if family == "scan" else ROOT / "checks" / family
    said = _said(directory)
    templates: dict[str, str] = {}
    for item in said:
        prefixes = ("scan.", "gate.") if family == "scan" else (f"{family}.",)  # the core's: scan and gate
        assert item.id.startswith(prefixes), f"{item.path.name}:{item.line}: {item.id} is not {family}.*"
        if templates.setdefault(item.id, item.text) != item.text:
            pytest.fail(f"{item.path.name}:{item.line}: {item.id} says two different things")
    vi = _vi_messages(directory)
    missing = sorted(set(templates) - set(vi))
    assert missing == [], f"untranslated messages of {family}"
    assert sorted(set(vi) - set(templates)) == [], f"translations of messages {family} no longer says"
    for message_id, english in templates.items():
        assert placeholders(vi[message_id]) == placeholders(english), message_id


@pytest.mark.parametrize("family", FAMILIES)
def test_every_check_has_a_neutral_title_and_a_finding_in_both_languages(family: str) -> None:
    checks = [c for c in discover_checks().checks if c.family == family]
    vi = discover_families().by_name[family].translations("vi")
    for check in checks:
        assert check.finding and check.finding != check.title, f"{check.id}: a finding that is not its title"
        assert vi.get(check.id, {}).get("finding"), f"{check.id}: no Vietnamese finding"
        assert vi[check.id].get("title") != vi[check.id]["finding"], check.id


def test_a_stored_scan_renders_in_either_language(tmp_path: Path) -> None:
    """The store keeps each result's message and each check's finding: a scan read back renders in
    Vietnamese, and a row without a message (stored before schema 7) keeps its English sentence."""
    platform = Platform(id="dvc", name="DVC", urls=("https://dvc.example/",))
    entry = CatalogueEntry("tls.x", "tls", "Legacy versions", Severity.HIGH, "", finding="TLS 1.0 is accepted")
    said = say(
        "scan.unresolved",
        "does not resolve: {host} ({cause})",
        host="dvc.example",
        cause=network_error(ConnectionRefusedError(111, "refused")),
    )
    results = [
        Result("tls.x", "dvc", "https://dvc.example/", Status.ERROR, Severity.HIGH, "t", str(said), message=said),
        Result("tls.x", "dvc", "dvc.example", Status.FAIL, Severity.HIGH, "t", "plain English"),
    ]
    with Store(tmp_path / "p.db") as store:
        scan_id = store.begin_scan("t.toml", {}, {}, [platform], [entry])
        store.add_results(scan_id, results)
        store.finish_scan(scan_id, ScanStatus.COMPLETE)
    with Store(tmp_path / "p.db", write=False) as store:
        stored = store.results(scan_id)
        assert store.catalogue(scan_id)["tls.x"].finding == "TLS 1.0 is accepted"
    by_endpoint = {r.endpoint: r for r in stored}
    assert by_endpoint["https://dvc.example/"].message == said
    vi = CheckTexts("vi", {})
    assert vi.detail(by_endpoint["https://dvc.example/"]) == "không phân giải được: dvc.example (kết nối bị từ chối)"
    assert vi.detail(by_endpoint["dvc.example"]) == "plain English"
    assert CheckTexts("en", {}).detail(by_endpoint["https://dvc.example/"]) == str(said)
