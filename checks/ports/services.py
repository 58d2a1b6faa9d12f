"""The risk checks of the ports family: cleartext services, reachable databases, remote administration,
and version banners. A risky service fails its check whether or not its port is in ``allowed_ports``."""

from __future__ import annotations

from typing import Any, ClassVar

from checks.ports.base import PortsCheck, describe, port_evidence, ports_key, scan_evidence
from checks.ports.exposure import FIREWALL_SNIPPETS
from checks.ports.facts import PortScanFacts
from checks.ports.policy import (
    NO_TLS,
    Classified,
    Finding,
    Risk,
    classify,
    cleartext_finding,
    database_auth,
    disclosed_version,
)
from scanner.evidence import FACTS, cleartext_fact, clip, software_fact
from scanner.messages import Message, say
from scanner.model import Cap, Severity, Status
from scanner.plugin import Verdict
from scanner.wording import listed


def _findings_evidence(facts: PortScanFacts, allowed: tuple[int, ...], findings: list[Finding]) -> dict[str, Any]:
    evidence = scan_evidence(facts)
    evidence["ports"] = clip(
        port_evidence(
            f.classified,
            note=str(f.note or ""),
            allowed=f.port.port in allowed,
            confirmed=None if f.certain else False,
        )
        for f in findings
    )
    return evidence


def _sentence_for(finding: Finding) -> Message:
    text = describe(finding.classified)
    if finding.note is None or finding.note == NO_TLS:
        return text
    return say("ports.cleartext_service.noted", "{service}: {note}", service=text, note=finding.note)


class CleartextService(PortsCheck):
    id: ClassVar[str] = "ports.cleartext_service"
    title: ClassVar[str] = "Cleartext services"
    finding: ClassVar[str] = "A service that sends data unencrypted is reachable"
    severity: ClassVar[Severity] = Severity.HIGH
    caps: ClassVar[tuple[Cap, ...]] = (
        Cap("F", Severity.CRITICAL, "telnet and the like"),
        Cap("C", note="other cleartext services"),
    )
    why: ClassVar[str] = (
        "Telnet, FTP, rsh/rlogin, SNMP v1/v2c, VNC, mail without STARTTLS and admin consoles over plain HTTP "
        "send passwords and data unencrypted: anyone on the path (a shared hosting network, a Wi-Fi hop, a "
        "compromised router) can read and replay them. The criteria require insecure protocols to be turned off "
        "(TCVN 14423 4.5.2.1 c) and remote administration over secure connections only (3.12.2.4 a)."
    )
    remediation: ClassVar[str] = (
        "Replace each cleartext protocol with its encrypted variant and turn the cleartext one off:\n"
        "- Telnet -> SSH: `systemctl disable --now inetd telnet.socket`, `apt-get purge telnetd`; on network "
        "devices `line vty 0 4` / `transport input ssh` (Cisco IOS).\n"
        "- FTP -> SFTP (over SSH) or FTPS with TLS required: vsftpd `ssl_enable=YES`, `force_local_logins_ssl=YES`, "
        "`force_local_data_ssl=YES`; ProFTPD (mod_tls) `TLSEngine on`, `TLSRequired on`; IIS FTP: SSL Settings -> "
        "'Require SSL connections'. Even with AUTH TLS offered, plain FTP lets clients log in unencrypted.\n"
        "- rsh/rlogin/rexec -> SSH: `apt-get purge rsh-server rsh-redone-server`.\n"
        "- Mail: offer STARTTLS and require TLS before authentication, or use the implicit-TLS ports "
        "(SMTPS 465, IMAPS 993, POP3S 995): Postfix `smtpd_tls_security_level = may`, `smtpd_tls_auth_only = yes` "
        "with `smtpd_tls_cert_file`/`smtpd_tls_key_file`; Dovecot `ssl = required`; Exchange: "
        "`Set-ReceiveConnector -AuthMechanism Tls`.\n"
        "- SNMP v1/v2c -> SNMPv3 with authPriv (net-snmp: `createUser mon SHA <pass> AES <pass>`, `rouser mon priv`; "
        "remove `rocommunity public`), and allow UDP 161 only from the monitoring server: "
        "`nft add rule inet filter input ip saddr <monitoring server> udp dport 161 accept` before a drop.\n"
        "- VNC -> reach it through SSH (`ssh -L 5901:localhost:5901`) or the VPN, bind it to localhost "
        "(`-localhost yes`), or enable VeNCrypt/TLS.\n"
        "- Admin consoles over plain HTTP -> HTTPS only, and reachable only from the management network.\n"
        "A service that must stay for legacy clients must at least be limited to the networks that need it:\n"
        + FIREWALL_SNIPPETS
    )

    def judge(
        self, facts: PortScanFacts, allowed_ports: tuple[int, ...], declared: frozenset[int] = frozenset()
    ) -> Verdict:
        # A declared mail service is judged by its family from a real session (whether STARTTLS comes
        # before any login), not from nmap's script output: one verdict, from the better witness.
        findings = [f for p in facts.open_ports if p.port not in declared and (f := cleartext_finding(classify(p)))]
        certain = [f for f in findings if f.certain]
        evidence = _findings_evidence(facts, allowed_ports, findings)
        if judged_elsewhere := sorted(p.port for p in facts.open_ports if p.port in declared):
            evidence["judged_by_their_family"] = judged_elsewhere
        if certain:
            # The same cleartext port the mail family may find in its own session: counted once.
            evidence[FACTS] = sorted({cleartext_fact(facts.host, f.classified.port.port) for f in certain})
            telnet = any(f.kind.key == "telnet" for f in certain)
            services = listed([_sentence_for(f) for f in certain])
            if len(certain) == 1:
                exposed = say(
                    "ports.cleartext_service.one",
                    "Cleartext service is exposed on {target}: {services}.",
                    target=facts.target,
                    services=services,
                )
            else:
                exposed = say(
                    "ports.cleartext_service.many",
                    "Cleartext services are exposed on {target}: {services}.",
                    target=facts.target,
                    services=services,
                )
            return Verdict(
                Status.FAIL,
                exposed,
                evidence,
                Severity.CRITICAL if telnet else None,
                ports_key(f.classified for f in certain),
            )
        if findings:
            unconfirmed = say(
                "ports.cleartext_service.unconfirmed",
                "Could not confirm that mail services on {target} offer TLS: {services}.",
                target=facts.target,
                services=listed([_sentence_for(f) for f in findings]),
            )
            return Verdict(
                Status.WARN,
                unconfirmed,
                evidence,
                key=ports_key(f.classified for f in findings),
            )
        none = say("ports.cleartext_service.none", "No cleartext service was found on {target}.", target=facts.target)
        return Verdict(Status.PASS, none, evidence)


class DatabaseExposed(PortsCheck):
    id: ClassVar[str] = "ports.database_exposed"
    title: ClassVar[str] = "Exposed databases"
    finding: ClassVar[str] = "A database or data store is reachable from the network"
    severity: ClassVar[Severity] = Severity.CRITICAL
    caps: ClassVar[tuple[Cap, ...]] = (Cap("F", note="a database reachable"),)
    why: ClassVar[str] = (
        "A database reachable from outside its zone can be brute-forced, exploited through its own "
        "vulnerabilities, or, like Redis, MongoDB, Elasticsearch and Memcached installed with their defaults, "
        "read and wiped without any password; such stores are found and emptied by automated scans within hours. "
        "The criteria put databases in their own network zone (TCVN 14423 4.12.2.2 b, 5.12.2.2 b)."
    )
    remediation: ClassVar[str] = (
        "Databases belong in the database zone, reachable only from the application servers that use them:\n"
        "1. Listen on localhost or the internal interface only: MySQL/MariaDB `bind-address = 127.0.0.1` under "
        "`[mysqld]`; PostgreSQL `listen_addresses = 'localhost'` and `pg_hba.conf` entries for the application "
        "servers only; MongoDB `net.bindIp: 127.0.0.1` and `security.authorization: enabled`; Redis "
        "`bind 127.0.0.1 -::1`, `protected-mode yes` and a password (`requirepass`, or ACL users on Redis 6+); "
        "Elasticsearch `network.host: 127.0.0.1` and `xpack.security.enabled: true`; Memcached `-l 127.0.0.1 -U 0` "
        "in /etc/memcached.conf; SQL Server: SQL Server Configuration Manager -> Protocols -> TCP/IP -> disable the "
        "public IP addresses; Oracle: `tcp.validnode_checking = yes` and `tcp.invited_nodes = (<app servers>)` in "
        "sqlnet.ora.\n"
        "2. Firewall the port to the application servers: nftables "
        "`nft add rule inet filter input ip saddr <app server> tcp dport 3306 accept` then "
        "`nft add rule inet filter input tcp dport 3306 drop`; iptables "
        "`iptables -A INPUT -p tcp --dport 3306 -s <app server> -j ACCEPT` and "
        "`iptables -A INPUT -p tcp --dport 3306 -j DROP`; Windows Firewall "
        '`New-NetFirewallRule -DisplayName "SQL from app servers" -Direction Inbound -Protocol TCP -LocalPort 1433 '
        "-RemoteAddress <app server> -Action Allow` and remove broader allow rules.\n"
        "3. Require authentication (and TLS) from every client. If a store answered without a password, treat its "
        "data as disclosed: rotate the secrets it held and check it for tampering."
    )

    def judge(
        self, facts: PortScanFacts, allowed_ports: tuple[int, ...], declared: frozenset[int] = frozenset()
    ) -> Verdict:
        findings = []
        for port in facts.open_ports:
            item = classify(port)
            if item.kind is not None and Risk.DATABASE in item.kind.risks:
                findings.append((Finding(item), database_auth(item)))
        evidence = scan_evidence(facts)
        if not findings:
            none = say(
                "ports.database_exposed.none",
                "No database or data store is reachable on {target}.",
                target=facts.target,
            )
            return Verdict(Status.PASS, none, evidence)
        evidence["ports"] = clip(
            port_evidence(f.classified, authentication=auth, allowed=f.port.port in allowed_ports)
            for f, auth in findings
        )
        databases = listed([_database(f.classified, auth) for f, auth in findings])
        if len(findings) == 1:
            reachable = say(
                "ports.database_exposed.one",
                "A database is reachable on {target}: {databases}.",
                target=facts.target,
                databases=databases,
            )
        else:
            reachable = say(
                "ports.database_exposed.many",
                "{count} databases are reachable on {target}: {databases}.",
                count=len(findings),
                target=facts.target,
                databases=databases,
            )
        return Verdict(
            Status.FAIL,
            reachable,
            evidence,
            key=ports_key(f.classified for f, _ in findings),
        )


def _database(item: Classified, auth: str) -> Message:
    if auth == "none":
        return say("ports.database_exposed.open", "{service} without authentication", service=describe(item))
    return describe(item)


class RemoteAdminExposed(PortsCheck):
    id: ClassVar[str] = "ports.remote_admin_exposed"
    title: ClassVar[str] = "Exposed remote administration"
    finding: ClassVar[str] = "A remote administration service is reachable from the network"
    severity: ClassVar[Severity] = Severity.HIGH
    caps: ClassVar[tuple[Cap, ...]] = (Cap("C", note="SSH, RDP, consoles reachable"),)
    why: ClassVar[str] = (
        "SSH, RDP, WinRM, VNC and web admin consoles (Webmin, cPanel, Tomcat/JBoss, Docker, Kubernetes) give "
        "whoever logs in control of the server; reachable from anywhere, they are brute-forced all day and are the "
        "first target when a vulnerability in them is published. The criteria require remote administration through "
        "a VPN with authentication, from a limited set of addresses (TCVN 14423 3.12.2.5, 4.12.2.4 c)."
    )
    remediation: ClassVar[str] = (
        "Remote administration goes through the VPN (or a jump host inside the management network), never "
        "straight from the Internet:\n"
        "1. Allow admin ports only from the management network: nftables "
        "`nft add rule inet filter input ip saddr <management network> tcp dport { 22, 3389, 5985, 5986 } accept` "
        "before a default drop; iptables `iptables -A INPUT -p tcp --dport 22 -s <management network> -j ACCEPT` "
        "and `iptables -A INPUT -p tcp --dport 22 -j DROP`; Windows Firewall "
        '`Set-NetFirewallRule -DisplayName "Remote Desktop - User Mode (TCP-In)" -RemoteAddress <management network>`, '
        "WinRM `winrm set winrm/config/service '@{IPv4Filter=\"<first>-<last management address>\"}'`.\n"
        "2. Harden what stays reachable from the management network: SSH `PasswordAuthentication no`, "
        "`PermitRootLogin no`, `AllowGroups admins`; RDP with Network Level Authentication behind an RD Gateway; "
        "multi-factor authentication for administrators.\n"
        "3. Never publish the Docker Engine API (it is root on the host): remove `-H tcp://0.0.0.0:2375` from the "
        "dockerd options, use `DOCKER_HOST=ssh://admin@host` or mutual TLS on 2376; kubelet `--anonymous-auth=false` "
        "and `--read-only-port=0`; the Kubernetes API only from authorised networks.\n"
        "4. Application-server consoles: remove Tomcat's manager and host-manager webapps or restrict them with "
        '`<Valve className="org.apache.catalina.valves.RemoteAddrValve" allow="10\\.10\\.0\\.\\d+"/>`; disable the '
        'AJP connector or bind it with `address="127.0.0.1" secretRequired="true"`; bind the JBoss/WildFly '
        "management interface to 127.0.0.1 (`-bmanagement 127.0.0.1`); Webmin `allow=<management network>` in "
        "/etc/webmin/miniserv.conf; cPanel/WHM Host Access Control.\n" + FIREWALL_SNIPPETS
    )

    def judge(
        self, facts: PortScanFacts, allowed_ports: tuple[int, ...], declared: frozenset[int] = frozenset()
    ) -> Verdict:
        found: list[Classified] = [
            item for p in facts.open_ports if (item := classify(p)).kind and Risk.REMOTE_ADMIN in item.kind.risks
        ]
        evidence = scan_evidence(facts)
        if not found:
            none = say(
                "ports.remote_admin_exposed.none",
                "No remote administration service is reachable on {target}.",
                target=facts.target,
            )
            return Verdict(Status.PASS, none, evidence)
        # The Docker Engine API without TLS hands out root on the host to anyone who can reach it.
        docker_plain = [i for i in found if i.kind and i.kind.key == "docker" and i.port.tunnel != "ssl" and (
            i.port.port == 2375 or i.port.identified)]  # fmt: skip
        evidence["ports"] = clip(port_evidence(i, allowed=i.port.port in allowed_ports) for i in found)
        reachable = say(
            "ports.remote_admin_exposed.reachable",
            "Remote administration is reachable on {target}: {services}.",
            target=facts.target,
            services=listed([describe(i) for i in found]),
        )
        return Verdict(
            Status.FAIL,
            reachable,
            evidence,
            Severity.CRITICAL if docker_plain else None,
            ports_key(found),
        )


class VersionDisclosure(PortsCheck):
    id: ClassVar[str] = "ports.version_disclosure"
    title: ClassVar[str] = "Software version disclosure"
    finding: ClassVar[str] = "A service announces its software version"
    severity: ClassVar[Severity] = Severity.LOW
    why: ClassVar[str] = (
        "A banner such as 'ProFTPD 1.3.5' or 'OpenSSH 7.4' tells an attacker exactly which published "
        "vulnerabilities to try, without a single failed attempt; it also shows software past its end of life, "
        "which the periodic vulnerability review must catch (TCVN 14423 x.7.2.1 b)."
    )
    remediation: ClassVar[str] = (
        "Make services stop announcing their version, and update the ones that are outdated:\n"
        '- FTP: ProFTPD `ServerIdent on "FTP server ready"`; vsftpd `ftpd_banner=FTP server ready`; IIS FTP: '
        "FTP Messages -> 'Suppress default banner'.\n"
        "- Mail: Postfix `smtpd_banner = $myhostname ESMTP`; Exim `smtp_banner = $smtp_active_hostname ESMTP`; "
        "Dovecot `login_greeting = Ready.`.\n"
        "- Web servers on any port: nginx `server_tokens off;`; Apache `ServerTokens Prod` and `ServerSignature Off`; "
        'IIS 10 `<requestFiltering removeServerHeader="true" />` in web.config.\n'
        "- SSH: the protocol requires the version string, so keep OpenSSH patched (on Debian/Ubuntu "
        "`DebianBanner no` drops the distribution suffix) and keep port 22 off the Internet "
        "(see ports.remote_admin_exposed).\n"
        "- Databases (MySQL, MariaDB) send their version in the handshake: they must not be reachable at all "
        "(see ports.database_exposed).\n"
        "Hiding a version is not a fix: compare each version in the evidence with the vendor's supported releases "
        "and update."
    )

    def judge(
        self, facts: PortScanFacts, allowed_ports: tuple[int, ...], declared: frozenset[int] = frozenset()
    ) -> Verdict:
        disclosed = [(p, v) for p in facts.open_ports if (v := disclosed_version(p))]
        evidence = scan_evidence(facts)
        if not disclosed:
            none = say(
                "ports.version_disclosure.none",
                "No service on {target} announces a software version.",
                target=facts.target,
            )
            return Verdict(Status.PASS, none, evidence)
        evidence["ports"] = clip(port_evidence(p, disclosed=v) for p, v in disclosed)
        # The same announcement the http family may read in a Server header: counted once.
        evidence[FACTS] = sorted(
            {software_fact(facts.host, p.product, p.version) for p, _ in disclosed if p.product and p.version}
        )
        versions = listed(
            [
                say("ports.version_disclosure.item", "{software} on {port}", software=v, port=p.label)
                for p, v in disclosed
            ]
        )
        if len(disclosed) == 1:
            revealed = say(
                "ports.version_disclosure.one",
                "1 service on {target} reveals its software version: {versions}.",
                target=facts.target,
                versions=versions,
            )
        else:
            revealed = say(
                "ports.version_disclosure.many",
                "{count} services on {target} reveal their software version: {versions}.",
                count=len(disclosed),
                target=facts.target,
                versions=versions,
            )
        return Verdict(
            Status.FAIL,
            revealed,
            evidence,
            key=ports_key(p for p, _ in disclosed),
        )
