"""The mail family's transport checks: TLS before any mail or password crosses the network.

* ``mail.starttls`` runs on a mail domain and gives one result per MX host (key: the host): a
  registered MX gets a session on port 25 (EHLO, STARTTLS, a TLS handshake); an MX that is not a
  registered host of the platform is never contacted (error, "not registered").
* ``mail.submission_tls`` runs on the submission services ``smtps://H:465`` and ``smtp://H:587``.
* ``mail.mailbox_tls`` runs on the mailbox services ``imap(s)://`` and ``pop3(s)://``.

Session policy (one table for the three checks; ``checks.mail.sessions`` says how each is had):

==================================================  ================================================================
what the session showed                             verdict
==================================================  ================================================================
nothing listens, no TCP answer, no greeting         submission and mailbox: skip (the service is not offered: a
                                                    service endpoint is a guess at a standard port); an MX: error
                                                    (an MX must answer on 25; a network that blocks outgoing 25
                                                    from the scanner looks the same)
421 / 450, a refusal that words a session limit     error "rate-limited, not tested" (never retried, never "no
                                                    STARTTLS")
reset, closed mid-session, not the protocol         error
no STARTTLS / STLS, or a login offered before it    fail (high)
STARTTLS refused or its handshake failed            fail (high)
implicit-TLS port answering in plain text           fail (high); any other failed handshake there: error
TLS established, no login before it                 pass (the TLS itself: the tls family's checks on the service)
==================================================  ================================================================
"""

from __future__ import annotations

import abc
import socket
from typing import ClassVar

from checks.mail.domains import mail_domain
from checks.mail.mx import MxFacts, MxHost, MxStatus, mx_facts, registered
from checks.mail.sessions import SCHEMES, Outcome, Protocol, SessionFacts, SessionTarget, collect_session
from scanner.evidence import FACTS, cleartext_fact, shorten
from scanner.facts import CollectionError
from scanner.messages import Message, Text, say
from scanner.model import Cap, Endpoint, Platform, Result, Severity, Status
from scanner.plugin import Check, ScanContext, Verdict
from scanner.reasons import no_address
from scanner.wording import sentences

#: IMAP and POP3 mechanisms that carry the password itself (RFC 4616 PLAIN, the LOGIN draft).
CLEARTEXT_MECHANISMS = frozenset({"PLAIN", "LOGIN"})

_POSTFIX_CERT = (
    "`smtpd_tls_cert_file = /etc/ssl/{platform}/fullchain.pem`, `smtpd_tls_key_file = /etc/ssl/{platform}/privkey.pem`"
)


def ehlo_name() -> str:
    """The name given in EHLO: the scanning machine's (RFC 5321 4.1.4), as the system knows it;
    not ``socket.getfqdn()``, which asks DNS, and a scan's lookups go only to its own resolvers."""
    return socket.gethostname() or "localhost"


class MailTransportCheck(Check):
    """A transport check of the mail family: one session with a mail service, then a pure judge."""

    family: ClassVar[str] = "mail"
    severity: ClassVar[Severity] = Severity.HIGH

    def session(self, ctx: ScanContext, target: SessionTarget) -> SessionFacts | Message:
        """The session's facts, or why it could not be had (the collection failed)."""
        try:
            return ctx.collect(target.key, collect_session, target, ctx.settings.timeout, ctx.remaining(), ehlo_name())
        except CollectionError as exc:
            return say(
                "mail.session.incomplete",
                "The session with port {port} of {host} did not complete: {reason}.",
                port=target.port,
                host=target.host,
                reason=exc.reason,
            )


class ServiceCheck(MailTransportCheck):
    """A check on one of the family's service endpoints (``imaps://H:993``)."""

    #: The service schemes the check runs on (``covers`` may narrow them by port).
    schemes: ClassVar[frozenset[str]]

    @abc.abstractmethod
    def judge(self, facts: SessionFacts) -> Verdict:
        """The verdict of one session. Pure."""

    def applies_to(self, endpoint: Endpoint) -> bool:
        return endpoint.kind == "service" and endpoint.port is not None and self.covers(endpoint.scheme, endpoint.port)

    def covers(self, scheme: str, port: int) -> bool:
        return scheme in self.schemes

    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        assert endpoint.port is not None
        evidence = {"host": endpoint.host, "port": endpoint.port}
        if endpoint.address is None:
            reason = ctx.platform.unresolved_reason(endpoint.host) or no_address()
            return [self.result(endpoint, Status.ERROR, reason, evidence)]
        protocol, implicit = SCHEMES[endpoint.scheme]
        target = SessionTarget(endpoint.host, endpoint.address, endpoint.port, protocol, implicit)
        facts = self.session(ctx, target)
        if isinstance(facts, Message):
            return [self.result(endpoint, Status.ERROR, facts, evidence)]
        return [self.from_verdict(endpoint, self.judge(facts))]


# -- mail.starttls --------------------------------------------------------------------------------------


class SmtpStarttls(MailTransportCheck):
    id: ClassVar[str] = "mail.starttls"
    title: ClassVar[str] = "STARTTLS on the MX hosts"
    finding: ClassVar[str] = "An MX host does not offer working STARTTLS on port 25"
    caps: ClassVar[tuple[Cap, ...]] = (Cap("C", note="an MX host without working STARTTLS"),)
    why: ClassVar[str] = (
        "Mail from other agencies, businesses and citizens reaches the province through its MX hosts on port 25. "
        "Without STARTTLS every message, with its attachments, crosses the Internet readable and changeable by "
        "anyone on the path; Circular 39/2017 (4.4) requires mail transport to be encrypted. The cap at C is the "
        "one every cleartext service gets: the mail still flows, but none of it is protected."
    )
    remediation: ClassVar[str] = (
        "Offer STARTTLS on port 25 of every MX host, with a certificate for its name:\n"
        "- Postfix (main.cf): "
        + _POSTFIX_CERT
        + ", `smtpd_tls_security_level = may` (not `encrypt` on port 25: servers "
        "that cannot do TLS must still deliver), `smtpd_tls_protocols = >=TLSv1.2`; then `postfix reload`.\n"
        "- Exim: `tls_advertise_hosts = *`, `tls_certificate = /etc/ssl/{platform}/fullchain.pem`, "
        "`tls_privatekey = /etc/ssl/{platform}/privkey.pem`.\n"
        "- Exchange: assign the certificate to the SMTP service (`Enable-ExchangeCertificate -Services SMTP`).\n"
        "A '421 too many connections' answer made this untestable: allow the scanner's address more sessions "
        "(Postfix `smtpd_client_connection_count_limit`, or list it in `smtpd_client_event_limit_exceptions`)."
    )

    # A mail domain often has no address of its own: its checks read DNS about it, and contact only
    # the registered hosts that DNS names (its MX hosts), so they run whether or not it resolves.
    needs_address: ClassVar[bool] = False

    def applies_on(self, endpoint: Endpoint, platform: Platform) -> bool:
        return mail_domain(endpoint, platform) is not None

    def applies_to(self, endpoint: Endpoint) -> bool:
        return False  # only through applies_on: it needs the platform's mail domains

    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        domain = mail_domain(endpoint, ctx.platform) or endpoint.host
        try:
            facts = mx_facts(ctx, domain)
        except CollectionError as exc:
            failed = say(
                "mail.starttls.mx_incomplete",
                "The MX lookup of {domain} did not complete, so its MX hosts are not known: {reason}.",
                domain=domain,
                reason=exc.reason,
            )
            return [self.result(endpoint, Status.ERROR, failed, {"domain": domain})]
        none = no_mx_hosts(facts)
        if none is not None:
            return [self.from_verdict(endpoint, none)]
        is_registered = registered(ctx.platform)
        results = []
        for host in facts.hosts:
            verdict = self._host_verdict(ctx, host, is_registered(host.name))
            results.append(self.from_verdict(endpoint, verdict))
        return results

    def _host_verdict(self, ctx: ScanContext, host: MxHost, is_registered: bool) -> Verdict:
        evidence = {"host": host.name, "port": 25, "preference": host.preference}
        if not is_registered:
            outside = say(
                "mail.starttls.not_registered",
                "{host} is not registered: add it to hosts to test it (platscan contacts only registered hosts).",
                host=host.name,
            )
            return Verdict(Status.ERROR, outside, {**evidence, "registered": False}, key=host.name)
        address = ctx.platform.address_for(host.name) or (host.addresses[0] if host.addresses else None)
        if address is None:
            reason = ctx.platform.unresolved_reason(host.name) or host.missing or host.failed or no_address()
            return Verdict(Status.ERROR, reason, evidence, key=host.name)
        facts = self.session(ctx, SessionTarget(host.name, address, 25, Protocol.SMTP, False))
        if isinstance(facts, Message):
            return Verdict(Status.ERROR, facts, evidence, key=host.name)
        verdict = judge_starttls(facts)
        return Verdict(verdict.status, verdict.detail, verdict.evidence, verdict.severity, key=host.name)


def no_mx_hosts(facts: MxFacts) -> Verdict | None:
    """The one verdict for a domain whose MX gives no host to test; None when there are hosts. Pure."""
    evidence = {"domain": facts.domain, "status": facts.status.value}
    if facts.status is MxStatus.FAILED:
        failed = say(
            "mail.starttls.mx_failed",
            "The MX records of {domain} could not be read, so its MX hosts are not known: {cause}.",
            domain=facts.domain,
            cause=facts.reason or "",
        )
        return Verdict(Status.ERROR, failed, evidence)
    if facts.status is MxStatus.NULL:
        null = say(
            "mail.starttls.null_mx", "{domain} receives no mail (null MX): no MX host to test.", domain=facts.domain
        )
        return Verdict(Status.SKIP, null, evidence)
    if not facts.hosts:
        nothing = say(
            "mail.starttls.no_mx",
            "{domain} has no MX host and no address: no mail server to test.",
            domain=facts.domain,
        )
        return Verdict(Status.SKIP, nothing, evidence)
    return None


def judge_starttls(facts: SessionFacts) -> Verdict:
    """The ``mail.starttls`` verdict of one MX host's session on port 25. Pure."""
    target = facts.target
    evidence = facts.evidence()
    if facts.outcome is Outcome.NOT_OFFERED:
        unreachable = say(
            "mail.starttls.unreachable",
            "{reason} An MX host must accept connections on port 25, so STARTTLS could not be tested; a network "
            "that blocks outgoing port 25 from the scanner looks the same.",
            reason=facts.reason or "",
        )
        return Verdict(Status.ERROR, unreachable, evidence)
    if facts.outcome is not Outcome.COMPLETE:
        return Verdict(Status.ERROR, facts.reason or "", evidence)
    if facts.starttls_offered is not True:
        plain = say(
            "mail.starttls.not_offered",
            "{host} does not offer STARTTLS on port 25: mail to it crosses the network in clear.",
            host=target.host,
        )
        return Verdict(Status.FAIL, plain, {**evidence, FACTS: [cleartext_fact(target.host, 25)]})
    broken = _tls_not_started(facts)
    if broken is not None:
        return Verdict(Status.FAIL, broken, evidence)
    works = say(
        "mail.starttls.works",
        "{host} offers STARTTLS on port 25 and the TLS handshake completes ({version}).",
        host=target.host,
        version=facts.tls_version,
    )
    return Verdict(Status.PASS, works, evidence)


def _tls_not_started(facts: SessionFacts) -> Message | None:
    """Why a STARTTLS (STLS) that the server listed did not give a TLS session; None when it did."""
    target = facts.target
    if facts.tls_error:
        return say(
            "mail.session.handshake_failed",
            "{host} accepted {command} on port {port}, but the TLS handshake failed: {error}.",
            host=target.host,
            command=target.protocol.starttls,
            port=target.port,
            error=shorten(facts.tls_error, 200),
        )
    if not facts.tls:
        return say(
            "mail.session.starttls_refused",
            "{host} lists {command} on port {port} but answered '{answer}' to it.",
            host=target.host,
            command=target.protocol.starttls,
            port=target.port,
            answer=facts.starttls_reply or "-",
        )
    return None


# -- services: the shared part of submission and mailbox ------------------------------------------------


def _service_unavailable(facts: SessionFacts) -> Verdict | None:
    """skip for a service that is not offered, error for one that could not be tested; None otherwise."""
    evidence = facts.evidence()
    if facts.outcome is Outcome.NOT_OFFERED:
        absent = say("mail.service.not_offered", "Not offered.")
        return Verdict(Status.SKIP, sentences(absent, facts.reason), evidence)
    if facts.outcome is not Outcome.COMPLETE:
        return Verdict(Status.ERROR, facts.reason or "", evidence)
    return None


def _implicit_tls(facts: SessionFacts) -> Verdict:
    target = facts.target
    evidence = facts.evidence()
    if facts.tls:
        works = say(
            "mail.service.implicit_tls",
            "Port {port} of {host} speaks TLS from the first byte ({version}).",
            port=target.port,
            host=target.host,
            version=facts.tls_version,
        )
        return Verdict(Status.PASS, works, evidence)
    if facts.plaintext_reply:
        plain = say(
            "mail.service.plaintext_on_tls_port",
            "Port {port} of {host} answers in plain text, not TLS: whatever a client sends there crosses in clear.",
            port=target.port,
            host=target.host,
        )
        return Verdict(Status.FAIL, plain, {**evidence, FACTS: [cleartext_fact(target.host, target.port)]})
    failed = say(
        "mail.service.tls_failed",
        "No TLS session could be established on port {port} of {host}: {error}.",
        port=target.port,
        host=target.host,
        error=shorten(facts.tls_error, 200) or "-",
    )
    return Verdict(Status.ERROR, failed, evidence)


def _cleartext(facts: SessionFacts, detail: Text) -> Verdict:
    target = facts.target
    return Verdict(Status.FAIL, detail, {**facts.evidence(), FACTS: [cleartext_fact(target.host, target.port)]})


def _starttls_before_login(facts: SessionFacts, early_logins: list[str]) -> Verdict:
    """The verdict of a STARTTLS port given the logins it offers before TLS. Pure."""
    target = facts.target
    if facts.starttls_offered is False or (facts.starttls_offered is None and not facts.tls):
        plain = say(
            "mail.service.no_starttls",
            "Port {port} of {host} offers no {command}: logins and mail cross the network in clear.",
            port=target.port,
            host=target.host,
            command=target.protocol.starttls,
        )
        if early_logins:
            plain = say(
                "mail.service.no_starttls_login",
                "Port {port} of {host} offers no {command}, and offers {logins} in clear: passwords cross the "
                "network readable.",
                port=target.port,
                host=target.host,
                command=target.protocol.starttls,
                logins=early_logins,
            )
        return _cleartext(facts, plain)
    if early_logins:
        early = say(
            "mail.service.login_before_tls",
            "Port {port} of {host} offers {logins} before {command}: a client may send its password before TLS starts.",
            port=target.port,
            host=target.host,
            logins=early_logins,
            command=target.protocol.starttls,
        )
        return _cleartext(facts, early)
    broken = _tls_not_started(facts)
    if broken is not None:
        return Verdict(Status.FAIL, broken, facts.evidence())
    works = say(
        "mail.service.starttls_first",
        "Port {port} of {host} starts TLS with {command} before any login ({version}).",
        port=target.port,
        host=target.host,
        command=target.protocol.starttls,
        version=facts.tls_version,
    )
    return Verdict(Status.PASS, works, facts.evidence())


# -- mail.submission_tls -----------------------------------------------------------------------------------


def smtp_logins(capabilities: tuple[str, ...]) -> list[str]:
    """The AUTH offer in an EHLO answer ("AUTH PLAIN LOGIN"; "AUTH=LOGIN" of old clients), as listed."""
    return [c for c in capabilities if c == "AUTH" or c.startswith(("AUTH ", "AUTH="))][:2]


def judge_submission(facts: SessionFacts) -> Verdict:
    """The ``mail.submission_tls`` verdict of a session with port 465 or 587. Pure."""
    unavailable = _service_unavailable(facts)
    if unavailable is not None:
        return unavailable
    if facts.target.implicit_tls:
        return _implicit_tls(facts)
    return _starttls_before_login(facts, smtp_logins(facts.capabilities))


class SubmissionTls(ServiceCheck):
    id: ClassVar[str] = "mail.submission_tls"
    title: ClassVar[str] = "TLS before login on mail submission"
    finding: ClassVar[str] = "Mail submission takes a password without TLS"
    caps: ClassVar[tuple[Cap, ...]] = (Cap("C", note="submission without TLS, or offering AUTH before it"),)
    schemes: ClassVar[frozenset[str]] = frozenset({"smtps", "smtp"})
    why: ClassVar[str] = (
        "Officials' mail programs log in on the submission port (465 or 587) to send mail. Without TLS, or with "
        "AUTH offered before STARTTLS, a client may send the mailbox password in clear to anyone on the path, "
        "and a stolen official mailbox sends mail that every agency trusts. Circular 39/2017 (4.4) makes SMTPS "
        "mandatory. The cap at C is the one any other cleartext login gets."
    )
    remediation: ClassVar[str] = (
        "Offer implicit TLS on 465 (RFC 8314 prefers it) and STARTTLS on 587, and AUTH only after TLS:\n"
        "- Postfix master.cf:\n"
        "```\n"
        "submissions inet n - y - - smtpd\n"
        "  -o smtpd_tls_wrappermode=yes\n"
        "  -o smtpd_sasl_auth_enable=yes\n"
        "submission inet n - y - - smtpd\n"
        "  -o smtpd_tls_security_level=encrypt\n"
        "  -o smtpd_tls_auth_only=yes\n"
        "  -o smtpd_sasl_auth_enable=yes\n"
        "```\n"
        "  and in main.cf " + _POSTFIX_CERT + "; then `postfix reload`.\n"
        "- Exim: `tls_on_connect_ports = 465`, `auth_advertise_hosts = ${if eq{$tls_in_cipher}{}{}{*}}`.\n"
        "- Exchange: on the client receive connector, `Set-ReceiveConnector -AuthMechanism Tls,Integrated,"
        "BasicAuth,BasicAuthRequireTLS`."
    )

    def covers(self, scheme: str, port: int) -> bool:
        return scheme == "smtps" or (scheme == "smtp" and port != 25)  # smtp on 25 is the MX's

    def judge(self, facts: SessionFacts) -> Verdict:
        return judge_submission(facts)


# -- mail.mailbox_tls --------------------------------------------------------------------------------------


def mailbox_logins(protocol: Protocol, capabilities: tuple[str, ...]) -> list[str]:
    """The password logins a mailbox server offers in ``capabilities`` (before TLS), as listed."""
    if protocol is Protocol.IMAP:
        offered = [c for c in capabilities if c.startswith("AUTH=") and c[5:] in CLEARTEXT_MECHANISMS]
        if capabilities and "LOGINDISABLED" not in capabilities:
            offered.insert(0, "LOGIN")  # IMAP4rev1's LOGIN is there unless LOGINDISABLED says otherwise
        return offered
    offered = [c for c in capabilities if c.split()[0] == "USER"]
    offered += [c for c in capabilities if c.split()[0] == "SASL" and CLEARTEXT_MECHANISMS & set(c.split()[1:])]
    return offered


def judge_mailbox(facts: SessionFacts) -> Verdict:
    """The ``mail.mailbox_tls`` verdict of a session with an IMAP or POP3 port. Pure."""
    unavailable = _service_unavailable(facts)
    if unavailable is not None:
        return unavailable
    if facts.target.implicit_tls:
        return _implicit_tls(facts)
    return _starttls_before_login(facts, mailbox_logins(facts.target.protocol, facts.capabilities))


class MailboxTls(ServiceCheck):
    id: ClassVar[str] = "mail.mailbox_tls"
    title: ClassVar[str] = "TLS before login on IMAP and POP3"
    finding: ClassVar[str] = "Mailbox access takes a password without TLS"
    caps: ClassVar[tuple[Cap, ...]] = (Cap("C", note="IMAP or POP3 without TLS, or offering a login before it"),)
    schemes: ClassVar[frozenset[str]] = frozenset({"imap", "imaps", "pop3", "pop3s"})
    why: ClassVar[str] = (
        "Every mail program that reads an official mailbox logs in over IMAP or POP3. On 143 or 110 without "
        "STARTTLS, or with LOGIN, USER or AUTH PLAIN offered before it, the password and every message read cross "
        "the network in clear. Circular 39/2017 (4.5) makes IMAPS/POP3S mandatory. The cap at C is the one any "
        "other cleartext login gets."
    )
    remediation: ClassVar[str] = (
        "Offer IMAPS on 993 and POP3S on 995, and on 143/110 refuse any login before STARTTLS/STLS:\n"
        "- Dovecot (10-ssl.conf, 10-auth.conf): `ssl = required`, "
        "`ssl_cert = </etc/ssl/{platform}/fullchain.pem`, `ssl_key = </etc/ssl/{platform}/privkey.pem`, "
        "`disable_plaintext_auth = yes` (Dovecot 2.4: `auth_allow_cleartext = no`); then `doveadm reload`. "
        "Dovecot then lists LOGINDISABLED before STARTTLS.\n"
        "- Courier: `IMAP_TLS_REQUIRED=1`, `POP3_TLS_REQUIRED=1`.\n"
        "- Exchange: `Set-ImapSettings -LoginType SecureLogin`, `Set-PopSettings -LoginType SecureLogin`.\n"
        "If no client needs 143 or 110 at all, close them and keep 993 and 995 only."
    )

    def judge(self, facts: SessionFacts) -> Verdict:
        return judge_mailbox(facts)
