"""Waivers: matching, expiry, staleness, and clear errors for a bad file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from scanner.model import Result, Severity, Status
from scanner.scoring import score_platform
from scanner.waivers import WaiverError, WaiverScope, apply_waivers, load_waivers, scoring_view

GOOD = """
[[waivers]]
platform = "dvc"
check = "tls.protocol_legacy"
endpoint = "https://dvc.nghean.example/*"
reason = "Old kiosks need TLS 1.0 until the replacement in March"
approved_by = "Nguyen Van A, CISO"
expires = 2027-03-31

[[waivers]]
platform = "dvc"
check = "http.*"
reason = "Headers come with the new reverse proxy"
approved_by = "Nguyen Van A, CISO"
expires = 2026-01-01

[[waivers]]
platform = "mail"
check = "tls.cert_lifetime"
reason = "Nothing fails this any more"
approved_by = "Tran Thi B"
expires = 2027-01-01
"""


def fail(check: str, endpoint: str = "https://dvc.nghean.example/", platform: str = "dvc") -> Result:
    return Result(check, platform, endpoint, Status.FAIL, Severity.HIGH, check, "bad")


def test_apply(tmp_path: Path) -> None:
    path = tmp_path / "waivers.toml"
    path.write_text(GOOD)
    waivers = load_waivers(path)
    assert [w.line for w in waivers] == [2, 10, 17]
    results = [fail("tls.protocol_legacy"), fail("http.hsts"), fail("tls.protocol_legacy", platform="other")]
    outcome = apply_waivers(waivers, results, dt.date(2026, 11, 21))
    assert outcome.covers(results[0]) is waivers[0]
    assert outcome.covers(results[1]) is None, "the http.* waiver expired on 2026-01-01"
    assert outcome.covers(results[2]) is None, "a waiver is for its platform only"
    assert outcome.expired == (waivers[1],)
    assert outcome.stale == (), "nothing of platform mail was tested: its waiver is not stale"
    later = apply_waivers(waivers, results, dt.date(2027, 4, 1))
    assert later.waived == {} and later.expired == tuple(waivers), "expired, whether or not its check failed"


def passing(check: str, status: Status = Status.PASS, platform: str = "mail") -> Result:
    return Result(check, platform, "https://mail.nghean.example/", status, Severity.HIGH, check, "")


@pytest.mark.parametrize(
    ("results", "stale"),
    [
        ([], False),  # the platform was not scanned
        ([passing("tls.cert_expired")], False),  # scanned, but not this check (--only, or interrupted)
        ([passing("tls.cert_lifetime")], True),  # tested, and it passes: the failure was fixed
        ([passing("tls.cert_lifetime", Status.SKIP)], True),  # tested: the check no longer applies
        ([passing("tls.cert_lifetime", Status.ERROR)], False),  # could not be tested: still may fail
        ([passing("tls.cert_lifetime"), passing("tls.cert_lifetime", Status.ERROR)], False),
    ],
)
def test_stale_only_within_what_was_tested(tmp_path: Path, results: list[Result], stale: bool) -> None:
    path = tmp_path / "waivers.toml"
    path.write_text(GOOD)
    mail = load_waivers(path)[2]
    outcome = apply_waivers([mail], results, dt.date(2026, 11, 21))
    assert outcome.stale == ((mail,) if stale else ())


def test_scope_refuses_waivers_that_can_never_apply(tmp_path: Path) -> None:
    path = tmp_path / "waivers.toml"
    path.write_text(GOOD)
    scope = WaiverScope(
        source="targets.toml",
        endpoints={"dvc": ["https://dvc.nghean.example/", "dvc.nghean.example"], "email": ["mail.nghean.example"]},
        checks={"tls.protocol_legacy", "tls.cert_lifetime", "http.hsts"},
    )
    with pytest.raises(WaiverError) as info:
        load_waivers(path, today=dt.date(2026, 11, 21), scope=scope)
    assert info.value.problems == [
        "waivers.toml:17: waivers[2]: platform: 'mail' is not registered in targets.toml (did you mean email?)"
    ]
    good = {**scope.endpoints, "mail": ["https://mail.nghean.example/"]}
    assert len(load_waivers(path, dt.date(2026, 11, 21), WaiverScope("targets.toml", good, scope.checks))) == 3


def test_passes_are_never_waived(tmp_path: Path) -> None:
    path = tmp_path / "waivers.toml"
    path.write_text(GOOD)
    passing = Result("tls.protocol_legacy", "dvc", "https://dvc.nghean.example/", Status.PASS, Severity.HIGH, "t", "ok")
    outcome = apply_waivers(load_waivers(path), [passing], dt.date(2026, 11, 21))
    assert outcome.waived == {} and outcome.stale[0].check == "tls.protocol_legacy"


def test_bad_file_names_file_line_entry_and_field(tmp_path: Path) -> None:
    path = tmp_path / "waivers.toml"
    path.write_text('[[waivers]]\nplatform = "dvc"\ncheck = "tls.protocol_legacy"\nexpires = "soon"\nowner = "x"\n')
    with pytest.raises(WaiverError) as info:
        load_waivers(path)
    problems = info.value.problems
    assert "waivers.toml:1: waivers[0]: owner: unknown key" in problems[0]
    assert "waivers.toml:1: waivers[0]: reason: required (a non-empty string)" in problems
    assert any("expires: required (a date without quotes" in p for p in problems)
    path.write_text("[[waivers]\n")
    with pytest.raises(WaiverError, match="not valid TOML"):
        load_waivers(path)


def test_patterns_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "waivers.toml"
    entry = '[[waivers]]\nplatform = "dvc"\ncheck = "{check}"\nreason = "r"\napproved_by = "a"\nexpires = {expires}\n'
    path.write_text(entry.format(check="*", expires="2027-01-01"))
    with pytest.raises(WaiverError, match="not a check id or a pattern within one family"):
        load_waivers(path, today=dt.date(2026, 11, 21))
    path.write_text(entry.format(check="tls.*", expires="2099-12-31"))
    with pytest.raises(WaiverError, match="more than a year ahead"):
        load_waivers(path, today=dt.date(2026, 11, 21))
    path.write_text(
        entry.format(check="tls.*", expires="2027-06-30") + entry.format(check="tls.cert_expired", expires="2027-06-30")
    )
    broad, exact = load_waivers(path, today=dt.date(2026, 11, 21))
    expired = Result("tls.cert_expired", "dvc", "https://dvc.nghean.example/", Status.FAIL, Severity.CRITICAL, "t", "x")
    legacy = fail("tls.protocol_legacy")
    assert broad.matches(legacy) and not broad.matches(expired), "a pattern never waives an F-capping finding"
    assert exact.matches(expired), "an exact id can, with its own approval"


def test_a_waived_failure_counts_as_tested(tmp_path: Path) -> None:
    """Accepted, not "does not apply": a waiver neither deducts nor lowers the coverage."""
    path = tmp_path / "waivers.toml"
    path.write_text(GOOD)
    results = [fail("tls.protocol_legacy"), passing("tls.cert_lifetime", platform="dvc")]
    outcome = apply_waivers(load_waivers(path), results, dt.date(2026, 11, 21))
    seen = score_platform(scoring_view(results, outcome), {})
    assert (seen.coverage.tested, seen.coverage.applicable) == (2, 2)
    assert seen.score == 100
