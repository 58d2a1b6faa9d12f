"""ports.unexpected_open: every open port must be one the platform declared in ``allowed_ports``."""

from __future__ import annotations

from typing import ClassVar

from checks.ports.base import PortsCheck, describe, port_evidence, ports_key, scan_evidence
from checks.ports.facts import PortScanFacts
from checks.ports.policy import classify
from scanner.evidence import clip
from scanner.messages import say
from scanner.model import Severity, Status
from scanner.plugin import Verdict
from scanner.wording import listed

FIREWALL_SNIPPETS = (
    "nftables (default deny; keep the allowed ports, admin ports only from the management network):\n"
    "```\n"
    "table inet filter {\n"
    "  chain input {\n"
    "    type filter hook input priority 0; policy drop;\n"
    "    ct state established,related accept\n"
    '    iif "lo" accept\n'
    "    tcp dport { 80, 443 } accept\n"
    "    ip saddr <management network> tcp dport 22 accept\n"
    "  }\n"
    "}\n"
    "```\n"
    "iptables: `iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`, "
    "`iptables -A INPUT -i lo -j ACCEPT`, `iptables -A INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT`, "
    "`iptables -P INPUT DROP` (save with `netfilter-persistent save`).\n"
    "Windows Firewall (PowerShell): list what is allowed with "
    "`Get-NetFirewallRule -Direction Inbound -Enabled True -Action Allow`, then block a port with "
    '`New-NetFirewallRule -DisplayName "Block TCP 3306" -Direction Inbound -Protocol TCP -LocalPort 3306 '
    "-Action Block` or limit it with `Set-NetFirewallRule -DisplayName <rule> -RemoteAddress <management network>`."
)


class UnexpectedOpen(PortsCheck):
    id: ClassVar[str] = "ports.unexpected_open"
    title: ClassVar[str] = "Undeclared open ports"
    finding: ClassVar[str] = "A port that the platform does not declare in allowed_ports is open"
    severity: ClassVar[Severity] = Severity.MEDIUM
    needs_services: ClassVar[bool] = False
    why: ClassVar[str] = (
        "Every open port is a service an attacker can reach. A port nobody declared is usually a forgotten "
        "test service, an admin interface or a database listening on all interfaces; the criteria require "
        "that only each service's own ports are reachable (TCVN 14423 3.12.2.4 c)."
    )
    remediation: ClassVar[str] = (
        "Close every open port that is not in the platform's `allowed_ports`, or, if the service is meant to be "
        "reachable, add its port to `allowed_ports` in the targets file so the allow-list states what is intended.\n"
        "1. Stop what is not needed: `systemctl disable --now <service>` (Linux); "
        "`Stop-Service <name>; Set-Service <name> -StartupType Disabled` (Windows).\n"
        "2. Bind internal services to localhost or the internal interface (e.g. MySQL `bind-address = 127.0.0.1`, "
        "Redis `bind 127.0.0.1`).\n"
        "3. Default-deny on the host firewall and at the perimeter:\n" + FIREWALL_SNIPPETS + "\n"
        "4. Scan again to confirm: `platscan scan targets.toml --only ports --platform <id>`."
    )

    def judge(
        self, facts: PortScanFacts, allowed_ports: tuple[int, ...], declared: frozenset[int] = frozenset()
    ) -> Verdict:
        allowed = set(allowed_ports)
        evidence = {**scan_evidence(facts), "allowed_ports": sorted(allowed)}
        opened = facts.open_ports
        unexpected = [classify(p) for p in opened if p.port not in allowed]
        if unexpected:
            evidence["unexpected"] = clip(port_evidence(item) for item in unexpected)
            ports, allowed_list = listed([describe(i) for i in unexpected]), [str(p) for p in sorted(allowed)]
            if len(unexpected) == 1:
                undeclared = say(
                    "ports.unexpected_open.one",
                    "1 open port on {target} is not in allowed_ports [{allowed}]: {ports}.",
                    target=facts.target,
                    allowed=allowed_list,
                    ports=ports,
                )
            else:
                undeclared = say(
                    "ports.unexpected_open.many",
                    "{count} open ports on {target} are not in allowed_ports [{allowed}]: {ports}.",
                    count=len(unexpected),
                    target=facts.target,
                    allowed=allowed_list,
                    ports=ports,
                )
            return Verdict(Status.FAIL, undeclared, evidence, key=ports_key(unexpected))
        if not opened:
            closed = say(
                "ports.unexpected_open.none",
                "No port of {target} is open among those scanned ({spec}).",
                target=facts.target,
                spec=facts.spec,
            )
            return Verdict(Status.PASS, closed, evidence)
        allowed_only = say(
            "ports.unexpected_open.allowed",
            "Only allowed ports are open on {target}: {ports}.",
            target=facts.target,
            ports=listed([p.label for p in opened]),
        )
        return Verdict(Status.PASS, allowed_only, evidence)
