"""One scan from start to end: register it, run the engine, store results as they come, close it."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from scanner.criteria import Profile
from scanner.engine import Observer, Unit, plan, run_scan
from scanner.grading import save_scores
from scanner.model import Platform, Result, ScanStatus
from scanner.plugin import Check
from scanner.registry import Targets
from scanner.store import Store
from scanner.waivers import Waiver

__all__ = ["ScanInterrupted", "ScanOutcome", "Stop", "execute_scan", "planned", "save_scores"]


class Stop(KeyboardInterrupt):
    """A request to stop the scan (Ctrl-C, SIGTERM, SIGHUP); ``reason`` goes into the scan's row."""

    def __init__(self, reason: str = "interrupted by the user", exit_code: int = 130) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exit_code = exit_code


class ScanInterrupted(KeyboardInterrupt):
    """Raised by ``execute_scan`` after it stored an interrupted scan: which scan, and why."""

    def __init__(self, scan_id: int, stop: Stop, finished: int) -> None:
        super().__init__(stop.reason)
        self.scan_id = scan_id
        self.stop = stop
        self.finished = finished  # endpoints scanned before the stop


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
    ``ScanInterrupted``; any other failure marks it failed and propagates. Either way the checks
    that never ran are stored as `error` results. StoreError when the scan could not be stored
    (its message says where what was not written is kept).
    """
    settings = targets.settings
    criteria = profile.criteria_by_check()
    scan_id = store.begin_scan(
        targets=str(targets.path),
        settings={
            **asdict(settings),
            "profile_version": profile.version,
            "waivers": [waiver.to_json() for waiver in waivers],
        },
        selection={"checks": [check.id for check in checks], **(selection or {})},
        platforms=targets.platforms,
        catalogue=[check.entry(criteria.get(check.id, ())) for check in checks],
    )
    finished: list[Unit] = []

    def store_results(unit: Unit, results: list[Result]) -> None:
        store.add_results(scan_id, results)
        finished.append(unit)

    try:
        store.save_plan(scan_id, planned(targets.platforms, checks))
        count = run_scan(
            targets.platforms, checks, settings, on_results=store_results, criteria=criteria, observer=observer
        )
    except KeyboardInterrupt as exc:
        stop = exc if isinstance(exc, Stop) else Stop()
        # A second stop while waiting for the database ends the wait; the store keeps aside what
        # it could not write, and the next platscan command stores it.
        with contextlib.suppress(KeyboardInterrupt):
            close_scan(store, scan_id, ScanStatus.INTERRUPTED, stop.reason)
        raise ScanInterrupted(scan_id, stop, len(finished)) from None
    except BaseException as exc:
        close_scan(store, scan_id, ScanStatus.FAILED, f"{type(exc).__name__}: {exc}")
        raise
    close_scan(store, scan_id, ScanStatus.COMPLETE)
    return ScanOutcome(scan_id=scan_id, status=ScanStatus.COMPLETE, endpoints=count)


def planned(platforms: Sequence[Platform], checks: Sequence[Check]) -> dict[tuple[str, str], list[str]]:
    """What the engine will run, (platform, endpoint) -> check ids: the store records it, and turns
    what never ran into `error` results if the scan ends early."""
    return {(u.platform.id, u.endpoint.target): [check.id for check in u.checks] for u in plan(platforms, checks)}


def close_scan(store: Store, scan_id: int, status: ScanStatus, error: str | None = None) -> None:
    """End a scan (its results written first), grade it, and make sure it is where it should be."""
    store.finish_scan(scan_id, status, error)
    save_scores(store, scan_id)
    store.confirm_in_place()
