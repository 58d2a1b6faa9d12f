"""security.txt, parsed after RFC 9116 (fields, an optional OpenPGP cleartext signature, Expires).

No I/O: the http family fetches the file, this module only reads its text.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SecurityTxt:
    """A parsed security.txt.

    Attributes:
        fields: (lower-case field name, value) in order.
        signed: the file is an OpenPGP cleartext-signed message.
        problems: lines that are neither fields, comments nor blank (first few).
    """

    fields: tuple[tuple[str, str], ...] = ()
    signed: bool = False
    problems: tuple[str, ...] = field(default_factory=tuple)

    def values(self, name: str) -> tuple[str, ...]:
        return tuple(value for key, value in self.fields if key == name)

    @property
    def contacts(self) -> tuple[str, ...]:
        return self.values("contact")

    def expires(self) -> dt.datetime | None:
        found = self.values("expires")
        return parse_rfc3339(found[0]) if found else None


def parse_rfc3339(text: str) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        return None
    return when if when.tzinfo else None  # RFC 9116 requires a time zone offset


_FIELD = re.compile(r"^([A-Za-z0-9-]+):\s*(.*)$")


def parse_security_txt(text: str) -> SecurityTxt:
    lines = text.replace("\r\n", "\n").split("\n")
    signed = False
    if lines and lines[0].strip() == "-----BEGIN PGP SIGNED MESSAGE-----":
        signed = True
        body: list[str] = []
        started = False
        for line in lines[1:]:
            if line.strip() == "-----BEGIN PGP SIGNATURE-----":
                break
            if not started:
                started = line.strip() == ""  # armor headers ("Hash: SHA256") end at a blank line
                continue
            body.append(line[2:] if line.startswith("- ") else line)
        lines = body
    fields: list[tuple[str, str]] = []
    problems: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _FIELD.match(stripped)
        if match:
            fields.append((match.group(1).lower(), match.group(2).strip()))
        elif len(problems) < 3:
            problems.append(stripped[:80])
    return SecurityTxt(tuple(fields), signed, tuple(problems))
