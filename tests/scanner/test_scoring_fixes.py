"""What fixing gains: the fixes toward any letter, each fix's gain from the scoring itself, and the
score per family (docs/scoring.md, sections 6 and 7, and its worked example)."""

from __future__ import annotations

from scanner.evidence import FACTS
from scanner.model import Result, Severity, Status
from scanner.plugin import installed_caps
from scanner.scoring import Fix, family_scores, fix_gains, fixes_to_reach, score_platform

CAPS = installed_caps()


def r(
    check: str,
    status: Status = Status.PASS,
    severity: Severity = Severity.HIGH,
    endpoint: str = "https://a.example/",
    facts: tuple[str, ...] = (),
) -> Result:
    evidence = {FACTS: list(facts)} if facts else {}
    return Result(check, "p", endpoint, status, severity, check, f"{check} {status}", evidence=evidence)


PASSES = [r(f"x.check{i}") for i in range(6)]
WORKED = [
    *PASSES,
    r("tls.protocol_legacy", Status.FAIL),
    r("http.hsts", Status.FAIL),
    r("tls.cert_lifetime", Status.FAIL, Severity.LOW),
]


def test_the_worked_example_of_the_docs() -> None:
    score = score_platform(WORKED, CAPS)
    assert (score.score, score.grade, score.next_grade, score.fixes) == (57, "D", "C", ("http.hsts",))
    assert fixes_to_reach(score, "B", CAPS) == ("http.hsts", "tls.protocol_legacy")
    assert fixes_to_reach(score, "D", CAPS) == (), "already there"
    assert fix_gains(score, CAPS) == (
        Fix("http.hsts", 20, "C", None),
        Fix("tls.protocol_legacy", 20, "C", "B"),
        Fix("tls.cert_lifetime", 3, "D", None),
    )
    families = {f.family: f for f in family_scores(score)}
    assert (families["tls"].score, families["http"].score, families["x"].score) == (77, 80, 100)
    assert (families["tls"].failed, families["tls"].tested, families["tls"].applicable) == (2, 2, 2)
    assert families["tls"].cap is None, "the B cap does not bind below B"


def test_one_fixed_cap_can_lift_an_f_past_the_next_letter() -> None:
    # 100 - 40 (critical, cap F) - 20 - 3 - 3 - 1.5 = 32: F; with the expired certificate fixed, 72: C
    results = [
        *PASSES,
        r("tls.cert_expired", Status.FAIL, Severity.CRITICAL),
        r("http.hsts", Status.FAIL),
        r("tls.ocsp_stapling", Status.FAIL, Severity.LOW),
        r("tls.cert_lifetime", Status.FAIL, Severity.LOW),
        r("http.security_txt", Status.WARN, Severity.LOW),
    ]
    score = score_platform(results, CAPS)
    assert (score.score, score.grade, score.next_grade) == (32, "F", "D")
    top = fix_gains(score, CAPS)[0]
    assert top == Fix("tls.cert_expired", 40, "C", "F"), "to reach D understates it: one fix gives a C"
    assert score.fixes == ("tls.cert_expired",)
    assert fixes_to_reach(score, "B", CAPS) == ("tls.cert_expired", "http.hsts")
    assert {f.family: f.cap for f in family_scores(score)}["tls"] == "F"


def test_a_gain_counts_a_shadowed_fact_again() -> None:
    # the same banner seen by two families is deducted once; fixing the larger alone gains only the difference
    fact = ("software:apache/2.4.58@a.example",)
    results = [
        *PASSES,
        r("http.version_disclosure", Status.FAIL, Severity.MEDIUM, facts=fact),
        r("ports.version_disclosure", Status.FAIL, Severity.LOW, "a.example", facts=fact),
    ]
    score = score_platform(results, CAPS)
    assert score.score == 90
    gains = {fix.check: fix.points for fix in fix_gains(score, CAPS)}
    assert gains == {"http.version_disclosure": 7, "ports.version_disclosure": 0}
    assert fixes_to_reach(score, "A+", CAPS) == ("http.version_disclosure", "ports.version_disclosure")


def test_no_list_for_what_no_fix_can_promise() -> None:
    untested = [*PASSES, r("tls.protocol_tls13", Status.ERROR), r("http.csp", Status.FAIL, Severity.LOW)]
    score = score_platform(untested, CAPS)
    assert score.grade == "A" and fixes_to_reach(score, "A+", CAPS) is None
    assert {f.family: f.score for f in family_scores(score)} == {"http": 97, "tls": None, "x": 100}
    nothing = score_platform([r("tls.https_available", Status.ERROR)], CAPS)
    assert nothing.grade is None and fixes_to_reach(nothing, "B", CAPS) is None and fix_gains(nothing, CAPS) == ()
