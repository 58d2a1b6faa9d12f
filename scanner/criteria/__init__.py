"""Criteria profiles: which requirements exist, at which security levels, and which checks evidence them.

A profile is data (TOML), so a new framework or a provincial variant needs no code. It is the
one place the requirement-to-check mapping lives; results get their criteria refs from it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from scanner.config import (
    ConfigFileError,
    Lines,
    existing_file,
    key_name,
    parse_toml,
    read_toml,
    shown,
    unknown_key,
)

TOP_KEYS = {"profile", "requirements", "not_testable"}
PROFILE_KEYS = {"id", "title", "title_vi", "version"}
REQUIREMENT_KEYS = {"id", "title", "title_vi", "current", "legacy", "grade", "levels", "mandatory", "checks"}
NOT_TESTABLE_KEYS = {"title", "title_vi", "current", "levels"}
LEVELS = (1, 2, 3, 4, 5)


class ProfileError(Exception):
    """The profile is unusable; ``problems`` holds one line per problem, each naming the file."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


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
    """Load a built-in profile by name or a profile file by path; unknown check ids are errors.

    A file is checked as strictly as a targets file: every problem names the file, and where it can
    be found the line, the entry and the field; all problems are reported at once."""
    try:
        if name_or_path in builtin_profiles():
            label = f"profile {name_or_path}"
            text = (resources.files(__package__) / f"{name_or_path}.toml").read_text(encoding="utf-8")
            doc = parse_toml(text, label)
        else:
            path = existing_file(name_or_path, Path())
            if isinstance(path, str):
                builtin = ", ".join(builtin_profiles())
                raise ProfileError(
                    [f"no criteria profile {shown(name_or_path)} (built-in: {builtin}; or a file): {path}"]
                )
            label = str(path)
            text, doc = read_toml(path, label)
    except ConfigFileError as exc:
        raise ProfileError([str(exc)]) from None
    return _ProfileReader(label, text, known_checks).profile(doc)


class _ProfileReader:
    """Validates a profile document, collecting every problem with its file, line, entry and field."""

    def __init__(self, label: str, text: str, known_checks: Collection[str] | None) -> None:
        self.label = label
        self.lines = Lines(text)
        self.known_checks = known_checks
        self.problems: list[str] = []

    def problem(self, line: int, where: str, message: str) -> None:
        location = f"{self.label}:{line}" if line else self.label
        self.problems.append(f"{location}: {where}: {message}")

    def profile(self, doc: dict[str, Any]) -> Profile:
        for key in sorted(set(doc) - TOP_KEYS):
            self.problem(
                0, key_name(key), "unknown top-level key (expected [profile], [[requirements]], [[not_testable]])"
            )
        meta = doc.get("profile", {})
        if not isinstance(meta, dict):
            self.problem(self.lines.entry("[profile]", 0), "profile", "must be a table ([profile])")
            meta = {}
        table = _Table(self, meta, "profile", self.lines.entry("[profile]", 0))
        table.unknown(PROFILE_KEYS)
        profile_id, title = table.text("id", default=self.label), table.text("title", default=self.label)
        version = table.text("version")
        table.text("title_vi")  # allowed and type-checked, though Profile does not keep it
        requirements = self.requirements(doc)
        not_testable = [self.not_testable(t) for t in self.entries(doc, "not_testable", required=False)]
        if self.problems:
            raise ProfileError(self.problems)
        return Profile(
            id=profile_id,
            title=title,
            version=version,
            requirements=tuple(requirements),
            not_testable=tuple(item for item in not_testable if item is not None),
        )

    def entries(self, doc: dict[str, Any], key: str, required: bool) -> list[_Table]:
        """The ``[[key]]`` tables of the document, each with where it is written."""
        value = doc.get(key, [])
        if (required and not value) or not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            need = "at least one table" if required else "tables"
            self.problem(0, key, f"must be an array of {need} ([[{key}]])")
            return []
        tables = []
        for index, raw in enumerate(value):
            where = f"{key}[{index}]"
            if isinstance(raw.get("id"), str):
                where += f" ({key_name(raw['id'])})"
            tables.append(_Table(self, raw, where, self.lines.entry(f"[[{key}]]", index)))
        return tables

    def requirements(self, doc: dict[str, Any]) -> list[Requirement]:
        out: list[Requirement] = []
        first: dict[str, str] = {}
        for table in self.entries(doc, "requirements", required=True):
            requirement = self.requirement(table)
            raw_id = table.raw.get("id")
            if isinstance(raw_id, str) and raw_id in first:  # checked even when the first one has problems
                table.problem("id", f"duplicate requirement id (first in {first[raw_id]})")
            elif requirement is not None:
                out.append(requirement)
            if isinstance(raw_id, str):
                first.setdefault(raw_id, table.where)
        return out

    def requirement(self, table: _Table) -> Requirement | None:
        before = len(self.problems)
        table.unknown(REQUIREMENT_KEYS)
        title = table.text("title", required=True)
        requirement = Requirement(
            id=table.text("id", required=True),
            title=title,
            title_vi=table.text("title_vi", title),
            current=table.text("current"),
            legacy=table.text("legacy"),
            grade=table.text("grade", "I"),
            levels=table.levels(),
            mandatory=table.flag("mandatory", True),
            checks=table.strings("checks"),
        )
        if self.known_checks is not None:
            for check in requirement.checks:
                if check not in self.known_checks:
                    table.problem("checks", f"unknown check id {shown(check)}")
        return requirement if len(self.problems) == before else None

    def not_testable(self, table: _Table) -> NotTestable | None:
        before = len(self.problems)
        table.unknown(NOT_TESTABLE_KEYS)
        title = table.text("title", required=True)
        item = NotTestable(
            title=title, title_vi=table.text("title_vi", title), current=table.text("current"), levels=table.levels()
        )
        return item if len(self.problems) == before else None


class _Table:
    """One table of a profile: typed access to its fields, each problem reported with its line."""

    def __init__(self, reader: _ProfileReader, raw: dict[str, Any], where: str, line: int) -> None:
        self.reader = reader
        self.raw = raw
        self.where = where
        self.line = line

    def problem(self, key: str, message: str) -> None:
        line = self.reader.lines.key(self.line, key) if self.line else 0
        self.reader.problem(line, self.where, f"{key_name(key)}: {message}")

    def unknown(self, known: Collection[str]) -> None:
        for key in sorted(set(self.raw) - set(known)):
            self.problem(key, unknown_key(known))

    def text(self, key: str, default: str = "", required: bool = False) -> str:
        value = self.raw.get(key)
        if value is None and not required:
            return default
        if not isinstance(value, str) or (required and not value.strip()):
            self.problem(key, "required (a non-empty string)" if required else "must be a string")
            return default
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            self.problem(key, "must be true or false")
            return default
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(key, "must be a list of strings")
            return ()
        return tuple(value)

    def levels(self) -> tuple[int, ...]:
        value = self.raw.get("levels", list(LEVELS))
        if not isinstance(value, list) or not value or not all(_is_level(v) for v in value):
            self.problem("levels", "must be a list of security levels 1-5, e.g. [3, 4, 5]")
            return LEVELS
        return tuple(value)


def _is_level(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value in LEVELS
