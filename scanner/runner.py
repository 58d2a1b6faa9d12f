"""One scan from start to end: register it, run the engine, store results as they come, close it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from scanner.assessment import save_scores
from scanner.criteria import Profile
from scanner.engine import DEFAULT_JOB_SECONDS, Job, Observer, plan, run_scan
from scanner.facts import start_forkserver
from scanner.family import Families, discover_families
from scanner.model import Platform, Result, ScanStatus
from scanner.plugin import Check
from scanner.registry import Targets
from scanner.store import Store
from scanner.waivers import Waiver

__all__ = ["ScanInterrupted", "ScanOutcome", "Stop", "execute_scan", "planned", "save_scores", "start_workers"]


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
    start_workers(targets.platforms, checks)  # while the scan is registered
    settings = targets.settings
    criteria = profile.criteria_by_check()
    families = discover_families()
    expected = expected_seconds(store, families)
    scan_id = store.begin_scan(
        targets=str(targets.path),
        settings={
            **asdict(settings),
            "profile_version": profile.version,
            "family_versions": {
                name: family.version for name, family in families.by_name.items() if name in {c.family for c in checks}
            },
            "waivers": [waiver.to_json() for waiver in waivers],
        },
        selection={"checks": [check.id for check in checks], **(selection or {})},
        platforms=targets.platforms,
        catalogue=[check.entry(criteria.get(check.id, ())) for check in checks],
    )
    finished: list[Job] = []

    def store_results(job: Job, results: list[Result]) -> None:
        store.add_results(scan_id, results)
        finished.append(job)

    try:
        store.save_plan(scan_id, planned(targets.platforms, checks))
        count = run_scan(
            targets.platforms,
            checks,
            settings,
            on_results=store_results,
            criteria=criteria,
            observer=observer,
            expected=expected,
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


def start_workers(platforms: Sequence[Platform], checks: Sequence[Check]) -> None:
    """Start the collectors' forkserver now, preloading what the engine's workers preload (the
    modules of the checks that have jobs), so that it is ready by the first collection; nothing
    when no check has a job."""
    modules = {type(check).__module__ for job in plan(platforms, checks) for check in job.checks}
    if modules:
        start_forkserver(sorted(modules))


def planned(platforms: Sequence[Platform], checks: Sequence[Check]) -> dict[tuple[str, str], list[str]]:
    """What the engine will run, (platform, endpoint) -> check ids: the store records it, and turns
    what never ran into `error` results if the scan ends early."""
    return {job.key: [check.id for check in job.checks] for job in plan(platforms, checks)}


def expected_seconds(store: Store, families: Families) -> Callable[[Job], float]:
    """How long a job is expected to take, to start the longest first: what its endpoint took in
    the last complete scan of this database, else its slowest family's typical duration."""
    complete = [scan for scan in store.scans() if scan.status == ScanStatus.COMPLETE]
    history = store.durations(complete[-1].id) if complete else {}
    typical = {name: family.typical_seconds for name, family in families.by_name.items()}

    def estimate(job: Job) -> float:
        known = history.get(job.key)
        if known is not None:
            return known
        return max((typical.get(check.family, DEFAULT_JOB_SECONDS) for check in job.checks), default=0.0)

    return estimate


def close_scan(store: Store, scan_id: int, status: ScanStatus, error: str | None = None) -> None:
    """End a scan (its results written first), grade it, and make sure it is where it should be."""
    store.finish_scan(scan_id, status, error)
    save_scores(store, scan_id)
    store.confirm_in_place()
