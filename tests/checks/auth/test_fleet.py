"""Every auth check against the live auth fleet, in-process: each check's real ``run`` (collectors, policy,
redaction) on every registered URL, with the collections memoised as the engine's fact cache does
(but in this process, so a test sees the applications' state). Every id passes on one application and
fails on another; the applications count what the scanner sent."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from checks.auth.base import AuthCheck
from scanner.facts import FactCache
from scanner.family import discover_families
from scanner.messages import has_words
from scanner.model import Result
from scanner.plugin import ScanContext, ScanSettings, discover_checks
from scanner.registry import Targets, endpoints, load_targets
from tests.fleet.auth_app import ACTIVE, AUTH_CHECKS, CASE_NAMES, AuthFleet, FleetApp, start_auth_fleet

CHECKS: dict[str, AuthCheck] = {c.id: c for c in discover_checks().checks if isinstance(c, AuthCheck)}


class InlineFacts(FactCache):
    """The fact cache's contract (one collection per key) without worker processes."""

    def __init__(self) -> None:
        self._memo: dict[Hashable, Any] = {}
        self._lock = threading.Lock()
        self.keys: list[Hashable] = []

    def get(self, key: Hashable, fn: Callable[..., Any], args: Sequence[Any], deadline: float) -> Any:
        with self._lock:
            if key not in self._memo:
                self.keys.append(key)
                self._memo[key] = fn(*args)
            return self._memo[key]


def scan_platform(
    targets: Targets, name: str, settings: ScanSettings, selected: Sequence[str] = AUTH_CHECKS
) -> tuple[dict[tuple[str, str], Result], InlineFacts]:
    """Run the selected auth checks on every registered URL of platform ``name``, in catalogue order."""
    platform = targets.platform(name)
    facts = InlineFacts()
    results: dict[tuple[str, str], Result] = {}
    chosen = [CHECKS[c] for c in sorted(selected)]
    for endpoint in endpoints(platform):
        if endpoint.kind != "url":
            continue
        ctx = ScanContext(platform, settings, facts, time.monotonic() + 60, checks=[c.id for c in chosen])
        for check in chosen:
            (result,) = check.run(endpoint, ctx)
            results[(endpoint.scheme, check.id)] = result
    return results, facts


@dataclass(frozen=True)
class Scanned:
    fleet: AuthFleet
    results: dict[str, dict[tuple[str, str], Result]]
    facts: dict[str, InlineFacts]
    seconds: dict[str, float]

    def verdicts(self, case: str, scheme: str) -> dict[str, str]:
        return {check: self.results[case][(scheme, check)].status.value for check in AUTH_CHECKS}


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthFleet]:
    with start_auth_fleet(tmp_path_factory.mktemp("auth-fleet")) as fleet, pytest.MonkeyPatch.context() as mp:
        for name, value in fleet.environ().items():
            mp.setenv(name, value)
        yield fleet


@pytest.fixture(scope="module")
def scanned(environment: AuthFleet) -> Scanned:
    fleet = environment
    targets = load_targets(fleet.write_targets(), {"active": True})

    def run(app: FleetApp) -> tuple[str, dict[tuple[str, str], Result], InlineFacts, float]:
        started = time.monotonic()
        results, facts = scan_platform(targets, app.name, targets.settings)
        return app.name, results, facts, time.monotonic() - started

    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(run, fleet))
    return Scanned(
        fleet,
        {name: results for name, results, _, _ in done},
        {name: facts for name, _, facts, _ in done},
        {name: seconds for name, _, _, seconds in done},
    )


def test_every_auth_check_is_in_the_fleet_expectations() -> None:
    assert sorted(CHECKS) == sorted(AUTH_CHECKS)
    assert {c for c in CHECKS if CHECKS[c].active} == set(ACTIVE)


@pytest.mark.parametrize("case", CASE_NAMES)
@pytest.mark.parametrize("scheme", ["https", "http"])
def test_verdicts(scanned: Scanned, case: str, scheme: str) -> None:
    app = scanned.fleet[case]
    expected = app.case.expect if scheme == "https" else app.case.expect_plain
    got = scanned.verdicts(case, scheme)
    wrong = {
        c: (got[c], expected[c], scanned.results[case][(scheme, c)].detail)
        for c in AUTH_CHECKS
        if got[c] != expected[c]
    }
    assert wrong == {}


def test_every_check_passes_somewhere_and_fails_somewhere(scanned: Scanned) -> None:
    seen: dict[str, set[str]] = {check: set() for check in AUTH_CHECKS}
    for case in CASE_NAMES:
        for check, status in scanned.verdicts(case, "https").items():
            seen[check].add(status)
    assert {c: s for c, s in seen.items() if not {"pass", "fail"} <= s} == {}


def test_severities_follow_the_case(scanned: Scanned) -> None:
    def result(case: str, check: str) -> Result:
        return scanned.results[case][("https", check)]

    assert result("plain_login", "auth.login_https").severity.value == "critical"
    assert result("http_action", "auth.form_action_https").severity.value == "critical"
    assert result("basic_http", "auth.basic_over_http").severity.value == "high"
    assert result("admin_open", "auth.protected_paths").severity.value == "critical"
    assert result("admin_open", "auth.admin_exposed").severity.value == "high"
    assert result("phpmyadmin", "auth.admin_exposed").severity.value == "high"
    assert result("admin_closed", "auth.admin_exposed").severity.value == "medium"  # a warning
    assert result("pma_login", "auth.admin_exposed").severity.value == "medium"  # asks for a login: lower
    assert result("cookie_flags", "auth.session_cookie").severity.value == "medium"
    assert result("nolock", "auth.lockout").severity.value == "high"
    assert result("nolock", "auth.user_enumeration").severity.value == "medium"


def test_evidence_says_what_was_found(scanned: Scanned) -> None:
    def evidence(case: str, check: str) -> dict[str, Any]:
        return dict(scanned.results[case][("https", check)].evidence)

    (path,) = evidence("admin_open", "auth.protected_paths")["paths"]
    assert path["verdict"] == "open" and path["status"] == 200 and path["title"] == "Quản trị hệ thống"
    assert path["size"] > 200
    consoles = {c["path"]: c for c in evidence("phpmyadmin", "auth.admin_exposed")["consoles"]}
    assert consoles["/phpmyadmin"]["product"] == "phpMyAdmin" and consoles["/phpmyadmin"]["access"] == "open"
    assert consoles["/manager/html"]["product"] == "Tomcat Manager"
    assert consoles["/manager/html"]["access"] == "HTTP authentication"
    (challenge,) = evidence("basic_http", "auth.basic_over_http")["challenges"]
    assert challenge["header"] == 'WWW-Authenticate: Basic realm="Quan tri"' and challenge["url"].startswith("http://")
    (cookie,) = evidence("cookie_flags", "auth.session_cookie")["session_cookies"]
    assert cookie["name"] == "sessionid" and "HttpOnly" in " ".join(cookie["problems"])
    assert cookie["header"].startswith("Set-Cookie: sessionid=[32 characters]")
    twin = evidence("plain_login", "auth.login_https")["plain_http"]
    assert twin["status"] == 200 and twin["request"].startswith("GET http://")


def test_an_admin_path_behind_the_ordinary_login_only_warns(scanned: Scanned) -> None:
    def result(case: str) -> Result:
        return scanned.results[case][("https", "auth.admin_exposed")]

    def consoles(case: str) -> dict[str, dict[str, Any]]:
        return {c["path"]: c for c in result(case).evidence["consoles"]}

    # /admin -> /admin/ -> 302 /dang-nhap?next=...: the declared login_url, so no console of its own.
    closed = result("admin_closed")
    assert closed.status.value == "warn" and "TCVN 14423 x.6.2.4" in closed.detail and "QĐ 742 II.4.1" in closed.detail
    assert consoles("admin_closed")["/admin"]["ordinary_login"] == "the declared login_url"
    assert closed.evidence["verify_one_of"] and list(consoles("admin_closed")) == ["/admin"]
    assert [r for r in scanned.fleet["admin_closed"].https.seen if r.path == "/dang-nhap" and "next=" in r.target]
    # /admin answers 200 with the ordinary login form itself (a fresh CSRF token: not byte-identical).
    form = result("admin_login_form")
    assert form.status.value == "warn"
    assert consoles("admin_login_form")["/admin"]["ordinary_login"].startswith("the same login form as https://")
    assert [r for r in scanned.fleet["admin_login_form"].https.seen if r.path == "/admin" and r.method == "GET"]
    # A console product's own login is exposed, whatever else the site has.
    pma = result("pma_login")
    assert pma.status.value == "fail" and "phpMyAdmin" in pma.detail
    found = consoles("pma_login")["/phpmyadmin"]
    assert (found["product"], found["access"]) == ("phpMyAdmin", "login form") and "ordinary_login" not in found
    # Admin content without a login fails.
    assert result("admin_open").status.value == "fail"
    assert (
        consoles("admin_open")["/admin"]["access"] == "open"
        and "ordinary_login" not in consoles("admin_open")["/admin"]
    )


def test_login_fields_are_discovered_and_the_csrf_token_sent_back(scanned: Scanned) -> None:
    form = scanned.results["good"][("https", "auth.session_cookie")].evidence["form"]
    assert form["username_field"] == "ten_dang_nhap" and form["password_field"] == "mat_khau"
    assert form["other_fields"] == ["csrf_token", "dang_nhap"]  # the check box is left out
    overridden = scanned.results["cookie_flags"][("https", "auth.session_cookie")].evidence["form"]
    assert (overridden["username_field"], overridden["password_field"]) == ("tk", "mk")
    posts = [r for r in scanned.fleet["good"].https.seen if r.method == "POST"]
    assert posts and all(b"csrf_token=" in r.body and b"ghi_nho" not in r.body for r in posts)


def test_the_lockout_sends_n_plus_one_failures_and_says_so(scanned: Scanned) -> None:
    for case, failures, unknown in (("good", 6, 3), ("nolock", 11, 3), ("throttle", 5, 3)):
        app = scanned.fleet[case].app
        sent = scanned.results[case][("https", "auth.lockout")].evidence["sent"]
        assert app.failed_logins == {"test account": failures, "other": unknown}, case
        assert sent["failed_logins_test_account"] == failures and sent["failed_logins_unknown_user"] == unknown
        assert sent["correct_password_logins"] == 2  # the session login, then once after the failures
        assert app.posts == failures + unknown + 2
    good = scanned.results["good"][("https", "auth.lockout")].evidence
    assert (good["level"], good["limit"]) == (3, 5)
    assert scanned.results["nolock"][("https", "auth.lockout")].evidence["limit"] == 10  # level 1
    assert "throttled" in scanned.results["throttle"][("https", "auth.lockout")].evidence["stopped"]
    attempts = good["attempts"]
    assert [a["password"] for a in attempts].count("correct") == 1 and attempts[-1]["password"] == "correct"
    assert {a["account"] for a in attempts} == {"test account", "unknown user"}


def test_every_result_is_a_message_that_reads_in_vietnamese(scanned: Scanned) -> None:
    results = [r for by_check in scanned.results.values() for r in by_check.values()]
    assert [(r.check, r.detail) for r in results if r.message is None] == []
    vi = discover_families().messages("vi")
    english: list[tuple[str, str]] = []
    for result in results:
        assert result.message is not None and str(result.message) == result.detail
        assert result.message.render(vi) != result.detail, (result.check, result.detail)
        for message in result.message.nested():
            if message.id.startswith("auth.") and has_words(message.text) and message.render(vi) == str(message):
                english.append((message.id, str(message)))
    assert english == []
    # Every status of every check was said (the fleet passes and fails each), in many sentences.
    assert len({m.id for r in results if r.message for m in r.message.nested()}) > 40


def test_no_credential_reaches_a_result(scanned: Scanned) -> None:
    text = json.dumps([r.to_json() for results in scanned.results.values() for r in results.values()])
    for secret in scanned.fleet.secrets():
        assert secret not in text


def test_the_main_page_is_not_requested_again(scanned: Scanned) -> None:
    https = scanned.fleet["good"].https
    plain_gets = [r for r in https.seen if r.method == "GET" and r.target == "/" and r.header("Origin") is None]
    # The http family's two (the https:// URL, and the http:// URL's redirect to it), shared with the auth
    # family through the fact cache: no third.
    assert len(plain_gets) == 2


def test_protected_paths_are_requested_anonymously(scanned: Scanned) -> None:
    for case in ("good", "admin_open"):
        app = scanned.fleet[case]
        paths = set(app.case.protected_paths)
        requests = [r for r in app.https.seen if r.path in paths]
        assert requests and all("phien" not in (r.header("Cookie") or "") for r in requests)


def test_the_collections_are_small_and_fast(scanned: Scanned) -> None:
    for case, facts in scanned.facts.items():
        for key in facts.keys:
            if key[0] == "auth":
                assert facts._memo[key].requests <= 25, (case, key)
        assert scanned.seconds[case] < 10, case
    kinds = sorted({str(key[0]) for key in scanned.facts["good"].keys})
    assert kinds == ["auth", "auth-active", "auth-login", "http"]


def test_nothing_is_sent_to_a_login_platscan_refuses(scanned: Scanned) -> None:
    app = scanned.fleet["http_action"]
    assert app.app.posts == 0 and not [r for r in app.plain.seen if r.method == "POST"]


# -- selection of the active checks ------------------------------------------------------------------


@pytest.fixture()
def fresh(tmp_path: Path) -> Iterator[tuple[AuthFleet, Targets]]:
    with start_auth_fleet(tmp_path, cases=["good"]) as fleet, pytest.MonkeyPatch.context() as mp:
        for name, value in fleet.environ().items():
            mp.setenv(name, value)
        yield fleet, load_targets(fleet.write_targets(), {"active": True})


def test_active_checks_send_nothing_without_the_active_setting(fresh: tuple[AuthFleet, Targets]) -> None:
    fleet, targets = fresh
    settings = replace(targets.settings, active=False)
    results, _ = scan_platform(targets, "good", settings)
    assert results[("https", "auth.lockout")].status.value == "skip"
    assert "--active" in results[("https", "auth.lockout")].detail
    assert fleet["good"].app.failed_logins == {"test account": 0, "other": 0}
    assert fleet["good"].app.posts == 1  # the session cookie's one login


def test_enumeration_alone_does_not_lock_the_account(fresh: tuple[AuthFleet, Targets]) -> None:
    fleet, targets = fresh
    results, _ = scan_platform(targets, "good", targets.settings, ["auth.user_enumeration"])
    assert results[("https", "auth.user_enumeration")].status.value == "pass"
    app = fleet["good"].app
    assert app.failed_logins == {"test account": 3, "other": 3} and not app.locked
    results, _ = scan_platform(targets, "good", targets.settings, ["auth.lockout"])
    assert results[("https", "auth.lockout")].status.value == "pass"
    assert app.failed_logins == {"test account": 9, "other": 3} and app.locked  # 6 more, no unknown user


def test_credentials_never_leave_the_environment(fresh: tuple[AuthFleet, Targets]) -> None:
    import pickle

    from checks.auth._collect_login import credentials_from_env

    fleet, targets = fresh
    creds = credentials_from_env(targets.platform("good"))
    assert creds is not None and fleet["good"].case.password not in repr(creds)
    with pytest.raises(TypeError):
        pickle.dumps(creds)
    assert os.environ["AUTHFLEET_GOOD_PASS"] == fleet["good"].case.password


def test_the_active_series_is_not_started_without_time_to_finish(fresh: tuple[AuthFleet, Targets]) -> None:
    from checks.auth._collect_active import LOCKOUT, OUT_OF_TIME, collect_active
    from checks.auth._collect_login import LoginTarget

    fleet, targets = fresh
    platform = targets.platform("good")
    settings = replace(targets.settings, timeout=2)
    facts = collect_active(LoginTarget(platform, fleet["good"].login_url), (LOCKOUT,), settings, 1.0)
    assert facts.attempts == () and facts.stopped == OUT_OF_TIME
    assert fleet["good"].app.posts == 0
