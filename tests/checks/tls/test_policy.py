"""The tls family's shared policy: unreachable endpoints, failed sslyze commands, the run() wrapper."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import pytest
from sslyze.plugins.scan_commands import ScanCommand

from checks.tls._collect import TlsTarget
from checks.tls.base import TlsCheck
from checks.tls.facts import SCAN_COMMANDS, Connectivity, TlsFacts, failed_connectivity
from scanner.facts import CollectionError
from scanner.model import Endpoint, Platform, Severity, Status
from scanner.plugin import ScanSettings, discover_checks
from tests.checks.tls import fixtures as fx

CHECKS: dict[str, TlsCheck] = {
    c.id: c for c in discover_checks().checks if c.family == "tls" and isinstance(c, TlsCheck)
}
NOW = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
PLATFORM = Platform(id="dvc", name="DVC", urls=("https://dvc.nghean.example/",))


def unreachable(status: Connectivity) -> TlsFacts:
    return failed_connectivity("dvc.nghean.example", 443, "10.20.0.5", status, f"Because {status.value}.", now=NOW)


# (connectivity, scheme) -> (https_available, protocol_ssl, every other check)
POLICY = {
    (Connectivity.DNS_FAILURE, "https"): (Status.ERROR, Status.ERROR, Status.ERROR),
    (Connectivity.DNS_FAILURE, "http"): (Status.ERROR, Status.ERROR, Status.ERROR),
    (Connectivity.ERROR, "https"): (Status.ERROR, Status.ERROR, Status.ERROR),
    (Connectivity.ERROR, "http"): (Status.ERROR, Status.ERROR, Status.ERROR),
    (Connectivity.REFUSED, "https"): (Status.ERROR, Status.ERROR, Status.ERROR),
    (Connectivity.REFUSED, "http"): (Status.FAIL, Status.SKIP, Status.SKIP),
    (Connectivity.UNREACHABLE, "https"): (Status.ERROR, Status.ERROR, Status.ERROR),
    (Connectivity.UNREACHABLE, "http"): (Status.FAIL, Status.SKIP, Status.SKIP),
    (Connectivity.TIMEOUT, "https"): (Status.ERROR, Status.ERROR, Status.ERROR),
    (Connectivity.TIMEOUT, "http"): (Status.FAIL, Status.SKIP, Status.SKIP),
    (Connectivity.SILENT, "https"): (Status.ERROR, Status.ERROR, Status.ERROR),
    (Connectivity.SILENT, "http"): (Status.FAIL, Status.SKIP, Status.SKIP),
    # A reset is no answer: it proves nothing about TLS, so it is never a finding on an https:// URL.
    (Connectivity.RESET, "https"): (Status.ERROR, Status.ERROR, Status.ERROR),
    (Connectivity.RESET, "http"): (Status.FAIL, Status.SKIP, Status.SKIP),
    # skip is "does not apply": only an http:// URL whose host has no TLS server at all. Wherever the checks
    # apply (an https:// URL, or a server that answers in TLS) but no handshake could test them: error.
    (Connectivity.NO_TLS, "https"): (Status.FAIL, Status.ERROR, Status.ERROR),
    (Connectivity.NO_TLS, "http"): (Status.FAIL, Status.SKIP, Status.SKIP),
    (Connectivity.HANDSHAKE_FAILED, "https"): (Status.FAIL, Status.ERROR, Status.ERROR),
    (Connectivity.HANDSHAKE_FAILED, "http"): (Status.FAIL, Status.ERROR, Status.ERROR),
    (Connectivity.SSL2_ONLY, "https"): (Status.FAIL, Status.FAIL, Status.ERROR),
    (Connectivity.SSL2_ONLY, "http"): (Status.FAIL, Status.FAIL, Status.ERROR),
    # Clients cannot connect (a finding), and no check could run (could not scan: an error, not a skip).
    (Connectivity.OVERSIZED_HANDSHAKE, "https"): (Status.FAIL, Status.ERROR, Status.ERROR),
    (Connectivity.OVERSIZED_HANDSHAKE, "http"): (Status.FAIL, Status.ERROR, Status.ERROR),
    # Only mail services end so (MAIL_POLICY); were a URL to, it could not be scanned.
    **{
        (status, scheme): (Status.ERROR, Status.ERROR, Status.ERROR)
        for status in (
            Connectivity.NO_SERVICE,
            Connectivity.NO_STARTTLS,
            Connectivity.STARTTLS_REFUSED,
            Connectivity.RATE_LIMITED,
        )
        for scheme in ("https", "http")
    },
}


def test_policy_covers_every_failure() -> None:
    assert {status for status, _ in POLICY} == set(Connectivity) - {Connectivity.OK}


@pytest.mark.parametrize(("connectivity", "scheme"), list(POLICY), ids=lambda v: str(v))
def test_unreachable_policy(connectivity: Connectivity, scheme: str) -> None:
    facts = unreachable(connectivity)
    https_available, protocol_ssl, others = POLICY[(connectivity, scheme)]
    for check_id, check in CHECKS.items():
        verdict = check.evaluate(facts, scheme)
        expected = {"tls.https_available": https_available, "tls.protocol_ssl": protocol_ssl}.get(check_id, others)
        assert verdict.status is expected, (check_id, verdict.detail)
        assert f"Because {connectivity.value}." in str(verdict.detail) or connectivity is Connectivity.SSL2_ONLY
        assert verdict.evidence["target"] == "dvc.nghean.example:443"
        assert verdict.evidence["connectivity"] == connectivity.value


def test_unreachable_is_never_a_pass() -> None:
    for connectivity in set(Connectivity) - {Connectivity.OK}:
        for scheme in ("https", "http"):
            for check in CHECKS.values():
                assert check.evaluate(unreachable(connectivity), scheme).status is not Status.PASS


def test_a_failed_command_errors_only_its_checks() -> None:
    facts = fx.facts("good", fx.command_error("certificate_info"))
    for check_id, check in CHECKS.items():
        verdict = check.evaluate(facts)
        if check_id.startswith(("tls.cert_", "tls.ocsp_")):
            assert verdict.status is Status.ERROR, check_id
            assert "certificate_info" in str(verdict.detail)
            assert verdict.evidence["failed_commands"][0]["command"] == "certificate_info"
        else:
            assert verdict.status is Status.PASS, (check_id, verdict.detail)


def test_a_client_certificate_that_stops_a_command_is_an_error_not_a_skip() -> None:
    facts = fx.facts(
        "good",
        fx.client_auth("REQUIRED"),
        fx.command_error("heartbleed", "CLIENT_CERTIFICATE_NEEDED", "nassl.ssl_client.ClientCertificateRequested: x"),
    )
    verdict = CHECKS["tls.vuln_heartbleed"].evaluate(facts)
    assert verdict.status is Status.ERROR  # the check applies; it could not be tested
    assert "demands a client certificate" in str(verdict.detail)
    assert CHECKS["tls.client_cert_required"].evaluate(facts).status is Status.WARN
    assert CHECKS["tls.vuln_ccs_injection"].evaluate(facts).status is Status.PASS


def test_commands_are_scanned() -> None:
    for check in CHECKS.values():
        assert set(check.commands) <= set(SCAN_COMMANDS), check.id
    assert ScanCommand.HTTP_HEADERS not in SCAN_COMMANDS  # the http family does headers


def test_catalogue_metadata() -> None:
    assert len(CHECKS) == 28
    for check in CHECKS.values():
        assert check.family == "tls"
        assert check.title and check.why and check.remediation
        assert isinstance(check.severity, Severity)
    for check_id in (
        "tls.protocol_ssl",
        "tls.protocol_legacy",
        "tls.protocol_tls12",
        "tls.cipher_insecure",
        "tls.cipher_no_forward_secrecy",
        "tls.dh_weak",
        "tls.renegotiation_insecure",
    ):
        text = CHECKS[check_id].remediation
        assert "nginx" in text and "Apache" in text and "IIS" in text, check_id
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in CHECKS["tls.protocol_legacy"].remediation
    assert "SSLProtocol -all +TLSv1.2 +TLSv1.3" in CHECKS["tls.protocol_legacy"].remediation
    assert CHECKS["tls.client_cert_required"].severity is Severity.INFO
    assert CHECKS["tls.cipher_cbc"].severity is Severity.LOW


def test_applies_to_urls_only() -> None:
    check = CHECKS["tls.https_available"]
    assert check.applies_to(Endpoint.for_url(PLATFORM, "https://dvc.nghean.example/"))
    assert check.applies_to(Endpoint.for_url(PLATFORM, "http://dvc.nghean.example/"))
    assert not check.applies_to(Endpoint.for_host(PLATFORM, "mail.dvc.nghean.example"))


class FakeContext:
    """What TlsCheck.run uses of a ScanContext: ``settings`` and ``collect``."""

    def __init__(self, outcome: TlsFacts | CollectionError) -> None:
        self.settings = ScanSettings(timeout=2, retries=0, ca_bundle=Path("/nonexistent/ca.pem"))
        self.outcome = outcome
        self.calls: list[tuple[Hashable, tuple[Any, ...]]] = []

    def remaining(self) -> float:
        return 42.0

    def collect(self, key: Hashable, collector: Callable[..., TlsFacts], *args: Any) -> TlsFacts:
        self.calls.append((key, args))
        if isinstance(self.outcome, CollectionError):
            raise self.outcome
        return self.outcome


def test_run_returns_one_result() -> None:
    endpoint = Endpoint.for_url(PLATFORM, "https://dvc.nghean.example/")
    ctx = FakeContext(fx.recorded("weak"))
    (result,) = CHECKS["tls.cipher_insecure"].run(endpoint, ctx)  # type: ignore[arg-type]
    assert (result.check, result.platform, result.endpoint) == ("tls.cipher_insecure", "dvc", endpoint.target)
    assert result.status is Status.FAIL and result.severity is Severity.CRITICAL
    assert result.remediation == CHECKS["tls.cipher_insecure"].remediation
    assert result.duration >= 0
    key, args = ctx.calls[0]
    assert key == ("tls", "dvc.nghean.example", 443, None, None, False)
    assert args[0] == TlsTarget("dvc.nghean.example", 443, None) and args[1] is ctx.settings
    assert args[2] == 42.0, "the collector is given the endpoint's remaining budget, a duration"


def test_run_turns_a_collection_error_into_an_error_result() -> None:
    endpoint = Endpoint.for_url(PLATFORM, "https://dvc.nghean.example/")
    ctx = FakeContext(CollectionError("gave up after 180 s (endpoint time budget)"))
    for check in CHECKS.values():
        (result,) = check.run(endpoint, ctx)  # type: ignore[arg-type]
        assert result.status is Status.ERROR
        assert "gave up after 180 s" in result.detail


# -- mail services -------------------------------------------------------------------------------------------------

MAIL = Platform(id="mail", name="Mail", hosts=("mx1.nghean.example",))
# status -> (protocol_ssl, every other check) on a mail service (smtp://mx1:587, imaps://mx1:993 ...).
MAIL_POLICY = {
    Connectivity.DNS_FAILURE: (Status.ERROR, Status.ERROR),
    Connectivity.ERROR: (Status.ERROR, Status.ERROR),
    # The collector makes refused / no TCP connection / silent NO_SERVICE; sslyze meeting them later is an error.
    Connectivity.REFUSED: (Status.ERROR, Status.ERROR),
    Connectivity.UNREACHABLE: (Status.ERROR, Status.ERROR),
    Connectivity.TIMEOUT: (Status.ERROR, Status.ERROR),
    Connectivity.SILENT: (Status.ERROR, Status.ERROR),
    Connectivity.RESET: (Status.ERROR, Status.ERROR),
    # The port may be closed: the service is not offered (the mail family judges whether it should be).
    Connectivity.NO_SERVICE: (Status.SKIP, Status.SKIP),
    # No TLS on the session: nothing for the tls family to judge (the mail family fails it).
    Connectivity.NO_TLS: (Status.SKIP, Status.SKIP),
    Connectivity.NO_STARTTLS: (Status.SKIP, Status.SKIP),
    Connectivity.STARTTLS_REFUSED: (Status.ERROR, Status.ERROR),
    Connectivity.RATE_LIMITED: (Status.ERROR, Status.ERROR),
    Connectivity.HANDSHAKE_FAILED: (Status.ERROR, Status.ERROR),
    Connectivity.SSL2_ONLY: (Status.FAIL, Status.ERROR),
    Connectivity.OVERSIZED_HANDSHAKE: (Status.ERROR, Status.ERROR),
}
MAIL_SERVICES = [
    "smtp://mx1.nghean.example:25",
    "smtps://mx1.nghean.example:465",
    "smtp://mx1.nghean.example:587",
    "imap://mx1.nghean.example:143",
    "imaps://mx1.nghean.example:993",
    "pop3://mx1.nghean.example:110",
    "pop3s://mx1.nghean.example:995",
]


def test_mail_policy_covers_every_failure() -> None:
    assert set(MAIL_POLICY) == set(Connectivity) - {Connectivity.OK}


@pytest.mark.parametrize("connectivity", list(MAIL_POLICY), ids=lambda v: str(v))
@pytest.mark.parametrize(("scheme", "port"), [("smtp", 587), ("imaps", 993), ("smtp", 25)])
def test_mail_service_policy(connectivity: Connectivity, scheme: str, port: int) -> None:
    facts = failed_connectivity(
        "mx1.nghean.example", port, "10.20.0.25", connectivity, f"Because {connectivity.value}.", now=NOW
    )
    protocol_ssl, others = MAIL_POLICY[connectivity]
    for check_id, check in CHECKS.items():
        if check_id == "tls.https_available":
            continue  # does not apply to services
        verdict = check.evaluate(facts, scheme)
        expected = protocol_ssl if check_id == "tls.protocol_ssl" else others
        assert verdict.status is expected, (check_id, verdict.detail)
        assert f"Because {connectivity.value}." in str(verdict.detail) or connectivity is Connectivity.SSL2_ONLY
        assert verdict.evidence["connectivity"] == connectivity.value
    said = str(CHECKS["tls.cert_expired"].evaluate(facts, scheme).detail)
    if connectivity is Connectivity.NO_SERVICE:
        assert said.startswith(f"Not applicable: no service on port {port}.")
    if connectivity is Connectivity.NO_STARTTLS:
        assert said.startswith("Not applicable: no TLS on this session.")
    if connectivity is Connectivity.RATE_LIMITED:
        assert said.startswith("Rate-limited, not tested:")


def test_every_check_but_https_available_runs_on_mail_services() -> None:
    for service in MAIL_SERVICES:
        endpoint = Endpoint.for_service(MAIL, service)
        for check_id, check in CHECKS.items():
            assert check.applies_to(endpoint) is (check_id != "tls.https_available"), (check_id, service)
    other = Endpoint.for_service(MAIL, "ldap://mx1.nghean.example:389")
    assert not any(check.applies_to(other) for check in CHECKS.values())
    assert CHECKS["tls.https_available"].applies_to(Endpoint.for_url(PLATFORM, "https://dvc.nghean.example/"))


def test_mail_targets_say_how_tls_starts_and_key_apart() -> None:
    targets = {service: TlsTarget.for_endpoint(Endpoint.for_service(MAIL, service)) for service in MAIL_SERVICES}
    starts = {service: t.opportunistic.value if t.opportunistic else None for service, t in targets.items()}
    assert starts == {
        "smtp://mx1.nghean.example:25": "SMTP",
        "smtps://mx1.nghean.example:465": None,
        "smtp://mx1.nghean.example:587": "SMTP",
        "imap://mx1.nghean.example:143": "IMAP",
        "imaps://mx1.nghean.example:993": None,
        "pop3://mx1.nghean.example:110": "POP3",
        "pop3s://mx1.nghean.example:995": None,
    }
    assert all(t.mail for t in targets.values())
    assert [t.port for t in targets.values()] == [25, 465, 587, 143, 993, 110, 995]
    assert len({t.key for t in targets.values()}) == len(targets)
    # TLS from the first byte and STARTTLS on one port are two scans, and neither is a URL's.
    implicit = TlsTarget("mx1.nghean.example", 587, None, None, mail=True)
    assert implicit.key != targets["smtp://mx1.nghean.example:587"].key
    assert TlsTarget("mx1.nghean.example", 587).key != implicit.key


RELAXED_ON_RELAY = {"tls.cert_untrusted", "tls.cert_hostname_mismatch", "tls.cert_chain_incomplete"}


def _failing_for(check_id: str) -> TlsFacts:
    if check_id == "tls.cert_untrusted":
        return fx.recorded("self_signed")
    if check_id == "tls.cert_chain_incomplete":
        return fx.facts("good", fx.chain_edit(lambda chain: chain[:1]))
    return dataclasses.replace(fx.recorded("good"), host="mx1.nghean.example")


@pytest.mark.parametrize("check_id", sorted(RELAXED_ON_RELAY))
def test_certificate_trust_and_names_warn_on_smtp_between_servers(check_id: str) -> None:
    facts = _failing_for(check_id)
    check = CHECKS[check_id]
    on_https = check.evaluate(facts, "https")
    relay = dataclasses.replace(facts, port=25)
    submission = dataclasses.replace(facts, port=587)
    assert on_https.status is Status.FAIL, on_https.detail
    on_relay = check.evaluate(relay, "smtp")
    assert on_relay.status is Status.WARN
    assert on_relay.severity == on_https.severity, "same severity: a warning, not a lesser finding"
    assert str(on_https.detail) in str(on_relay.detail)
    assert "SMTP between servers is opportunistic" in str(on_relay.detail)
    assert on_relay.evidence["opportunistic_tls"] is True
    assert check.evaluate(submission, "smtp").status is Status.FAIL, "submission clients verify: no relaxation"
    assert check.evaluate(relay, "smtps").status is Status.FAIL


def test_only_trust_and_names_are_relaxed_on_port_25() -> None:
    failing = {
        check_id
        for check_id, check in CHECKS.items()
        if check_id != "tls.https_available" and check.evaluate(fx.recorded("weak"), "https").status is Status.FAIL
    }
    assert failing, "the weak fixture fails some checks"
    relay = dataclasses.replace(fx.recorded("weak"), port=25)
    for check_id in failing:
        status = CHECKS[check_id].evaluate(relay, "smtp").status
        assert status is (Status.WARN if check_id in RELAXED_ON_RELAY else Status.FAIL), check_id
    assert {c.id for c in CHECKS.values() if c.warns_on_relay} == RELAXED_ON_RELAY
