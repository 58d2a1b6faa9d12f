"""Set-Cookie, parsed after RFC 6265 §5.2 and RFC 6265bis (prefixes, SameSite), and judged per cookie.

One reading of cookies for the http family's cookie check and, through ``checks.http.api``, for the
auth family's login collector. A cookie's value is never kept: it may be a session id. No I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from scanner.messages import Message, Text, say
from scanner.wording import commas

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


def cookie_problems(cookie: SetCookie, over_https: bool) -> list[tuple[str, Message]]:
    """(severity, problem) for one cookie; severity is "high", "medium" or "low"."""
    return [(level, text) for level, _, text in cookie_findings(cookie, over_https)]


def cookie_findings(cookie: SetCookie, over_https: bool) -> list[tuple[str, str, Message]]:
    """(severity, flaw, problem) for one cookie: ``flaw`` names the problem for a finding's key
    ("no-secure"), whatever its sentence says."""
    problems: list[tuple[str, str, Message]] = []
    session = cookie.looks_like_session or cookie.name.lower().startswith("__host-")
    lowered = cookie.name.lower()
    if lowered.startswith("__host-"):
        wrong: list[Text] = []
        if not cookie.secure:
            wrong.append("Secure")
        if cookie.path != "/":
            wrong.append("Path=/")
        if cookie.domain is not None:
            wrong.append(say("http.cookie_flags.no_domain", "no Domain"))
        if wrong:
            text = say(
                "http.cookie_flags.host_prefix",
                "the __Host- prefix requires {requirements}: browsers reject this cookie",
                requirements=commas(wrong),
            )
            problems.append(("high", "bad-host-prefix", text))
    elif lowered.startswith("__secure-") and not cookie.secure:
        text = say(
            "http.cookie_flags.secure_prefix", "the __Secure- prefix requires Secure: browsers reject this cookie"
        )
        problems.append(("high", "bad-secure-prefix", text))
    if not over_https:
        text = say("http.cookie_flags.over_http", "set over plain HTTP")
        problems.append(("high" if session else "medium", "over-http", text))
    if not cookie.secure and not lowered.startswith(("__host-", "__secure-")):
        text = say("http.cookie_flags.no_secure", "no Secure attribute")
        problems.append(("high" if session else "medium", "no-secure", text))
    if session and not cookie.http_only:
        text = say("http.cookie_flags.no_httponly", "no HttpOnly attribute (scripts can read this session cookie)")
        problems.append(("medium", "no-httponly", text))
    samesite = cookie.samesite
    if samesite is None:
        problems.append(("low", "no-samesite", say("http.cookie_flags.no_samesite", "no SameSite attribute")))
    elif samesite.lower() not in SAMESITE_VALUES:
        text = say("http.cookie_flags.bad_samesite", "SameSite={value} is not a valid value", value=samesite)
        problems.append(("low", "bad-samesite", text))
    elif samesite.lower() == "none" and not cookie.secure:
        text = say(
            "http.cookie_flags.samesite_none_insecure", "SameSite=None without Secure: browsers reject this cookie"
        )
        problems.append(("medium", "samesite-none-insecure", text))
    return problems
