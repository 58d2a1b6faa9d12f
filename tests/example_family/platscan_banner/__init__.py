"""The banner family: one check on what a URL's Server header names, configured per platform.

The targets file gets a table of the family's own, validated here (the registry delegates to it)::

    [platforms.banner]
    forbidden = ["Apache", "PHP"]   # products the Server header must not name
"""

from __future__ import annotations

from dataclasses import dataclass

from scanner.family import Family, PlatformSection, Report

KEYS = {"forbidden"}


@dataclass(frozen=True)
class BannerSettings:
    forbidden: tuple[str, ...] = ()


def configure(section: PlatformSection, report: Report) -> BannerSettings:
    """Called for every platform; one without a ``[platforms.banner]`` table forbids nothing."""
    table = section.table or {}
    for key in sorted(set(table) - KEYS):
        report(key, f"unknown key (known: {', '.join(sorted(KEYS))})")
    forbidden = table.get("forbidden", [])
    if not isinstance(forbidden, list) or not all(isinstance(item, str) and item for item in forbidden):
        report("forbidden", 'must be a list of product names, e.g. ["Apache"]')
        return BannerSettings()
    return BannerSettings(forbidden=tuple(forbidden))


FAMILY = Family(
    name="banner",
    version="0.1.0",
    package=__name__,
    endpoint_kinds=("url",),
    title="Server banner",
    description="The Server header names no product the platform forbids",
    configure=configure,
)
