"""Runs the selected checks over every endpoint of the registry, concurrently and within bounds.

The unit of work is one endpoint with its platform and the checks that apply to it: plain data
that a thread runs today and a remote worker could run tomorrow. Endpoints run in a thread pool
(``concurrency``), at most ``per_host`` at a time against one host; each family's facts are
gathered once per scan in a killable worker (see ``scanner.facts``) under the endpoint's deadline,
so one slow or hostile endpoint never holds up the others or the end of the scan.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Protocol

from scanner.facts import CollectionError, FactCache, Workers
from scanner.model import Endpoint, Platform, Result, Status
from scanner.plugin import Check, ScanContext, ScanSettings
from scanner.registry import endpoints
from scanner.resolver import Resolution, Resolver


@dataclass(frozen=True)
class Unit:
    platform: Platform
    endpoint: Endpoint
    checks: tuple[Check, ...]


class Observer(Protocol):
    """Progress callbacks; the CLI's progress line is one observer."""

    def started(self, total: int) -> None: ...
    def finished(self, unit: Unit, results: Sequence[Result]) -> None: ...


class Silent:
    def started(self, total: int) -> None:
        pass

    def finished(self, unit: Unit, results: Sequence[Result]) -> None:
        pass


def plan(platforms: Sequence[Platform], checks: Sequence[Check]) -> list[Unit]:
    """Every endpoint that at least one selected check applies to, hosts interleaved.

    Interleaving by host keeps the pool busy with different servers instead of queueing
    behind the per-host limit of the first big platform.
    """
    units: list[Unit] = []
    for platform in platforms:
        for endpoint in endpoints(platform):
            applicable = tuple(check for check in checks if check.applies_to(endpoint))
            if applicable:
                units.append(Unit(platform, endpoint, applicable))
    by_host: dict[str, list[Unit]] = {}
    for unit in units:
        by_host.setdefault(server(unit.endpoint), []).append(unit)
    queues = list(by_host.values())
    ordered: list[Unit] = []
    while queues:
        ordered.extend(queue.pop(0) for queue in queues)
        queues = [queue for queue in queues if queue]
    return ordered


def hosts_of(unit: Unit) -> list[str]:
    """The host names a unit may connect to: its endpoint's, then its platform's (redirects, logins)."""
    return [unit.endpoint.host, *unit.platform.all_hosts]


def pinned(unit: Unit, addresses: Mapping[str, Resolution]) -> tuple[Unit, str | None]:
    """``unit`` with the scan resolver's addresses pinned: on the endpoint (``address``) and in the
    platform's ``resolve`` map (every registered host), hosts without one in ``unresolved``; and the
    resolver's reason when the endpoint's own host does not resolve (its checks are then not run)."""
    by_name = {name: r for name, r in addresses.items() if r.address is not None and r.source != "literal"}
    failed = {name: r.reason for name, r in addresses.items() if r.address is None}
    platform = replace(
        unit.platform,
        resolve=tuple((name, r.address) for name, r in by_name.items() if r.address is not None),
        unresolved=tuple(failed.items()),
    )
    own = addresses.get(unit.endpoint.host)
    endpoint = unit.endpoint
    if own is not None and own.source != "literal":
        endpoint = replace(endpoint, address=own.address)
    return Unit(platform, endpoint, unit.checks), (own.reason if own is not None and own.address is None else None)


def run_unit(
    unit: Unit,
    settings: ScanSettings,
    facts: FactCache,
    criteria: Mapping[str, tuple[str, ...]],
    addresses: Mapping[str, Resolution] | None = None,
) -> list[Result]:
    """Run every check of ``unit``; an exception in a check becomes that check's ``error`` result.

    ``addresses`` (host -> the scan resolver's answer) pins where every family connects; when the
    endpoint's host does not resolve, every check is ``error`` with the resolver's reason, once.
    """
    if addresses is not None:
        unit, unresolved = pinned(unit, addresses)
        if unresolved is not None:
            return [
                replace(check.result(unit.endpoint, Status.ERROR, unresolved), criteria=criteria.get(check.id, ()))
                for check in unit.checks
            ]
    deadline = time.monotonic() + settings.endpoint_timeout
    ctx = ScanContext(unit.platform, settings, facts, deadline, checks=(check.id for check in unit.checks))
    results: list[Result] = []
    try:
        for check in unit.checks:
            started = time.monotonic()
            try:
                produced = check.run(unit.endpoint, ctx)
            except CollectionError as exc:
                produced = [check.result(unit.endpoint, Status.ERROR, exc.reason)]
            except Exception as exc:  # a bug in one check must not cost the others their results
                produced = [check.result(unit.endpoint, Status.ERROR, f"check crashed: {type(exc).__name__}: {exc}")]
            elapsed = time.monotonic() - started
            for result in produced:
                results.append(replace(result, criteria=criteria.get(result.check, ()), duration=elapsed))
    finally:
        facts.release(ctx.private_keys)
    return results


def run_scan(
    platforms: Sequence[Platform],
    checks: Sequence[Check],
    settings: ScanSettings,
    on_results: Callable[[Unit, list[Result]], None],
    criteria: Mapping[str, tuple[str, ...]] | None = None,
    observer: Observer | None = None,
    resolver: Resolver | None = None,
) -> int:
    """Scan every unit and hand each one's results to ``on_results`` (called in this thread).

    ``resolver`` (one per scan; the system resolver within ``settings.timeout`` by default) resolves
    each unit's hosts before it runs, each name once, so every family connects to the same address.

    Returns the number of units scanned. On KeyboardInterrupt, collectors are killed, queued
    units are dropped, and the interrupt propagates after the finished units were delivered.
    """
    units = plan(platforms, checks)
    observer = observer or Silent()
    observer.started(len(units))
    preload = sorted({type(check).__module__ for unit in units for check in unit.checks})
    workers = Workers(preload=preload)
    facts = FactCache(workers)
    host_slots: dict[str, threading.BoundedSemaphore] = {
        server(unit.endpoint): threading.BoundedSemaphore(settings.per_host) for unit in units
    }
    criteria = criteria or {}
    resolver = resolver or Resolver(settings.timeout)

    def work(unit: Unit) -> list[Result]:
        addresses = resolver.resolve_all(hosts_of(unit), unit.platform)
        with host_slots[server(unit.endpoint)]:
            return run_unit(unit, settings, facts, criteria, addresses)

    pool = ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="platscan")
    pending: dict[Future[list[Result]], Unit] = {}
    try:
        pending = {pool.submit(work, unit): unit for unit in units}
        while pending:
            done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                unit = pending.pop(future)
                results = future.result()
                on_results(unit, results)
                observer.finished(unit, results)
    except BaseException:
        workers.kill_all()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return len(units)


def server(endpoint: Endpoint) -> str:
    """What ``per_host`` limits: the registered address when ``resolve`` gives one (several platform
    names often share one server), else the host name."""
    return endpoint.address or endpoint.host
