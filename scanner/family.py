"""A check family: one plugin package that declares itself once and brings its own data.

A family package exposes a ``Family`` under the ``platscan.families`` entry-point group
(``tls = checks.tls:FAMILY``), exactly as a third-party package would; its checks register under
``platscan.checks``. The family says who it is (name, version), which kinds of endpoint its checks
need, and ships its translations inside its own package (``translations/<lang>.toml``), which
reports find through the family, never by a path into platscan's tree (as pytest and Datasette
plugins ship their templates).
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from importlib.metadata import EntryPoint
from typing import Any

from scanner.plugin import Catalogue, PluginProblem, PluginRefused, load_plugins

FAMILY_GROUP = "platscan.families"
ENDPOINT_KINDS = ("url", "host", "service", "domain")
TRANSLATED_FIELDS = ("title", "finding", "why", "remediation")

#: check id -> field -> text, for one language.
Translations = Mapping[str, Mapping[str, str]]
#: Reports a problem in what a family reads: (key, message); the registry adds file, line and platform.
#: A key the family declared in ``platform_keys`` (or ``scan_keys``) is located in ``[[platforms]]``
#: (``[scan]``), any other in the family's own table ``[platforms.<family>]``.
Report = Callable[[str, str], None]


@dataclass(frozen=True)
class PlatformSection:
    """What a family reads of one ``[[platforms]]`` entry of the targets file.

    Attributes:
        table: its ``[platforms.<family>]`` table; None when the platform has none.
        keys: those of the family's ``platform_keys`` that the entry sets (``ports = "top-100"``).
        hosts: the platform's registered host names, normalised (its scope), for settings that must
            stay on them (a login URL, say).
    """

    table: Mapping[str, Any] | None
    keys: Mapping[str, Any]
    hosts: frozenset[str]


#: Validates what a family reads of one platform and returns the family's settings for it (frozen
#: and picklable: they travel to the collectors with the platform). Called for every platform, so
#: that defaults live in the family. Unknown keys of its table must be reported, as the registry
#: does for its own.
Configure = Callable[[PlatformSection, Report], Any]


@dataclass(frozen=True)
class Declared:
    """The endpoints a family adds to one platform beyond its URLs and hosts.

    Attributes:
        services: services on the platform's registered hosts, as ``scheme://host:port`` URLs
            (``smtp://mx1.example:25``); endpoints of kind "service". Only registered hosts: the
            registry refuses any other.
        domains: names the family only looks up in DNS (mail domains); endpoints of kind "domain",
            except a name that is already one of the platform's hosts (its "host" endpoint serves).
    """

    services: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()


#: The endpoints a family declares for one platform, from its settings for that platform (what
#: ``configure`` returned) and the platform's registered hosts (normalised, in order).
DeclareEndpoints = Callable[[Any, tuple[str, ...]], Declared]
#: Validates the family's ``scan_keys`` that ``[scan]`` sets (possibly none) and returns its
#: scan-wide settings; called once per targets file.
ConfigureScan = Callable[[Mapping[str, Any], Report], Any]


class FamilyError(ValueError):
    """A family's own data is unusable; the message names the family and the file."""


@dataclass(frozen=True)
class Family:
    """What a check family declares about itself.

    Attributes:
        name: the family name, the prefix of its check ids ("tls" for "tls.cert_expired").
        version: the family's version; stored with every scan that ran its checks.
        package: the import package that holds the family's data files (``translations/``).
        endpoint_kinds: the kinds of endpoint its checks run on ("url", "host", "service", "domain").
        title: the family's name in reports ("Ports and services"); ``translations/<lang>.toml``
            translates it (``[family] title = ...``).
        description: one line for ``platscan checks`` and the docs.
        configure: validates what the family reads of each platform: its table ``[platforms.<name>]``
            and its ``platform_keys`` (None: it reads nothing); checks read the result with
            ``platform.family_settings(name)``.
        platform_keys: keys of ``[[platforms]]`` itself that belong to the family (``allowed_ports``);
            a family that names one after itself (``ports``) has no ``[platforms.<name>]`` table.
        scan_keys: keys of ``[scan]`` that belong to the family (``port_scan``), validated by
            ``configure_scan``; checks read the result with ``settings.family_settings(name)``.
        typical_seconds: about how long the family takes on one endpoint, so that the engine starts
            the longest work first when the database holds no earlier scan to learn from.
        endpoints: the services and DNS names the family adds to a platform (``Declared``), from its
            settings for the platform; None: it adds none.
    """

    name: str
    version: str
    package: str
    endpoint_kinds: tuple[str, ...] = ("url",)
    title: str = ""
    description: str = ""
    configure: Configure | None = None
    platform_keys: tuple[str, ...] = ()
    scan_keys: tuple[str, ...] = ()
    configure_scan: ConfigureScan | None = None
    typical_seconds: float = 1.0
    endpoints: DeclareEndpoints | None = None

    def title_in(self, lang: str) -> str:
        """The family's title in ``lang`` (its own translation, else its English title, else its name)."""
        if lang != "en":
            translated = self._document(lang).get("family", {})
            if isinstance(translated, dict) and isinstance(translated.get("title"), str):
                return str(translated["title"])
        return self.title or self.name

    def translations(self, lang: str) -> Translations:
        """check id -> {title, why, remediation} in ``lang`` from the family's own package (empty when
        it ships none). Raises ``FamilyError`` for a file that is not valid TOML."""
        if lang == "en":
            return {}
        checks = self._document(lang).get("checks", {})
        return {
            check: {name: str(value) for name, value in fields.items() if name in TRANSLATED_FIELDS}
            for check, fields in (checks.items() if isinstance(checks, dict) else ())
            if isinstance(fields, dict)
        }

    def messages(self, lang: str) -> dict[str, str]:
        """message id -> template in ``lang`` (``scanner.messages``), from ``[messages]`` of the
        family's translations; empty for English, whose templates are in the code."""
        return {} if lang == "en" else _messages_of(self._document(lang))

    def _document(self, lang: str) -> Mapping[str, Any]:
        try:
            return _translations_file(self.package, lang)
        except FamilyError as exc:
            raise FamilyError(f"family {self.name!r}: {exc}") from None


@functools.cache  # a package's data files do not change while platscan runs; a report reads each several times
def _translations_file(package: str, lang: str) -> Mapping[str, Any]:
    try:
        path = resources.files(package) / "translations" / f"{lang}.toml"
        if not path.is_file():
            return {}
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (ModuleNotFoundError, OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FamilyError(f"translations/{lang}.toml is unusable: {exc}") from None


def _messages_of(document: Mapping[str, Any]) -> dict[str, str]:
    table = document.get("messages", {})
    return {str(k): v for k, v in table.items() if isinstance(v, str)} if isinstance(table, dict) else {}


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

    def messages(self, lang: str) -> dict[str, str]:
        """message id -> template in ``lang``: the core's (``scanner/translations``: what the engine
        says of a check that could not run) and every family's; empty for English."""
        if lang == "en":
            return {}
        merged = _messages_of(_translations_file("scanner", lang))
        for family in self.by_name.values():
            merged.update(family.messages(lang))
        return merged


def _make_family(name: str, obj: object) -> Family:
    if not isinstance(obj, Family):
        raise PluginRefused("does not name a scanner.family.Family")
    if obj.name != name:
        raise PluginRefused(f"declares name {obj.name!r}, which differs from its entry-point name")
    if not obj.version.strip():
        raise PluginRefused("has no version")
    if obj.scan_keys and obj.configure_scan is None:
        raise PluginRefused("declares scan_keys but no configure_scan to validate them")
    if obj.platform_keys and obj.configure is None:
        raise PluginRefused("declares platform_keys but no configure to validate them")
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
