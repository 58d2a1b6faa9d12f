"""The fleet page's SVG charts as geometry: the grade distribution and the grades over recent scans.

Computed here in plain numbers, so that the templates only draw and a chart needs no script.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reports.i18n import Translator
from reports.palette import GRADES, grade_slug


@dataclass(frozen=True)
class Bar:
    label: str
    slug: str
    count: int
    y: float
    width: float


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars, one per grade (best first)."""

    bars: tuple[Bar, ...]
    width: int
    height: int
    bar_x: int
    bar_height: int
    description: str


def grade_chart(counts: Mapping[str, int], t: Translator) -> BarChart:
    rows = [(g, counts.get(g, 0)) for g in GRADES if g not in ("?", "-") or counts.get(g, 0)]
    top = max((n for _, n in rows), default=0) or 1
    bar_x, span, step, bar_height = 44, 250, 30, 20
    bars = tuple(
        Bar(label=g if g != "-" else "–", slug=grade_slug(g), count=n, y=8 + i * step, width=round(span * n / top, 1))
        for i, (g, n) in enumerate(rows)
    )
    described = ", ".join(f"{b.label}: {b.count}" for b in bars)
    return BarChart(
        bars=bars,
        width=bar_x + span + 50,
        height=16 + len(bars) * step - (step - bar_height),
        bar_x=bar_x,
        bar_height=bar_height,
        description=t("grade_distribution_desc", counts=described),
    )


@dataclass(frozen=True)
class Segment:
    label: str
    slug: str
    count: int
    y: float
    height: float


@dataclass(frozen=True)
class Column:
    scan: int
    label: str
    date: str
    x: float
    total: int
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class TrendChart:
    """Stacked columns, one per scan (oldest first), best grade on top."""

    columns: tuple[Column, ...]
    width: int
    height: int
    plot_top: int
    plot_bottom: int
    column_width: int
    ticks: tuple[tuple[int, float], ...]
    legend: tuple[tuple[str, str], ...]
    grades: tuple[str, ...]


def trend_chart(history: Sequence[tuple[Any, Mapping[str, int]]], t: Translator) -> TrendChart | None:
    if len(history) < 2:
        return None
    present = [g for g in GRADES if any(counts.get(g, 0) for _, counts in history)]
    top = max(sum(counts.values()) for _, counts in history) or 1
    plot_top, plot_bottom, left, column_width, gap = 12, 172, 44, 46, 38
    scale = (plot_bottom - plot_top) / top
    columns = []
    for index, (scan, counts) in enumerate(history):
        y = float(plot_bottom)
        segments = []
        for grade in reversed(present):  # worst at the bottom
            n = counts.get(grade, 0)
            if not n:
                continue
            height = n * scale
            y -= height
            label = grade if grade != "-" else "–"
            segments.append(Segment(label, grade_slug(grade), n, round(y, 1), round(height, 1)))
        columns.append(
            Column(
                scan=scan.id,
                label=f"#{scan.id}",
                date=t.date(scan.started),
                x=left + index * (column_width + gap),
                total=sum(counts.values()),
                segments=tuple(segments),
            )
        )
    step = _nice_step(top)
    ticks = tuple((v, round(plot_bottom - v * scale, 1)) for v in range(0, top + 1, step))
    return TrendChart(
        columns=tuple(columns),
        width=left + len(columns) * (column_width + gap) + 8,
        height=plot_bottom + 40,
        plot_top=plot_top,
        plot_bottom=plot_bottom,
        column_width=column_width,
        ticks=ticks,
        legend=tuple((g if g != "-" else "–", grade_slug(g)) for g in present),
        grades=tuple(present),
    )


def _nice_step(top: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if top / step <= 5:
            return step
    return max(1, top // 5)
