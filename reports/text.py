"""Plain-text summaries for the terminal."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from scanner.assessment import Assessment
from scanner.model import Result, Status
from scanner.scoring import PlatformScore

_ORDER = (Status.PASS, Status.FAIL, Status.WARN, Status.ERROR, Status.SKIP)


def _clip(text: str, width: int) -> str:
    """``text`` on one line, cut at a word boundary (never mid-word) when longer than ``width``."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text[: width - 1].rsplit(" ", 1)[0] if " " in text[: width - 1] else text[: width - 1]
    return cut.rstrip(" ,;:") + "…"


def grade_line(score: PlatformScore) -> str:
    """The grade as the terminal shows it: never a bare letter for a grade on partial evidence."""
    cov = score.coverage
    if score.grade is None:
        return f"NOT ASSESSED: {cov.unreachable or 'nothing could be tested'}"
    text = f"grade {score.grade} ({score.score})"
    if score.provisional:
        return f"{text}, PROVISIONAL: only {cov.tested} of {cov.applicable} checks tested"
    if score.partial:
        return f"{text}, partial: {cov.tested} of {cov.applicable} checks tested"
    return text


def assessed_summary(name: str, judged: Assessment, worst: int = 3) -> str:
    """One platform's block: its grade (or why it has none), counts by status, its worst findings,
    and, for a platform that could not be assessed, how many checks did not run."""
    block = summary([{"id": judged.platform, "name": name}], judged.results, worst)
    head, _, rest = block.partition("\n")
    lines = [head, f"    {grade_line(judged.score)}"]
    if judged.score.grade is None:
        errors = sum(1 for r in judged.results if r.status == Status.ERROR)
        lines.append(f"    {errors} check(s) could not run")
    return "\n".join([*lines, rest] if rest else lines)


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
