"""The auth family gets its HTTP facts from the http family's public API, and the two share one collection.

A real scan (the engine, its fact cache and collector processes) of one auth-fleet application with every
http and passive auth check: the collector runs are counted where the fact cache starts them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any, TypeVar

import pytest

import scanner.engine
from checks.auth.base import AuthCheck
from checks.http import api as http_api
from checks.http import base as http_base
from checks.http.base import HttpCheck
from scanner.engine import Unit, run_scan
from scanner.facts import FactCache, Workers
from scanner.model import Endpoint, Platform, Result, Status
from scanner.plugin import ScanContext, ScanSettings, discover_checks, select_checks
from scanner.registry import load_targets
from tests.fleet.auth_app import AuthFleet, start_auth_fleet

T = TypeVar("T")
CATALOGUE = discover_checks().checks


#: Every collector run the fact cache started: (collector, URL or target).
RUNS: list[tuple[str, str]] = []
_LOCK = threading.Lock()


class CountingWorkers(Workers):
    """Workers that record in ``RUNS`` every collector run the fact cache starts."""

    def run(self, fn: Callable[..., T], args: Sequence[Any], timeout: float) -> T:
        target = args[0] if args else None
        with _LOCK:
            RUNS.append((f"{fn.__module__}.{fn.__qualname__}", str(getattr(target, "url", target))))
        return super().run(fn, args, timeout)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthFleet]:
    workdir = tmp_path_factory.mktemp("auth-http-api")
    with start_auth_fleet(workdir, cases=["good"]) as running, pytest.MonkeyPatch.context() as mp:
        for name, value in running.environ().items():
            mp.setenv(name, value)
        yield running


def test_auth_and_http_share_one_collection_per_url(fleet: AuthFleet, monkeypatch: pytest.MonkeyPatch) -> None:
    targets = load_targets(fleet.write_targets())
    platform = targets.platform("good")
    checks = select_checks(CATALOGUE, only=["http", "auth"])
    assert any(isinstance(c, AuthCheck) for c in checks) and any(isinstance(c, HttpCheck) for c in checks)
    RUNS.clear()
    monkeypatch.setattr(scanner.engine, "Workers", CountingWorkers)
    results: list[Result] = []

    def keep(unit: Unit, produced: list[Result]) -> None:
        results.extend(produced)

    run_scan([platform], checks, targets.settings, on_results=keep)

    http_runs = Counter(url for collector, url in RUNS if collector == "checks.http._collect.collect_http")
    assert http_runs == Counter(dict.fromkeys(platform.urls, 1)), RUNS
    # Both families judged from those facts (auth's checks run first on each URL: they sort first).
    by_family = Counter((r.check.split(".")[0], r.status) for r in results)
    assert by_family[("auth", Status.PASS)] > 0 and by_family[("http", Status.PASS)] > 0, by_family
    assert not [r for r in results if r.status is Status.ERROR], [(r.check, r.detail) for r in results]


class RecordingContext(ScanContext):
    """A context whose fact cache only records the key, collector and privacy of each request."""

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform, ScanSettings(), FactCache(Workers()), deadline=time.monotonic() + 60)
        self.asked: list[tuple[Hashable, str, bool]] = []

    def collect(self, key: Hashable, collector: Callable[..., T], *args: Any, private: bool = False) -> T:
        self.asked.append((key, collector.__qualname__, private))
        if private:
            self.private_keys.add(key)
        return None  # type: ignore[return-value]


def test_both_families_ask_the_fact_cache_the_same_thing() -> None:
    platform = Platform(id="dvc", name="DVC", urls=("https://dvc.example/", "http://dvc.example/"))
    auth_check = next(c for c in CATALOGUE if isinstance(c, AuthCheck))
    for url in platform.urls:
        auth_ctx, api_ctx = RecordingContext(platform), RecordingContext(platform)
        auth_check.http_facts(Endpoint.for_url(platform, url), auth_ctx)
        http_api.http_facts(api_ctx, platform, url)
        assert auth_ctx.asked == api_ctx.asked == [(("http", "dvc", url), "collect_http", True)]
        assert auth_ctx.private_keys == {("http", "dvc", url)}
    # The http family's own checks use the same function.
    assert http_base.http_facts is http_api.http_facts
