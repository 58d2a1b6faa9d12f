"""The mail family's MX and transport judges, from recorded facts (no network): every verdict of
mail.mx, mail.starttls, mail.submission_tls and mail.mailbox_tls, and where each check runs."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from checks.mail.domains import mail_domain
from checks.mail.mx import MxFacts, MxHost, MxRecords, MxStatus, judge_mx
from checks.mail.sessions import Outcome, Protocol, SessionFacts, SessionTarget
from checks.mail.settings import MailSettings
from checks.mail.transport import (
    MailboxTls,
    SmtpStarttls,
    SubmissionTls,
    judge_mailbox,
    judge_starttls,
    judge_submission,
    mailbox_logins,
    no_mx_hosts,
)
from scanner.messages import say
from scanner.model import Endpoint, Platform, Status

DOMAIN = "mail.test"
MX1 = "mx1.mail.test"


def registered_only(*hosts: str) -> Callable[[str], bool]:
    return lambda host: host in hosts


def resolved(name: str = MX1, preference: int = 10, **kwargs: object) -> MxHost:
    return MxHost(name, preference, addresses=("192.0.2.25",), **kwargs)  # type: ignore[arg-type]


# -- mail.mx ---------------------------------------------------------------------------------------------


def test_mx_hosts_that_resolve_pass_and_unregistered_ones_are_named() -> None:
    facts = MxFacts(DOMAIN, MxStatus.FOUND, hosts=(resolved(), resolved("mx.elsewhere.example", 20)))
    verdict = judge_mx(facts, registered_only(MX1))
    assert verdict.status is Status.PASS
    assert "mx.elsewhere.example" in str(verdict.detail) and "not contacted" in str(verdict.detail)
    assert [h["registered"] for h in verdict.evidence["mx"]] == [True, False]


def test_null_mx_passes_as_receiving_no_mail() -> None:
    verdict = judge_mx(MxFacts(DOMAIN, MxStatus.NULL), registered_only())
    assert verdict.status is Status.PASS and "receives no mail" in str(verdict.detail)


def test_null_mx_beside_other_mx_fails() -> None:
    facts = MxFacts(DOMAIN, MxStatus.FOUND, hosts=(resolved(),), null_mixed=True)
    assert judge_mx(facts, registered_only(MX1)).status is Status.FAIL


def test_an_mx_host_without_address_fails() -> None:
    missing = MxHost("gone.mail.test", 20, missing=say("mail.mx.host_nxdomain", "does not exist (NXDOMAIN)"))
    verdict = judge_mx(MxFacts(DOMAIN, MxStatus.FOUND, hosts=(resolved(), missing)), registered_only())
    assert verdict.status is Status.FAIL and "gone.mail.test: does not exist (NXDOMAIN)" in str(verdict.detail)


def test_an_mx_host_whose_lookup_failed_is_an_error_not_a_failure() -> None:
    failed = MxHost("slow.mail.test", 20, failed=say("mail.mx.dns_timeout", "no answer from the DNS servers in time"))
    verdict = judge_mx(MxFacts(DOMAIN, MxStatus.FOUND, hosts=(resolved(), failed)), registered_only())
    assert verdict.status is Status.ERROR


def test_an_alias_mx_warns() -> None:
    verdict = judge_mx(MxFacts(DOMAIN, MxStatus.FOUND, hosts=(resolved(alias="real.mail.test"),)), registered_only())
    assert verdict.status is Status.WARN and verdict.evidence["mx"][0]["alias_of"] == "real.mail.test"


def test_no_mx_is_the_implicit_mx_or_a_failure() -> None:
    implicit = MxFacts(DOMAIN, MxStatus.NONE, hosts=(resolved(DOMAIN, 0),))
    assert judge_mx(implicit, registered_only(DOMAIN)).status is Status.WARN
    assert judge_mx(MxFacts(DOMAIN, MxStatus.NONE), registered_only()).status is Status.FAIL
    assert judge_mx(MxFacts(DOMAIN, MxStatus.NO_DOMAIN), registered_only()).status is Status.FAIL


def test_a_failed_mx_lookup_is_an_error() -> None:
    failed = MxFacts(
        DOMAIN, MxStatus.FAILED, reason=say("mail.mx.dns_timeout", "no answer from the DNS servers in time")
    )
    verdict = judge_mx(failed, registered_only())
    assert verdict.status is Status.ERROR and "in time" in str(verdict.detail)


# -- mail.starttls ---------------------------------------------------------------------------------------


def smtp(port: int = 25, implicit: bool = False, host: str = MX1) -> SessionTarget:
    return SessionTarget(host, "192.0.2.25", port, Protocol.SMTP, implicit)


def session(target: SessionTarget, outcome: Outcome = Outcome.COMPLETE, **kwargs: object) -> SessionFacts:
    return SessionFacts(target, outcome, **kwargs)  # type: ignore[arg-type]


EHLO = ("SIZE 10240000", "8BITMIME", "STARTTLS", "HELP")
STARTED = {"starttls_offered": True, "starttls_reply": "220 Ready to start TLS", "tls_version": "TLSv1.3"}


def test_starttls_that_completes_passes() -> None:
    verdict = judge_starttls(session(smtp(), capabilities=EHLO, **STARTED))
    assert verdict.status is Status.PASS and "TLSv1.3" in str(verdict.detail)


def test_no_starttls_fails_and_names_the_cleartext_fact() -> None:
    verdict = judge_starttls(session(smtp(), capabilities=("8BITMIME",), starttls_offered=False))
    assert verdict.status is Status.FAIL
    assert verdict.evidence["facts"] == [f"cleartext:25@{MX1}"], "the same fact the ports family gives: counted once"


def test_starttls_refused_or_its_handshake_failing_fails() -> None:
    refused = session(smtp(), starttls_offered=True, starttls_reply="454 TLS not available")
    assert judge_starttls(refused).status is Status.FAIL
    assert "454" in str(judge_starttls(refused).detail)
    broken = session(smtp(), starttls_offered=True, starttls_reply="220 go", tls_error="sslv3 alert handshake failure")
    assert judge_starttls(broken).status is Status.FAIL


def test_rate_limited_is_an_error_never_no_starttls() -> None:
    busy = say("mail.session.rate_limited", "Rate-limited, not tested: {answer}", answer="421 too many")
    verdict = judge_starttls(session(smtp(), Outcome.RATE_LIMITED, reason=busy))
    assert verdict.status is Status.ERROR and "Rate-limited, not tested" in str(verdict.detail)


def test_an_mx_that_does_not_answer_on_25_is_an_error_not_a_skip() -> None:
    closed = say("mail.session.refused", "Nothing listens on port {port}", port=25)
    verdict = judge_starttls(session(smtp(), Outcome.NOT_OFFERED, reason=closed))
    assert verdict.status is Status.ERROR and str(verdict.detail).startswith("Nothing listens on port 25")
    assert "STARTTLS could not be tested" in str(verdict.detail)


def test_domains_without_mx_hosts_give_one_verdict() -> None:
    null = no_mx_hosts(MxFacts(DOMAIN, MxStatus.NULL))
    assert null is not None and null.status is Status.SKIP and "receives no mail" in str(null.detail)
    failed = no_mx_hosts(MxFacts(DOMAIN, MxStatus.FAILED, reason=say("mail.mx.dns_timeout", "late")))
    assert failed is not None and failed.status is Status.ERROR
    nothing = no_mx_hosts(MxFacts(DOMAIN, MxStatus.NO_DOMAIN))
    assert nothing is not None and nothing.status is Status.SKIP
    assert no_mx_hosts(MxFacts(DOMAIN, MxStatus.FOUND, hosts=(resolved(),))) is None


# -- mail.submission_tls ---------------------------------------------------------------------------------


def test_submission_with_starttls_and_auth_only_after_it_passes() -> None:
    facts = session(smtp(587), capabilities=EHLO, tls_capabilities=("AUTH PLAIN LOGIN",), **STARTED)
    assert judge_submission(facts).status is Status.PASS


def test_submission_offering_auth_before_tls_fails() -> None:
    facts = session(smtp(587), capabilities=(*EHLO, "AUTH PLAIN LOGIN"), **STARTED)
    verdict = judge_submission(facts)
    assert verdict.status is Status.FAIL and "AUTH PLAIN LOGIN" in str(verdict.detail)
    assert verdict.evidence["facts"] == [f"cleartext:587@{MX1}"]


def test_submission_without_starttls_fails_and_says_auth_is_in_clear() -> None:
    verdict = judge_submission(session(smtp(587), capabilities=("AUTH PLAIN",), starttls_offered=False))
    assert verdict.status is Status.FAIL and "in clear" in str(verdict.detail) and "AUTH PLAIN" in str(verdict.detail)


def test_implicit_tls_passes_and_plain_text_on_465_fails() -> None:
    assert judge_submission(session(smtp(465, True), tls_version="TLSv1.2")).status is Status.PASS
    plain = judge_submission(session(smtp(465, True), tls_error="wrong version number", plaintext_reply=True))
    assert plain.status is Status.FAIL and "plain text" in str(plain.detail)
    other = judge_submission(session(smtp(465, True), tls_error="tlsv1 alert internal error"))
    assert other.status is Status.ERROR, "a failed handshake that is not plain text: the tls family says why"


def test_a_service_that_is_not_offered_skips() -> None:
    closed = say("mail.session.refused", "Nothing listens on port {port}", port=587)
    verdict = judge_submission(session(smtp(587), Outcome.NOT_OFFERED, reason=closed))
    assert verdict.status is Status.SKIP and str(verdict.detail) == "Not offered. Nothing listens on port 587"
    busy = say("mail.session.rate_limited", "Rate-limited, not tested: {answer}", answer="421")
    assert judge_submission(session(smtp(587), Outcome.RATE_LIMITED, reason=busy)).status is Status.ERROR


# -- mail.mailbox_tls ------------------------------------------------------------------------------------


def imap(port: int = 143, implicit: bool = False) -> SessionTarget:
    return SessionTarget(MX1, "192.0.2.25", port, Protocol.IMAP, implicit)


def pop3(port: int = 110, implicit: bool = False) -> SessionTarget:
    return SessionTarget(MX1, "192.0.2.25", port, Protocol.POP3, implicit)


IMAP_STARTED = {"starttls_offered": True, "starttls_reply": "p2 OK Begin TLS", "tls_version": "TLSv1.3"}
POP3_STARTED = {"starttls_offered": True, "starttls_reply": "+OK Begin TLS", "tls_version": "TLSv1.3"}


@pytest.mark.parametrize(
    ("protocol", "capabilities", "logins"),
    [
        (Protocol.IMAP, ("IMAP4REV1", "STARTTLS", "LOGINDISABLED"), []),
        (Protocol.IMAP, ("IMAP4REV1", "STARTTLS", "LOGINDISABLED", "AUTH=GSSAPI"), []),
        (Protocol.IMAP, ("IMAP4REV1", "STARTTLS", "LOGINDISABLED", "AUTH=PLAIN"), ["AUTH=PLAIN"]),
        (Protocol.IMAP, ("IMAP4REV1", "STARTTLS"), ["LOGIN"]),
        (Protocol.IMAP, ("IMAP4REV1", "STARTTLS", "AUTH=PLAIN", "AUTH=LOGIN"), ["LOGIN", "AUTH=PLAIN", "AUTH=LOGIN"]),
        (Protocol.POP3, ("TOP", "UIDL", "STLS"), []),
        (Protocol.POP3, ("STLS", "USER"), ["USER"]),
        (Protocol.POP3, ("STLS", "SASL SCRAM-SHA-256"), []),
        (Protocol.POP3, ("STLS", "SASL PLAIN LOGIN"), ["SASL PLAIN LOGIN"]),
    ],
)
def test_logins_offered_before_tls(protocol: Protocol, capabilities: tuple[str, ...], logins: list[str]) -> None:
    assert mailbox_logins(protocol, capabilities) == logins


def test_imap_starttls_with_logindisabled_passes() -> None:
    facts = session(imap(), capabilities=("IMAP4REV1", "STARTTLS", "LOGINDISABLED"), **IMAP_STARTED)
    assert judge_mailbox(facts).status is Status.PASS


def test_imap_without_starttls_or_with_login_before_it_fails() -> None:
    plain = judge_mailbox(session(imap(), capabilities=("IMAP4REV1", "AUTH=PLAIN"), starttls_offered=False))
    assert plain.status is Status.FAIL and "offers no STARTTLS" in str(plain.detail)
    early = judge_mailbox(session(imap(), capabilities=("IMAP4REV1", "STARTTLS", "AUTH=PLAIN"), **IMAP_STARTED))
    assert early.status is Status.FAIL and "before STARTTLS" in str(early.detail)
    assert early.evidence["facts"] == [f"cleartext:143@{MX1}"]


def test_pop3_stls_passes_without_stls_fails_and_without_capa_stls_decides() -> None:
    assert judge_mailbox(session(pop3(), capabilities=("STLS",), **POP3_STARTED)).status is Status.PASS
    plain = judge_mailbox(session(pop3(), capabilities=("USER",), starttls_offered=False))
    assert plain.status is Status.FAIL and "offers no STLS" in str(plain.detail)
    # A server without CAPA lists nothing: STLS answered +OK and a handshake is a pass, -ERR a failure.
    no_capa_tls = session(pop3(), starttls_reply="+OK", tls_version="TLSv1.2")
    assert judge_mailbox(no_capa_tls).status is Status.PASS
    no_capa_plain = session(pop3(), starttls_reply="-ERR unknown command")
    assert judge_mailbox(no_capa_plain).status is Status.FAIL


def test_implicit_tls_mailbox_ports() -> None:
    assert judge_mailbox(session(imap(993, True), tls_version="TLSv1.3")).status is Status.PASS
    assert judge_mailbox(session(pop3(995, True), tls_error="x", plaintext_reply=True)).status is Status.FAIL


# -- where the checks run --------------------------------------------------------------------------------


def test_domain_checks_run_on_mail_domains_and_service_checks_on_their_services() -> None:
    platform = Platform(
        id="mail",
        name="Mail",
        hosts=(MX1, DOMAIN),
        families=(("mail", MailSettings(domains=(DOMAIN, "other.test"))),),
    )
    web = Platform(id="web", name="Web", hosts=(MX1,))
    domain = Endpoint.for_domain(platform, "other.test")
    host_domain = Endpoint.for_host(platform, DOMAIN)
    plain_host = Endpoint.for_host(platform, MX1)
    assert mail_domain(domain, platform) == "other.test" and mail_domain(host_domain, platform) == DOMAIN
    assert mail_domain(plain_host, platform) is None and mail_domain(Endpoint.for_host(web, MX1), web) is None
    for check in (MxRecords(), SmtpStarttls()):
        assert check.applies_on(domain, platform) and check.applies_on(host_domain, platform)
        assert not check.applies_on(plain_host, platform)
    services = {
        url: Endpoint.for_service(platform, url)
        for url in (
            f"smtp://{MX1}:25",
            f"smtps://{MX1}:465",
            f"smtp://{MX1}:587",
            f"imap://{MX1}:143",
            f"imaps://{MX1}:993",
            f"pop3://{MX1}:110",
            f"pop3s://{MX1}:995",
        )
    }
    submission = {url for url, e in services.items() if SubmissionTls().applies_on(e, platform)}
    mailbox = {url for url, e in services.items() if MailboxTls().applies_on(e, platform)}
    assert submission == {f"smtps://{MX1}:465", f"smtp://{MX1}:587"}
    assert mailbox == {f"imap://{MX1}:143", f"imaps://{MX1}:993", f"pop3://{MX1}:110", f"pop3s://{MX1}:995"}
    assert not SmtpStarttls().applies_on(services[f"smtp://{MX1}:25"], platform), "STARTTLS on 25 is judged per MX"
