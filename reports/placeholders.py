"""Remediation texts written for any platform, read by one: the placeholders a check's remediation
(and its translations) may contain, filled in with the platform's own names.

A check cannot know the host it will be read for, and an owner copying ``/etc/ssl/dvc/`` from
another platform's example is how configurations go wrong. So remediation snippets say ``{host}``,
``{host_regex}`` and ``{platform}``, and every renderer that shows a remediation to a platform's
people fills them in here (docs/writing-a-check.md lists them). Only these exact names are
replaced: ``{HTTPS}``, ``%{HTTP_HOST}`` and nginx's ``server { … }`` stay as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from scanner.urls import UnusableUrl, normalize_host, parse

#: placeholder -> what it stands for (the documentation of the mechanism, and its test).
PLACEHOLDERS: Mapping[str, str] = {
    "host": "the host name of the finding's endpoint (the platform's first host where there is none)",
    "host_regex": "the same host as a regular expression matching it exactly (dots escaped)",
    "platform": "the platform's id",
}
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


def fill(text: str, platform: str, host: str | None) -> str:
    """``text`` with its placeholders filled in for ``platform`` at ``host`` (None: no host is known,
    and ``{host}`` stays written as a placeholder, which still reads as one)."""
    values = {"platform": platform}
    if host:
        values["host"] = host
        values["host_regex"] = re.escape(host)
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def endpoint_host(endpoint: str) -> str | None:
    """The host of a result's endpoint: a URL's host, or the endpoint itself when it is a host."""
    if "://" not in endpoint:
        return normalize_host(endpoint) or None
    try:
        return parse(endpoint).host
    except UnusableUrl:
        return None
