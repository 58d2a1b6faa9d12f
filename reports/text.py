"""Plain-text summaries for the terminal."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from scanner.model import Result, Status

_ORDER = (Status.PASS, Status.FAIL, Status.WARN, Status.ERROR, Status.SKIP)


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def summary(platforms: Sequence[dict[str, object]], results: Sequence[Result], worst: int = 3) -> str:
    """One block per platform: counts by status and its worst findings."""
    by_platform: dict[str, list[Result]] = {}
    for result in results:
        by_platform.setdefault(result.platform, []).append(result)
    lines: list[str] = []
    for platform in platforms:
        pid = str(platform["id"])
        own = by_platform.get(pid, [])
        counts = Counter(result.status for result in own)
        tally = "  ".join(f"{status.value} {counts.get(status, 0)}" for status in _ORDER)
        lines.append(f"{pid:<16} {_clip(str(platform['name']), 40):<40}  {tally}")
        findings = sorted(
            (r for r in own if r.status in (Status.FAIL, Status.ERROR)),
            key=lambda r: (r.status != Status.FAIL, -r.severity.rank, r.check, r.endpoint),
        )
        for result in findings[:worst]:
            label = result.severity.value if result.status == Status.FAIL else "error"
            lines.append(f"    [{label}] {result.check}: {_clip(result.detail, 90)}")
        if len(findings) > worst:
            lines.append(f"    … and {len(findings) - worst} more")
    return "\n".join(lines)
