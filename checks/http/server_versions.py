"""Product versions that response headers reveal, and which product lines are past their end of life.

Kept together because the end-of-life table is keyed by the product names ``versions_in`` extracts;
the table needs a dated review as vendors end support. No I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.messages import Message, say

VERSION_HEADERS = ("Server", "X-Powered-By", "X-AspNet-Version", "X-AspNetMvc-Version", "X-Generator")
_PRODUCT_VERSION = re.compile(r"([A-Za-z][\w.+-]*?)[/ ]v?(\d+(?:\.\d+)*[a-z]?(?:-[\w.]+)?)(?=$|[\s;,()/])")


def versions_in(name: str, value: str) -> list[str]:
    """The product/version pairs a version header reveals ("Apache/2.2.15", "PHP/5.4.16"); [] if none."""
    if name.lower() in ("x-aspnet-version", "x-aspnetmvc-version"):
        return [f"{name}: {value.strip()}"] if value.strip() else []
    found = []
    for product, version in _PRODUCT_VERSION.findall(value):
        found.append(f"{product}/{version}")
    return found


@dataclass(frozen=True)
class EndOfLife:
    """A product line that no longer gets security fixes. ``below`` is the first supported version."""

    product: str
    below: tuple[int, ...]
    note: Message


#: Product lines without security support (as of 2026-11). Sources: httpd.apache.org (2.2 ended 2017),
#: php.net/supported-versions (8.1 ended 2025-12-31), Microsoft lifecycle (IIS 8.5 with Windows
#: Server 2012 R2, 2023-10-10), openssl-library.org (1.1.1 ended 2023-09-11), tomcat.apache.org (8.5
#: ended 2024-03-31).
END_OF_LIFE: tuple[EndOfLife, ...] = (
    EndOfLife("apache", (2, 4), say("http.eol.apache", "Apache httpd before 2.4 (end of life since 2017)")),
    EndOfLife("php", (8, 2), say("http.eol.php", "PHP before 8.2 (no security fixes since 2025-12-31)")),
    EndOfLife(
        "microsoft-iis",
        (10, 0),
        say("http.eol.iis", "IIS before 10.0 (its Windows Server versions are out of support)"),
    ),
    EndOfLife("openssl", (3, 0), say("http.eol.openssl", "OpenSSL before 3.0 (1.1.1 ended 2023-09-11)")),
    EndOfLife("tomcat", (9, 0), say("http.eol.tomcat", "Apache Tomcat before 9.0 (8.5 ended 2024-03-31)")),
)


def end_of_life(product_version: str) -> Message | None:
    """The end-of-life note for "Product/1.2.3", or None."""
    product, _, version = product_version.rpartition("/")
    numbers = tuple(int(n) for n in re.findall(r"\d+", version)[:3])
    for entry in END_OF_LIFE:
        if product.lower() == entry.product and numbers and numbers < entry.below:
            return entry.note
    return None
