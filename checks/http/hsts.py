"""Strict-Transport-Security, parsed after RFC 6797 §6.1.

Kept apart from the check so that an invalid value is found exactly as a browser finds it (and then
ignores the header): a value either parses here or is reported with why it does not. No I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.messages import Message, say

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


@dataclass(frozen=True)
class Hsts:
    """A parsed Strict-Transport-Security value.

    Attributes:
        max_age: seconds, or None when missing or invalid.
        include_subdomains: includeSubDomains present.
        preload: preload present.
        problems: why the value is invalid (a browser ignores it then), as messages for a report.
    """

    max_age: int | None
    include_subdomains: bool = False
    preload: bool = False
    problems: tuple[Message, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.problems and self.max_age is not None


def parse_hsts(value: str) -> Hsts:
    problems: list[Message] = []
    seen: set[str] = set()
    max_age: int | None = None
    include_subdomains = preload = False
    for part in value.split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, raw = part.partition("=")
        name = name.strip().lower()
        raw = raw.strip()
        if not _TOKEN.match(name):
            problems.append(say("http.hsts.not_a_directive", "{part} is not a directive", part=repr(part)))
            continue
        if name in seen:
            problems.append(say("http.hsts.repeated", "the {name} directive appears more than once", name=name))
            continue
        seen.add(name)
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = raw[1:-1]
        if name == "max-age":
            if not sep or not raw.isdigit():
                problems.append(
                    say("http.hsts.max_age_not_number", "max-age={value} is not a number of seconds", value=repr(raw))
                )
            else:
                max_age = int(raw)
        elif name == "includesubdomains":
            include_subdomains = True
        elif name == "preload":
            preload = True
    if "max-age" not in seen:
        problems.append(say("http.hsts.no_max_age", "the required max-age directive is missing"))
    return Hsts(max_age, include_subdomains, preload, tuple(problems))
