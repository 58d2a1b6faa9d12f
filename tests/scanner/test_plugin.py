"""Discovery of checks through entry points, as flake8 tests it: EntryPoint objects built in the test."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from types import SimpleNamespace

import pytest

from scanner.plugin import ENTRY_POINT_GROUP, SelectionError, discover_checks, select_checks

MOD = "tests.scanner.sample_checks"


def ep(name: str, attr: str, dist: str | None = None) -> EntryPoint:
    point = EntryPoint(name=name, value=f"{MOD}:{attr}", group=ENTRY_POINT_GROUP)
    return point._for(SimpleNamespace(name=dist)) if dist else point  # type: ignore[arg-type]


def test_discovery_is_sorted_and_reports_broken_plugins_by_name() -> None:
    catalogue = discover_checks(
        [
            ep("sample.probe", "Probe"),
            ep("sample.crash", "Crash"),
            EntryPoint(name="sample.missing", value="no_such_module:Thing", group=ENTRY_POINT_GROUP),
            ep("sample.wrong", "WrongId"),
            ep("sample.nosev", "NoSeverity"),
            ep("sample.notacheck", "NotACheck"),
        ]
    )
    assert [check.id for check in catalogue.checks] == ["sample.crash", "sample.probe"]
    reasons = {problem.name: problem.reason for problem in catalogue.problems}
    assert "No module named 'no_such_module'" in reasons["sample.missing"]
    assert "differs from its entry-point name" in reasons["sample.wrong"]
    assert "no severity" in reasons["sample.nosev"]
    assert "not name a subclass" in reasons["sample.notacheck"]
    assert "sample.missing" in str(next(p for p in catalogue.problems if p.name == "sample.missing"))


def test_builtin_wins_an_id_clash() -> None:
    catalogue = discover_checks(
        [ep("sample.probe", "Probe", dist="thirdparty"), ep("sample.probe", "Probe", dist="platscan")]
    )
    assert len(catalogue.checks) == 1
    (problem,) = catalogue.problems
    assert problem.source.startswith("thirdparty") and "already provided" in problem.reason


def test_selection_by_family_and_id() -> None:
    checks = discover_checks([ep("sample.probe", "Probe"), ep("sample.crash", "Crash")]).checks
    assert [c.id for c in select_checks(checks, only=["sample"])] == ["sample.crash", "sample.probe"]
    assert [c.id for c in select_checks(checks, skip=["sample.crash"])] == ["sample.probe"]
    assert [c.id for c in select_checks(checks, only=["sample.crash,sample.probe"], skip=["sample.probe"])] == [
        "sample.crash"
    ]
    with pytest.raises(SelectionError, match="unknown check or family: tsl"):
        select_checks(checks, only=["tsl"])
