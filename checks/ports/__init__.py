"""The ports family: what each registered host exposes, judged against its platform's allow-list.

One nmap scan per host per scan (``_collect.py``), parsed into frozen facts (``facts.py``), classified
by a data-driven policy (``policy.py``) and judged by five checks (``exposure.py``, ``services.py``).
What it reads from the targets file (``ports``, ``allowed_ports``, ``[scan] port_scan`` and ``udp``)
is validated in ``settings.py``.
"""

from checks.ports.settings import PLATFORM_KEYS, SCAN_KEYS, configure, configure_scan
from scanner.family import Family

FAMILY = Family(
    name="ports",
    version="1",
    package=__name__,
    endpoint_kinds=("host",),
    title="Ports and services",
    typical_seconds=20.0,  # nmap's service detection waits on every open port
    description="Exposed ports and services, from one nmap run per host",
    configure=configure,
    platform_keys=PLATFORM_KEYS,
    configure_scan=configure_scan,
    scan_keys=SCAN_KEYS,
)
