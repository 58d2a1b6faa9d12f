"""Every http check against the live HTTP fleet, in-process: the collector on each registered URL,
then each check's verdict (every id passes on some site and fails on another)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from checks.http._collect import HttpTarget, collect_http
from checks.http.base import HttpCheck
from checks.http.client import PAGE_CAP
from checks.http.facts import HttpFacts
from scanner.plugin import Verdict, discover_checks
from scanner.registry import load_targets
from tests.fleet.http_fleet import CASE_NAMES, HTTP_CHECKS, HttpFleet, start_http_fleet

CHECKS: dict[str, HttpCheck] = {c.id: c for c in discover_checks().checks if isinstance(c, HttpCheck)}


@dataclass(frozen=True)
class Scanned:
    fleet: HttpFleet
    facts: dict[tuple[str, str], HttpFacts]  # (case, "https" | "http") -> facts
    seconds: dict[tuple[str, str], float]

    def verdicts(self, case: str, scheme: str) -> dict[str, Verdict]:
        facts = self.facts[(case, scheme)]
        return {check_id: CHECKS[check_id].evaluate(facts) for check_id in HTTP_CHECKS}


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scanned]:
    with start_http_fleet(tmp_path_factory.mktemp("http-fleet")) as fleet:
        targets = load_targets(fleet.write_targets())
        jobs = []
        for site in fleet:
            platform = targets.platform(site.name)
            jobs += [(site.name, "https", HttpTarget(site.https_url, platform))]
            jobs += [(site.name, "http", HttpTarget(site.http_url, platform))]

        def run(job: tuple[str, str, HttpTarget]) -> tuple[tuple[str, str], HttpFacts, float]:
            started = time.monotonic()
            facts = collect_http(job[2], targets.settings, 20)
            return (job[0], job[1]), facts, time.monotonic() - started

        with ThreadPoolExecutor(8) as pool:
            done = list(pool.map(run, jobs))
        yield Scanned(fleet, {key: facts for key, facts, _ in done}, {key: seconds for key, _, seconds in done})


def test_every_http_check_is_in_the_fleet_expectations() -> None:
    assert sorted(CHECKS) == sorted(HTTP_CHECKS)


@pytest.mark.parametrize("case", CASE_NAMES)
@pytest.mark.parametrize("scheme", ["https", "http"])
def test_verdicts(scanned: Scanned, case: str, scheme: str) -> None:
    site = scanned.fleet[case]
    expected = site.expect if scheme == "https" else site.expect_plain
    verdicts = scanned.verdicts(case, scheme)
    got = {check_id: verdict.status.value for check_id, verdict in verdicts.items()}
    wrong = {c: (got[c], expected[c], verdicts[c].detail) for c in HTTP_CHECKS if got[c] != expected[c]}
    assert wrong == {}


def test_every_check_passes_somewhere_and_fails_somewhere(scanned: Scanned) -> None:
    seen: dict[str, set[str]] = {check_id: set() for check_id in HTTP_CHECKS}
    for case in CASE_NAMES:
        for check_id, verdict in scanned.verdicts(case, "https").items():
            seen[check_id].add(verdict.status.value)
    assert {c: s for c, s in seen.items() if not {"pass", "fail"} <= s} == {}


def test_the_off_platform_redirect_target_is_never_contacted(scanned: Scanned) -> None:
    assert scanned.fleet.canary.connections == 0
    facts = scanned.facts[("main_offsite", "https")]
    assert facts.page.blocked_redirect == f"https://127.0.0.1:{scanned.fleet.canary.port}/"


def test_a_50_mb_body_costs_neither_memory_nor_time(scanned: Scanned) -> None:
    facts = scanned.facts[("huge_body", "https")]
    assert facts.final is not None and len(facts.final.body) == PAGE_CAP and not facts.final.body_complete
    assert scanned.seconds[("huge_body", "https")] < 2


def test_a_script_in_a_header_is_evidence_verbatim(scanned: Scanned) -> None:
    verdict = scanned.verdicts("script_header", "https")["http.referrer_policy"]
    assert verdict.evidence["header"] == "Referrer-Policy: <script>alert('platscan')</script>"


def test_the_collection_is_small_and_fast(scanned: Scanned) -> None:
    for (case, scheme), facts in scanned.facts.items():
        assert facts.requests <= 25, (case, scheme, facts.requests)
        if facts.delegated_to:
            assert facts.requests <= 3
    good = scanned.facts[("good", "https")]
    assert good.origin == scanned.fleet["good"].https_url.rstrip("/")
    assert len(good.sensitive) == 10 and len(good.directories) == 5
    # Keep-alive: the https:// URL's 22 requests and the http:// URL's redirect use a few connections.
    https_server, _ = scanned.fleet["good"].servers
    assert https_server.connections <= 4


def test_the_page_html_is_kept_for_the_auth_family(scanned: Scanned) -> None:
    from checks.http.html import page_info

    final = scanned.facts[("good", "https")].final
    assert final is not None
    (form,) = page_info(final).forms
    assert form.has_password and form.action == f"{scanned.fleet['good'].https_url}login"
