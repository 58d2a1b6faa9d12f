"""Known TLS implementation vulnerabilities that sslyze probes for: Heartbleed, ROBOT, CCS injection."""

from __future__ import annotations

from typing import ClassVar

from sslyze.plugins.scan_commands import ScanCommand

from checks.tls.base import TlsCheck, did_not_run, target_evidence
from checks.tls.facts import TlsFacts
from scanner.messages import say
from scanner.model import Cap, Severity, Status
from scanner.plugin import Verdict

_UPGRADE = (
    "Upgrade the TLS library and the server or appliance that embeds it, then restart it: on Debian/Ubuntu "
    "`apt-get install --only-upgrade openssl libssl3` (or the distribution's libssl) and restart nginx/Apache; "
    "on Windows/IIS install the current cumulative update; for load balancers and firewalls apply the vendor's "
    "firmware fix."
)


class VulnHeartbleed(TlsCheck):
    id: ClassVar[str] = "tls.vuln_heartbleed"
    title: ClassVar[str] = "Heartbleed (CVE-2014-0160)"
    finding: ClassVar[str] = "The server is vulnerable to Heartbleed"
    severity: ClassVar[Severity] = Severity.CRITICAL
    caps: ClassVar[tuple[Cap, ...]] = (Cap("F", note="vulnerable"),)
    why: ClassVar[str] = (
        "Heartbleed (CVE-2014-0160) lets anyone read the server's memory, including private keys, session "
        "cookies and passwords, without leaving a trace."
    )
    remediation: ClassVar[str] = (
        f"{_UPGRADE} OpenSSL 1.0.1g and later are fixed. Because the private key may have leaked, generate a "
        "new key, get a new certificate, revoke the old one, and invalidate sessions and passwords."
    )
    commands: ClassVar[tuple[ScanCommand, ...]] = (ScanCommand.HEARTBLEED,)

    def judge(self, facts: TlsFacts) -> Verdict:
        evidence = {**target_evidence(facts), "vulnerable": facts.heartbleed}
        if facts.heartbleed is None:
            return did_not_run("Heartbleed", evidence)
        if facts.heartbleed:
            vulnerable = say(
                "tls.vuln_heartbleed.vulnerable", "The server is vulnerable to Heartbleed (CVE-2014-0160)."
            )
            return Verdict(Status.FAIL, vulnerable, evidence)
        safe = say("tls.vuln_heartbleed.not_vulnerable", "The server is not vulnerable to Heartbleed.")
        return Verdict(Status.PASS, safe, evidence)


class VulnRobot(TlsCheck):
    id: ClassVar[str] = "tls.vuln_robot"
    title: ClassVar[str] = "ROBOT"
    finding: ClassVar[str] = "The server is or may be vulnerable to ROBOT"
    severity: ClassVar[Severity] = Severity.HIGH
    caps: ClassVar[tuple[Cap, ...]] = (Cap("F", note="vulnerable"),)
    why: ClassVar[str] = (
        "ROBOT (a Bleichenbacher RSA padding oracle) lets an attacker decrypt recorded RSA key-exchange "
        "sessions or sign with the server's key."
    )
    remediation: ClassVar[str] = (
        f"{_UPGRADE} Removing RSA key-exchange suites closes the oracle entirely: nginx/Apache append `:!kRSA` "
        "to `ssl_ciphers` / `SSLCipherSuite`; IIS removes the TLS_RSA_WITH_* suites (SSL Cipher Suite Order "
        "policy, `Disable-TlsCipherSuite`, or IIS Crypto)."
    )
    commands: ClassVar[tuple[ScanCommand, ...]] = (ScanCommand.ROBOT,)

    def judge(self, facts: TlsFacts) -> Verdict:
        evidence = {**target_evidence(facts), "robot_result": facts.robot}
        result = facts.robot
        if result is None:
            return did_not_run("ROBOT", evidence)
        if result == "VULNERABLE_STRONG_ORACLE":
            strong = say(
                "tls.vuln_robot.strong_oracle",
                "The server is vulnerable to ROBOT with a strong oracle: practical decryption is feasible.",
            )
            return Verdict(Status.FAIL, strong, evidence, Severity.CRITICAL)
        if result == "VULNERABLE_WEAK_ORACLE":
            weak = say("tls.vuln_robot.weak_oracle", "The server is vulnerable to ROBOT (weak oracle).")
            return Verdict(Status.FAIL, weak, evidence)
        if result == "NOT_VULNERABLE_RSA_NOT_SUPPORTED":
            no_rsa = say("tls.vuln_robot.no_rsa", "The server accepts no RSA key exchange, so ROBOT does not apply.")
            return Verdict(Status.PASS, no_rsa, evidence)
        if result == "NOT_VULNERABLE_NO_ORACLE":
            no_oracle = say(
                "tls.vuln_robot.no_oracle", "The server accepts RSA key exchange but shows no padding oracle."
            )
            return Verdict(Status.PASS, no_oracle, evidence)
        inconsistent = say(
            "tls.vuln_robot.inconsistent",
            "The ROBOT test gave inconsistent answers, so the server may or may not be vulnerable.",
        )
        return Verdict(Status.WARN, inconsistent, evidence, Severity.MEDIUM)


class VulnCcsInjection(TlsCheck):
    id: ClassVar[str] = "tls.vuln_ccs_injection"
    title: ClassVar[str] = "OpenSSL CCS injection (CVE-2014-0224)"
    finding: ClassVar[str] = "The server is vulnerable to the OpenSSL CCS injection"
    severity: ClassVar[Severity] = Severity.HIGH
    caps: ClassVar[tuple[Cap, ...]] = (Cap("F", note="vulnerable"),)
    why: ClassVar[str] = (
        "The OpenSSL ChangeCipherSpec injection (CVE-2014-0224) lets an attacker in the network path force "
        "weak keys and then read and modify the traffic."
    )
    remediation: ClassVar[str] = f"{_UPGRADE} OpenSSL 1.0.1h, 1.0.0m and 0.9.8za and later are fixed."
    commands: ClassVar[tuple[ScanCommand, ...]] = (ScanCommand.OPENSSL_CCS_INJECTION,)

    def judge(self, facts: TlsFacts) -> Verdict:
        evidence = {**target_evidence(facts), "vulnerable": facts.ccs_injection}
        if facts.ccs_injection is None:
            return did_not_run("CCS injection", evidence)
        if facts.ccs_injection:
            vulnerable = say(
                "tls.vuln_ccs_injection.vulnerable",
                "The server is vulnerable to the OpenSSL CCS injection (CVE-2014-0224).",
            )
            return Verdict(Status.FAIL, vulnerable, evidence)
        safe = say(
            "tls.vuln_ccs_injection.not_vulnerable", "The server is not vulnerable to the OpenSSL CCS injection."
        )
        return Verdict(Status.PASS, safe, evidence)
