"""The contract for "could not test", on recorded sslyze JSON: it is ``error``, never ``skip``.

``skip`` means "does not apply" and nothing else: coverage counts a skip as tested, so a check that could
not run must say ``error`` with its reason. Each path that used to skip is exercised here from recorded
facts, so that a regression to skip fails.
"""

from __future__ import annotations

import dataclasses

import pytest
from sslyze.plugins.scan_commands import ScanCommand

from checks.tls.base import TlsCheck
from checks.tls.facts import SCAN_COMMANDS, TlsFacts
from scanner.model import Status
from scanner.plugin import discover_checks
from tests.checks.tls import fixtures as fx

CHECKS: dict[str, TlsCheck] = {
    c.id: c for c in discover_checks().checks if c.family == "tls" and isinstance(c, TlsCheck)
}
#: The skips that remain, each because the check does not apply (or, for cert_revoked, because the only way
#: to test it, asking the CA's OCSP responder, is outside the scan's scope): check id -> words of its detail.
DOES_NOT_APPLY = {
    "tls.cert_revoked": "outside the registered platforms",
}

# The six checks whose judge reads one sslyze test's result (None when sslyze has none for it).
FLAGS = {
    "tls.vuln_heartbleed": ("heartbleed", "Heartbleed"),
    "tls.vuln_ccs_injection": ("ccs_injection", "CCS injection"),
    "tls.vuln_robot": ("robot", "ROBOT"),
    "tls.compression": ("compression", "compression"),
    "tls.fallback_scsv": ("fallback_scsv", "fallback"),
    "tls.renegotiation_insecure": ("secure_renegotiation", "renegotiation"),
}


def not_scheduled(command: ScanCommand) -> fx.Edit:
    """sslyze reports that ``command`` did not run (as it does for a command it was not given)."""

    def edit(doc: fx.Doc) -> None:
        doc["scan_result"][command.value] = {
            "status": "NOT_SCHEDULED",
            "error_reason": None,
            "error_trace": None,
            "result": None,
        }

    return edit


@pytest.mark.parametrize("check_id", sorted(FLAGS))
def test_a_test_that_left_no_result_is_an_error(check_id: str) -> None:
    field, words = FLAGS[check_id]
    facts = dataclasses.replace(fx.recorded("good"), **{field: None})
    verdict = CHECKS[check_id].evaluate(facts)
    assert verdict.status is Status.ERROR, verdict.detail
    assert f"sslyze's {words} test did not run" in str(verdict.detail)


@pytest.mark.parametrize("command", SCAN_COMMANDS, ids=lambda c: c.value)
def test_a_command_sslyze_did_not_run_errors_its_checks_only(command: ScanCommand) -> None:
    facts = fx.facts("good", not_scheduled(command))
    baseline = fx.recorded("good")
    needing = [check for check in CHECKS.values() if command in check.commands]
    assert needing, f"no check reads {command.value}"
    for check in CHECKS.values():
        verdict = check.evaluate(facts)
        if check in needing:
            assert verdict.status is Status.ERROR, (check.id, verdict.detail)
            assert command.value in str(verdict.detail) and "did not run" in str(verdict.detail), (
                check.id,
                verdict.detail,
            )
        else:
            assert verdict.status is check.evaluate(baseline).status, (check.id, verdict.detail)


def test_a_demanded_client_certificate_is_an_error_for_the_checks_it_stopped() -> None:
    """Recorded: the server demands a client certificate, and sslyze's renegotiation test could not run."""
    facts = fx.recorded("client_cert")
    verdict = CHECKS["tls.renegotiation_insecure"].evaluate(facts)
    assert verdict.status is Status.ERROR
    assert "client certificate" in str(verdict.detail) and "session_renegotiation" in str(verdict.detail)
    assert CHECKS["tls.client_cert_required"].evaluate(facts).status is Status.WARN


def _others(facts: TlsFacts, scheme: str) -> set[Status]:
    refined = ("tls.https_available", "tls.protocol_ssl")
    return {check.evaluate(facts, scheme).status for check in CHECKS.values() if check.id not in refined}


def test_no_usable_tls_is_an_error_not_a_skip() -> None:
    """Recorded: a server that answers in TLS but completes no handshake (an https:// URL, or port 443 of an
    http:// URL: there is a TLS server, so the checks apply, and none could be tested)."""
    facts = fx.recorded("no_tls")
    for scheme in ("https", "http"):
        assert CHECKS["tls.https_available"].evaluate(facts, scheme).status is Status.FAIL
        assert _others(facts, scheme) == {Status.ERROR}, scheme


def test_only_an_http_url_without_any_tls_server_skips() -> None:
    """Recorded: nothing listens on 443. An https:// URL could not be scanned (error); an http:// URL has no
    TLS server to judge, so the TLS checks do not apply (skip), and https_available fails."""
    facts = fx.recorded("refused")
    assert _others(facts, "https") == {Status.ERROR}
    assert _others(facts, "http") == {Status.SKIP}
    for check in CHECKS.values():
        if check.id != "tls.https_available":
            assert str(check.evaluate(facts, "http").detail).startswith("Not applicable: "), check.id


@pytest.mark.parametrize("name", fx.FIXTURES)
@pytest.mark.parametrize("scheme", ["https", "http"])
def test_every_remaining_skip_on_recorded_scans_means_does_not_apply(name: str, scheme: str) -> None:
    facts = fx.recorded(name)
    for check in CHECKS.values():
        verdict = check.evaluate(facts, scheme)
        if verdict.status is not Status.SKIP:
            continue
        allowed = DOES_NOT_APPLY.get(check.id)
        assert str(verdict.detail).startswith("Not applicable: ") or (allowed and allowed in str(verdict.detail)), (
            check.id,
            verdict.detail,
        )
        assert "did not run" not in str(verdict.detail) and "could not" not in str(verdict.detail).lower(), (
            verdict.detail
        )
