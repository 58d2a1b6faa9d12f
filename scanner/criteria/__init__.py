"""Criteria profiles: which requirements exist, at which security levels, and which checks evidence them.

A profile is data (TOML), so a new framework or a provincial variant needs no code. It is the
one place the requirement-to-check mapping lives; results get their criteria refs from it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any


class ProfileError(Exception):
    pass


@dataclass(frozen=True)
class Requirement:
    id: str
    title: str
    title_vi: str
    current: str
    legacy: str
    grade: str
    levels: tuple[int, ...]
    mandatory: bool
    checks: tuple[str, ...]


@dataclass(frozen=True)
class NotTestable:
    """A requirement no external scanner can judge (logging, backups, …): listed so reports say so."""

    title: str
    title_vi: str
    current: str
    levels: tuple[int, ...]


@dataclass(frozen=True)
class Profile:
    id: str
    title: str
    version: str
    requirements: tuple[Requirement, ...]
    not_testable: tuple[NotTestable, ...] = ()

    def criteria_by_check(self) -> dict[str, tuple[str, ...]]:
        """check id -> the ids of the requirements it evidences, in profile order."""
        out: dict[str, list[str]] = {}
        for requirement in self.requirements:
            for check in requirement.checks:
                out.setdefault(check, []).append(requirement.id)
        return {check: tuple(ids) for check, ids in out.items()}


def builtin_profiles() -> list[str]:
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in resources.files(__package__).iterdir()
        if entry.name.endswith(".toml")
    )


def load_profile(name_or_path: str, known_checks: Collection[str] | None = None) -> Profile:
    """Load a built-in profile by name or a profile file by path; unknown check ids are errors."""
    path = Path(name_or_path)
    if name_or_path in builtin_profiles():
        text = (resources.files(__package__) / f"{name_or_path}.toml").read_text(encoding="utf-8")
        label = f"profile {name_or_path}"
    elif path.is_file():
        text = path.read_text(encoding="utf-8")
        label = str(path)
    else:
        raise ProfileError(
            f"no criteria profile {name_or_path!r} (built-in: {', '.join(builtin_profiles())}; or give a file path)"
        )
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{label}: not valid TOML: {exc}") from None
    return _parse(doc, label, known_checks)


def _parse(doc: dict[str, Any], label: str, known_checks: Collection[str] | None) -> Profile:
    problems: list[str] = []
    meta = doc.get("profile", {})
    requirements: list[Requirement] = []
    seen: set[str] = set()
    for index, raw in enumerate(doc.get("requirements", [])):
        where = f"{label}: requirements[{index}] ({raw.get('id', '?')})"
        try:
            requirement = Requirement(
                id=str(raw["id"]),
                title=str(raw["title"]),
                title_vi=str(raw.get("title_vi", raw["title"])),
                current=str(raw.get("current", "")),
                legacy=str(raw.get("legacy", "")),
                grade=str(raw.get("grade", "I")),
                levels=tuple(int(level) for level in raw.get("levels", [1, 2, 3, 4, 5])),
                mandatory=bool(raw.get("mandatory", True)),
                checks=tuple(str(check) for check in raw.get("checks", [])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"{where}: missing or invalid field {exc}")
            continue
        if requirement.id in seen:
            problems.append(f"{where}: duplicate requirement id")
        seen.add(requirement.id)
        if known_checks is not None:
            for check in requirement.checks:
                if check not in known_checks:
                    problems.append(f"{where}: unknown check id {check!r}")
        requirements.append(requirement)
    not_testable = []
    for index, raw in enumerate(doc.get("not_testable", [])):
        try:
            not_testable.append(
                NotTestable(
                    title=str(raw["title"]),
                    title_vi=str(raw.get("title_vi", raw["title"])),
                    current=str(raw.get("current", "")),
                    levels=tuple(int(level) for level in raw.get("levels", [1, 2, 3, 4, 5])),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"{label}: not_testable[{index}]: missing or invalid field {exc}")
    if problems:
        raise ProfileError("\n".join(problems))
    return Profile(
        id=str(meta.get("id", label)),
        title=str(meta.get("title", label)),
        version=str(meta.get("version", "")),
        requirements=tuple(requirements),
        not_testable=tuple(not_testable),
    )
