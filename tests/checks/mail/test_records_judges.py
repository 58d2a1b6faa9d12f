"""The mail family's record judges, from recorded facts: every rule of SPF, DMARC, DKIM, MTA-STS and
TLS-RPT broken once, and the pure parsers behind them (DKIM keys made with ``cryptography``)."""

from __future__ import annotations

import base64
import dataclasses

import pytest
from checkdmarc import utils as checkdmarc_utils  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from checks.mail.dkim import DkimFacts, judge_dkim, judge_parent, judge_selector, read_key
from checks.mail.dmarc import DmarcFacts, DmarcProblem, judge_dmarc
from checks.mail.lookups import DnsFailure, MxLookup, Outcome, TxtLookup, checkdmarc_answers_forgotten
from checks.mail.mta_sts import (
    MtaStsFacts,
    PolicyFetch,
    judge_mta_sts,
    mx_matches,
    policy_url,
    read_policy,
    read_record,
)
from checks.mail.records import Dkim, Dmarc, MtaSts, Spf, TlsRpt
from checks.mail.settings import MailSettings
from checks.mail.spf import SpfFacts, SpfProblem, judge_spf, qualifier_of_all
from checks.mail.tls_rpt import TlsRptFacts, judge_tls_rpt
from scanner.messages import say
from scanner.model import Endpoint, Platform, Severity, Status

D = "mail.test"
TIMEOUT = DnsFailure(f"_dmarc.{D}", "TXT", say("mail.lookup.timeout", "no answer within {seconds:.1f} s", seconds=2.0))


def servfail(name: str, rdtype: str = "TXT") -> DnsFailure:
    return DnsFailure(name, rdtype, say("mail.lookup.rcode", "the DNS servers answered {rcode}", rcode="SERVFAIL"))


# -- where they run ---------------------------------------------------------------------------------


@pytest.mark.parametrize("check", [Spf(), Dmarc(), Dkim(), MtaSts(), TlsRpt()], ids=lambda c: c.id)
def test_the_record_checks_run_on_mail_domains_only(check: Spf) -> None:
    mail = Platform(id="mail", name="Mail", hosts=(D,), families=(("mail", MailSettings(domains=(D, "other.test"))),))
    web = Platform(id="web", name="Web", hosts=(D,))
    assert check.applies_on(Endpoint.for_domain(mail, "other.test"), mail)
    assert check.applies_on(Endpoint.for_host(mail, D), mail), "a mail domain that is also a host"
    assert not check.applies_on(Endpoint.for_host(mail, "mx1.mail.test"), mail)
    assert not check.applies_on(Endpoint.for_service(mail, f"smtp://{D}:25"), mail)
    assert not check.applies_on(Endpoint.for_host(web, D), web), "no [platforms.mail]: not a mail platform"
    assert not check.applies_on(Endpoint.for_domain(web, D), web)


def test_checkdmarcs_cache_is_emptied_around_a_collection() -> None:
    checkdmarc_utils.DNS_CACHE["mail.test_TXT_False"] = ["v=spf1 +all"]
    with checkdmarc_answers_forgotten():
        assert "mail.test_TXT_False" not in checkdmarc_utils.DNS_CACHE
        checkdmarc_utils.DNS_CACHE["mail.test_TXT_False"] = ["v=spf1 -all"]
    assert len(checkdmarc_utils.DNS_CACHE) == 0


# -- SPF --------------------------------------------------------------------------------------------


def spf(**changes: object) -> SpfFacts:
    good = SpfFacts(D, "v=spf1 mx -all", all="-", dns_lookups=1, void_lookups=0)
    return dataclasses.replace(good, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("qualifier", ["-", "~"])
def test_spf_passes_with_minus_or_tilde_all(qualifier: str) -> None:
    verdict = judge_spf(spf(record=f"v=spf1 mx {qualifier}all", all=qualifier))
    assert verdict.status is Status.PASS
    assert (
        str(verdict.detail)
        == f"mail.test publishes an SPF record ending in {qualifier}all (1 of at most 10 DNS lookups)"
    )


@pytest.mark.parametrize(
    ("facts", "said"),
    [
        (SpfFacts(D, problem=SpfProblem.NOT_FOUND), "mail.spf.missing"),
        (SpfFacts(D, problem=SpfProblem.NOT_FOUND, nxdomain=True), "mail.spf.no_domain"),
        (SpfFacts(D, problem=SpfProblem.MULTIPLE), "mail.spf.multiple"),
        (spf(problem=SpfProblem.SYNTAX, explanation="Expected all at position 7"), "mail.spf.syntax"),
        (spf(problem=SpfProblem.LOOP, explanation="Include loop: a -> b -> a"), "mail.spf.loop"),
        (spf(problem=SpfProblem.TOO_MANY_LOOKUPS, dns_lookups=11), "mail.spf.too_many_lookups"),
        (spf(problem=SpfProblem.REDIRECT_MISSING, redirect="x.test", target="x.test"), "mail.spf.redirect_missing"),
        (spf(broken_includes=("gone.test",)), "mail.spf.include_missing"),
        (spf(record="v=spf1 +all", all="+"), "mail.spf.plus_all"),
        (spf(record="v=spf1 mx ?all", all="?"), "mail.spf.neutral_all"),
        (spf(record="v=spf1 mx", all=None), "mail.spf.no_all"),
    ],
)
def test_spf_fails(facts: SpfFacts, said: str) -> None:
    verdict = judge_spf(facts)
    assert verdict.status is Status.FAIL, verdict.detail
    assert getattr(verdict.detail, "id", None) == said


def test_spf_too_many_lookups_says_how_many() -> None:
    detail = str(judge_spf(spf(problem=SpfProblem.TOO_MANY_LOOKUPS, dns_lookups=12)).detail)
    assert "at least 12 DNS lookups" in detail and "stop at 10" in detail


def test_spf_more_than_two_void_lookups_warns_unless_something_fails() -> None:
    warned = judge_spf(spf(void_lookups=3))
    assert warned.status is Status.WARN and warned.evidence["void_lookups"] == 3
    assert "3 DNS lookups that find nothing" in str(warned.detail)
    assert judge_spf(spf(void_lookups=2)).status is Status.PASS
    assert judge_spf(spf(void_lookups=3, all="+")).status is Status.FAIL, "+all fails whatever the void count"


def test_spf_redirect_gives_the_result_and_a_macro_redirect_cannot_be_judged() -> None:
    assert judge_spf(spf(record="v=spf1 redirect=_spf.x.test", all="~", redirect="_spf.x.test")).status is Status.PASS
    macro = judge_spf(spf(record="v=spf1 redirect=%{d}._spf.x.test", all=None, redirect="%{d}._spf.x.test"))
    assert macro.status is Status.WARN and getattr(macro.detail, "id", None) == "mail.spf.macro_redirect"


def test_spf_dns_failures_are_errors_never_verdicts() -> None:
    # checkdmarc counts a SERVFAIL on an include as a void lookup (or as "no record" at the top):
    # what was not answered is not judged.
    for facts in (
        spf(failures=(servfail("_spf.bogus.test"),), broken_includes=("_spf.bogus.test",)),
        SpfFacts(D, problem=SpfProblem.NOT_FOUND, failures=(servfail(D),)),
        spf(void_lookups=3, failures=(servfail("a.test", "A"), servfail("b.test", "A"))),
    ):
        verdict = judge_spf(facts)
        assert verdict.status is Status.ERROR
        assert "the DNS servers answered SERVFAIL" in str(verdict.detail)
    two = judge_spf(spf(failures=(servfail("a.test", "A"), servfail("b.test", "A"))))
    assert str(two.detail).endswith("1 other lookups failed too")


def test_the_qualifier_of_all_is_read_from_the_records_terms() -> None:
    assert qualifier_of_all("v=spf1 mx -all") == "-"
    assert qualifier_of_all("v=spf1 mx all") == "+", "no qualifier is +"
    assert qualifier_of_all("v=spf1 include:all.example ~ALL") == "~"
    assert qualifier_of_all("v=spf1 include:overall.example") is None


# -- DMARC ------------------------------------------------------------------------------------------


def dmarc(**changes: object) -> DmarcFacts:
    good = DmarcFacts(D, D, "v=DMARC1; p=reject; rua=mailto:d@mail.test", D, p="reject", rua=("d@mail.test",))
    return dataclasses.replace(good, **changes)  # type: ignore[arg-type]


def test_dmarc_passes_with_quarantine_or_reject() -> None:
    verdict = judge_dmarc(dmarc())
    assert verdict.status is Status.PASS
    assert str(verdict.detail) == (
        "The DMARC policy for mail.test at _dmarc.mail.test is p=reject, with aggregate reports to d@mail.test"
    )
    assert judge_dmarc(dmarc(p="quarantine")).status is Status.PASS


@pytest.mark.parametrize(
    ("facts", "said"),
    [
        (DmarcFacts(D, D, problem=DmarcProblem.NOT_FOUND), "mail.dmarc.missing"),
        (DmarcFacts("sub.mail.test", D, problem=DmarcProblem.NOT_FOUND), "mail.dmarc.missing_both"),
        (DmarcFacts(D, D, problem=DmarcProblem.MULTIPLE), "mail.dmarc.multiple"),
        (DmarcFacts(D, D, problem=DmarcProblem.WRONG_PLACE), "mail.dmarc.wrong_place"),
        (dmarc(problem=DmarcProblem.INVALID, explanation="p must be none, quarantine or reject"), "mail.dmarc.invalid"),
        (
            DmarcFacts("a.b.gov.vn", "b.gov.vn", "v=DMARC1; p=reject", "gov.vn", DmarcProblem.ABOVE_ORGANISATIONAL),
            "mail.dmarc.above_organisational",
        ),
        (dmarc(p="none"), "mail.dmarc.p_none"),
        (
            DmarcFacts("sub.mail.test", D, "v=DMARC1; p=reject; sp=none", D, p="reject", sp="none"),
            "mail.dmarc.sp_none_inherited",
        ),
    ],
)
def test_dmarc_fails(facts: DmarcFacts, said: str) -> None:
    verdict = judge_dmarc(facts)
    assert verdict.status is Status.FAIL, verdict.detail
    assert getattr(verdict.detail, "id", None) == said


def test_a_domain_without_its_own_record_gets_the_subdomain_policy() -> None:
    inherited = DmarcFacts("sub.mail.test", D, "v=DMARC1; p=none; sp=reject", D, p="none", sp="reject", rua=("d@x",))
    verdict = judge_dmarc(inherited)
    assert verdict.status is Status.PASS and "is sp=reject" in str(verdict.detail)
    assert judge_dmarc(dataclasses.replace(inherited, sp="")).status is Status.FAIL, "no sp: p=none applies"


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"pct": 50}, "pct=50: the policy applies to 50% of the failing mail only."),
        ({"testing": True}, "t=y: the record is in testing mode (RFC 9989)"),
        ({"rua": ()}, "No rua: nobody receives the aggregate reports"),
        ({"sp": "none"}, "sp=none: mail forged in the name of subdomains of mail.test is delivered as usual."),
    ],
)
def test_dmarc_warns_when_the_policy_is_weakened(changes: dict[str, object], said: str) -> None:
    verdict = judge_dmarc(dmarc(**changes))
    assert verdict.status is Status.WARN
    assert said in str(verdict.detail)


def test_dmarc_lists_every_weakening() -> None:
    detail = str(judge_dmarc(dmarc(pct=10, testing=True, rua=())).detail)
    assert detail.startswith("The DMARC policy at _dmarc.mail.test is p=reject, but weakened: pct=10")
    assert "t=y" in detail and "No rua" in detail


def test_dmarc_dns_failures_are_errors() -> None:
    verdict = judge_dmarc(DmarcFacts(D, D, problem=DmarcProblem.INVALID, failures=(TIMEOUT,)))
    assert verdict.status is Status.ERROR
    assert str(verdict.detail) == "The DNS lookup of _dmarc.mail.test (TXT) failed: no answer within 2.0 s"


def test_dmarc_caps_the_grade_at_b() -> None:
    assert [cap.grade for cap in Dmarc.caps] == ["B"]
    assert Dmarc.severity is Severity.HIGH


# -- DKIM -------------------------------------------------------------------------------------------


def spki(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def rsa_record(bits: int) -> str:
    return f"v=DKIM1; k=rsa; p={spki(rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key())}"


def rsa_512_record() -> str:
    # cryptography refuses to generate keys this short; a public key of any odd modulus serialises.
    modulus = (1 << 511) | 0xF00D_BEEF_0001
    key = rsa.RSAPublicNumbers(65537, modulus).public_key()
    return f"v=DKIM1; p={spki(key)}"


def key_lookup(*records: str, selector: str = "s1") -> TxtLookup:
    return TxtLookup(f"{selector}._domainkey.{D}", Outcome.ANSWER, records)


def test_dkim_keys_are_read_from_the_record() -> None:
    assert read_key(rsa_record(2048)).bits == 2048
    assert read_key(rsa_512_record()).bits == 512
    ed = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    assert read_key(f"v=DKIM1; k=ed25519; p={base64.b64encode(ed).decode()}").key_type == "ed25519"
    folded = rsa_record(2048).replace("p=", "p = ").replace("A", "A \t", 3)
    assert read_key(folded).bits == 2048, "folding white space inside p= is not part of the value"
    assert read_key("k=rsa; t=y; p=" + rsa_record(2048).split("p=")[1]).testing
    assert read_key("v=DKIM1; p=").revoked


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ("v=DKIM1; k=rsa; p=bm90IGEga2V5", "mail.dkim.not_spki"),
        ("v=DKIM1; p=###", "mail.dkim.not_base64"),
        ("v=DKIM1; k=rsa", "mail.dkim.no_p"),
        ("v=DKIM2; p=AAAA", "mail.dkim.version"),
        ("k=rsa; v=DKIM1; p=AAAA", "mail.dkim.version_not_first"),
        ("v=DKIM1; p=AAAA; p=AAAA", "mail.dkim.duplicate_tag"),
        ("v=DKIM1; hello; p=AAAA", "mail.dkim.not_a_tag"),
        ("v=DKIM1; k=dsa; p=AAAA", "mail.dkim.key_type"),
        ("v=DKIM1; k=ed25519; p=AAAA", "mail.dkim.ed25519_size"),
    ],
)
def test_unusable_dkim_records(record: str, problem: str) -> None:
    key = read_key(record)
    assert key.problem is not None and key.problem.id == problem
    verdict = judge_selector("s1", key_lookup(record))
    assert verdict.status is Status.FAIL and verdict.key == "s1"
    assert str(verdict.detail).startswith(f"The DKIM record at s1._domainkey.{D} is invalid: ")


def test_a_dkim_record_must_hold_the_key_its_type_names() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    key = read_key(f"v=DKIM1; k=rsa; p={spki(ec_key)}")
    assert key.problem is not None and key.problem.id == "mail.dkim.not_rsa"


def test_dkim_verdicts_by_key_strength() -> None:
    good = judge_selector("s1", key_lookup(rsa_record(2048)))
    assert (good.status, good.key, good.evidence["bits"]) == (Status.PASS, "s1", 2048)
    short = judge_selector("s1", key_lookup(rsa_record(1024)))
    assert short.status is Status.WARN and "1024-bit RSA" in str(short.detail)
    weak = judge_selector("s1", key_lookup(rsa_512_record()))
    assert (weak.status, weak.severity) == (Status.FAIL, Severity.HIGH)
    assert "512-bit RSA" in str(weak.detail)
    revoked = judge_selector("s1", key_lookup("v=DKIM1; k=rsa; p="))
    assert revoked.status is Status.FAIL and getattr(revoked.detail, "id", None) == "mail.dkim.revoked"
    ed = base64.b64encode(ed25519.Ed25519PrivateKey.generate().public_key().public_bytes_raw()).decode()
    assert judge_selector("s1", key_lookup(f"v=DKIM1; k=ed25519; p={ed}")).status is Status.PASS


def test_of_several_key_records_the_worst_counts() -> None:
    verdict = judge_selector("s1", key_lookup(rsa_record(2048), "v=DKIM1; p="))
    assert verdict.status is Status.FAIL


@pytest.mark.parametrize("outcome", [Outcome.NXDOMAIN, Outcome.NODATA])
def test_a_selector_without_a_key_fails(outcome: Outcome) -> None:
    verdict = judge_selector("s1", TxtLookup(f"s1._domainkey.{D}", outcome))
    assert verdict.status is Status.FAIL and str(verdict.detail) == f"No DKIM key record at s1._domainkey.{D}"


def test_one_dkim_verdict_per_selector() -> None:
    facts = DkimFacts(
        D,
        ("s1", "s2"),
        (
            key_lookup(rsa_record(2048), selector="s1"),
            TxtLookup(f"s2._domainkey.{D}", Outcome.FAILED, failure=servfail(f"s2._domainkey.{D}")),
        ),
    )
    verdicts = judge_dkim(facts)
    assert [(v.key, v.status) for v in verdicts] == [("s1", Status.PASS), ("s2", Status.ERROR)]


def test_without_selectors_dkim_is_judged_from_domainkey() -> None:
    name = f"_domainkey.{D}"
    assert judge_parent(D, TxtLookup(name, Outcome.NODATA)).status is Status.PASS, "an empty non-terminal exists"
    missing = judge_parent(D, TxtLookup(name, Outcome.NXDOMAIN))
    assert missing.status is Status.FAIL and "NXDOMAIN" in str(missing.detail)
    failed = judge_parent(D, TxtLookup(name, Outcome.FAILED, failure=servfail(name)))
    assert failed.status is Status.ERROR
    assert [v.status for v in judge_dkim(DkimFacts(D, parent=TxtLookup(name, Outcome.NODATA)))] == [Status.PASS]


# -- MTA-STS ----------------------------------------------------------------------------------------

POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mx1.mail.test\r\nmx: *.backup.mail.test\r\nmax_age: 604800\r\n"
STS_TXT = TxtLookup(f"_mta-sts.{D}", Outcome.ANSWER, ("v=STSv1; id=20260101",))
MX = MxLookup(D, Outcome.ANSWER, ((10, "mx1.mail.test"), (20, "a.backup.mail.test")))


def sts(fetch: PolicyFetch | None = None, **changes: object) -> MtaStsFacts:
    served = PolicyFetch(policy_url(D), 200, "text/plain", POLICY, verified=True)
    facts = MtaStsFacts(D, STS_TXT, f"mta-sts.{D}", True, served if fetch is None else fetch, MX)
    return dataclasses.replace(facts, **changes)  # type: ignore[arg-type]


def served(**changes: object) -> PolicyFetch:
    return dataclasses.replace(PolicyFetch(policy_url(D), 200, "text/plain", POLICY, verified=True), **changes)  # type: ignore[arg-type]


def test_an_enforced_policy_that_covers_the_mx_hosts_passes() -> None:
    verdict = judge_mta_sts(sts())
    assert verdict.status is Status.PASS, verdict.detail
    assert verdict.evidence["mode"] == "enforce" and verdict.evidence["max_age"] == 604800


@pytest.mark.parametrize(
    ("facts", "status", "said"),
    [
        (sts(txt=TxtLookup(f"_mta-sts.{D}", Outcome.NXDOMAIN), fetch=None), Status.WARN, "mail.mta_sts.absent"),
        (sts(txt=TxtLookup(f"_mta-sts.{D}", Outcome.ANSWER, ("unrelated",))), Status.WARN, "mail.mta_sts.absent"),
        (sts(served(body=POLICY.replace("enforce", "testing"))), Status.WARN, "mail.mta_sts.testing"),
        (sts(served(body="version: STSv1\nmode: none\nmax_age: 86400\n")), Status.WARN, "mail.mta_sts.mode_none"),
        (
            sts(txt=TxtLookup(f"_mta-sts.{D}", Outcome.ANSWER, ("v=STSv1; id=a", "v=STSv1; id=b"))),
            Status.FAIL,
            "mail.mta_sts.multiple",
        ),
        (
            sts(txt=TxtLookup(f"_mta-sts.{D}", Outcome.ANSWER, ("v=STSv1; id=no-dashes",))),
            Status.FAIL,
            "mail.mta_sts.record_invalid",
        ),
        (sts(served(verified=False, tls_problem="self-signed certificate")), Status.FAIL, "mail.mta_sts.untrusted"),
        (sts(served(status=301, location="https://www.mail.test/sts.txt")), Status.FAIL, "mail.mta_sts.redirect"),
        (sts(served(status=404)), Status.FAIL, "mail.mta_sts.status"),
        (sts(served(complete=False)), Status.FAIL, "mail.mta_sts.too_large"),
        (sts(served(content_type="text/html")), Status.FAIL, "mail.mta_sts.content_type"),
        (
            sts(served(body="mode: enforce\nmx: mx1.mail.test\nmax_age: 1\n")),
            Status.FAIL,
            "mail.mta_sts.policy_invalid",
        ),
        (sts(mx=MxLookup(D, Outcome.ANSWER, ((10, "mx.elsewhere.test"),))), Status.FAIL, "mail.mta_sts.mx_not_covered"),
        (sts(registered=False, fetch=None), Status.ERROR, "mail.mta_sts.not_registered"),
        (
            sts(PolicyFetch(policy_url(D), error=say("mail.mta_sts.no_answer", "no answer"))),
            Status.ERROR,
            "mail.mta_sts.fetch_failed",
        ),
        (
            sts(txt=TxtLookup(f"_mta-sts.{D}", Outcome.FAILED, failure=servfail(f"_mta-sts.{D}"))),
            Status.ERROR,
            "mail.lookup.failed",
        ),
        (sts(mx=MxLookup(D, Outcome.FAILED, failure=servfail(D, "MX"))), Status.ERROR, "mail.lookup.failed"),
    ],
)
def test_mta_sts_verdicts(facts: MtaStsFacts, status: Status, said: str) -> None:
    verdict = judge_mta_sts(facts)
    assert verdict.status is status, verdict.detail
    assert getattr(verdict.detail, "id", None) == said


def test_the_unregistered_policy_host_is_named() -> None:
    detail = str(judge_mta_sts(sts(registered=False, fetch=None)).detail)
    assert detail.startswith("not registered: add mta-sts.mail.test to the platform's hosts")


def test_mta_sts_records_and_policies_are_read_as_rfc_8461_says() -> None:
    assert read_record("v=STSv1; id=20260101T0000Z").id == "20260101T0000Z"
    assert read_record("v=STSv1;id=abc;ext=1").id == "abc", "extension fields are allowed"
    assert read_record("v=STSv1; id=" + "a" * 33).problem is not None
    assert read_record("v=STSv1;").problem is not None
    policy = read_policy(POLICY)
    assert (policy.mode, policy.max_age, policy.mx) == ("enforce", 604800, ("mx1.mail.test", "*.backup.mail.test"))
    assert read_policy(POLICY + "future_key: x\n").problem is None, "unknown keys are ignored"
    for broken in (
        POLICY.replace("STSv1", "STSv2"),
        POLICY.replace("enforce", "on"),
        POLICY.replace("604800", "31557601"),
        POLICY.replace("604800", "-1"),
        "version: STSv1\nmode: enforce\nmax_age: 1\n",
        POLICY + "mode: testing\n",
        POLICY + "no colon here\n",
        POLICY.replace("mx1.mail.test", "mx1..mail.test"),
    ):
        assert read_policy(broken).problem is not None, broken


def test_mx_patterns_match_as_rfc_8461_says() -> None:
    assert mx_matches("MX1.mail.test.", "mx1.mail.test")
    assert mx_matches("a.backup.mail.test", "*.backup.mail.test")
    assert not mx_matches("a.b.backup.mail.test", "*.backup.mail.test"), "a wildcard is one label"
    assert not mx_matches("backup.mail.test", "*.backup.mail.test")
    assert not mx_matches("a.backup.mail.test.evil.test", "*.backup.mail.test")


# -- TLS-RPT ----------------------------------------------------------------------------------------


def rpt(*records: str, outcome: Outcome = Outcome.ANSWER) -> TlsRptFacts:
    return TlsRptFacts(D, TxtLookup(f"_smtp._tls.{D}", outcome, records))


def test_tls_rpt_verdicts() -> None:
    good = judge_tls_rpt(rpt("v=TLSRPTv1; rua=mailto:tls@mail.test,https://reports.mail.test/tlsrpt", "other"))
    assert good.status is Status.PASS and good.evidence["rua"] == [
        "mailto:tls@mail.test",
        "https://reports.mail.test/tlsrpt",
    ]
    assert judge_tls_rpt(rpt(outcome=Outcome.NXDOMAIN)).status is Status.WARN
    assert judge_tls_rpt(rpt("v=spf1 -all")).status is Status.WARN, "records of other kinds are discarded"
    several = judge_tls_rpt(rpt("v=TLSRPTv1; rua=mailto:a@mail.test", "v=TLSRPTv1; rua=mailto:b@mail.test"))
    assert several.status is Status.FAIL and getattr(several.detail, "id", None) == "mail.tls_rpt.multiple"
    for invalid in ("v=TLSRPTv1;", "v=TLSRPTv1; rua=ftp://x.test/"):
        verdict = judge_tls_rpt(rpt(invalid))
        assert verdict.status is Status.FAIL and getattr(verdict.detail, "id", None) == "mail.tls_rpt.invalid", invalid
    name = f"_smtp._tls.{D}"
    failed = TlsRptFacts(D, TxtLookup(name, Outcome.FAILED, failure=servfail(name)))
    assert judge_tls_rpt(failed).status is Status.ERROR
