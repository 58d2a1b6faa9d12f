"""The gate's decision on recorded results: each exit code and each option of the bar."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from scanner.compliance import assess
from scanner.criteria import load_profile
from scanner.gate import Bar, Baseline, Outcome, decide
from scanner.messages import Message
from scanner.model import Result, Severity, Status
from scanner.plugin import installed_caps
from scanner.scoring import score_platform

URL = "https://dvc.test/"
PROFILE = load_profile("vn-baseline")

CAPS = installed_caps()


def words(said: Sequence[Message]) -> list[str]:
    """Gate reasons as the English terminal prints them."""
    return [str(message) for message in said]


def r(check: str, status: Status = Status.PASS, severity: Severity = Severity.HIGH) -> Result:
    return Result(check, "dvc", URL, status, severity, check, f"{check} {status}")


BASE = [r(f"tls.check{i}") for i in range(10)]


def gate(
    results: list[Result], bar: Bar | None = None, waived: list[Result] | None = None, baseline: Baseline | None = None
):  # type: ignore[no-untyped-def]
    waived = waived or []
    keys = {(w.check, w.endpoint) for w in waived}
    scored = [
        x
        if (x.check, x.endpoint) not in keys
        else Result(x.check, x.platform, x.endpoint, Status.SKIP, x.severity, x.title, "waived")
        for x in results
    ]
    return decide(
        "dvc", results, score_platform(scored, CAPS), assess(PROFILE, 3, results), bar or Bar(), waived, baseline
    )


def test_clean_platform_passes() -> None:
    verdict = gate(BASE)
    assert verdict.outcome == Outcome.PASSED and verdict.reasons == () and verdict.grade == "A+"


def test_failure_at_or_above_fail_on_blocks() -> None:
    verdict = gate([*BASE, r("tls.protocol_legacy", Status.FAIL, Severity.HIGH)])
    assert verdict.outcome == Outcome.BELOW_BAR
    assert [b.check for b in verdict.blocking] == ["tls.protocol_legacy"]
    relaxed = gate([*BASE, r("tls.protocol_legacy", Status.FAIL, Severity.HIGH)], Bar(fail_on=Severity.CRITICAL))
    assert relaxed.outcome == Outcome.PASSED, "grade B meets the default bar, and high < critical"


def test_min_grade() -> None:
    results = [
        *BASE,
        r("x.a", Status.FAIL, Severity.MEDIUM),
        r("x.b", Status.FAIL, Severity.MEDIUM),
        r("x.c", Status.FAIL, Severity.MEDIUM),
    ]
    assert gate(results).outcome == Outcome.BELOW_BAR  # 70 = C < B
    assert "grade C is below the minimum B" in words(gate(results).reasons)
    assert gate(results, Bar(min_grade="C")).outcome == Outcome.PASSED


def test_warnings_alone_never_fail() -> None:
    verdict = gate([*BASE, r("tls.cert_untrusted", Status.WARN, Severity.MEDIUM)])
    assert verdict.outcome == Outcome.PASSED and len(verdict.notes) == 1


def test_could_not_scan_is_never_a_pass() -> None:
    verdict = gate([*BASE, r("tls.protocol_legacy", Status.ERROR)])
    assert verdict.outcome == Outcome.COULD_NOT_SCAN
    assert words(verdict.reasons) == ["tls not tested: tls.protocol_legacy error"]


def test_waived_failure_does_not_block() -> None:
    legacy = r("tls.protocol_legacy", Status.FAIL, Severity.HIGH)
    verdict = gate([*BASE, legacy], waived=[legacy])
    assert verdict.outcome == Outcome.PASSED and verdict.waived == (legacy,)


def test_require_compliant() -> None:
    results = [
        r("tls.https_available"),
        r("tls.protocol_tls12"),
        r("tls.client_cert_required"),
        r("tls.cert_expiring", Status.FAIL, Severity.MEDIUM),
    ]
    assert gate(results).outcome == Outcome.PASSED
    verdict = gate(results, Bar(require_compliant=True))
    assert verdict.outcome == Outcome.BELOW_BAR
    assert any(reason.startswith("not compliant at level 3: VN-A6 not met") for reason in words(verdict.reasons))


def test_baseline_fails_only_on_new_or_worse() -> None:
    old = [*BASE, r("tls.protocol_legacy", Status.FAIL, Severity.HIGH)]
    baseline = Baseline(
        scan_id=4, failures={(x.check, x.endpoint): x for x in old if x.status == Status.FAIL}, grade="B"
    )
    assert gate(old, baseline=baseline).outcome == Outcome.PASSED, "known failures do not fail in baseline mode"
    worse = [*BASE, r("tls.protocol_legacy", Status.FAIL, Severity.CRITICAL)]
    assert gate(worse, baseline=baseline).outcome == Outcome.BELOW_BAR
    new = [*old, r("tls.cert_expired", Status.FAIL, Severity.CRITICAL)]
    verdict = gate(new, baseline=baseline)
    assert [b.check for b in verdict.blocking] == ["tls.cert_expired"]
    assert "grade F is worse than the baseline's B (scan 4)" in words(verdict.reasons)


def test_baseline_sees_a_new_item_inside_a_known_finding() -> None:
    """One ports result lists every exposed database: a second database is new, not known debt.

    Its key (the ports found), not its detail sentence, tells them apart."""
    known = Result(
        "ports.database_exposed",
        "dvc",
        "dvc.test",
        Status.FAIL,
        Severity.CRITICAL,
        "DB",
        "MySQL on 3306",
        key="tcp/3306",
    )
    now = Result(
        "ports.database_exposed",
        "dvc",
        "dvc.test",
        Status.FAIL,
        Severity.CRITICAL,
        "DB",
        "MySQL on 3306, PostgreSQL on 5432",
        key="tcp/3306,tcp/5432",
    )
    baseline = Baseline(scan_id=2, failures={(known.check, known.endpoint): known}, grade="F")
    assert gate([*BASE, known], baseline=baseline).outcome == Outcome.PASSED
    assert gate([*BASE, now], baseline=baseline).outcome == Outcome.BELOW_BAR


def test_requirements_resting_on_active_checks_are_noted_not_failed() -> None:
    results = [r("tls.https_available"), r("tls.protocol_tls12"), r("tls.client_cert_required")]
    profile = PROFILE
    requirement_ids = {q.id for q in profile.requirements if q.checks == ("auth.lockout",)}
    assert requirement_ids, "vn-baseline has a lockout requirement evidenced by an active check only"
    scored = score_platform(results, CAPS)
    compliance = assess(profile, 3, results)
    verdict = decide("dvc", results, scored, compliance, Bar(require_compliant=True), gate_cannot_run={"auth.lockout"})
    assert not any(next(iter(requirement_ids)) in reason for reason in words(verdict.reasons))
    assert any("rest on active checks" in note for note in words(verdict.notes))


@pytest.mark.parametrize("outcome", list(Outcome))
def test_exit_codes_are_documented(outcome: Outcome) -> None:
    assert outcome.value == {"PASSED": 0, "BELOW_BAR": 1, "USAGE": 2, "COULD_NOT_SCAN": 3}[outcome.name]
