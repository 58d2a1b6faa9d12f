"""What the mail family reads from the targets file: the ``[platforms.mail]`` table.

    [platforms.mail]
    domains = ["nghean.example"]      # mail domains: MX, SPF, DMARC, DKIM, MTA-STS and TLS-RPT per domain
    dkim_selectors = ["default"]      # optional; without them DKIM is judged from _domainkey (RFC 8020)

A platform with this table is a mail platform: the family declares, on each of its registered
hosts, the standard mail services (``SERVICES``) as endpoints, and its domains as DNS names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.config import unknown_key
from scanner.family import Declared, PlatformSection, Report
from scanner.registry import host_problem
from scanner.urls import normalize_host

FAMILY_NAME = "mail"
KEYS = {"domains", "dkim_selectors"}
#: The standard mail ports of every registered host of a mail platform, as service endpoints:
#: (scheme, port). "smtp" on 587 is submission with STARTTLS; "smtps" is implicit TLS (RFC 8314).
SERVICES = (
    ("smtp", 25),
    ("smtps", 465),
    ("smtp", 587),
    ("imap", 143),
    ("imaps", 993),
    ("pop3", 110),
    ("pop3s", 995),
)
#: A DKIM selector is a dot-separated sequence of DNS labels (RFC 6376, section 3.1).
_SELECTOR_RE = re.compile(
    r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$"
)


@dataclass(frozen=True)
class MailSettings:
    """A mail platform's domains and DKIM selectors (normalised)."""

    domains: tuple[str, ...] = ()
    dkim_selectors: tuple[str, ...] = ()


def configure(section: PlatformSection, report: Report) -> MailSettings | None:
    """The platform's mail settings; None when it has no ``[platforms.mail]`` table."""
    table = section.table
    if table is None:
        return None
    for key in sorted(set(table) - KEYS):
        report(key, unknown_key(KEYS))
    domains: list[str] = []
    raw = table.get("domains")
    if not isinstance(raw, list) or not raw or not all(isinstance(d, str) for d in raw):
        report("domains", 'required: a list of the platform\'s mail domains, e.g. ["nghean.example"]')
    else:
        for n, domain in enumerate(raw):
            problem = host_problem(domain)
            if problem is None and normalize_host(domain).replace(".", "").isdigit():
                problem = f"{domain!r} is an address, not a mail domain"
            if problem:
                report(f"domains[{n}]", problem)
            elif normalize_host(domain) not in domains:
                domains.append(normalize_host(domain))
    selectors: list[str] = []
    raw = table.get("dkim_selectors", [])
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        report("dkim_selectors", 'must be a list of DKIM selectors, e.g. ["default"]')
    else:
        for n, selector in enumerate(raw):
            if not _SELECTOR_RE.match(selector):
                report(f"dkim_selectors[{n}]", f'{selector!r} is not a DKIM selector (DNS labels, e.g. "default")')
            elif selector.lower() not in selectors:
                selectors.append(selector.lower())
    return MailSettings(domains=tuple(domains), dkim_selectors=tuple(selectors))


def endpoints(settings: MailSettings | None, hosts: tuple[str, ...]) -> Declared:
    """A mail platform's mail services on each registered host, and its mail domains."""
    if settings is None:
        return Declared()
    services = tuple(f"{scheme}://{_in_url(host)}:{port}" for host in hosts for scheme, port in SERVICES)
    return Declared(services=services, domains=settings.domains)


def _in_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host
