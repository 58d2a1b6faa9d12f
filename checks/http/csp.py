"""Content-Security-Policy, read as CSP Level 3 §2.2 says browsers read it.

A header holds a comma-separated list of policies; a policy is ``;``-separated directives; a repeated
directive is ignored, the first one counts. Each source is read by the §2.3.1 source-expression grammar:
a token that matches no production (two hashes run together, a nonce with a character outside base64)
is dropped, so it neither restricts nor relaxes anything. The CSP check and the mixed-content check (which honours
``upgrade-insecure-requests``) both judge policies through this one reading, so they cannot disagree
on what a policy says. No I/O: plain values in, plain values out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.evidence import shorten
from scanner.messages import Message, Text, say

_DIRECTIVE_NAME = re.compile(r"^[a-z0-9-]+$")
NONCE_OR_HASH = ("'nonce-", "'sha256-", "'sha384-", "'sha512-")
#: Scheme-sources that admit every host of the scheme (or content an attacker writes inline).
BROAD_SCHEMES = ("http", "https", "data", "blob", "filesystem")

# CSP Level 3 §2.3.1 source-expression grammar. ABNF string literals are case-insensitive; the
# base64 value is not, but its alphabet holds both cases, so one case-insensitive match serves.
_SCHEME = r"[a-z][a-z0-9+.-]*"
_HOST = r"\*|(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.?"
_PATH = r"/[a-z0-9._~%!$&'()*+=:@/-]*"
_BASE64 = r"[a-z0-9+/_-]+={0,2}"
_SCHEME_SOURCE = re.compile(rf"({_SCHEME}):", re.IGNORECASE)
_HOST_SOURCE = re.compile(rf"(?:({_SCHEME})://)?({_HOST})(?::([0-9]+|\*))?({_PATH})?", re.IGNORECASE)
_NONCE_SOURCE = re.compile(rf"'nonce-{_BASE64}'", re.IGNORECASE)
_HASH_SOURCE = re.compile(rf"'(?:sha256|sha384|sha512)-{_BASE64}'", re.IGNORECASE)
#: keyword-source (CSP 3, with the later 'report-sha*' and 'trusted-types-eval') and 'none'.
KEYWORDS = frozenset(
    {
        "'none'",
        "'self'",
        "'unsafe-inline'",
        "'unsafe-eval'",
        "'strict-dynamic'",
        "'unsafe-hashes'",
        "'report-sample'",
        "'unsafe-allow-redirects'",
        "'wasm-unsafe-eval'",
        "'inline-speculation-rules'",
        "'trusted-types-eval'",
        "'report-sha256'",
        "'report-sha384'",
        "'report-sha512'",
    }
)
#: Second-level labels that registries sell names under (com.vn, gov.vn, co.uk, com.au, ...): under a
#: two-letter country code they form a public suffix, so ``*.com.vn`` is as open as ``*.vn``.
_REGISTRY_LABELS = frozenset(
    [
        "ac",
        "biz",
        "co",
        "com",
        "edu",
        "gen",
        "go",
        "gob",
        "gov",
        "health",
        "info",
        "int",
        "ltd",
        "mil",
        "name",
        "ne",
        "net",
        "nic",
        "nom",
        "or",
        "org",
        "plc",
        "pro",
        "sch",
    ]
)


@dataclass(frozen=True)
class Source:
    """One source expression as CSP 3 reads it.

    Attributes:
        text: the token as sent.
        kind: "keyword", "nonce", "hash", "scheme" or "host".
        scheme: the scheme of a scheme- or host-source, lowercased ("" when a host-source has none).
        host: the host of a host-source, lowercased, without a trailing dot.
    """

    text: str
    kind: str
    scheme: str = ""
    host: str = ""

    @property
    def broad(self) -> bool:
        """Whether it admits content from hosts anyone can control (any host, a whole TLD or public suffix)."""
        if self.kind == "scheme":
            return self.scheme in BROAD_SCHEMES
        return self.kind == "host" and (self.host == "*" or _public_suffix_wildcard(self.host))


def _public_suffix_wildcard(host: str) -> bool:
    """``*.vn``, ``*.com``, ``*.gov.vn``: a wildcard over a suffix where anyone may register a name."""
    if not host.startswith("*."):
        return False
    labels = host[2:].split(".")
    if len(labels) == 1:
        return True
    return len(labels) == 2 and len(labels[1]) == 2 and labels[1].isalpha() and labels[0] in _REGISTRY_LABELS


def parse_source(token: str) -> Source | None:
    """The source expression ``token`` is, or None when it matches no production (browsers ignore it)."""
    lowered = token.lower()
    if lowered in KEYWORDS:
        return Source(token, "keyword")
    if _NONCE_SOURCE.fullmatch(token):
        return Source(token, "nonce")
    if _HASH_SOURCE.fullmatch(token):
        return Source(token, "hash")
    scheme = _SCHEME_SOURCE.fullmatch(token)
    if scheme:
        return Source(token, "scheme", scheme=scheme.group(1).lower())
    host = _HOST_SOURCE.fullmatch(token)
    if host and not (host.group(4) or "").startswith("//"):
        return Source(token, "host", scheme=(host.group(1) or "").lower(), host=host.group(2).lower().rstrip("."))
    return None


@dataclass(frozen=True)
class SourceList:
    """A directive's source list: the expressions browsers use, and the tokens they ignore as malformed."""

    sources: tuple[Source, ...]
    ignored: tuple[str, ...] = ()

    def keyword(self, name: str) -> bool:
        return any(s.kind == "keyword" and s.text.lower() == name for s in self.sources)

    @property
    def nonce_or_hash(self) -> bool:
        return any(s.kind in ("nonce", "hash") for s in self.sources)

    @property
    def broad(self) -> tuple[str, ...]:
        return tuple(s.text for s in self.sources if s.broad)


def parse_source_list(tokens: tuple[str, ...]) -> SourceList:
    parsed = [(token, parse_source(token)) for token in tokens]
    return SourceList(
        sources=tuple(source for _, source in parsed if source is not None),
        ignored=tuple(token for token, source in parsed if source is None),
    )


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
        failures: what makes the restriction ineffective ("'unsafe-inline' without a nonce or hash", …), as
            messages for a report.
        warnings: weaker problems ("'unsafe-eval' (a nonce or hash does not disable it)"), as messages.
        nonce_or_hash: whether the policy uses valid nonces or hashes.
        strict_dynamic: whether it uses 'strict-dynamic' (then browsers ignore its host and scheme sources,
            'self' and 'unsafe-inline').
        ignored: tokens of the source list that are malformed, which browsers drop.
    """

    directive: str | None
    sources: tuple[str, ...] = ()
    failures: tuple[Message, ...] = ()
    warnings: tuple[Message, ...] = ()
    nonce_or_hash: bool = False
    strict_dynamic: bool = False
    ignored: tuple[str, ...] = ()

    @property
    def safe(self) -> bool:
        return self.directive is not None and not self.failures

    @property
    def runs_nothing(self) -> bool:
        """'strict-dynamic' without a valid nonce or hash: every source that could admit a script of the page is
        ignored, so none runs (and no script can load another)."""
        return self.strict_dynamic and not self.nonce_or_hash


def _malformed_note(ignored: tuple[str, ...]) -> Text:
    """Names malformed nonce/hash tokens: they are why a policy that looks hashed is not."""
    attempts = [t for t in ignored if t.lower().startswith(NONCE_OR_HASH)]
    if not attempts:
        return ""
    return say(
        "http.csp.malformed",
        " (browsers ignore the malformed {tokens})",
        tokens=" ".join(shorten(t, 80) for t in attempts[:3]),
    )


def judge_scripts(policy: CspPolicy) -> ScriptVerdict:
    """Whether ``policy`` keeps injected scripts from running (script-src, falling back to default-src)."""
    found = policy.effective("script-src", "default-src")
    if found is None:
        return ScriptVerdict(directive=None)
    directive, sources = found
    parsed = parse_source_list(sources)
    nonce_or_hash = parsed.nonce_or_hash
    # CSP 3 §8.2: with 'strict-dynamic', browsers ignore host and scheme sources, 'self' and 'unsafe-inline' for
    # scripts, nonce or not (§6.7.2.5 admits a parser-inserted script only by nonce or hash, §6.7.3.3 allows no
    # inline script): without a nonce or hash it lets no script of the page run, which is strict, not weak.
    strict_dynamic = parsed.keyword("'strict-dynamic'")
    malformed = _malformed_note(parsed.ignored)
    failures: list[Message] = []
    warnings: list[Message] = []
    # CSP 3 §6.7.3.3: only a nonce or hash that parses (or 'strict-dynamic') disables 'unsafe-inline'.
    if parsed.keyword("'unsafe-inline'") and not (nonce_or_hash or strict_dynamic):
        failures.append(
            say("http.csp.unsafe_inline", "'unsafe-inline' without a nonce or hash{malformed}", malformed=malformed)
        )
    if parsed.keyword("'unsafe-eval'"):
        if nonce_or_hash:
            warnings.append(say("http.csp.unsafe_eval_kept", "'unsafe-eval' (a nonce or hash does not disable it)"))
        elif not strict_dynamic:  # under 'strict-dynamic' alone no script runs that could call eval
            failures.append(
                say("http.csp.unsafe_eval", "'unsafe-eval' without a nonce or hash{malformed}", malformed=malformed)
            )
    if not strict_dynamic:
        if parsed.broad:
            failures.append(say("http.csp.broad", "overly broad sources {sources}", sources=" ".join(parsed.broad)))
        insecure = [s.text for s in parsed.sources if s.kind == "host" and s.scheme == "http"]
        if insecure:
            failures.append(
                say("http.csp.plain_sources", "sources over plain http:// {sources}", sources=" ".join(insecure[:3]))
            )
    return ScriptVerdict(
        directive=directive,
        sources=tuple(sources),
        failures=tuple(failures),
        warnings=tuple(warnings),
        nonce_or_hash=nonce_or_hash,
        strict_dynamic=strict_dynamic,
        ignored=parsed.ignored,
    )


def object_src_restricted(policy: CspPolicy) -> bool:
    """Whether object-src (or its fallback default-src) is set and not broad."""
    found = policy.effective("object-src", "default-src")
    return found is not None and not parse_source_list(found[1]).broad


def frame_ancestors_restrict(sources: tuple[str, ...]) -> bool:
    """Whether a frame-ancestors source list keeps arbitrary sites from framing the page.

    Malformed tokens are dropped as browsers drop them; an empty list matches nothing, like 'none'.
    """
    return not parse_source_list(sources).broad
