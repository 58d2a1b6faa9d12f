"""Family discovery through entry points: what is accepted, and every refusal named."""

from __future__ import annotations

from importlib.metadata import EntryPoint

from scanner.family import Family, discover_families

GROUP = "platscan.families"

# Objects the entry points below name (module-level, so that EntryPoint.load finds them).
GOOD = Family(name="sample", version="1", package="tests.scanner")
MISNAMED = Family(name="other", version="1", package="tests.scanner")
NO_VERSION = Family(name="unversioned", version=" ", package="tests.scanner")
ODD_KIND = Family(name="odd", version="1", package="tests.scanner", endpoint_kinds=("mailbox",))
NOT_A_FAMILY = object()


def ep(name: str, attr: str) -> EntryPoint:
    return EntryPoint(name, f"tests.scanner.test_family:{attr}", GROUP)


def test_families_load_and_every_broken_one_is_named() -> None:
    found = discover_families(
        [
            ep("sample", "GOOD"),
            ep("sample", "GOOD"),
            ep("misnamed", "MISNAMED"),
            ep("unversioned", "NO_VERSION"),
            ep("odd", "ODD_KIND"),
            ep("thing", "NOT_A_FAMILY"),
            ep("missing", "NOWHERE"),
        ]
    )
    assert list(found.by_name) == ["sample"]
    reasons = {problem.name: problem.reason for problem in found.problems}
    assert "already provided" in reasons["sample"]
    assert "differs from its entry-point name" in reasons["misnamed"]
    assert reasons["unversioned"] == "has no version"
    assert "endpoint kinds ['mailbox']" in reasons["odd"]
    assert reasons["thing"] == "does not name a scanner.family.Family"
    assert reasons["missing"].startswith("failed to load: AttributeError")


def test_a_family_without_translations_translates_nothing() -> None:
    assert GOOD.translations("vi") == {}
    assert GOOD.translations("en") == {}
