"""The mail family: the official e-mail system judged as a mail system.

Per mail domain (``[platforms.mail] domains``): MX, SPF, DMARC, DKIM, MTA-STS and TLS-RPT, from DNS
through the scan's resolvers (``scanner.dns``). Per registered host of a mail platform: the
standard mail services (SMTP 25, submission 465/587, IMAP 143/993, POP3 110/995) are endpoints of
their own; the family judges whether each offers TLS before any password, and the tls family
judges the TLS of each session. Mail servers are contacted one session at a time
(``scanner.politeness``), only when they are registered hosts.
"""

from checks.mail.settings import configure, endpoints
from scanner.family import Family

FAMILY = Family(
    name="mail",
    version="1",
    package=__name__,
    endpoint_kinds=("service", "host", "domain"),
    title="Mail",
    typical_seconds=5.0,
    description="MX, SPF, DMARC, DKIM, MTA-STS and TLS-RPT per mail domain; TLS before login on SMTP, IMAP and POP3",
    configure=configure,
    endpoints=endpoints,
)
