"""The one assessment of a stored scan: per platform, what its waivers cover, its grade and its
compliance. Reports, the gate and ``platscan rescore`` all read it, so a grade is the same
wherever it is shown and nothing but this module applies waivers to a scan.

A scan is assessed with what it ran with: the grade caps of its stored catalogue, the waivers it
was given, on the day it ran, so an upgrade that renames, moves or drops a cap does not change the
grade of a scan already taken. The store only passes itself in (it grades a scan it closes for a
process that could not), so this module needs it for types alone.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from scanner.compliance import Compliance, assess
from scanner.criteria import Profile
from scanner.model import Cap, Result
from scanner.plugin import installed_active, installed_caps
from scanner.scoring import PlatformScore, score_platform
from scanner.waivers import Waiver, apply_waivers, scan_day, scoring_view, waivers_of_scan

if TYPE_CHECKING:
    from scanner.store import Store

Key = tuple[str, str]  # (check, endpoint)


@dataclass(frozen=True)
class Assessment:
    """One platform of one scan, judged.

    Attributes:
        results: every result as observed (a waived failure is still a failure here).
        score: the grade, with waived failures left out.
        compliance: compliance with the profile at the platform's level (None when no profile was
            given: grading alone does not need it).
        waived: (check, endpoint) -> the waiver that covers that failure.
    """

    platform: str
    level: int
    results: tuple[Result, ...]
    score: PlatformScore
    compliance: Compliance | None
    waived: Mapping[Key, Waiver] = field(default_factory=dict)

    @property
    def waived_results(self) -> tuple[Result, ...]:
        return tuple(r for r in self.results if (r.check, r.endpoint) in self.waived)


def caps_of_scan(store: Store, scan_id: int) -> Mapping[str, tuple[Cap, ...]]:
    """check id -> the grade caps scan ``scan_id`` is graded with: the caps stored in its catalogue.

    A scan that did not record caps (stored before schema 5, or without a catalogue: before schema
    4) is graded with the installed checks' caps, check by check: what it would have got before
    caps were stored.
    """
    stored = store.catalogue(scan_id)
    if stored and all(entry.caps is not None for entry in stored.values()):
        return {check: entry.caps for check, entry in stored.items() if entry.caps is not None}
    caps = dict(installed_caps())  # loads every installed check: only for scans that lack caps
    for check, entry in stored.items():
        if entry.caps is not None:
            caps[check] = entry.caps
    return caps


class ScanAssessment:
    """The assessment of every platform of a stored scan (of one with ``platform``), one platform at
    a time: iterating holds one platform's results, never the scan's.

    ``expired`` and ``stale`` waivers are known once every platform was assessed; a waiver is stale
    only inside what the scan tested (``apply_waivers``).
    """

    def __init__(self, store: Store, scan_id: int, profile: Profile | None = None, platform: str | None = None):
        self._store = store
        self.scan_id = scan_id
        self._profile = profile
        self._platform = platform
        self.caps = caps_of_scan(store, scan_id)
        self._waivers = [
            w for w in waivers_of_scan(store.scan_settings(scan_id)) if platform is None or w.platform == platform
        ]
        self._day = scan_day(store.scan(scan_id).started)
        self._expired: list[Waiver] = []
        self._stale: list[Waiver] = []
        self._done = False

    def __iter__(self) -> Iterator[Assessment]:
        self._expired, self._stale = [], []
        seen: set[str] = set()
        for row in self._store.platforms(self.scan_id):
            if self._platform is not None and row["id"] != self._platform:
                continue
            seen.add(row["id"])
            yield self._assess(row["id"], row["level"], self._store.results(self.scan_id, row["id"]))
        # A platform the scan did not include tells nothing of its waivers, except their dates.
        self._expired += [w for w in self._waivers if w.platform not in seen and w.expired(self._day)]
        self._done = True

    @functools.cached_property
    def _active_checks(self) -> frozenset[str]:
        """Active checks: the scan's (its stored catalogue says) and the installed ones it did not run."""
        stored = frozenset(c for c, entry in self._store.catalogue(self.scan_id).items() if entry.active)
        return stored | installed_active()

    def _assess(self, platform: str, level: int, results: Iterable[Result]) -> Assessment:
        own = tuple(results)
        outcome = apply_waivers([w for w in self._waivers if w.platform == platform], own, self._day, self.caps)
        self._expired += outcome.expired
        self._stale += outcome.stale
        return Assessment(
            platform=platform,
            level=level,
            results=own,
            score=score_platform(scoring_view(own, outcome), self.caps),
            compliance=assess(self._profile, level, own, self._active_checks) if self._profile is not None else None,
            waived={(r.check, r.endpoint): w for r in own if (w := outcome.covers(r)) is not None},
        )

    @property
    def expired(self) -> tuple[Waiver, ...]:
        """Waivers past their date, whether or not their checks failed."""
        return tuple(self._in_file_order(self._expired))

    @property
    def stale(self) -> tuple[Waiver, ...]:
        """Waivers in force whose checks the scan ran on their endpoints and found passing."""
        return tuple(self._in_file_order(self._stale))

    def _in_file_order(self, found: list[Waiver]) -> list[Waiver]:
        if not self._done:
            raise RuntimeError("a scan's waivers are summed up only after every platform was assessed")
        chosen = set(map(id, found))
        return [w for w in self._waivers if id(w) in chosen]


def save_scores(store: Store, scan_id: int) -> dict[str, PlatformScore]:
    """Grade every platform of a stored scan with the current rules and its waivers; keep the grades."""
    scores = {a.platform: a.score for a in ScanAssessment(store, scan_id)}
    store.save_scores(scan_id, scores)
    return scores


def assess_scan(
    store: Store, scan_id: int, profile: Profile | None = None, platform: str | None = None
) -> tuple[dict[str, Assessment], ScanAssessment]:
    """Every platform's assessment, held at once (a report or the gate needs them together), and the
    ``ScanAssessment`` that produced them, for its expired and stale waivers."""
    assessment = ScanAssessment(store, scan_id, profile, platform)
    return {a.platform: a for a in assessment}, assessment
