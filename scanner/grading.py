"""Grading a stored scan: its platforms' scores with the current rules and the scan's waivers, kept.

Its own module because both the runner (at the end of a scan, and for `platscan rescore`) and the
store (when it closes a scan that its process could not close) grade stored scans; the store only
passes itself in, so this module needs it for types alone.

A stored scan is graded with the caps its checks declared when it ran (``caps_of_scan``), so an
upgrade that renames, moves or drops a cap does not change the grade of a scan already taken.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from scanner.model import Cap
from scanner.plugin import installed_caps
from scanner.scoring import PlatformScore, score_platform
from scanner.waivers import outcome_for_scan, scoring_view

if TYPE_CHECKING:
    from scanner.store import Store


def caps_of_scan(store: Store, scan_id: int) -> Mapping[str, tuple[Cap, ...]]:
    """check id -> the grade caps scan ``scan_id`` is graded with: the caps stored in its catalogue.

    A scan that did not record caps (stored before schema 5, or without a catalogue: before schema
    4) is graded with the installed checks' caps, check by check: what it would have got before
    caps were stored.
    """
    caps = dict(installed_caps())
    for check, entry in store.catalogue(scan_id).items():
        if entry.caps is not None:
            caps[check] = entry.caps
    return caps


def save_scores(store: Store, scan_id: int) -> dict[str, PlatformScore]:
    """Grade every platform of a stored scan with the current rules and its waivers; keep the grades.

    One platform at a time, so that grading a big scan does not hold all its results; a waiver
    names one platform, so applying the waivers platform by platform waives the same results.
    """
    settings, started = store.scan_settings(scan_id), store.scan(scan_id).started
    caps = caps_of_scan(store, scan_id)
    scores = {
        platform: score_platform(scoring_view(own, outcome_for_scan(settings, started, own, caps)), caps)
        for platform, own in store.results_by_platform(scan_id)
    }
    store.save_scores(scan_id, scores)
    return scores
