"""A check family: one plugin package that declares itself once and brings its own data.

A family package exposes a ``Family`` under the ``platscan.families`` entry-point group
(``tls = checks.tls:FAMILY``), exactly as a third-party package would; its checks register under
``platscan.checks``. The family says who it is (name, version), which kinds of endpoint its checks
need, and ships its translations inside its own package (``translations/<lang>.toml``), which
reports find through the family, never by a path into platscan's tree (as pytest and Datasette
plugins ship their templates).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from importlib.metadata import EntryPoint
from typing import Any

from scanner.plugin import Catalogue, PluginProblem, PluginRefused, load_plugins

FAMILY_GROUP = "platscan.families"
ENDPOINT_KINDS = ("url", "host")
TRANSLATED_FIELDS = ("title", "why", "remediation")

#: check id -> field -> text, for one language.
Translations = Mapping[str, Mapping[str, str]]
#: Reports a problem in a family's table: (key, message); the registry adds file, line and platform.
Report = Callable[[str, str], None]
#: Validates a platform's ``[platforms.<family>]`` table and returns the family's settings for it
#: (frozen and picklable: it travels to the collectors with the platform). Unknown keys must be
#: reported, as the registry does for its own tables.
Configure = Callable[[Mapping[str, Any], Report], Any]


class FamilyError(ValueError):
    """A family's own data is unusable; the message names the family and the file."""


@dataclass(frozen=True)
class Family:
    """What a check family declares about itself.

    Attributes:
        name: the family name, the prefix of its check ids ("tls" for "tls.cert_expired").
        version: the family's version; stored with every scan that ran its checks.
        package: the import package that holds the family's data files (``translations/``).
        endpoint_kinds: the kinds of endpoint its checks run on ("url", "host").
        description: one line for ``platscan checks`` and the docs.
        configure: validates the platform table ``[platforms.<name>]`` (None: the family reads none);
            checks read the result with ``platform.family_settings(name)``.
    """

    name: str
    version: str
    package: str
    endpoint_kinds: tuple[str, ...] = ("url",)
    description: str = ""
    configure: Configure | None = None

    def translations(self, lang: str) -> Translations:
        """check id -> {title, why, remediation} in ``lang`` from the family's own package (empty when
        it ships none). Raises ``FamilyError`` for a file that is not valid TOML."""
        if lang == "en":
            return {}
        try:
            path = resources.files(self.package) / "translations" / f"{lang}.toml"
            if not path.is_file():
                return {}
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (ModuleNotFoundError, OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise FamilyError(f"family {self.name!r}: translations/{lang}.toml is unusable: {exc}") from None
        checks = doc.get("checks", {})
        return {
            check: {name: str(value) for name, value in fields.items() if name in TRANSLATED_FIELDS}
            for check, fields in (checks.items() if isinstance(checks, dict) else ())
            if isinstance(fields, dict)
        }


@dataclass(frozen=True)
class Families:
    """The installed families by name, and the ones that could not be used."""

    by_name: Mapping[str, Family] = field(default_factory=dict)
    problems: tuple[PluginProblem, ...] = ()

    def translations(self, lang: str) -> dict[str, Mapping[str, str]]:
        """Every family's translations for ``lang``, merged (check ids carry their family's prefix)."""
        merged: dict[str, Mapping[str, str]] = {}
        for family in self.by_name.values():
            merged.update(family.translations(lang))
        return merged


def _make_family(name: str, obj: object) -> Family:
    if not isinstance(obj, Family):
        raise PluginRefused("does not name a scanner.family.Family")
    if obj.name != name:
        raise PluginRefused(f"declares name {obj.name!r}, which differs from its entry-point name")
    if not obj.version.strip():
        raise PluginRefused("has no version")
    unknown = sorted(set(obj.endpoint_kinds) - set(ENDPOINT_KINDS))
    if unknown or not obj.endpoint_kinds:
        raise PluginRefused(f"declares endpoint kinds {list(obj.endpoint_kinds)} (known: {', '.join(ENDPOINT_KINDS)})")
    return obj


def discover_families(found: Iterable[EntryPoint] | None = None) -> Families:
    """Every family registered under ``platscan.families``; built-ins win a name clash, a broken one is
    reported by name and left out."""
    chosen, problems = load_plugins(FAMILY_GROUP, found, _make_family, "family name")
    return Families(by_name=dict(sorted(chosen.items())), problems=tuple(problems))


def declared(catalogue: Catalogue, families: Families) -> Catalogue:
    """``catalogue`` without the checks whose family no installed package declares (each becomes a
    problem naming the check), plus the families' own problems."""
    kept = tuple(check for check in catalogue.checks if check.family in families.by_name)
    orphans = tuple(
        PluginProblem(
            check.id, type(check).__module__, f"its family {check.family!r} is not declared under {FAMILY_GROUP}"
        )
        for check in catalogue.checks
        if check.family not in families.by_name
    )
    return Catalogue(checks=kept, problems=(*catalogue.problems, *families.problems, *orphans))
