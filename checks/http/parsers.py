"""Pure parsers for the headers and files the http checks judge, each after its specification.

* Content-Security-Policy: CSP Level 3 §2.2 (a header holds a comma-separated list of policies; a
  policy is ``;``-separated directives; a repeated directive is ignored, the first one counts).
* Strict-Transport-Security: RFC 6797 §6.1 (only the first header counts, §8.1).
* X-Frame-Options: the HTML standard's "check a navigation response's adherence to X-Frame-Options".
* X-Content-Type-Options: Fetch "determine nosniff" (the first value must be ``nosniff``).
* Referrer-Policy: Referrer Policy §4.1 (the last recognised token wins).
* Permissions-Policy: a Structured Field dictionary (RFC 8941), per the Permissions Policy spec.
* Set-Cookie: RFC 6265 §5.2 and RFC 6265bis (prefixes, SameSite).
* security.txt: RFC 9116.

Nothing here does I/O; every function is a plain value in, plain value out.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

# -- Content-Security-Policy -------------------------------------------------------------------------

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


# -- Strict-Transport-Security -------------------------------------------------------------------

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


@dataclass(frozen=True)
class Hsts:
    """A parsed Strict-Transport-Security value.

    Attributes:
        max_age: seconds, or None when missing or invalid.
        include_subdomains: includeSubDomains present.
        preload: preload present.
        problems: why the value is invalid (a browser ignores it then).
    """

    max_age: int | None
    include_subdomains: bool = False
    preload: bool = False
    problems: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.problems and self.max_age is not None


def parse_hsts(value: str) -> Hsts:
    problems: list[str] = []
    seen: set[str] = set()
    max_age: int | None = None
    include_subdomains = preload = False
    for part in value.split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, raw = part.partition("=")
        name = name.strip().lower()
        raw = raw.strip()
        if not _TOKEN.match(name):
            problems.append(f"{part!r} is not a directive")
            continue
        if name in seen:
            problems.append(f"the {name} directive appears more than once")
            continue
        seen.add(name)
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = raw[1:-1]
        if name == "max-age":
            if not sep or not raw.isdigit():
                problems.append(f"max-age={raw!r} is not a number of seconds")
            else:
                max_age = int(raw)
        elif name == "includesubdomains":
            include_subdomains = True
        elif name == "preload":
            preload = True
    if "max-age" not in seen:
        problems.append("the required max-age directive is missing")
    return Hsts(max_age, include_subdomains, preload, tuple(problems))


# -- X-Frame-Options / X-Content-Type-Options / Referrer-Policy --------------------------------------


def split_list(values: tuple[str, ...]) -> list[str]:
    """Fetch's "get, decode, and split": every comma-separated item of every header value, stripped."""
    return [item.strip() for value in values for item in value.split(",")]


@dataclass(frozen=True)
class XFrameOptions:
    """What X-Frame-Options does in a current browser.

    Attributes:
        protects: framing by other sites is refused.
        value: the normalised value ("deny", "sameorigin", or what was sent).
        problem: why it does not protect (invalid or obsolete value), or a note for conflicting values.
    """

    protects: bool
    value: str
    problem: str | None = None


def parse_xfo(values: tuple[str, ...]) -> XFrameOptions | None:
    """None when the header is absent."""
    if not values:
        return None
    items = {item.lower() for item in split_list(values)}
    shown = ", ".join(values)
    if len(items) > 1:
        if items & {"deny", "sameorigin", "allowall"}:
            return XFrameOptions(True, shown, "conflicting values: browsers then refuse all framing")
        return XFrameOptions(False, shown, f"{shown!r} is not a valid value")
    (value,) = items
    if value in ("deny", "sameorigin"):
        return XFrameOptions(True, value)
    if value.startswith("allow-from"):
        return XFrameOptions(False, shown, "ALLOW-FROM is obsolete: current browsers ignore it")
    return XFrameOptions(False, shown, f"{shown!r} is not a valid value (use DENY or SAMEORIGIN)")


def nosniff(values: tuple[str, ...]) -> bool:
    items = split_list(values)
    return bool(items) and items[0].lower() == "nosniff"


REFERRER_POLICIES = (
    "no-referrer",
    "no-referrer-when-downgrade",
    "same-origin",
    "origin",
    "strict-origin",
    "origin-when-cross-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
)
#: Policies that send no path and no query to other sites (Mozilla Observatory's "private" set).
PRIVATE_REFERRER_POLICIES = ("no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin")


@dataclass(frozen=True)
class ReferrerPolicy:
    """Attributes: policy: the effective policy ("" when no token was recognised); unknown: other tokens."""

    policy: str
    unknown: tuple[str, ...] = ()


def parse_referrer_policy(values: tuple[str, ...]) -> ReferrerPolicy:
    policy = ""
    unknown: list[str] = []
    for token in split_list(values):
        if token.lower() in REFERRER_POLICIES:
            policy = token.lower()
        elif token:
            unknown.append(token)
    return ReferrerPolicy(policy, tuple(unknown))


# -- Structured Field dictionaries (RFC 8941), for Permissions-Policy ----------------------------------


class StructuredFieldError(ValueError):
    pass


@dataclass(frozen=True)
class SfItem:
    """A bare item: kind is "token", "string", "integer", "decimal", "boolean" or "bytes"."""

    kind: str
    value: object
    params: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class SfInnerList:
    items: tuple[SfItem, ...]
    params: tuple[tuple[str, object], ...] = ()


_KEY_START = re.compile(r"[a-z*]")
_KEY_CHARS = re.compile(r"[a-z0-9_\-.*]*")
_TOKEN_START = re.compile(r"[A-Za-z*]")
_TOKEN_CHARS = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_NUMBER = re.compile(r"-?\d{1,15}(\.\d{1,3})?")
_BYTES = re.compile(r":[A-Za-z0-9+/=]*:")


class _SfParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, message: str) -> StructuredFieldError:
        return StructuredFieldError(f"{message} at character {self.pos + 1}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip(self, chars: str) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def dictionary(self) -> list[tuple[str, SfItem | SfInnerList]]:
        members: list[tuple[str, SfItem | SfInnerList]] = []
        self.skip(" ")
        while self.pos < len(self.text):
            key = self.key()
            value: SfItem | SfInnerList
            if self.peek() == "=":
                self.pos += 1
                value = self.inner_list() if self.peek() == "(" else self.item()
            else:
                value = SfItem("boolean", True, self.params())
            members = [(k, v) for k, v in members if k != key] + [(key, value)]
            self.skip(" \t")
            if self.pos >= len(self.text):
                return members
            if self.peek() != ",":
                raise self.fail(f"expected ',' but found {self.peek()!r}")
            self.pos += 1
            self.skip(" \t")
            if self.pos >= len(self.text):
                raise self.fail("trailing comma")
        return members

    def key(self) -> str:
        if not _KEY_START.match(self.peek()):
            raise self.fail(f"a key must start with a lower-case letter or '*', not {self.peek()!r}")
        match = _KEY_CHARS.match(self.text, self.pos + 1)
        end = match.end() if match else self.pos + 1
        key = self.text[self.pos : end]
        self.pos = end
        return key

    def inner_list(self) -> SfInnerList:
        self.pos += 1  # "("
        items: list[SfItem] = []
        while self.pos < len(self.text):
            self.skip(" ")
            if self.peek() == ")":
                self.pos += 1
                return SfInnerList(tuple(items), self.params())
            items.append(self.item())
            if self.peek() not in (" ", ")"):
                raise self.fail(f"expected ' ' or ')' in an inner list, found {self.peek()!r}")
        raise self.fail("unterminated inner list")

    def item(self) -> SfItem:
        kind, value = self.bare_item()
        return SfItem(kind, value, self.params())

    def bare_item(self) -> tuple[str, object]:
        char = self.peek()
        if char == '"':
            return "string", self.string()
        if char == "?":
            if self.text[self.pos + 1 : self.pos + 2] not in ("0", "1"):
                raise self.fail("a boolean is ?0 or ?1")
            self.pos += 2
            return "boolean", self.text[self.pos - 1] == "1"
        if char == ":":
            match = _BYTES.match(self.text, self.pos)
            if not match:
                raise self.fail("unterminated byte sequence")
            self.pos = match.end()
            return "bytes", match.group(0)[1:-1]
        if char == "-" or char.isdigit():
            match = _NUMBER.match(self.text, self.pos)
            if not match:
                raise self.fail("not a number")
            self.pos = match.end()
            text = match.group(0)
            return ("decimal", float(text)) if "." in text else ("integer", int(text))
        if _TOKEN_START.match(char):
            match = _TOKEN_CHARS.match(self.text, self.pos + 1)
            end = match.end() if match else self.pos + 1
            token = self.text[self.pos : end]
            self.pos = end
            return "token", token
        raise self.fail(f"unexpected {char!r}" if char else "unexpected end")

    def string(self) -> str:
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\":
                nxt = self.peek()
                if nxt not in ('"', "\\"):
                    raise self.fail("bad escape in a string")
                out.append(nxt)
                self.pos += 1
            elif char == '"':
                return "".join(out)
            elif not (" " <= char <= "~"):
                raise self.fail("a string may only hold printable ASCII")
            else:
                out.append(char)
        raise self.fail("unterminated string")

    def params(self) -> tuple[tuple[str, object], ...]:
        params: list[tuple[str, object]] = []
        while self.peek() == ";":
            self.pos += 1
            self.skip(" ")
            key = self.key()
            value: object = True
            if self.peek() == "=":
                self.pos += 1
                value = self.bare_item()[1]
            params.append((key, value))
        return tuple(params)


def parse_sf_dictionary(text: str) -> list[tuple[str, SfItem | SfInnerList]]:
    """An RFC 8941 dictionary; raises ``StructuredFieldError`` with the position of the problem."""
    return _SfParser(text.strip(" ")).dictionary()


@dataclass(frozen=True)
class PermissionsPolicy:
    """A parsed Permissions-Policy.

    Attributes:
        features: feature -> allowlist as written ("()" for none, "*" for all, "(self \"https://x\")").
        problem: why the header is invalid (browsers then ignore all of it), or None.
        ignored: members whose value is not a valid allowlist (browsers ignore those).
    """

    features: tuple[tuple[str, str], ...] = ()
    problem: str | None = None
    ignored: tuple[str, ...] = ()

    @property
    def restricted(self) -> tuple[str, ...]:
        """Features not open to every origin."""
        return tuple(name for name, allow in self.features if allow != "*")


def _allow_member(item: SfItem) -> str | None:
    if item.kind == "token" and str(item.value) in ("*", "self", "src"):
        return str(item.value)
    if item.kind == "string":
        return f'"{item.value}"'
    return None


def parse_permissions_policy(value: str) -> PermissionsPolicy:
    try:
        members = parse_sf_dictionary(value)
    except StructuredFieldError as exc:
        hint = ""
        if "'" in value or ";" in value:
            hint = " (it looks like the obsolete Feature-Policy syntax, e.g. \"camera 'none'\")"
        return PermissionsPolicy(problem=f"not a valid structured-field dictionary: {exc}{hint}")
    features: list[tuple[str, str]] = []
    ignored: list[str] = []
    for name, member in members:
        if isinstance(member, SfInnerList):
            allowed = [_allow_member(item) for item in member.items]
            if any(a is None for a in allowed):
                ignored.append(name)
                continue
            text = "(" + " ".join(a for a in allowed if a) + ")"
            features.append((name, "*" if "*" in allowed else text))
        else:
            single = _allow_member(member)
            if single is None:
                ignored.append(name)
                continue
            features.append((name, single if single == "*" else f"({single})"))
    return PermissionsPolicy(tuple(features), None, tuple(ignored))


# -- Set-Cookie ---------------------------------------------------------------------------------------

SAMESITE_VALUES = ("strict", "lax", "none")
_SESSION_NAME = re.compile(
    r"(sess|^sid$|_sid$|^id$|auth|token|jwt|login|logged|remember|user_?id|jsessionid|phpsessid|aspxauth|"
    r"asp\.net_sessionid|connect\.sid|_session$|^s$)",
    re.IGNORECASE,
)
_NOT_SESSION = re.compile(r"(csrf|xsrf|consent|lang|locale|theme|_ga|_gid|tz)", re.IGNORECASE)


@dataclass(frozen=True)
class SetCookie:
    """One Set-Cookie header.

    Attributes:
        name: the cookie's name.
        value_length: length of its value (the value itself is never kept: it may be a session id).
        attributes: (lower-case name, value) in order.
        raw: the header value with the cookie's value redacted, for evidence.
    """

    name: str
    value_length: int
    attributes: tuple[tuple[str, str], ...] = ()
    raw: str = ""

    def attribute(self, name: str) -> str | None:
        """The last value of attribute ``name`` (RFC 6265: the last one wins), or None."""
        found = [value for key, value in self.attributes if key == name]
        return found[-1] if found else None

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self.attributes)

    @property
    def secure(self) -> bool:
        return self.has("secure")

    @property
    def http_only(self) -> bool:
        return self.has("httponly")

    @property
    def samesite(self) -> str | None:
        return self.attribute("samesite")

    @property
    def domain(self) -> str | None:
        return self.attribute("domain")

    @property
    def path(self) -> str | None:
        return self.attribute("path")

    @property
    def looks_like_session(self) -> bool:
        return bool(_SESSION_NAME.search(self.name)) and not _NOT_SESSION.search(self.name)

    def deleted(self, now: dt.datetime) -> bool:
        """The header removes the cookie (Max-Age <= 0, or Expires in the past)."""
        max_age = self.attribute("max-age")
        if max_age is not None and re.fullmatch(r"-?\d+", max_age.strip()):
            return int(max_age) <= 0
        expires = self.attribute("expires")
        if expires:
            when = _http_date(expires)
            return when is not None and when <= now
        return False


def parse_set_cookie(header: str) -> SetCookie | None:
    """None for a header a browser would ignore (no '=' in the name-value pair, empty name and value)."""
    pair, *parts = header.split(";")
    if "=" not in pair:
        return None
    name, value = (p.strip() for p in pair.split("=", 1))
    if not name and not value:
        return None
    attributes: list[tuple[str, str]] = []
    for part in parts:
        key, _, val = part.partition("=")
        key = key.strip().lower()
        if key:
            attributes.append((key, val.strip()))
    redacted = f"{name}=[{len(value)} characters]" if value else f"{name}="
    raw = ";".join([redacted, *parts]) if parts else redacted
    return SetCookie(name=name, value_length=len(value), attributes=tuple(attributes), raw=raw)


def _http_date(text: str) -> dt.datetime | None:
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def cookie_problems(cookie: SetCookie, over_https: bool) -> list[tuple[str, str]]:
    """(severity, problem) for one cookie; severity is "high", "medium" or "low"."""
    return [(level, text) for level, _, text in cookie_findings(cookie, over_https)]


def cookie_findings(cookie: SetCookie, over_https: bool) -> list[tuple[str, str, str]]:
    """(severity, flaw, problem) for one cookie: ``flaw`` names the problem for a finding's key
    ("no-secure"), whatever its sentence says."""
    problems: list[tuple[str, str, str]] = []
    session = cookie.looks_like_session or cookie.name.lower().startswith("__host-")
    lowered = cookie.name.lower()
    if lowered.startswith("__host-"):
        wrong = []
        if not cookie.secure:
            wrong.append("Secure")
        if cookie.path != "/":
            wrong.append("Path=/")
        if cookie.domain is not None:
            wrong.append("no Domain")
        if wrong:
            text = f"the __Host- prefix requires {', '.join(wrong)}: browsers reject this cookie"
            problems.append(("high", "bad-host-prefix", text))
    elif lowered.startswith("__secure-") and not cookie.secure:
        problems.append(
            ("high", "bad-secure-prefix", "the __Secure- prefix requires Secure: browsers reject this cookie")
        )
    if not over_https:
        problems.append(("high" if session else "medium", "over-http", "set over plain HTTP"))
    if not cookie.secure and not lowered.startswith(("__host-", "__secure-")):
        problems.append(("high" if session else "medium", "no-secure", "no Secure attribute"))
    if session and not cookie.http_only:
        problems.append(("medium", "no-httponly", "no HttpOnly attribute (scripts can read this session cookie)"))
    samesite = cookie.samesite
    if samesite is None:
        problems.append(("low", "no-samesite", "no SameSite attribute"))
    elif samesite.lower() not in SAMESITE_VALUES:
        problems.append(("low", "bad-samesite", f"SameSite={samesite} is not a valid value"))
    elif samesite.lower() == "none" and not cookie.secure:
        problems.append(
            ("medium", "samesite-none-insecure", "SameSite=None without Secure: browsers reject this cookie")
        )
    return problems


# -- security.txt (RFC 9116) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SecurityTxt:
    """A parsed security.txt.

    Attributes:
        fields: (lower-case field name, value) in order.
        signed: the file is an OpenPGP cleartext-signed message.
        problems: lines that are neither fields, comments nor blank (first few).
    """

    fields: tuple[tuple[str, str], ...] = ()
    signed: bool = False
    problems: tuple[str, ...] = field(default_factory=tuple)

    def values(self, name: str) -> tuple[str, ...]:
        return tuple(value for key, value in self.fields if key == name)

    @property
    def contacts(self) -> tuple[str, ...]:
        return self.values("contact")

    def expires(self) -> dt.datetime | None:
        found = self.values("expires")
        return parse_rfc3339(found[0]) if found else None


def parse_rfc3339(text: str) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        return None
    return when if when.tzinfo else None  # RFC 9116 requires a time zone offset


_FIELD = re.compile(r"^([A-Za-z0-9-]+):\s*(.*)$")


def parse_security_txt(text: str) -> SecurityTxt:
    lines = text.replace("\r\n", "\n").split("\n")
    signed = False
    if lines and lines[0].strip() == "-----BEGIN PGP SIGNED MESSAGE-----":
        signed = True
        body: list[str] = []
        started = False
        for line in lines[1:]:
            if line.strip() == "-----BEGIN PGP SIGNATURE-----":
                break
            if not started:
                started = line.strip() == ""  # armor headers ("Hash: SHA256") end at a blank line
                continue
            body.append(line[2:] if line.startswith("- ") else line)
        lines = body
    fields: list[tuple[str, str]] = []
    problems: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _FIELD.match(stripped)
        if match:
            fields.append((match.group(1).lower(), match.group(2).strip()))
        elif len(problems) < 3:
            problems.append(stripped[:80])
    return SecurityTxt(tuple(fields), signed, tuple(problems))


# -- versions in headers ------------------------------------------------------------------------------

VERSION_HEADERS = ("Server", "X-Powered-By", "X-AspNet-Version", "X-AspNetMvc-Version", "X-Generator")
_PRODUCT_VERSION = re.compile(r"([A-Za-z][\w.+-]*?)[/ ]v?(\d+(?:\.\d+)*[a-z]?(?:-[\w.]+)?)(?=$|[\s;,()/])")


def versions_in(name: str, value: str) -> list[str]:
    """The product/version pairs a version header reveals ("Apache/2.2.15", "PHP/5.4.16"); [] if none."""
    if name.lower() in ("x-aspnet-version", "x-aspnetmvc-version"):
        return [f"{name}: {value.strip()}"] if value.strip() else []
    found = []
    for product, version in _PRODUCT_VERSION.findall(value):
        found.append(f"{product}/{version}")
    return found


@dataclass(frozen=True)
class EndOfLife:
    """A product line that no longer gets security fixes. ``below`` is the first supported version."""

    product: str
    below: tuple[int, ...]
    note: str


#: Product lines without security support (as of 2026-11). Sources: httpd.apache.org (2.2 ended 2017),
#: php.net/supported-versions (8.1 ended 2025-12-31), Microsoft lifecycle (IIS 8.5 with Windows
#: Server 2012 R2, 2023-10-10), openssl-library.org (1.1.1 ended 2023-09-11), tomcat.apache.org (8.5
#: ended 2024-03-31).
END_OF_LIFE: tuple[EndOfLife, ...] = (
    EndOfLife("apache", (2, 4), "Apache httpd before 2.4 (end of life since 2017)"),
    EndOfLife("php", (8, 2), "PHP before 8.2 (no security fixes since 2025-12-31)"),
    EndOfLife("microsoft-iis", (10, 0), "IIS before 10.0 (its Windows Server versions are out of support)"),
    EndOfLife("openssl", (3, 0), "OpenSSL before 3.0 (1.1.1 ended 2023-09-11)"),
    EndOfLife("tomcat", (9, 0), "Apache Tomcat before 9.0 (8.5 ended 2024-03-31)"),
)


def end_of_life(product_version: str) -> str | None:
    """The end-of-life note for "Product/1.2.3", or None."""
    product, _, version = product_version.rpartition("/")
    numbers = tuple(int(n) for n in re.findall(r"\d+", version)[:3])
    for entry in END_OF_LIFE:
        if product.lower() == entry.product and numbers and numbers < entry.below:
            return entry.note
    return None
