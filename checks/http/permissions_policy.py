"""Permissions-Policy, a Structured Field dictionary read as the Permissions Policy spec says.

Separate from the Structured Field parser it builds on: this module knows what an allowlist is, and
which members browsers ignore. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from checks.http.structured_fields import SfInnerList, SfItem, StructuredFieldError, parse_sf_dictionary
from scanner.messages import Message, Text, say


@dataclass(frozen=True)
class PermissionsPolicy:
    """A parsed Permissions-Policy.

    Attributes:
        features: feature -> allowlist as written ("()" for none, "*" for all, "(self \"https://x\")").
        problem: why the header is invalid (browsers then ignore all of it), or None; the parser's own
            words (where the syntax broke) are data in it.
        ignored: members whose value is not a valid allowlist (browsers ignore those).
    """

    features: tuple[tuple[str, str], ...] = ()
    problem: Message | None = None
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
        hint: Text = ""
        if "'" in value or ";" in value:
            hint = say(
                "http.permissions_policy.feature_policy_syntax",
                " (it looks like the obsolete Feature-Policy syntax, e.g. \"camera 'none'\")",
            )
        problem = say(
            "http.permissions_policy.not_structured",
            "not a valid structured-field dictionary: {error}{hint}",
            error=str(exc),
            hint=hint,
        )
        return PermissionsPolicy(problem=problem)
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
