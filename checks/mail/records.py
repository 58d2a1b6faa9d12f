"""The mail family's DNS-record checks, per mail domain: SPF, DMARC, DKIM, MTA-STS and TLS-RPT.

They run on the names a mail platform lists in ``[platforms.mail] domains``: on their "domain"
endpoints, or on the "host" endpoint of a domain that is also a registered host. Each check has its
own collector (``spf.py``, ``dmarc.py``, ``dkim.py``, ``mta_sts.py``, ``tls_rpt.py``), which asks
only the scan's resolvers, and a pure judge over what it collected. A lookup that gets no usable
answer (a timeout, SERVFAIL) makes the result ``error``, never ``pass`` or ``fail``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import ClassVar, TypeVar

from checks.mail.dkim import collect_dkim, judge_dkim
from checks.mail.dmarc import collect_dmarc, judge_dmarc
from checks.mail.domains import mail_domain
from checks.mail.mta_sts import collect_mta_sts, judge_mta_sts
from checks.mail.settings import FAMILY_NAME, MailSettings
from checks.mail.spf import collect_spf, judge_spf
from checks.mail.tls_rpt import collect_tls_rpt, judge_tls_rpt
from scanner.evidence import shorten
from scanner.facts import CollectionError
from scanner.messages import say
from scanner.model import Cap, Endpoint, Platform, Result, Severity, Status
from scanner.plugin import Check, ScanContext, Verdict

F = TypeVar("F")


def mail_settings(platform: Platform) -> MailSettings | None:
    settings = platform.family_settings(FAMILY_NAME)
    return settings if isinstance(settings, MailSettings) else None


class MailDomainCheck(Check):
    """A check of one mail domain's DNS records. Subclasses set the metadata and ``verdicts``."""

    family: ClassVar[str] = FAMILY_NAME

    # A mail domain often has no address of its own: its checks read DNS about it, and contact only
    # the registered hosts that DNS names (its MX hosts), so they run whether or not it resolves.
    needs_address: ClassVar[bool] = False

    def applies_to(self, endpoint: Endpoint) -> bool:
        return False  # only through applies_on: it needs the platform's mail domains

    def applies_on(self, endpoint: Endpoint, platform: Platform) -> bool:
        return mail_domain(endpoint, platform) is not None

    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        domain = mail_domain(endpoint, ctx.platform) or endpoint.host
        try:
            verdicts = self.verdicts(domain, ctx)
        except CollectionError as exc:
            unread = say(
                "mail.records.not_collected",
                "Could not read the DNS records of {domain}: {reason}",
                domain=domain,
                reason=exc.reason,
            )
            verdicts = [Verdict(Status.ERROR, unread, {"domain": domain, "error": shorten(str(exc.reason))})]
        return [self.from_verdict(endpoint, verdict) for verdict in verdicts]

    @abc.abstractmethod
    def verdicts(self, domain: str, ctx: ScanContext) -> list[Verdict]:
        """The verdicts on ``domain``: the collection through ``ctx.collect``, then a pure judge."""


def _dns_collector(
    ctx: ScanContext, name: str, domain: str, collector: Callable[[str, tuple[str, ...], float, float], F]
) -> F:
    """A record collector's facts: DNS only, so shared by every platform that lists the domain."""
    settings = ctx.settings
    key = (FAMILY_NAME, name, domain, settings.dns_servers)
    return ctx.collect(key, collector, domain, settings.dns_servers, settings.timeout, ctx.remaining())


class Spf(MailDomainCheck):
    id = "mail.spf"
    title = "SPF record"
    finding = "The domain has no SPF record that rejects or soft-fails mail from unlisted servers"
    severity = Severity.MEDIUM
    why = (
        "SPF (RFC 7208) lists the servers allowed to send mail as the domain. Without a record that ends in "
        "-all or ~all, any server on the Internet can send mail that passes as coming from the province's "
        "official domain: the basis of phishing in the name of a government office. A record that receivers "
        "cannot evaluate (two records, a syntax error, more than 10 DNS lookups) counts as no record."
    )
    remediation = (
        "Publish exactly one TXT record at the domain that lists the servers that send its mail and ends in "
        "`-all` (or `~all` while you check that nothing legitimate is missing):\n"
        "```\n"
        '{host}. 3600 IN TXT "v=spf1 mx ip4:203.0.113.25 -all"\n'
        "```\n"
        "- `mx` authorises the domain's MX hosts; add `ip4:`/`ip6:` for other sending servers, and `include:`"
        " only for a provider that documents one (each `include`, `a`, `mx`, `exists` and `redirect` costs a "
        "DNS lookup, and receivers stop at 10, counting the includes' own).\n"
        "- Merge several `v=spf1` records into one: two records are a permanent error.\n"
        "- Remove `include:` of names that publish no SPF record, and `a:`/`mx:` terms that find nothing "
        "(more than two such void lookups is an error at some receivers).\n"
        "- A domain that sends no mail at all publishes `v=spf1 -all`.\n"
        "Check with `dig +short TXT {host}`."
    )
    caps = ()

    def verdicts(self, domain: str, ctx: ScanContext) -> list[Verdict]:
        facts = _dns_collector(ctx, "spf", domain, collect_spf)
        return [judge_spf(facts)]


class Dmarc(MailDomainCheck):
    id = "mail.dmarc"
    title = "DMARC policy"
    finding = "The domain has no DMARC policy that quarantines or rejects forged mail"
    severity = Severity.HIGH
    why = (
        "DMARC (RFC 7489) tells receivers what to do with mail that claims the domain in its From: address but "
        "fails SPF and DKIM: quarantine or reject it. Without a record, or with p=none, mail forged in the "
        "name of the province's official e-mail is delivered as usual, and citizens and other agencies cannot "
        "tell it from the real thing. TCVN 14423 (6.9.2.5) requires DMARC; its aggregate reports (rua) are how "
        "the domain's owner learns who sends in its name."
    )
    remediation = (
        "Publish one TXT record at `_dmarc.` of the domain, with an enforcing policy and an address for "
        "aggregate reports:\n"
        "```\n"
        '_dmarc.{host}. 3600 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc-reports@{host}"\n'
        "```\n"
        "- Roll it out in steps: `p=none` with `rua` for a few weeks to see which servers send as the domain "
        "(fix their SPF and DKIM), then `p=quarantine`, then `p=reject`. `p=none` on its own protects "
        "nothing.\n"
        "- Leave out `pct` (or set `pct=100`) and `t=y` once the policy is meant: both ask receivers not to "
        "apply it to all failing mail.\n"
        "- Do not set `sp=none` under an enforcing `p`: it leaves every subdomain open to forgery.\n"
        "- Report addresses at another domain must be authorised there: `{host}._report._dmarc.<report "
        'domain>. IN TXT "v=DMARC1"`.\n'
        "Check with `dig +short TXT _dmarc.{host}`."
    )
    caps = (Cap("B", note="no DMARC record, an invalid one, or a policy of none"),)

    def verdicts(self, domain: str, ctx: ScanContext) -> list[Verdict]:
        facts = _dns_collector(ctx, "dmarc", domain, collect_dmarc)
        return [judge_dmarc(facts)]


class Dkim(MailDomainCheck):
    id = "mail.dkim"
    title = "DKIM keys"
    finding = "The domain publishes no usable DKIM key of adequate strength"
    severity = Severity.MEDIUM
    why = (
        "DKIM (RFC 6376) signs each message with a key the domain publishes in DNS, so receivers can check that "
        "mail really comes from the province's servers and was not altered; DMARC relies on it when mail is "
        "forwarded and SPF no longer matches. A missing, revoked or unreadable key means signatures fail, and a "
        "short RSA key can be factored and used to sign forged mail."
    )
    remediation = (
        "Sign outgoing mail and publish each selector's public key at `<selector>._domainkey.` of the domain,"
        " RSA of 2048 bits (or Ed25519 alongside RSA):\n"
        "```\n"
        'default._domainkey.{host}. 3600 IN TXT "v=DKIM1; k=rsa; '
        'p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA..."\n'
        "```\n"
        "- OpenDKIM: `opendkim-genkey -b 2048 -d {host} -s default` writes `default.private` (the signing "
        "key, `KeyTable`/`SigningTable` in `/etc/opendkim.conf`) and `default.txt` (the record to publish).\n"
        "- Rspamd: `rspamadm dkim_keygen -b 2048 -s default -d {host}`; Microsoft 365 and other providers: "
        "enable DKIM signing in the admin console and publish the CNAME or TXT records it shows.\n"
        "- Replace keys shorter than 2048 bits; a TXT string is at most 255 bytes, so split a long `p=` into "
        "several quoted strings of one record.\n"
        "- An empty `p=` revokes a key: publish the new selector before revoking the old one.\n"
        "List the selectors in `dkim_selectors` (the `[platforms.mail]` table of the platform `{platform}`) "
        "so that each key is judged. Check with `dig +short TXT default._domainkey.{host}`."
    )

    def verdicts(self, domain: str, ctx: ScanContext) -> list[Verdict]:
        settings = mail_settings(ctx.platform)
        selectors = settings.dkim_selectors if settings is not None else ()
        key = (FAMILY_NAME, "dkim", domain, selectors, ctx.settings.dns_servers)
        facts = ctx.collect(
            key, collect_dkim, domain, selectors, ctx.settings.dns_servers, ctx.settings.timeout, ctx.remaining()
        )
        return judge_dkim(facts)


class MtaSts(MailDomainCheck):
    id = "mail.mta_sts"
    title = "MTA-STS policy"
    finding = "The domain does not enforce verified TLS for incoming mail with MTA-STS"
    severity = Severity.LOW
    why = (
        "STARTTLS between mail servers is opportunistic: an attacker on the path can remove it, or present any "
        "certificate, and the sending server delivers anyway. MTA-STS (RFC 8461) lets the domain tell senders "
        "to insist on verified TLS to its MX hosts. It is advisory here: it is not required by Vietnamese "
        "regulation, but it is what makes STARTTLS on the MX hosts protect anything against an active attacker."
    )
    remediation = (
        "Serve a policy at `https://mta-sts.{host}/.well-known/mta-sts.txt` (a valid certificate for "
        "`mta-sts.{host}`, HTTP 200, `Content-Type: text/plain`, no redirect) and announce it in DNS:\n"
        "```\n"
        "version: STSv1\n"
        "mode: enforce\n"
        "mx: mx1.{host}\n"
        "mx: *.{host}\n"
        "max_age: 604800\n"
        "```\n"
        "```\n"
        '_mta-sts.{host}. 3600 IN TXT "v=STSv1; id=20260101T000000"\n'
        "```\n"
        "- nginx: `location = /.well-known/mta-sts.txt { default_type text/plain; alias "
        "/etc/nginx/mta-sts/{platform}.txt; }` in the `server` of `mta-sts.{host}`.\n"
        "- Start with `mode: testing` and TLS-RPT, then switch to `mode: enforce`; every `mx:` line must "
        "match an MX host of the domain.\n"
        "- Change `id=` whenever the policy changes, or senders keep the old one for `max_age` seconds.\n"
        "Register `mta-sts.{host}` in the platform's `hosts` so that platscan fetches and judges the policy."
    )

    def verdicts(self, domain: str, ctx: ScanContext) -> list[Verdict]:
        # The policy host's scope is the platform's: facts of one platform only.
        key = (FAMILY_NAME, "mta_sts", ctx.platform.id, domain)
        facts = ctx.collect(key, collect_mta_sts, domain, ctx.platform, ctx.settings, ctx.remaining(), private=True)
        return [judge_mta_sts(facts)]


class TlsRpt(MailDomainCheck):
    id = "mail.tls_rpt"
    title = "SMTP TLS reporting"
    finding = "The domain publishes no valid TLS-RPT record for reports of TLS failures"
    severity = Severity.LOW
    why = (
        "With a TLS-RPT record (RFC 8460), sending servers report every day the TLS problems they met when "
        "delivering to the domain: an expired certificate on an MX host, STARTTLS stripped on the path, an "
        "MTA-STS policy that does not match. Without it, those failures go unnoticed until mail is lost. "
        "Advisory: not required by Vietnamese regulation."
    )
    remediation = (
        "Publish one TXT record at `_smtp._tls.` of the domain with the address that receives the reports:\n"
        "```\n"
        '_smtp._tls.{host}. 3600 IN TXT "v=TLSRPTv1; rua=mailto:tls-reports@{host}"\n'
        "```\n"
        "`rua` takes `mailto:` and `https:` addresses, separated by commas. Check with `dig +short TXT "
        "_smtp._tls.{host}`."
    )

    def verdicts(self, domain: str, ctx: ScanContext) -> list[Verdict]:
        facts = _dns_collector(ctx, "tls_rpt", domain, collect_tls_rpt)
        return [judge_tls_rpt(facts)]
