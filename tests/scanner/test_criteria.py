"""Criteria profile files: checked as strictly as a targets file, every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.criteria import ProfileError, load_profile

PROFILE = """\
[profile]
id = "mine"
version = 2027

[[requirements]]
id = "X-1"
title = "No legacy TLS"
levels = [0, 3]
mandatory = "yes"
checks = ["tls.protocol_legacy", "tls.nope"]
colour = "blue"

[[requirements]]
id = "X-1"
title = "Again"

[[not_testable]]
title_vi = "Sao lưu"
"""


def test_every_problem_names_file_line_entry_and_field(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(PROFILE, encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_profile(str(path), known_checks={"tls.protocol_legacy"})
    assert info.value.problems == [
        f"{path}:3: profile: version: must be a string",
        f"{path}:11: requirements[0] (X-1): colour: unknown key (expected one of: checks, current, grade, id, "
        "legacy, levels, mandatory, title, title_vi)",
        f"{path}:8: requirements[0] (X-1): levels: must be a list of security levels 1-5, e.g. [3, 4, 5]",
        f"{path}:9: requirements[0] (X-1): mandatory: must be true or false",
        f"{path}:10: requirements[0] (X-1): checks: unknown check id 'tls.nope'",
        f"{path}:14: requirements[1] (X-1): id: duplicate requirement id (first in requirements[0] (X-1))",
        f"{path}:17: not_testable[0]: title: required (a non-empty string)",
    ]


def test_structure_errors(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('requirements = "x"\nprofile = 3\n', encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_profile(str(path))
    assert info.value.problems == [
        f"{path}: profile: must be a table ([profile])",
        f"{path}: requirements: must be an array of at least one table ([[requirements]])",
    ]


def test_missing_profile_and_builtin(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"no criteria profile 'nope' \(built-in: vn-baseline; or a file\)"):
        load_profile("nope")
    assert load_profile("vn-baseline").id == "vn-baseline"
