"""The dns family: DNSSEC for every name of a platform, CAA and IPv6 for the names of its URLs.

Queries go to the scan's resolvers (``[scan] dns_servers``; ``scanner.dns``) and nowhere else.
"""

from scanner.family import Family

FAMILY = Family(
    name="dns",
    version="1",
    package=__name__,
    endpoint_kinds=("host", "domain"),
    title="DNS",
    typical_seconds=1.0,
    description="DNSSEC per name; CAA and IPv6 (AAAA that answers) per URL host",
)
