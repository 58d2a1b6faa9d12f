"""One scan from start to end: register it, run the engine, store results as they come, close it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from scanner.criteria import Profile
from scanner.engine import Observer, Unit, run_scan
from scanner.model import Result, ScanStatus
from scanner.plugin import Check
from scanner.registry import Targets
from scanner.scoring import PlatformScore, score_platform
from scanner.store import Store
from scanner.waivers import Waiver, outcome_for_scan, scoring_view


class Stop(KeyboardInterrupt):
    """A request to stop the scan (Ctrl-C, SIGTERM, SIGHUP); ``reason`` goes into the scan's row."""

    def __init__(self, reason: str = "interrupted by the user", exit_code: int = 130) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exit_code = exit_code


class ScanInterrupted(KeyboardInterrupt):
    """Raised by ``execute_scan`` after it stored an interrupted scan: which scan, and why."""

    def __init__(self, scan_id: int, stop: Stop) -> None:
        super().__init__(stop.reason)
        self.scan_id = scan_id
        self.stop = stop


@dataclass(frozen=True)
class ScanOutcome:
    scan_id: int
    status: ScanStatus
    endpoints: int


def execute_scan(
    targets: Targets,
    checks: Sequence[Check],
    store: Store,
    profile: Profile,
    selection: dict[str, list[str]] | None = None,
    observer: Observer | None = None,
    waivers: Sequence[Waiver] = (),
) -> ScanOutcome:
    """Scan ``targets`` with ``checks`` into ``store``.

    KeyboardInterrupt (or a ``Stop``) marks the scan interrupted, keeps what finished, and raises
    ``ScanInterrupted``; any other failure marks it failed and propagates.
    """
    settings = targets.settings
    scan_id = store.begin_scan(
        targets=str(targets.path),
        settings={
            **asdict(settings),
            "profile_version": profile.version,
            "waivers": [waiver.to_json() for waiver in waivers],
        },
        selection={"checks": [check.id for check in checks], **(selection or {})},
        platforms=targets.platforms,
    )

    def store_results(unit: Unit, results: list[Result]) -> None:
        store.add_results(scan_id, results)

    try:
        count = run_scan(
            targets.platforms,
            checks,
            settings,
            on_results=store_results,
            criteria=profile.criteria_by_check(),
            observer=observer,
        )
    except KeyboardInterrupt as exc:
        stop = exc if isinstance(exc, Stop) else Stop()
        save_scores(store, scan_id)
        store.finish_scan(scan_id, ScanStatus.INTERRUPTED, stop.reason)
        raise ScanInterrupted(scan_id, stop) from None
    except BaseException as exc:
        store.finish_scan(scan_id, ScanStatus.FAILED, f"{type(exc).__name__}: {exc}")
        raise
    save_scores(store, scan_id)
    store.finish_scan(scan_id, ScanStatus.COMPLETE)
    return ScanOutcome(scan_id=scan_id, status=ScanStatus.COMPLETE, endpoints=count)


def save_scores(store: Store, scan_id: int) -> dict[str, PlatformScore]:
    """Grade every platform of a stored scan with the current rules and its waivers; keep the grades."""
    results = store.results(scan_id)
    outcome = outcome_for_scan(store.scan_settings(scan_id), store.scan(scan_id).started, results)
    by_platform: dict[str, list[Result]] = {p["id"]: [] for p in store.platforms(scan_id)}
    for result in scoring_view(results, outcome):
        by_platform.setdefault(result.platform, []).append(result)
    scores = {platform: score_platform(own) for platform, own in by_platform.items()}
    store.save_scores(scan_id, scores)
    return scores
