"""Headers whose value is a comma-separated list: X-Frame-Options, X-Content-Type-Options, Referrer-Policy.

They share Fetch's "get, decode, and split" (``split_list``), and each is then read as its own
specification says: the HTML standard's X-Frame-Options processing, Fetch "determine nosniff" (the
first value must be ``nosniff``), Referrer Policy §4.1 (the last recognised token wins). No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from scanner.messages import Message, say


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
    problem: Message | None = None


def parse_xfo(values: tuple[str, ...]) -> XFrameOptions | None:
    """None when the header is absent."""
    if not values:
        return None
    items = {item.lower() for item in split_list(values)}
    shown = ", ".join(values)
    if len(items) > 1:
        if items & {"deny", "sameorigin", "allowall"}:
            conflict = say("http.frame_ancestors.xfo_conflict", "conflicting values: browsers then refuse all framing")
            return XFrameOptions(True, shown, conflict)
        return XFrameOptions(
            False, shown, say("http.frame_ancestors.xfo_invalid", "{value} is not a valid value", value=repr(shown))
        )
    (value,) = items
    if value in ("deny", "sameorigin"):
        return XFrameOptions(True, value)
    if value.startswith("allow-from"):
        obsolete = say("http.frame_ancestors.xfo_allow_from", "ALLOW-FROM is obsolete: current browsers ignore it")
        return XFrameOptions(False, shown, obsolete)
    return XFrameOptions(
        False,
        shown,
        say(
            "http.frame_ancestors.xfo_unknown",
            "{value} is not a valid value (use DENY or SAMEORIGIN)",
            value=repr(shown),
        ),
    )


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
