"""The engine with real worker processes: deadlines, failures as data, shared facts, per-host limits."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from scanner.engine import Job, plan, run_scan, units
from scanner.model import Platform, Result, Status
from scanner.plugin import ScanSettings
from tests.scanner.sample_checks import Broken, Crash, Dies, OtherFamilyProbe, PortProbe, Probe, read_log


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "collect.log"
    monkeypatch.setenv("PLATSCAN_TEST_LOG", str(path))
    return path


def scan(platforms: list[Platform], settings: ScanSettings, checks: tuple[object, ...] | None = None) -> list[Result]:
    collected: list[Result] = []

    def keep(job: Job, results: list[Result]) -> None:
        collected.extend(results)

    run_scan(platforms, checks or (Probe(),), settings, on_results=keep)  # type: ignore[arg-type]
    return collected


def platform(pid: str, *hosts: str) -> Platform:
    return Platform(id=pid, name=pid, urls=tuple(f"https://{h}/" for h in hosts))


def test_slow_endpoint_is_bounded_and_does_not_hold_up_the_others(log: Path) -> None:
    fleet = [platform("fast", "a.test", "b.test", "c.test"), platform("slow", "slow.test")]
    started = time.monotonic()
    results = scan(fleet, ScanSettings(concurrency=4, endpoint_timeout=2))
    elapsed = time.monotonic() - started
    by_host = {r.endpoint: r for r in results}
    assert elapsed < 8, f"scan took {elapsed:.1f}s; the slow endpoint's 30 s sleep was not cut off"
    assert by_host["https://slow.test/"].status == Status.ERROR
    assert "gave up after 2 s" in by_host["https://slow.test/"].detail
    assert {by_host[f"https://{h}/"].status for h in ("a.test", "b.test", "c.test")} == {Status.PASS}


def test_failures_become_error_results_and_spare_other_checks(log: Path) -> None:
    results = scan([platform("p", "crash.test")], ScanSettings(), (Broken(), Crash(), Dies(), Probe()))
    by_check = {r.check: r for r in results}
    assert by_check["sample.probe"].status == Status.PASS
    assert by_check["sample.crash"].status == Status.ERROR
    assert by_check["sample.crash"].detail == "check crashed: RuntimeError: bug in the check"
    assert by_check["sample.broken"].status == Status.ERROR
    assert "ValueError: cannot parse the reply of crash.test" in by_check["sample.broken"].detail
    assert by_check["sample.dies"].detail == "collector process died (exit code 7)"


def test_facts_are_collected_once_per_key(log: Path) -> None:
    shared = Platform(id="p", name="p", urls=("https://one.test/", "https://one.test/login", "https://one.test:8443/"))
    results = scan([shared], ScanSettings(concurrency=3))
    assert len(results) == 3 and all(r.status == Status.PASS for r in results)
    assert len(read_log(log)) == 1, "three endpoints on one host share one collection"


def overlaps(entries: list[dict[str, float]]) -> int:
    return sum(1 for a in entries for b in entries if a is not b and a["start"] < b["end"] and b["start"] < a["end"])


@pytest.mark.parametrize(("per_host", "expect_overlap"), [(1, False), (3, True)])
def test_per_host_limit(log: Path, monkeypatch: pytest.MonkeyPatch, per_host: int, expect_overlap: bool) -> None:
    monkeypatch.setenv("PLATSCAN_TEST_SLEEP", "0.3")
    one_host = Platform(id="p", name="p", urls=tuple(f"https://one.test:{port}/" for port in (8441, 8442, 8443)))
    scan([one_host], ScanSettings(concurrency=4, per_host=per_host), (PortProbe(),))
    entries = read_log(log)
    assert len(entries) == 3
    assert (overlaps(entries) > 0) is expect_overlap


def test_units_group_each_servers_endpoints_and_start_the_longest_first() -> None:
    fleet = [
        Platform(id="big", name="big", urls=("https://a.test/1", "https://a.test/2", "https://a.test/3")),
        Platform(id="small", name="small", urls=("https://b.test/",)),
        Platform(id="shared", name="shared", urls=("https://c.test/",), resolve=(("c.test", "192.0.2.9"),)),
        Platform(id="alias", name="alias", urls=("https://d.test/",), resolve=(("d.test", "192.0.2.9"),)),
    ]
    slow = {("small", "https://b.test/"): 40.0, ("big", "https://a.test/3"): 5.0}
    made = units(plan(fleet, (Probe(),)), lambda job: slow.get(job.key, 1.0), per_host=2)
    assert [unit.server for unit in made] == ["b.test", "a.test", "192.0.2.9"]
    assert made[0].expected == 40.0
    # a.test: its slowest endpoint first; 7 s of work, two at a time, but never less than the longest.
    assert made[1].jobs[0].endpoint.target == "https://a.test/3"
    assert made[1].expected == 5.0
    # Two platform names on one registered address are one server: one unit, one politeness bound.
    assert sorted(job.platform.id for job in made[2].jobs) == ["alias", "shared"]


def test_an_endpoints_families_collect_at_once(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATSCAN_TEST_SLEEP", "1.0")
    one = [Platform(id="p", name="p", urls=("https://one.test:8441/",))]
    results = scan(one, ScanSettings(concurrency=1, per_host=1), (PortProbe(), OtherFamilyProbe()))
    assert [r.check for r in results] == ["sample.port_probe", "other.port_probe"]  # in catalogue order
    entries = read_log(log)
    assert len(entries) == 2 and overlaps(entries) > 0, "the two families' collections did not overlap"


def test_the_slowest_server_starts_first_so_the_fleet_does_not_wait_for_it(
    log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLATSCAN_TEST_SLEEP", "0.3")
    fleet = [Platform(id=f"p{n}", name="p", urls=(f"https://h{n}.test/",)) for n in range(6)]
    expected = {("p5", "https://h5.test/"): 30.0}
    collected: list[str] = []
    run_scan(
        fleet,
        (PortProbe(),),
        ScanSettings(concurrency=2),
        on_results=lambda job, results: collected.append(job.platform.id),
        expected=lambda job: expected.get(job.key, 0.3),
    )
    starts = sorted(read_log(log), key=lambda entry: entry["start"])
    # Two at a time: in registry order h5 would start in the last pair; expected longest, it is in the first.
    assert "https://h5.test/" in {entry["target"] for entry in starts[:2]}, "the longest job did not start first"
    assert sorted(collected) == [f"p{n}" for n in range(6)]


def test_criteria_come_from_the_profile_mapping(log: Path) -> None:
    collected: list[Result] = []
    run_scan(
        [platform("p", "a.test")],
        (Probe(),),
        ScanSettings(),
        on_results=lambda unit, results: collected.extend(results),
        criteria={"sample.probe": ("VN-X1",)},
    )
    assert collected[0].criteria == ("VN-X1",) and collected[0].duration > 0
