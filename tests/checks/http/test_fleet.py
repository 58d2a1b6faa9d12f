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
from scanner.family import discover_families
from scanner.messages import has_words
from scanner.model import Endpoint
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


def test_every_result_is_a_message_that_reads_in_vietnamese(scanned: Scanned) -> None:
    """Every sentence the checks say about the real fleet (passes, failures, warnings, skips, errors of a
    closed port and of a self-signed certificate) is a message with a Vietnamese template of its own, and
    so is every phrase nested in it that has words (a data-only template such as "{first}, {rest}" need not)."""
    vi = discover_families().messages("vi")
    english: list[tuple[str, str, str, str]] = []
    untranslated: set[str] = set()
    statuses: set[str] = set()
    for (case, scheme), facts in scanned.facts.items():
        endpoint = Endpoint(platform=facts.platform, target=facts.url, kind="url", host="")
        for check_id in HTTP_CHECKS:
            check = CHECKS[check_id]
            result = check.from_verdict(endpoint, check.evaluate(facts))
            statuses.add(result.status.value)
            assert result.message is not None, (case, scheme, check_id, result.detail)
            assert str(result.message) == result.detail
            if result.message.render(vi) == result.detail or vi.get(result.message.id) == result.message.text:
                english.append((case, scheme, check_id, result.detail))
            untranslated |= {m.id for m in result.message.nested() if has_words(m.text) and m.id not in vi}
    assert statuses == {"pass", "fail", "warn", "skip", "error"}, "the fleet says every kind of sentence"
    assert english == [], "results that read in English in a Vietnamese report"
    assert sorted(untranslated) == [], "messages without a Vietnamese template of their own"


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
