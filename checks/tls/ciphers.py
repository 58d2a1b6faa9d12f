"""Cipher-suite tls checks: insecure algorithms, forward secrecy, CBC mode and Diffie-Hellman groups."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from checks.tls.base import TlsCheck, target_evidence
from checks.tls.facts import CIPHER_COMMANDS, CipherSuite, RawServerHello, TlsFacts, TlsVersion
from scanner.evidence import clip
from scanner.messages import Message, Param, Text, say
from scanner.model import Cap, Severity, Status
from scanner.plugin import Verdict
from scanner.wording import commas, listed

#: DH groups smaller than this are weak (Logjam; NIST SP 800-57).
MIN_DH_BITS = 2048
#: DH groups smaller than this are broken outright.
BROKEN_DH_BITS = 1024
#: Symmetric keys shorter than this are insecure whatever the algorithm.
MIN_SYMMETRIC_BITS = 112

_CRITICAL_WEAKNESSES = ("NULL", "EXPORT", "anonymous")

_CIPHERS_REMEDIATION = (
    "Offer only AEAD suites with ECDHE (and TLS 1.3's suites), in the server's order. The Mozilla "
    "'intermediate' profile is a good default:\n"
    "nginx: `ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305; "
    "ssl_prefer_server_ciphers off;`\n"
    "Apache: `SSLCipherSuite` with the same list and `SSLHonorCipherOrder off`.\n"
    "IIS / Windows Server: set the order under Group Policy > Administrative Templates > Network > "
    "SSL Configuration Settings > SSL Cipher Suite Order (or IIS Crypto's 'Best Practices' template) and "
    "disable the rest with PowerShell `Disable-TlsCipherSuite -Name <suite>`; reboot."
)


def key_exchange(name: str) -> str:
    """The key exchange of a suite from its IANA name: "ECDHE", "DHE", "RSA", "DH", "ECDH", "TLS1.3", ..."""
    if not name.startswith(("TLS_", "SSL_")) or "_WITH_" not in name:
        return "TLS1.3"  # TLS 1.3 suites name no key exchange: it is always ephemeral
    if name.startswith("SSL_CK_"):
        return "RSA"  # SSL 2.0 suites
    kx = name[4 : name.index("_WITH_")]
    for ephemeral in ("ECDHE", "DHE"):
        if kx == ephemeral or kx.startswith(ephemeral + "_"):
            return ephemeral
    if kx.startswith(("DH_anon", "ECDH_anon")):
        return kx.split("_", 1)[0] + "_anon"
    for static in ("ECDH", "DH"):
        if kx.startswith(static + "_"):
            return static
    return kx.split("_", 1)[0]  # RSA, RSA_EXPORT -> RSA, PSK, SRP, KRB5 ...


def has_forward_secrecy(suite: CipherSuite) -> bool:
    return key_exchange(suite.name) in ("ECDHE", "DHE", "TLS1.3", "DH_anon", "ECDH_anon")


def weaknesses(suite: CipherSuite) -> list[str]:
    """Why a suite is insecure (empty if it is not): NULL, EXPORT, anonymous, RC4, DES, 3DES, MD5, short key."""
    name = suite.name.upper()
    reasons = []
    if "_NULL_" in name or name.endswith("_NULL") or "WITH_NULL" in name or suite.key_size == 0:
        reasons.append("NULL")
    if "EXPORT" in name:
        reasons.append("EXPORT")
    if suite.anonymous or "_ANON_" in name:
        reasons.append("anonymous")
    if "RC4" in name:
        reasons.append("RC4")
    if "3DES" in name or "DES_192_EDE3" in name or "DES_EDE" in name:
        reasons.append("3DES")
    elif "DES" in name:
        reasons.append("DES")
    if "RC2" in name:
        reasons.append("RC2")
    if name.endswith("_MD5"):
        reasons.append("MD5")
    if 0 < suite.key_size < MIN_SYMMETRIC_BITS and not {"DES", "EXPORT", "RC2"} & set(reasons):
        reasons.append(f"{suite.key_size}-bit key")
    return reasons


def _weakness_words(suite: CipherSuite) -> Param:
    """``weaknesses(suite)`` for a sentence: algorithm names are data, the words are messages."""
    words: list[Text] = []
    for weakness in weaknesses(suite):
        if weakness == "anonymous":
            words.append(say("tls.weakness.anonymous", "anonymous"))
        elif weakness.endswith("-bit key"):
            words.append(say("tls.weakness.short_key", "{bits}-bit key", bits=suite.key_size))
        else:
            words.append(weakness)
    return commas(words)


def _insecure_suite(suite: CipherSuite) -> Message:
    """ "TLS_RSA_WITH_RC4_128_MD5 (RC4, MD5)" """
    return say(
        "tls.cipher_insecure.suite", "{suite} ({weaknesses})", suite=suite.name, weaknesses=_weakness_words(suite)
    )


def _insecure_suites(count: int) -> Message:
    if count == 1:
        return say("tls.cipher_insecure.count_one", "1 insecure suite")
    return say("tls.cipher_insecure.count", "{count} insecure suites", count=count)


def _suites_accepted(suites: Message, names: Text) -> Message:
    """ "3 insecure suites accepted: a, b and c." """
    return say("tls.suites.accepted", "{suites} accepted: {names}.", suites=suites, names=names)


def _by_suite(facts: TlsFacts, keep: Callable[[CipherSuite], object]) -> list[tuple[CipherSuite, list[TlsVersion]]]:
    """Accepted suites that ``keep`` selects, once each, with the versions that accept them."""
    found: dict[str, tuple[CipherSuite, list[TlsVersion]]] = {}
    for version, suite in facts.accepted_suites():
        if keep(suite):
            found.setdefault(suite.name, (suite, []))[1].append(version)
    return list(found.values())


def raw_evidence(hellos: Sequence[RawServerHello]) -> list[dict[str, Any]]:
    """The hand-built hellos' outcomes as evidence: what was offered, what the server chose."""
    return clip(
        {"offered": h.offered.value, "version": h.version.value, "suite": h.suite, "code": h.code} for h in hellos
    )


def _suite_list(entries: Sequence[tuple[CipherSuite, list[TlsVersion]]]) -> list[dict[str, Any]]:
    return clip({"suite": s.name, "versions": [v.value for v in versions]} for s, versions in entries)


class CipherInsecure(TlsCheck):
    id: ClassVar[str] = "tls.cipher_insecure"
    title: ClassVar[str] = "Insecure cipher suites"
    finding: ClassVar[str] = "An insecure cipher suite is accepted"
    severity: ClassVar[Severity] = Severity.HIGH
    caps: ClassVar[tuple[Cap, ...]] = (
        Cap("F", Severity.CRITICAL, "NULL/EXPORT/anonymous"),
        Cap("C", note="RC4, DES, 3DES"),
    )
    why: ClassVar[str] = (
        "NULL, EXPORT and anonymous suites give no real protection at all; RC4, DES, 3DES and MD5 are broken "
        "or near it (RC4 biases, SWEET32), so one accepted suite is enough for a downgrade target."
    )
    remediation: ClassVar[str] = _CIPHERS_REMEDIATION
    commands = CIPHER_COMMANDS

    def unreachable(self, facts: TlsFacts, scheme: str) -> Verdict:
        # sslyze could not negotiate, but a hand-built hello may have: a suite the server chose is accepted.
        chosen = [h for h in facts.raw_hellos if weaknesses(h.as_suite)]
        if not chosen:
            return super().unreachable(facts, scheme)
        suites: dict[str, tuple[CipherSuite, list[TlsVersion]]] = {}
        for hello in chosen:
            suites.setdefault(hello.suite, (hello.as_suite, []))[1].append(hello.version)
        names: list[Text] = [
            say(
                "tls.cipher_insecure.suite_with",
                "{suite} with {versions}",
                suite=_insecure_suite(s),
                versions=listed([v.value for v in versions]),
            )
            for s, versions in suites.values()
        ]
        kinds = {w for suite, _ in suites.values() for w in weaknesses(suite)}
        severity = Severity.CRITICAL if kinds & set(_CRITICAL_WEAKNESSES) else Severity.HIGH
        evidence = {
            **target_evidence(facts),
            "insecure_suites": _suite_list(list(suites.values())),
            "raw_handshakes": raw_evidence(chosen),
        }
        chosen_suites = say(
            "tls.cipher_insecure.hand_built",
            "{target} completes no handshake with standard TLS clients, but when a hand-built hello offers only "
            "insecure suites it chooses {suites}: {names}.",
            target=facts.target,
            suites=_insecure_suites(len(suites)),
            names=listed(names),
        )
        return Verdict(Status.FAIL, chosen_suites, evidence, severity)

    def judge(self, facts: TlsFacts) -> Verdict:
        bad = _by_suite(facts, weaknesses)
        evidence = {**target_evidence(facts), "insecure_suites": _suite_list(bad)}
        if not bad:
            total = len({s.name for _, s in facts.accepted_suites()})
            if total == 1:
                accepted = say("tls.cipher_insecure.accepted_one", "1 accepted suite")
            else:
                accepted = say("tls.cipher_insecure.accepted", "{count} accepted suites", count=total)
            none = say(
                "tls.cipher_insecure.none",
                "None of the {suites} is NULL, EXPORT, anonymous, RC4, DES, 3DES or MD5.",
                suites=accepted,
            )
            return Verdict(Status.PASS, none, evidence)
        kinds = sorted({w for suite, _ in bad for w in weaknesses(suite)})
        severity = Severity.CRITICAL if set(kinds) & set(_CRITICAL_WEAKNESSES) else Severity.HIGH
        names = listed([_insecure_suite(s) for s, _ in bad])
        return Verdict(Status.FAIL, _suites_accepted(_insecure_suites(len(bad)), names), evidence, severity)


class CipherNoForwardSecrecy(TlsCheck):
    id: ClassVar[str] = "tls.cipher_no_forward_secrecy"
    title: ClassVar[str] = "Forward secrecy"
    finding: ClassVar[str] = "A cipher suite without forward secrecy is accepted"
    severity: ClassVar[Severity] = Severity.MEDIUM
    caps: ClassVar[tuple[Cap, ...]] = (Cap("B", note="suites without forward secrecy"),)
    why: ClassVar[str] = (
        "With static-RSA (or static-DH) key exchange, anyone who later obtains the server's private key can "
        "decrypt every recorded session; ephemeral (EC)DHE keys protect past traffic."
    )
    remediation: ClassVar[str] = (
        "Remove the static key-exchange suites (names starting TLS_RSA_WITH_, TLS_DH_, TLS_ECDH_) and keep "
        "ECDHE (and TLS 1.3).\n"
        "nginx: `ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;`\n"
        "Apache: the same list in `SSLCipherSuite` (or append `:!kRSA` to the current one).\n"
        "IIS: remove the TLS_RSA_WITH_* suites from the SSL Cipher Suite Order group policy or with "
        "`Disable-TlsCipherSuite -Name TLS_RSA_WITH_AES_128_CBC_SHA` (etc.), or IIS Crypto; reboot."
    )
    commands = CIPHER_COMMANDS

    def judge(self, facts: TlsFacts) -> Verdict:
        all_suites = _by_suite(facts, lambda _suite: True)
        static = _by_suite(facts, lambda suite: not has_forward_secrecy(suite))
        evidence = {**target_evidence(facts), "suites_without_forward_secrecy": _suite_list(static)}
        if not static:
            ephemeral = say(
                "tls.cipher_no_forward_secrecy.none", "Every accepted suite uses an ephemeral key exchange."
            )
            return Verdict(Status.PASS, ephemeral, evidence)
        if len(static) == len(all_suites):
            counted = (
                say("tls.cipher_no_forward_secrecy.count_one", "1 suite")
                if len(static) == 1
                else say("tls.cipher_no_forward_secrecy.count", "{count} suites", count=len(static))
            )
            all_static = say(
                "tls.cipher_no_forward_secrecy.all",
                "No accepted suite offers forward secrecy: all {suites} use a static key exchange.",
                suites=counted,
            )
            return Verdict(Status.FAIL, all_static, evidence, Severity.HIGH)
        kinds = sorted({key_exchange(s.name) for s, _ in static})
        names = listed([s.name for s, _ in static])
        return Verdict(Status.FAIL, _suites_accepted(_static_suites(len(static), kinds), names), evidence)


def _static_suites(count: int, kinds: list[str]) -> Message:
    """ "2 static-RSA suites" / "1 static key-exchange (DH, RSA) suite" """
    if kinds == ["RSA"]:
        if count == 1:
            return say("tls.cipher_no_forward_secrecy.rsa_one", "1 static-RSA suite")
        return say("tls.cipher_no_forward_secrecy.rsa", "{count} static-RSA suites", count=count)
    if count == 1:
        return say("tls.cipher_no_forward_secrecy.static_one", "1 static key-exchange ({kinds}) suite", kinds=kinds)
    return say(
        "tls.cipher_no_forward_secrecy.static", "{count} static key-exchange ({kinds}) suites", count=count, kinds=kinds
    )


class CipherCbc(TlsCheck):
    id: ClassVar[str] = "tls.cipher_cbc"
    title: ClassVar[str] = "CBC-mode cipher suites"
    finding: ClassVar[str] = "A CBC-mode cipher suite is accepted"
    severity: ClassVar[Severity] = Severity.LOW
    why: ClassVar[str] = (
        "CBC-mode suites in TLS have a long history of padding-oracle and timing attacks (Lucky13, "
        "POODLE-TLS, Zombie POODLE); AEAD suites (GCM, ChaCha20-Poly1305) avoid the whole class."
    )
    remediation: ClassVar[str] = (
        "Prefer AEAD suites only (GCM, CHACHA20-POLY1305); keep a CBC suite only if a client you must serve "
        "needs it.\n"
        "nginx / Apache: the Mozilla 'intermediate' `ssl_ciphers` / `SSLCipherSuite` list contains no CBC "
        "suites.\n"
        "IIS: remove the *_CBC_* suites from the SSL Cipher Suite Order group policy, or with "
        "`Disable-TlsCipherSuite`, or IIS Crypto; reboot."
    )
    commands = CIPHER_COMMANDS

    def judge(self, facts: TlsFacts) -> Verdict:
        cbc = _by_suite(facts, lambda suite: "_CBC_" in suite.name.upper())
        evidence = {**target_evidence(facts), "cbc_suites": _suite_list(cbc)}
        if not cbc:
            return Verdict(Status.PASS, say("tls.cipher_cbc.none", "No CBC-mode suite is accepted."), evidence)
        versions = sorted({v for _, vs in cbc for v in vs}, key=list(TlsVersion).index)
        counted = (
            say("tls.cipher_cbc.count_one", "1 CBC-mode suite")
            if len(cbc) == 1
            else say("tls.cipher_cbc.count", "{count} CBC-mode suites", count=len(cbc))
        )
        accepted = say(
            "tls.cipher_cbc.accepted",
            "{suites} accepted ({versions}): {names}.",
            suites=counted,
            versions=listed([v.value for v in versions]),
            names=listed([s.name for s, _ in cbc], 3),
        )
        return Verdict(Status.FAIL, accepted, evidence)


class DhWeak(TlsCheck):
    id: ClassVar[str] = "tls.dh_weak"
    title: ClassVar[str] = "Diffie-Hellman group strength"
    finding: ClassVar[str] = "A DHE cipher suite uses a weak Diffie-Hellman group"
    severity: ClassVar[Severity] = Severity.MEDIUM
    caps: ClassVar[tuple[Cap, ...]] = (Cap("B", note="weak Diffie-Hellman group"),)
    why: ClassVar[str] = (
        "DHE with a group smaller than 2048 bits can be broken by well-funded attackers (Logjam showed "
        "1024-bit groups are within reach), and an invalid group may give no security at all."
    )
    remediation: ClassVar[str] = (
        "Use a DH group of at least 2048 bits (e.g. RFC 7919 ffdhe2048), or drop DHE suites and keep ECDHE.\n"
        "nginx: `ssl_dhparam /etc/nginx/ffdhe2048.pem;` (or remove the DHE- suites from `ssl_ciphers`)\n"
        "Apache 2.4.8+: append the DH parameters to the file named by `SSLCertificateFile` "
        "(`openssl dhparam 2048 >> cert.pem`), or drop the DHE suites.\n"
        "IIS / Windows Server: set `ServerMinKeyBitLength`=0x800 (DWORD) under "
        "`HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\KeyExchangeAlgorithms\\Diffie-Hellman`."
    )
    commands = CIPHER_COMMANDS

    def judge(self, facts: TlsFacts) -> Verdict:
        dhe = _by_suite(facts, lambda suite: key_exchange(suite.name) in ("DHE", "DH_anon"))
        if not dhe:
            no_dhe = say("tls.dh_weak.no_dhe", "No DHE suite is accepted (no finite-field Diffie-Hellman).")
            return Verdict(Status.PASS, no_dhe, target_evidence(facts))
        problems: list[Message] = []
        sizes: set[int] = set()
        severity = Severity.MEDIUM
        for suite, _ in dhe:
            key = suite.ephemeral
            if key is None or key.kind != "DH":
                problems.append(
                    say(
                        "tls.dh_weak.too_small",
                        "{suite} (a DH group too small for sslyze's client to accept)",
                        suite=suite.name,
                    )
                )
                severity = Severity.HIGH
                continue
            sizes.add(key.size)
            if key.group_valid is False:
                problems.append(
                    say("tls.dh_weak.invalid", "{suite} (invalid DH group: the modulus is not prime)", suite=suite.name)
                )
                severity = Severity.HIGH
            elif key.size < MIN_DH_BITS:
                problems.append(say("tls.dh_weak.small", "{suite} ({bits}-bit group)", suite=suite.name, bits=key.size))
                if key.size < BROKEN_DH_BITS:
                    severity = Severity.HIGH
        evidence: dict[str, Any] = {
            **target_evidence(facts),
            "dhe_suites": _suite_list(dhe),
            "dh_sizes": sorted(sizes),
        }
        if not problems:
            bits: list[Text] = [say("tls.dh_weak.bits", "{bits}-bit", bits=size) for size in sorted(sizes)]
            strong = say("tls.dh_weak.sizes", "DHE suites use {sizes} groups.", sizes=listed(bits))
            return Verdict(Status.PASS, strong, evidence)
        evidence["weak"] = clip(str(problem) for problem in problems)
        counted = (
            say("tls.dh_weak.count_one", "1 DHE suite")
            if len(problems) == 1
            else say("tls.dh_weak.count", "{count} DHE suites", count=len(problems))
        )
        named: list[Text] = list(problems)
        if sizes:
            weak = say(
                "tls.dh_weak.weak_smallest",
                "{suites} with a weak DH group (smallest {bits} bits): {problems}.",
                suites=counted,
                bits=min(sizes),
                problems=listed(named, 3),
            )
        else:
            weak = say(
                "tls.dh_weak.weak",
                "{suites} with a weak DH group: {problems}.",
                suites=counted,
                problems=listed(named, 3),
            )
        return Verdict(Status.FAIL, weak, evidence, severity)
