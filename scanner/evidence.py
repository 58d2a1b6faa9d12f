"""Helpers for checks to keep details readable and evidence small, the same way in every family."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

MAX_EVIDENCE_ITEMS = 20
MAX_DETAIL_ITEMS = 5
MAX_TEXT = 300


def shorten(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis (server text can be huge)."""
    flat = " ".join(text.split()) if ("\n" in text or "\r" in text) else text.strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def clip(items: Iterable[Any], limit: int = MAX_EVIDENCE_ITEMS) -> list[Any]:
    """At most ``limit`` items; a last string says how many were left out."""
    values = list(items)
    if len(values) <= limit:
        return values
    return [*values[:limit], f"… and {len(values) - limit} more"]


def listing(items: Sequence[str], limit: int = MAX_DETAIL_ITEMS) -> str:
    """'a, b and c' for a detail sentence; long lists end in '… (N more)'."""
    values = list(items)
    if len(values) > limit:
        return ", ".join(values[:limit]) + f", … ({len(values) - limit} more)"
    if len(values) <= 1:
        return "".join(values)
    return ", ".join(values[:-1]) + " and " + values[-1]


def plural(count: int, word: str, suffix: str = "s") -> str:
    return f"{count} {word}{'' if count == 1 else suffix}"
