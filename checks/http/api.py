"""The http family's public API: everything another family may use of it, and nothing else.

Other families (today the auth family) import from this module only, never from the http family's other
modules, and never from its private ones (``_collect``): the contract test in ``tests/test_contract.py``
enforces it. What the http family changes behind this module (its fact-cache key, how it collects) then
cannot silently make another family start a second collection of the same URL.

- ``http_facts(ctx, platform, url)``: the facts the http family collected about a registered URL, through
  the scan's fact cache under the http family's own key, so the page is requested once per scan whichever
  family asks first;
- ``unreachable``: the http family's verdict for a URL that got no answer, for families that share its
  connectivity policy;
- the scoped client (``HttpClient`` and its size caps) for a family's own collector, which must contact
  only the platform's hosts as the http family does;
- the fact model (``HttpFacts``, ``Fetch``, ``HttpResponse``, ``ErrorKind``) and the pure helpers over it
  (URLs, HTML forms, ``Set-Cookie``, soft-404 detection). A failed request's ``FetchError.reason`` is a
  message (``scanner.messages``): nest it in a sentence so that it reads in the report's language;
  ``FetchError.message`` is its English text, for evidence.
"""

from __future__ import annotations

from checks.http._collect import http_facts, plain_twin, same_resource
from checks.http.base import unreachable
from checks.http.client import PAGE_CAP, PROBE_CAP, HttpClient, origin_of
from checks.http.detect import same_as_baseline
from checks.http.facts import ErrorKind, Fetch, HttpFacts, HttpResponse
from checks.http.html import Form, FormInput, PageInfo, page_info
from checks.http.set_cookie import SAMESITE_VALUES, SetCookie, parse_set_cookie

__all__ = [
    "PAGE_CAP",
    "PROBE_CAP",
    "SAMESITE_VALUES",
    "ErrorKind",
    "Fetch",
    "Form",
    "FormInput",
    "HttpClient",
    "HttpFacts",
    "HttpResponse",
    "PageInfo",
    "SetCookie",
    "http_facts",
    "origin_of",
    "page_info",
    "parse_set_cookie",
    "plain_twin",
    "same_as_baseline",
    "same_resource",
    "unreachable",
]
