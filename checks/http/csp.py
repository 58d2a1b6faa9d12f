"""Content-Security-Policy, read as CSP Level 3 §2.2 says browsers read it.

A header holds a comma-separated list of policies; a policy is ``;``-separated directives; a repeated
directive is ignored, the first one counts. The CSP check and the mixed-content check (which honours
``upgrade-insecure-requests``) both judge policies through this one reading, so they cannot disagree
on what a policy says. No I/O: plain values in, plain values out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DIRECTIVE_NAME = re.compile(r"^[a-z0-9-]+$")
NONCE_OR_HASH = ("'nonce-", "'sha256-", "'sha384-", "'sha512-")
#: Sources that allow scripts from (almost) anywhere.
BROAD_SOURCES = ("*", "http:", "https:", "data:", "blob:", "filesystem:")


@dataclass(frozen=True)
class CspPolicy:
    """One policy.

    Attributes:
        source: "header", "report-only" (Content-Security-Policy-Report-Only) or "meta" (<meta http-equiv>).
        raw: the policy text as received.
        directives: (name, source list) in order, each name once (the first occurrence).
        duplicates: names that appeared again and were ignored.
    """

    source: str
    raw: str
    directives: tuple[tuple[str, tuple[str, ...]], ...]
    duplicates: tuple[str, ...] = ()

    @property
    def enforced(self) -> bool:
        return self.source != "report-only"

    def get(self, name: str) -> tuple[str, ...] | None:
        for key, values in self.directives:
            if key == name:
                return values
        return None

    def has(self, name: str) -> bool:
        return self.get(name) is not None

    def effective(self, *names: str) -> tuple[str, tuple[str, ...]] | None:
        """The first of ``names`` present (a fetch directive and its fallbacks), with its sources."""
        for name in names:
            values = self.get(name)
            if values is not None:
                return name, values
        return None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.directives)


def parse_csp(value: str, source: str = "header") -> list[CspPolicy]:
    """Every policy in one header value (a comma-separated policy list)."""
    policies = []
    for raw in value.split(","):
        if raw.strip():
            policies.append(parse_csp_policy(raw.strip(), source))
    return policies


def parse_csp_policy(raw: str, source: str = "header") -> CspPolicy:
    directives: list[tuple[str, tuple[str, ...]]] = []
    seen: set[str] = set()
    duplicates: list[str] = []
    for token in raw.split(";"):
        parts = token.strip().split()
        if not parts:
            continue
        name = parts[0].lower()
        if not _DIRECTIVE_NAME.match(name):
            continue
        if name in seen:
            duplicates.append(name)
            continue
        seen.add(name)
        directives.append((name, tuple(parts[1:])))
    return CspPolicy(source=source, raw=raw, directives=tuple(directives), duplicates=tuple(duplicates))


@dataclass(frozen=True)
class ScriptVerdict:
    """How one policy restricts scripts.

    Attributes:
        directive: the directive that governs scripts ("script-src" or its fallback "default-src"),
            or None when the policy does not restrict scripts at all.
        sources: that directive's source list.
        failures: what makes the restriction ineffective ("'unsafe-inline' without a nonce or hash", …).
        warnings: weaker problems ("'unsafe-eval' (a nonce or hash does not disable it)").
        nonce_or_hash: whether the policy uses nonces or hashes.
        strict_dynamic: whether it uses 'strict-dynamic'.
    """

    directive: str | None
    sources: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    nonce_or_hash: bool = False
    strict_dynamic: bool = False

    @property
    def safe(self) -> bool:
        return self.directive is not None and not self.failures


def judge_scripts(policy: CspPolicy) -> ScriptVerdict:
    """Whether ``policy`` keeps injected scripts from running (script-src, falling back to default-src)."""
    found = policy.effective("script-src", "default-src")
    if found is None:
        return ScriptVerdict(directive=None)
    directive, sources = found
    lowered = [s.lower() for s in sources]
    nonce_or_hash = any(s.startswith(NONCE_OR_HASH) for s in lowered)
    strict_dynamic = "'strict-dynamic'" in lowered and nonce_or_hash
    failures: list[str] = []
    warnings: list[str] = []
    if "'unsafe-inline'" in lowered and not nonce_or_hash:
        failures.append("'unsafe-inline' without a nonce or hash")
    if "'unsafe-eval'" in lowered:
        if nonce_or_hash:
            warnings.append("'unsafe-eval' (a nonce or hash does not disable it)")
        else:
            failures.append("'unsafe-eval' without a nonce or hash")
    if not strict_dynamic:  # with 'strict-dynamic' and a nonce, browsers ignore host and scheme sources
        broad = [s for s in sources if s.lower() in BROAD_SOURCES]
        if broad:
            failures.append("overly broad sources " + " ".join(broad))
        insecure = [s for s in sources if s.lower().startswith("http://")]
        if insecure:
            failures.append("sources over plain http:// " + " ".join(insecure[:3]))
    return ScriptVerdict(
        directive=directive,
        sources=tuple(sources),
        failures=tuple(failures),
        warnings=tuple(warnings),
        nonce_or_hash=nonce_or_hash,
        strict_dynamic=strict_dynamic,
    )


def object_src_restricted(policy: CspPolicy) -> bool:
    """Whether object-src (or its fallback default-src) is set and not broad."""
    found = policy.effective("object-src", "default-src")
    return found is not None and not any(s.lower() in BROAD_SOURCES for s in found[1])


def frame_ancestors_restrict(sources: tuple[str, ...]) -> bool:
    """Whether a frame-ancestors source list keeps arbitrary sites from framing the page."""
    lowered = [s.lower() for s in sources]
    if not lowered:
        return True  # an empty list matches nothing: like 'none'
    return not any(s in ("*", "http:", "https:", "data:", "blob:") or s.startswith(("*", "http://*")) for s in lowered)
