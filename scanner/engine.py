"""Runs the selected checks over every endpoint of the registry, concurrently and within bounds.

Two levels of work, both plain picklable data:

- a ``Job`` is one endpoint with its platform and the checks that apply to it; its families
  collect at once (the TLS handshakes, the HTTP requests and the port scan of one endpoint do not
  wait for each other), under the endpoint's time budget;
- a ``Unit`` is every job on one server: what an executor hands out. Politeness towards the server
  (at most ``per_host`` of its endpoints at once), the facts its endpoints share (one TLS server, a
  host's ports) and the coordination of its active checks stay inside the unit, so a distributed
  executor can give a unit to a remote worker and change nothing else.

Units start longest first (``expected`` seconds, from the previous scan or the families' typical
durations), so the fleet does not end waiting for one slow server that started last. Each
family's facts are gathered in a killable worker process (see ``scanner.facts``): one slow or
hostile endpoint never holds up the others or the end of the scan.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Protocol

from scanner.facts import CollectionError, FactCache, Workers
from scanner.messages import Text
from scanner.model import Endpoint, Platform, Result, Status
from scanner.plugin import Check, ScanContext, ScanSettings
from scanner.reasons import crashed
from scanner.registry import endpoints
from scanner.resolver import Resolution, Resolver

#: Expected seconds of a job without history or a family's estimate.
DEFAULT_JOB_SECONDS = 1.0


@dataclass(frozen=True)
class Job:
    """One endpoint to scan: its platform and the selected checks that apply to it."""

    platform: Platform
    endpoint: Endpoint
    checks: tuple[Check, ...]

    @property
    def key(self) -> tuple[str, str]:
        return (self.platform.id, self.endpoint.target)


@dataclass(frozen=True)
class Unit:
    """Every job on one server (``server``), scanned together; see the module docstring."""

    server: str
    jobs: tuple[Job, ...]
    expected: float = 0.0


class Observer(Protocol):
    """Progress callbacks; the CLI's progress line is one observer."""

    def started(self, total: int) -> None: ...
    def finished(self, job: Job, results: Sequence[Result]) -> None: ...


class Silent:
    def started(self, total: int) -> None:
        pass

    def finished(self, job: Job, results: Sequence[Result]) -> None:
        pass


#: Called with each job's results as it finishes.
Deliver = Callable[[Job, list[Result]], None]


class Executor(Protocol):
    """Runs units and delivers each job's results; the local pool is one, a remote queue another.

    ``run`` returns when every unit ran (or raises, after stopping what it started); ``deliver`` is
    called in the caller's thread.
    """

    def run(self, units: Sequence[Unit], deliver: Deliver) -> None: ...


def plan(platforms: Sequence[Platform], checks: Sequence[Check]) -> list[Job]:
    """Every endpoint that at least one selected check applies to, in registry order."""
    jobs: list[Job] = []
    for platform in platforms:
        for endpoint in endpoints(platform):
            applicable = tuple(check for check in checks if check.applies_on(endpoint, platform))
            if applicable:
                jobs.append(Job(platform, endpoint, applicable))
    return jobs


def units(jobs: Sequence[Job], expected: Callable[[Job], float] | None = None, per_host: int = 1) -> list[Unit]:
    """The jobs grouped by server, the longest unit first (``expected`` seconds per job; a unit
    takes about its jobs' sum divided by the ``per_host`` it may run at once). Within a unit the
    longest job starts first too; ties keep registry order."""
    estimate = expected or (lambda job: DEFAULT_JOB_SECONDS)
    by_server: dict[str, list[Job]] = {}
    for job in jobs:
        by_server.setdefault(server(job.endpoint), []).append(job)
    out = []
    for name, own in by_server.items():
        costs = {id(job): estimate(job) for job in own}
        ordered = sorted(own, key=lambda job: -costs[id(job)])
        longest = max(costs.values())
        wall = max(longest, sum(costs.values()) / max(1, min(per_host, len(own))))
        out.append(Unit(name, tuple(ordered), wall))
    return sorted(out, key=lambda unit: -unit.expected)


def hosts_of(job: Job) -> list[str]:
    """The host names a job may connect to: its endpoint's, then its platform's (redirects, logins).
    A domain endpoint's name is only looked up by its checks, never connected to."""
    own = [] if job.endpoint.kind == "domain" else [job.endpoint.host]
    return [*own, *job.platform.all_hosts]


def pinned(job: Job, addresses: Mapping[str, Resolution]) -> tuple[Job, Text | None]:
    """``job`` with the scan resolver's addresses pinned: on the endpoint (``address``) and in the
    platform's ``resolve`` map (every registered host), hosts without one in ``unresolved``; and the
    resolver's reason when the endpoint's own host does not resolve (its checks are then not run)."""
    by_name = {name: r for name, r in addresses.items() if r.address is not None and r.source != "literal"}
    failed = {name: r.reason for name, r in addresses.items() if r.address is None}
    platform = replace(
        job.platform,
        resolve=tuple((name, r.address) for name, r in by_name.items() if r.address is not None),
        unresolved=tuple(failed.items()),
    )
    own = None if job.endpoint.kind == "domain" else addresses.get(job.endpoint.host)
    endpoint = job.endpoint
    if own is not None and own.source != "literal":
        endpoint = replace(endpoint, address=own.address)
    return Job(platform, endpoint, job.checks), (own.reason if own is not None and own.address is None else None)


def run_job(
    job: Job,
    settings: ScanSettings,
    facts: FactCache,
    criteria: Mapping[str, tuple[str, ...]],
    addresses: Mapping[str, Resolution] | None = None,
) -> list[Result]:
    """Run every check of ``job``, each family's checks in a thread of their own (so their
    collections overlap); an exception in a check becomes that check's ``error`` result. Results
    come back in the order of ``job.checks``.

    ``addresses`` (host -> the scan resolver's answer) pins where every family connects; when the
    endpoint's host does not resolve, every check that connects (``Check.needs_address``) is
    ``error`` with the resolver's reason, once, and the checks that only read DNS still run.
    """
    order = job.checks
    produced: dict[int, list[Result]] = {}
    if addresses is not None:
        job, unresolved = pinned(job, addresses)
        if unresolved is not None:
            for check in job.checks:
                if check.needs_address:
                    error = check.result(job.endpoint, Status.ERROR, unresolved)
                    produced[id(check)] = [replace(error, criteria=criteria.get(check.id, ()))]
            job = replace(job, checks=tuple(check for check in job.checks if not check.needs_address))
            if not job.checks:
                return [result for check in order for result in produced[id(check)]]
    deadline = time.monotonic() + settings.endpoint_timeout
    ctx = ScanContext(job.platform, settings, facts, deadline, checks=(check.id for check in job.checks))
    by_family: dict[str, list[Check]] = {}
    for check in job.checks:
        by_family.setdefault(check.family, []).append(check)

    def run_family(family_checks: list[Check]) -> None:
        for check in family_checks:
            produced[id(check)] = _run_check(check, job.endpoint, ctx, criteria)

    try:
        groups = list(by_family.values())
        threads = [
            threading.Thread(target=run_family, args=(group,), name=f"platscan-{group[0].family}", daemon=True)
            for group in groups[1:]
        ]
        for thread in threads:
            thread.start()
        run_family(groups[0])  # the first family in this thread: one thread fewer per endpoint
        for thread in threads:
            thread.join()
    finally:
        facts.release(ctx.private_keys)
    return [result for check in order for result in produced.get(id(check), [])]


def _run_check(
    check: Check, endpoint: Endpoint, ctx: ScanContext, criteria: Mapping[str, tuple[str, ...]]
) -> list[Result]:
    started = time.monotonic()
    try:
        produced = check.run(endpoint, ctx)
    except CollectionError as exc:
        produced = [check.result(endpoint, Status.ERROR, exc.reason)]
    except Exception as exc:  # a bug in one check must not cost the others their results
        produced = [check.result(endpoint, Status.ERROR, crashed(exc))]
    elapsed = time.monotonic() - started
    return [replace(result, criteria=criteria.get(result.check, ()), duration=elapsed) for result in produced]


class LocalExecutor:
    """Runs units in this process: ``concurrency`` endpoints at once in all, at most ``per_host``
    of one server's; collections in killable worker processes."""

    def __init__(
        self,
        settings: ScanSettings,
        criteria: Mapping[str, tuple[str, ...]],
        resolver: Resolver,
        workers: Workers,
    ) -> None:
        self.settings = settings
        self.criteria = criteria
        self.resolver = resolver
        self.workers = workers
        self.facts = FactCache(workers)

    def run(self, units: Sequence[Unit], deliver: Deliver) -> None:
        done: queue.Queue[tuple[Job, list[Result]] | BaseException] = queue.Queue()
        endpoint_slots = threading.BoundedSemaphore(self.settings.concurrency)
        stopping = threading.Event()

        def run_unit(unit: Unit) -> None:
            # The unit's jobs share a pool of per_host threads: politeness towards one server.
            with ThreadPoolExecutor(
                max_workers=min(self.settings.per_host, len(unit.jobs)), thread_name_prefix="platscan-job"
            ) as own:
                for job in unit.jobs:
                    own.submit(run_one, job)

        def run_one(job: Job) -> None:
            if stopping.is_set():
                return
            try:
                with endpoint_slots:
                    if stopping.is_set():
                        return
                    addresses = self.resolver.resolve_all(hosts_of(job), job.platform)
                    done.put((job, run_job(job, self.settings, self.facts, self.criteria, addresses)))
            except BaseException as exc:  # delivered to the caller, which stops the scan
                done.put(exc)

        total = sum(len(unit.jobs) for unit in units)
        # Enough unit threads that every endpoint slot can be busy; the semaphore is the bound.
        pool = ThreadPoolExecutor(max_workers=max(1, self.settings.concurrency), thread_name_prefix="platscan-unit")
        futures: list[Future[None]] = []
        try:
            futures = [pool.submit(run_unit, unit) for unit in units]
            delivered = 0
            while delivered < total:
                try:
                    item = done.get(timeout=0.5)
                except queue.Empty:
                    if all(f.done() for f in futures) and done.empty():
                        for future in futures:
                            future.result()  # a unit that failed outside its jobs
                        break
                    continue
                if isinstance(item, BaseException):
                    raise item
                deliver(*item)
                delivered += 1
        except BaseException:
            stopping.set()
            self.workers.kill_all()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()


def run_scan(
    platforms: Sequence[Platform],
    checks: Sequence[Check],
    settings: ScanSettings,
    on_results: Deliver,
    criteria: Mapping[str, tuple[str, ...]] | None = None,
    observer: Observer | None = None,
    resolver: Resolver | None = None,
    expected: Callable[[Job], float] | None = None,
    executor: Executor | None = None,
) -> int:
    """Scan every job and hand each one's results to ``on_results`` (called in this thread).

    ``resolver`` (one per scan; the system resolver within ``settings.timeout`` by default) resolves
    each job's hosts before it runs, each name once, so every family connects to the same address.
    ``expected`` estimates a job's seconds, to start the longest work first. ``executor`` runs the
    units (the local pool by default).

    Returns the number of jobs scanned. On KeyboardInterrupt, collectors are killed, queued jobs
    are dropped, and the interrupt propagates after the finished jobs were delivered.
    """
    jobs = plan(platforms, checks)
    observer = observer or Silent()
    observer.started(len(jobs))

    def deliver(job: Job, results: list[Result]) -> None:
        on_results(job, results)
        observer.finished(job, results)

    if executor is None:
        preload = sorted({type(check).__module__ for job in jobs for check in job.checks})
        executor = LocalExecutor(
            settings,
            criteria or {},
            resolver or Resolver.for_scan(settings.timeout, settings.dns_servers),
            Workers(preload),
        )
    executor.run(units(jobs, expected, settings.per_host), deliver)
    return len(jobs)


def server(endpoint: Endpoint) -> str:
    """What ``per_host`` limits: the registered address when ``resolve`` gives one (several platform
    names often share one server), else the host name."""
    return endpoint.address or endpoint.host
