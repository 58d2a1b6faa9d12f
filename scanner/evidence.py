"""Helpers for checks to keep details readable and evidence small, the same way in every family."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

MAX_EVIDENCE_ITEMS = 20
MAX_KEY = 200
MAX_DETAIL_ITEMS = 5
MAX_TEXT = 300


def shorten(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis (server text can be huge)."""
    flat = " ".join(text.split()) if ("\n" in text or "\r" in text) else text.strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def clip(items: Iterable[Any], limit: int = MAX_EVIDENCE_ITEMS) -> list[Any]:
    """At most ``limit`` items; a last string says how many were left out."""
    values = list(items)
    if len(values) <= limit:
        return values
    return [*values[:limit], f"… and {len(values) - limit} more"]


def listing(items: Sequence[str], limit: int = MAX_DETAIL_ITEMS) -> str:
    """'a, b and c' for a detail sentence; long lists end in '… (N more)'."""
    values = list(items)
    if len(values) > limit:
        return ", ".join(values[:limit]) + f", … ({len(values) - limit} more)"
    if len(values) <= 1:
        return "".join(values)
    return ", ".join(values[:-1]) + " and " + values[-1]


def plural(count: int, word: str, suffix: str = "s") -> str:
    return f"{count} {word}{'' if count == 1 else suffix}"


def finding_key(items: Iterable[str], limit: int = MAX_KEY) -> str:
    """A result's ``key`` from what it found ("tcp/22", "/.env", "sid:no-secure"): sorted, without
    repeats, comma-separated, whatever order the facts came in. A list longer than ``limit``
    characters is kept as its count and a digest of the whole, so keys stay short and still differ
    when anything in the list does."""
    values = sorted({item.replace(",", "%2C") for item in items})
    joined = ",".join(values)
    if len(joined) <= limit:
        return joined
    return f"{len(values)} items sha256:{hashlib.sha256(joined.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}"


#: The evidence field that names the underlying facts a finding rests on (see ``software_fact``):
#: two checks of different families reporting the same fact deduct once (``scanner.scoring``).
FACTS = "facts"


def cleartext_fact(host: str, port: int) -> str:
    """The fact "the mail (or other) service on ``host``:``port`` takes logins or mail without TLS",
    spelled the same whoever saw it: the ports family's nmap scan and the mail family's own session
    both give ``cleartext:143@host``, so one missing STARTTLS deducts once."""
    return f"cleartext:{port}@{host.lower()}"


def software_fact(host: str, product: str, version: str) -> str:
    """The fact "``host`` announces ``product`` ``version``", spelled the same whoever saw it: the
    http family reading ``Server: Apache/2.4.58`` and the ports family reading nmap's "Apache httpd"
    "2.4.58" on that host both give ``software:apache/2.4.58@host``."""
    vendor = re.split(r"[\s/_-]+", product.strip().lower(), maxsplit=1)[0]
    return f"software:{vendor}/{version.strip().lower()}@{host.lower()}"
