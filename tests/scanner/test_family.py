"""Family discovery through entry points: what is accepted, and every refusal named."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from scanner.family import Families, Family, PlatformSection, Report, discover_families
from scanner.registry import TargetsError, load_targets

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


# -- what a family reads of the targets file ---------------------------------------------------------


@dataclass(frozen=True)
class QuotaSettings:
    quota: int = 5
    hosts: frozenset[str] = frozenset()


def configure_quota(section: PlatformSection, report: Report) -> QuotaSettings:
    quota = section.keys.get("quota_limit", 5)
    if not isinstance(quota, int) or quota < 1:
        report("quota_limit", "must be a whole number of at least 1")
    for key in sorted(set(section.table or {}) - {"note"}):
        report(key, "unknown key (known: note)")
    return QuotaSettings(quota=quota if isinstance(quota, int) else 5, hosts=section.hosts)


def configure_quota_scan(values: Mapping[str, Any], report: Report) -> str:
    mode = values.get("quota_mode", "soft")
    if mode not in ("soft", "hard"):
        report("quota_mode", 'must be "soft" or "hard"')
    return str(mode)


QUOTA = Family(
    name="quota",
    version="1",
    package="tests.scanner",
    configure=configure_quota,
    platform_keys=("quota_limit",),
    configure_scan=configure_quota_scan,
    scan_keys=("quota_mode",),
)
#: Claims a key that platscan itself reads, and one that the quota family reads.
GREEDY = Family(
    name="greedy",
    version="1",
    package="tests.scanner",
    configure=configure_quota,
    platform_keys=("urls", "quota_limit"),
)


def families(*chosen: Family) -> Families:
    return Families(by_name={family.name: family for family in chosen})


TARGETS = """\
[scan]
quota_mode = "{mode}"

[[platforms]]
id = "p"
name = "P"
urls = ["https://p.example/"]
quota_limit = {quota}

[platforms.quota]
{table}
"""


def test_the_registry_hands_a_family_its_keys_and_table_and_keeps_its_settings(tmp_path: Path) -> None:
    path = tmp_path / "targets.toml"
    path.write_text(TARGETS.format(mode="hard", quota=9, table='note = "x"'), encoding="utf-8")
    targets = load_targets(path, families=families(QUOTA))
    assert targets.platforms[0].family_settings("quota") == QuotaSettings(9, frozenset({"p.example"}))
    assert targets.settings.family_settings("quota") == "hard"


def test_a_familys_problems_name_file_line_platform_and_field(tmp_path: Path) -> None:
    path = tmp_path / "targets.toml"
    path.write_text(TARGETS.format(mode="loud", quota=0, table="colour = 1"), encoding="utf-8")
    with pytest.raises(TargetsError) as info:
        load_targets(path, families=families(QUOTA))
    assert info.value.problems == [
        'targets.toml:2: scan.quota_mode: must be "soft" or "hard"',
        'targets.toml:8: platforms[0] ("p"): quota_limit: must be a whole number of at least 1',
        'targets.toml:11: platforms[0] ("p"): quota.colour: unknown key (known: note)',
    ]


def test_without_the_family_its_keys_are_unknown(tmp_path: Path) -> None:
    path = tmp_path / "targets.toml"
    path.write_text(TARGETS.format(mode="hard", quota=9, table=""), encoding="utf-8")
    with pytest.raises(TargetsError) as info:
        load_targets(path, families=families())
    where = [problem.split(": ")[1:3] for problem in info.value.problems]
    assert where == [["scan.quota_mode", "unknown key (expected one of"]] + [
        ['platforms[0] ("p")', key] for key in ("quota", "quota_limit")
    ], info.value.problems


def test_a_key_that_platscan_or_another_family_reads_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "targets.toml"
    path.write_text(TARGETS.format(mode="hard", quota=9, table=""), encoding="utf-8")
    with pytest.raises(TargetsError) as info:
        load_targets(path, families=families(QUOTA, GREEDY))
    refusals = [problem for problem in info.value.problems if "family greedy" in problem]
    assert any("'urls', which platscan itself reads" in problem for problem in refusals)
    assert any("'quota_limit', which the quota family reads" in problem for problem in refusals)
