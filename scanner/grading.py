"""Grading a stored scan: its platforms' scores with the current rules and the scan's waivers, kept.

Its own module because both the runner (at the end of a scan, and for `platscan rescore`) and the
store (when it closes a scan that its process could not close) grade stored scans; the store only
passes itself in, so this module needs it for types alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scanner.scoring import PlatformScore, score_platform
from scanner.waivers import outcome_for_scan, scoring_view

if TYPE_CHECKING:
    from scanner.store import Store


def save_scores(store: Store, scan_id: int) -> dict[str, PlatformScore]:
    """Grade every platform of a stored scan with the current rules and its waivers; keep the grades.

    One platform at a time, so that grading a big scan does not hold all its results; a waiver
    names one platform, so applying the waivers platform by platform waives the same results.
    """
    settings, started = store.scan_settings(scan_id), store.scan(scan_id).started
    scores = {
        platform: score_platform(scoring_view(own, outcome_for_scan(settings, started, own)))
        for platform, own in store.results_by_platform(scan_id)
    }
    store.save_scores(scan_id, scores)
    return scores
