"""The http family: one bounded set of HTTP requests per URL, judged by 16 pure checks.

``client.HttpClient`` is the scoped HTTP client (platform hosts only, ``resolve``, trust, caps,
deadlines); ``_collect.collect_http`` uses it in a worker process to gather ``facts.HttpFacts``;
the header and file parsers (``csp``, ``hsts``, ``list_headers``, ``structured_fields``,
``permissions_policy``, ``set_cookie``, ``security_txt``, ``server_versions``), ``html`` and
``detect`` are pure functions over those facts; the check classes in
``transport``, ``headers``, ``cookies`` and ``exposure`` judge them through ``base.HttpCheck``,
which owns the policy for URLs that could not be fetched. Everything they say is a message
(``scanner.messages``), translated in ``translations/vi.toml``; ``wording`` joins lists and counts
inside messages. Other families use the http family only
through ``api`` (the collected facts of a URL, the client, the fact model and its pure helpers).
"""

from scanner.family import Family

FAMILY = Family(
    name="http",
    version="1",
    package=__name__,
    endpoint_kinds=("url",),
    title="HTTP",
    typical_seconds=2.0,  # about twenty bounded requests
    description="HTTP security headers, cookies, redirects and exposed files, from one bounded set of requests per URL",
)
