"""The template environment, and what every HTML page embeds inline: the stylesheet, the one script,
and the Content-Security-Policy that allows exactly that script by its hash.

Together because they must agree: the policy hashes the script as embedded, and the stylesheet carries
the palette the templates' class names refer to. Templates autoescape, set explicitly
(``select_autoescape`` does not treat ``*.html.j2`` as HTML), and undefined names are errors.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache

import jinja2

from reports.palette import GRADE_COLOURS, SEVERITY_COLOURS, grade_slug


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def _asset(name: str) -> str:
    env = environment()
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, name)
    return source


@cache
def script() -> str:
    """The one inline script of every page, exactly as embedded (its hash is in the CSP)."""
    text = _asset("report.js").strip()
    if "</script" in text.lower():
        raise ValueError("report.js must not contain '</script'")
    return text


def script_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


@cache
def content_security_policy() -> str:
    """Nothing loads, nothing is sent: no default source, inline styles, data: images, only our script."""
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src '{script_hash(script())}'; base-uri 'none'; form-action 'none'"
    )


@cache
def stylesheet() -> str:
    palette = [f"--grade-{grade_slug(g)}: {c};" for g, c in GRADE_COLOURS.items()]
    palette += [f"--sev-{s.value}: {c};" for s, c in SEVERITY_COLOURS.items()]
    return ":root { " + " ".join(palette) + " }\n" + _asset("report.css")
