"""Scoring: each weight, each kind of cap, coverage, and the 'what lifts the grade' explanation."""

from __future__ import annotations

from dataclasses import replace

import pytest

from scanner.model import Result, Severity, Status
from scanner.plugin import installed_caps
from scanner.scoring import BANDS, WEIGHTS, score_platform

CAPS = installed_caps()


def r(
    check: str, status: Status = Status.PASS, severity: Severity = Severity.HIGH, endpoint: str = "https://a/"
) -> Result:
    return Result(check, "p", endpoint, status, severity, check, f"{check} {status}")


PASSES = [r(f"x.check{i}") for i in range(10)]


def test_all_pass_is_a_plus() -> None:
    score = score_platform(PASSES, CAPS)
    assert (score.score, score.grade, score.caps, score.next_grade) == (100, "A+", (), None)
    assert score.explain() == ""


@pytest.mark.parametrize("severity", list(Severity))
def test_each_weight(severity: Severity) -> None:
    score = score_platform([*PASSES, r("x.bad", Status.FAIL, severity)], CAPS)
    assert score.score == 100 - WEIGHTS[severity]


def test_warnings_cost_half_and_cost_the_plus() -> None:
    score = score_platform([*PASSES, r("x.meh", Status.WARN, Severity.MEDIUM)], CAPS)
    assert score.score == 95 and score.grade == "A"
    assert score.next_grade == "A+" and score.fixes == ("x.meh",)


def test_bands() -> None:
    assert [letter for letter, _ in BANDS] == ["A", "B", "C", "D", "F"]
    # two high (-40) and one medium (-10): 50 is a D
    score = score_platform(
        [*PASSES, r("x.h1", Status.FAIL), r("x.h2", Status.FAIL), r("x.m", Status.FAIL, Severity.MEDIUM)], CAPS
    )
    assert (score.score, score.grade) == (50, "D")


def test_a_check_counts_once_per_platform_at_its_worst() -> None:
    results = [
        r("tls.cert_lifetime", Status.FAIL, Severity.LOW, "https://a/"),
        r("tls.cert_lifetime", Status.FAIL, Severity.LOW, "https://b/"),
        r("tls.cert_lifetime", Status.PASS, Severity.LOW, "https://c/"),
    ]
    score = score_platform([*PASSES, *results], CAPS)
    assert score.score == 97
    (outcome,) = [o for o in score.outcomes if o.check == "tls.cert_lifetime"]
    assert outcome.status == Status.FAIL and outcome.endpoints == 3


@pytest.mark.parametrize(
    ("check", "severity", "grade"),
    [
        ("tls.cert_expired", Severity.CRITICAL, "F"),
        ("tls.cert_untrusted", Severity.HIGH, "F"),
        ("tls.protocol_ssl", Severity.CRITICAL, "F"),
        ("ports.database_exposed", Severity.CRITICAL, "F"),
        ("auth.protected_paths", Severity.CRITICAL, "F"),
        ("tls.protocol_legacy", Severity.HIGH, "B"),
        ("tls.cipher_insecure", Severity.HIGH, "C"),
        ("tls.cipher_insecure", Severity.CRITICAL, "F"),
        ("tls.protocol_tls12", Severity.LOW, "A"),  # TLS 1.3 only: no cap, a small deduction
    ],
)
def test_caps(check: str, severity: Severity, grade: str) -> None:
    score = score_platform([*PASSES, r(check, Status.FAIL, severity)], CAPS)
    assert score.grade == grade
    if grade in ("A", "A+"):
        assert score.caps == ()
    else:
        assert [cap.check for cap in score.caps] == [check]
        assert f"Capped at {grade} by {check}." in score.explain()


def test_every_cap_names_a_known_letter() -> None:
    for caps in CAPS.values():
        assert caps and all(cap.grade in {"F", "D", "C", "B"} for cap in caps)


def test_a_warning_never_caps() -> None:
    score = score_platform([*PASSES, r("tls.cert_untrusted", Status.WARN, Severity.MEDIUM)], CAPS)
    assert score.grade == "A" and score.caps == ()


def test_next_grade_names_the_fewest_fixes() -> None:
    results = [
        *PASSES,
        r("tls.protocol_legacy", Status.FAIL, Severity.HIGH),  # -20, caps B
        r("http.hsts", Status.FAIL, Severity.HIGH),  # -20
        r("tls.cert_lifetime", Status.FAIL, Severity.LOW),  # -3
    ]
    score = score_platform(results, CAPS)
    assert (score.score, score.band, score.grade) == (57, "D", "D")
    assert score.caps == ()  # B is above the band: the cap does not bind
    assert score.next_grade == "C" and score.fixes == ("http.hsts",)
    assert score.explain() == "Fix http.hsts to reach C."
    fixed = score_platform(
        [*PASSES, r("tls.protocol_legacy", Status.FAIL), r("tls.cert_lifetime", Status.FAIL, Severity.LOW)], CAPS
    )
    assert (fixed.score, fixed.grade, fixed.next_grade, fixed.fixes) == (77, "C", "B", ("tls.protocol_legacy",))


def test_binding_cap_must_be_fixed_first() -> None:
    score = score_platform(
        [*PASSES, r("tls.cert_expired", Status.FAIL, Severity.CRITICAL), r("x.low", Status.FAIL, Severity.LOW)], CAPS
    )
    assert score.grade == "F" and score.band == "D"
    assert score.next_grade == "D" and score.fixes == ("tls.cert_expired",)


def test_errors_never_count_as_passes() -> None:
    results = [
        *PASSES,
        Result("tls.protocol_legacy", "p", "https://a/", Status.ERROR, Severity.HIGH, "t", "connection timed out"),
        Result("tls.cert_expired", "p", "https://a/", Status.ERROR, Severity.CRITICAL, "t", "connection timed out"),
    ]
    score = score_platform(results, CAPS)
    assert score.partial and score.grade == "A"  # not A+: two checks could not run
    assert score.coverage.tested == 10 and score.coverage.applicable == 12
    assert score.coverage.untested == {"tls": "connection timed out"}
    assert "Partial: 10 of 12 applicable checks tested." in score.explain()


def test_nothing_tested_means_no_grade() -> None:
    score = score_platform([r("tls.a", Status.ERROR), r("tls.b", Status.SKIP, endpoint="a.host")], CAPS)
    assert (score.score, score.grade, score.assessed) == (None, None, False)
    assert score.explain().startswith("Could not be assessed: none of its 1 web URL(s) could be tested")
    hosts_only = score_platform([r("ports.a", Status.ERROR, endpoint="a.host")], CAPS)
    assert hosts_only.explain() == "Could not be assessed: no check could be tested."


def test_a_platform_whose_web_urls_could_not_be_tested_is_not_graded() -> None:
    """`gate --url https://127.0.0.1:1/`: five port checks pass, every web check errors. That is not
    an A 100: the portal was never looked at."""
    ports = [r(f"ports.p{i}", endpoint="127.0.0.1") for i in range(5)]
    refused = [
        replace(r(f"{family}.c{i}", Status.ERROR, endpoint="https://127.0.0.1:1/"), detail="connection refused")
        for family in ("tls", "http")
        for i in range(10)
    ]
    score = score_platform([*ports, *refused], CAPS)
    assert (score.grade, score.score) == (None, None)
    assert (
        str(score.coverage.unreachable)
        == "none of its 1 web URL(s) could be tested (https://127.0.0.1:1/: connection refused)"
    )
    # One web URL answering is enough to be assessed; the rest of the coverage decides the rest.
    reached = score_platform([*ports, *refused, r("http.ok", endpoint="https://127.0.0.1:2/")], CAPS)
    assert reached.grade is not None


def test_below_the_coverage_threshold_the_grade_is_provisional() -> None:
    tested = [r(f"x.check{i}") for i in range(7)]
    untested = [r(f"tls.u{i}", Status.ERROR) for i in range(3)]
    at_70 = score_platform([*tested, *untested], CAPS)
    assert at_70.grade == "A" and at_70.provisional and at_70.partial
    assert at_70.explain().startswith("Provisional: only 7 of 10 applicable checks were tested")
    at_80 = score_platform([*tested, r("x.more"), *untested[:2]], CAPS)
    assert at_80.partial and not at_80.provisional


def test_skips_do_not_count() -> None:
    score = score_platform([*PASSES, r("tls.x", Status.SKIP)], CAPS)
    assert score.grade == "A+" and score.coverage.applicable == 10
