"""The ports family: what each registered host exposes, judged against its platform's allow-list.

One nmap scan per host per scan (``_collect.py``), parsed into frozen facts (``facts.py``), classified
by a data-driven policy (``policy.py``) and judged by five checks (``exposure.py``, ``services.py``).
"""

from scanner.family import Family

FAMILY = Family(
    name="ports",
    version="1",
    package=__name__,
    endpoint_kinds=("host",),
    description="Exposed ports and services, from one nmap run per host",
)
