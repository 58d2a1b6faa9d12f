"""What a service on an open port is, and why it is risky: the ports family's policy, as data and pure functions.

A port is classified from what nmap *observed* first and from its number only as a fallback:

1. nmap identified the service from an answer (``method = "probed"``): its product, then its service
   name decide. A MySQL greeting on port 8081 is MySQL; a web server on 3306 is not a database.
2. nmap could not name it: our own signatures over the answers nmap recorded (``servicefp``) and the
   banner the collector read (``-NOAUTH Authentication required.`` and ``+PONG`` are Redis, ``SSH-2.0-``
   is SSH, a protocol-10 handshake is MySQL, …).
3. Neither: the port's registered meaning (23 telnet, 6379 Redis, 3389 RDP, …), marked as a guess.

Each kind carries its risks (cleartext, database, remote administration); a service can have
several (telnet is cleartext *and* remote administration). Whether the port is in ``allowed_ports``
does not matter here: the allow-list says what is intended, not what is safe.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from checks.ports.facts import PortFacts, printable
from scanner.evidence import shorten
from scanner.messages import Message, say


class Risk(enum.StrEnum):
    CLEARTEXT = "cleartext"
    DATABASE = "database"
    REMOTE_ADMIN = "remote_admin"


class Basis(enum.StrEnum):
    """How a port's service was recognised."""

    DETECTED = "service detection"  # nmap matched an answer
    SIGNATURE = "answer signature"  # our signature matched an answer or the banner
    PORT = "port number"  # only the port's usual service: a guess


@dataclass(frozen=True)
class ServiceKind:
    """A kind of service the ports checks care about.

    Attributes:
        key: stable id ("redis").
        label: how a report names it ("Redis").
        risks: what is wrong with exposing it.
        names: nmap service names that identify it.
        products: lower-case substrings of nmap's product that identify it.
        product_ports: when set, ``products`` only count on these ports (an application server's
            admin console lives on its admin port; the same server on 443 is the platform itself).
        ports: TCP ports it usually listens on (the fallback when nothing else tells).
        udp_ports: UDP ports it usually listens on.
        secure_tunnel: TLS (``tunnel = "ssl"``) removes the cleartext risk.
        starttls: the capability word that upgrades the session to TLS (STARTTLS, STLS).
        starttls_script: the NSE script whose output lists that capability.
        http_console: an administration console spoken over HTTP: cleartext when not over TLS.
    """

    key: str
    label: str
    risks: frozenset[Risk]
    names: frozenset[str] = frozenset()
    products: tuple[str, ...] = ()
    product_ports: tuple[int, ...] = ()
    ports: tuple[int, ...] = ()
    udp_ports: tuple[int, ...] = ()
    secure_tunnel: bool = True
    starttls: str = ""
    starttls_script: str = ""
    http_console: bool = False


C, D, R = Risk.CLEARTEXT, Risk.DATABASE, Risk.REMOTE_ADMIN
_APP_SERVER_PORTS = (8080, 8081, 8009, 9990, 9993, 4848, 7001, 7002, 8888)


def _kind(
    key: str,
    label: str,
    risks: set[Risk],
    *,
    names: tuple[str, ...] = (),
    products: tuple[str, ...] = (),
    product_ports: tuple[int, ...] = (),
    ports: tuple[int, ...] = (),
    udp_ports: tuple[int, ...] = (),
    starttls: str = "",
    starttls_script: str = "",
    http_console: bool = False,
) -> ServiceKind:
    return ServiceKind(
        key,
        label,
        frozenset(risks),
        names=frozenset(names),
        products=products,
        product_ports=product_ports,
        ports=ports,
        udp_ports=udp_ports,
        starttls=starttls,
        starttls_script=starttls_script,
        http_console=http_console,
    )


#: The service kinds, most specific first (products before names before ports).
KINDS: tuple[ServiceKind, ...] = (
    # -- cleartext protocols (and remote shells) --
    _kind("telnet", "Telnet", {C, R}, names=("telnet",), ports=(23, 2323)),
    _kind("rlogin", "rlogin/rsh/rexec", {C, R}, names=("login", "shell", "exec", "rlogin", "rsh", "rexec"),
          ports=(512, 513, 514)),
    _kind("ftp", "FTP", {C}, names=("ftp",), ports=(21,)),
    _kind("snmp", "SNMP", {C}, names=("snmp",), udp_ports=(161,)),
    _kind("vnc", "VNC", {C, R}, names=("vnc", "vnc-http", "rfb"), products=("vnc",),
          ports=(5800, 5900, 5901, 5902, 5903)),
    _kind("smtp", "SMTP", {C}, names=("smtp", "submission"), ports=(25, 587), starttls="STARTTLS",
          starttls_script="smtp-commands"),
    _kind("pop3", "POP3", {C}, names=("pop3",), ports=(110,), starttls="STLS", starttls_script="pop3-capabilities"),
    _kind("imap", "IMAP", {C}, names=("imap",), ports=(143,), starttls="STARTTLS",
          starttls_script="imap-capabilities"),
    # -- databases and data stores --
    _kind("elasticsearch", "Elasticsearch", {D}, names=("elasticsearch",),
          products=("elasticsearch rest api", "elasticsearch binary api"),
          ports=(9200, 9300)),
    _kind("couchdb", "CouchDB", {D}, names=("couchdb",), products=("couchdb",), ports=(5984, 6984)),
    _kind("influxdb", "InfluxDB", {D}, names=("influxdb",), products=("influxdb",), ports=(8086,)),
    _kind("neo4j", "Neo4j", {D}, names=("neo4j", "bolt"), products=("neo4j",), ports=(7474, 7687)),
    _kind("mysql", "MySQL/MariaDB", {D}, names=("mysql", "mariadb"), products=("mysql", "mariadb"), ports=(3306,)),
    _kind("postgresql", "PostgreSQL", {D}, names=("postgresql", "postgres"), products=("postgresql",),
          ports=(5432,)),
    _kind("mssql", "Microsoft SQL Server", {D}, names=("ms-sql-s", "ms-sql-m", "mssql"),
          products=("microsoft sql server",), ports=(1433, 1434)),
    _kind("oracle", "Oracle Database", {D}, names=("oracle", "oracle-tns"), products=("oracle tns",),
          ports=(1521, 1526)),
    _kind("mongodb", "MongoDB", {D}, names=("mongodb", "mongod"), products=("mongodb",),
          ports=(27017, 27018, 27019, 28017)),
    _kind("redis", "Redis", {D}, names=("redis",), products=("redis",), ports=(6379,)),
    _kind("memcached", "Memcached", {D}, names=("memcached", "memcache"), products=("memcached",), ports=(11211,)),
    _kind("cassandra", "Cassandra", {D}, names=("cassandra", "cassandra-native", "apani1"),
          products=("cassandra",), ports=(9042, 9160)),
    _kind("etcd", "etcd", {D}, names=("etcd", "etcd-client"), products=("etcd",), ports=(2379,)),
    # -- remote administration --
    _kind("ssh", "SSH", {R}, names=("ssh",), ports=(22,)),
    _kind("rdp", "RDP (Remote Desktop)", {R}, names=("ms-wbt-server", "rdp"), products=("terminal services",),
          ports=(3389,)),
    _kind("winrm", "WinRM (PowerShell remoting)", {R}, names=("wsman", "wsmans", "winrm"),
          products=("microsoft httpapi",), product_ports=(5985, 5986), ports=(5985, 5986)),
    _kind("docker", "Docker Engine API", {R}, names=("docker",), products=("docker remote api", "docker swarm"),
          ports=(2375, 2376),
          http_console=True),
    _kind("kubernetes", "Kubernetes API server", {R}, names=("kubernetes",), products=("kubernetes",),
          ports=(6443,)),
    _kind("kubelet", "Kubernetes kubelet", {R}, names=("kubelet",), products=("kubelet",), ports=(10250, 10255),
          http_console=True),
    _kind("webmin", "Webmin", {R}, names=("webmin",), products=("miniserv", "webmin"), ports=(10000,),
          http_console=True),
    _kind("cpanel", "cPanel/WHM", {R}, names=("cpanel",),
          products=("cpanel httpd", "cpanel web host manager", "cpanel webdisk", "cpanel https redirector"),
          ports=(2082, 2083, 2086, 2087, 2095, 2096), http_console=True),
    _kind("portainer", "Portainer", {R}, names=("portainer",), products=("portainer",), http_console=True),
    _kind("proxmox", "Proxmox VE", {R}, names=("proxmox",), products=("proxmox",), ports=(8006,), http_console=True),
    _kind("jenkins", "Jenkins", {R}, names=("jenkins",), products=("jenkins",), http_console=True),
    _kind("ajp", "AJP connector (Tomcat/JBoss)", {R}, names=("ajp13", "ajp"), products=("apache jserv",),
          ports=(8009,)),
    _kind("appserver", "Application server console (Tomcat/JBoss/WildFly/GlassFish/WebLogic)", {R},
          names=(), products=("tomcat", "coyote", "jboss", "wildfly", "glassfish", "weblogic"),
          product_ports=_APP_SERVER_PORTS, ports=(9990, 9993, 4848), http_console=True),
)  # fmt: skip

_BY_KEY = {kind.key: kind for kind in KINDS}


def kind(key: str) -> ServiceKind:
    return _BY_KEY[key]


# -- our own signatures over raw answers ----------------------------------------------------------

_SIGNATURES: tuple[tuple[str, re.Pattern[bytes]], ...] = (
    ("redis", re.compile(rb"^(-NOAUTH |-DENIED Redis|\+PONG\r\n|-ERR wrong number of arguments|-ERR unknown command|"
                         rb"\$\d+\r\n# Server|-WRONGPASS )")),
    ("ssh", re.compile(rb"^SSH-\d")),
    ("mysql", re.compile(rb"^.\x00\x00\x00\x0a[0-9]+\.[0-9]", re.S)),
    ("mysql", re.compile(rb"^.\x00\x00\x00\xff..Host .* is not allowed to connect to this (?:MySQL|MariaDB)", re.S)),
    ("postgresql", re.compile(rb"^E\x00\x00\x00.S(?:FATAL|ERROR)", re.S)),
    ("telnet", re.compile(rb"^\xff[\xfb-\xfe]")),
    ("vnc", re.compile(rb"^RFB \d{3}\.\d{3}\n")),
    ("ftp", re.compile(rb"^220[- ].*FTP", re.I)),
    ("smtp", re.compile(rb"^220[- ].*SMTP", re.I)),
    ("pop3", re.compile(rb"^\+OK")),
    ("imap", re.compile(rb"^\* OK")),
    ("memcached", re.compile(rb"^STAT pid \d+\r\n")),
    ("mongodb", re.compile(rb"ismaster|isWritablePrimary|maxWireVersion")),
)  # fmt: skip


def signature(port: PortFacts) -> str | None:
    """The kind our signatures recognise in the port's banner or recorded answers, if any."""
    samples = [port.banner, *(response.data for response in port.responses)]
    for key, pattern in _SIGNATURES:
        if any(sample and pattern.search(sample) for sample in samples):
            return key
    return None


# -- classification -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Classified:
    """A port with the kind of service on it.

    Attributes:
        port: the facts.
        kind: what runs there; None when it is nothing this policy knows.
        basis: how that was decided.
    """

    port: PortFacts
    kind: ServiceKind | None
    basis: Basis

    @property
    def guessed(self) -> bool:
        return self.basis is Basis.PORT


_UNNAMED = frozenset({"", "unknown", "tcpwrapped"})


def classify(port: PortFacts) -> Classified:
    """What runs on ``port``: from nmap's identification, our signatures, else its number."""
    if port.identified:
        found = _by_product(port) or _by_name(port.service)
        return Classified(port, found, Basis.DETECTED)
    key = signature(port)
    if key:
        return Classified(port, _BY_KEY[key], Basis.SIGNATURE)
    return Classified(port, _by_port(port), Basis.PORT)


def _by_product(port: PortFacts) -> ServiceKind | None:
    product = port.product.lower()
    if not product:
        return None
    for candidate in KINDS:
        if candidate.product_ports and port.port not in candidate.product_ports:
            continue
        if any(word in product for word in candidate.products):
            return candidate
    return None


def _by_name(name: str) -> ServiceKind | None:
    name = name.lower()
    if name in _UNNAMED:
        return None
    for candidate in KINDS:
        if name in candidate.names:
            return candidate
    return None


def _by_port(port: PortFacts) -> ServiceKind | None:
    for candidate in KINDS:
        ports = candidate.udp_ports if port.proto == "udp" else candidate.ports
        if port.port in ports:
            return candidate
    return None


# -- risk findings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One port that fails a risk check.

    Attributes:
        classified: the port and its kind.
        note: what makes it risky here, for the report ("no STARTTLS offered"); None when its kind says it all.
        certain: False when the verdict rests on something that could not be confirmed (a mail
            service whose STARTTLS capability could not be read).
    """

    classified: Classified
    note: Message | None = None
    certain: bool = True

    @property
    def port(self) -> PortFacts:
        return self.classified.port

    @property
    def kind(self) -> ServiceKind:
        assert self.classified.kind is not None
        return self.classified.kind


#: The note of a cleartext protocol without TLS: what its name already says, so a detail leaves it out.
NO_TLS = say("ports.cleartext.no_tls", "no TLS")


def cleartext_finding(item: Classified) -> Finding | None:
    """Why the service on this port sends data in the clear, or None if it does not."""
    found, port = item.kind, item.port
    if found is None:
        return None
    encrypted = port.tunnel == "ssl"
    if Risk.CLEARTEXT in found.risks:
        if encrypted and found.secure_tunnel:
            return None
        if found.key == "snmp":
            text = f"{port.product} {port.extrainfo}".lower()
            if "snmpv3" in text and "v1" not in text and "v2" not in text:
                return None
            return Finding(item, say("ports.cleartext.snmp", "SNMP v1/v2c sends its community string in the clear"))
        if found.starttls:
            output = port.script(found.starttls_script)
            if output is None:
                unconfirmed = say(
                    "ports.cleartext.unconfirmed", "{command} could not be confirmed", command=found.starttls
                )
                return Finding(item, unconfirmed, certain=False)
            if re.search(rf"\b{found.starttls}\b", output, re.I):
                return None
            return Finding(item, say("ports.cleartext.no_starttls", "no {command} offered", command=found.starttls))
        return Finding(item, NO_TLS)
    if found.http_console and not encrypted:
        return Finding(item, say("ports.cleartext.console", "administration console over plain HTTP"))
    return None


def database_auth(item: Classified) -> str:
    """ "none" when the data store answered a command without credentials, "required" when it asked
    for them, "unknown" otherwise."""
    found, port = item.kind, item.port
    if found is None:
        return "unknown"
    samples = [port.banner, *(r.data for r in port.responses)]
    if found.key == "redis":
        if any(s.startswith((b"-NOAUTH", b"-WRONGPASS")) for s in samples):
            return "required"
        if any(s.startswith((b"+PONG", b"-ERR", b"$")) for s in samples) or port.version:
            return "none"
    if found.key == "memcached" and (port.version or any(s.startswith(b"STAT ") for s in samples)):
        return "none"
    if found.key == "elasticsearch" and port.version:
        return "none"  # the version comes from GET /, which a secured cluster answers with 401
    if found.key == "mysql" and port.identified and "unauthorized" not in port.extrainfo.lower():
        return "required"
    if found.key == "mongodb" and port.version and "unauthorized" not in port.extrainfo.lower():
        return "unknown"
    return "unknown"


# -- version disclosure -----------------------------------------------------------------------------

_PROTOCOL_WORDS = {"ssh", "http", "https", "rfb", "tls", "ssl", "smtp", "esmtp", "imap", "imap4", "pop3", "ftp",
                   "protocol", "rtsp", "sip", "amqp", "version", "v"}  # fmt: skip
_VERSION_TOKEN = re.compile(
    r"(?<![\w.])([A-Za-z][A-Za-z0-9+]*(?:[ ._-][A-Za-z][A-Za-z0-9+]*)?)[/_ -]v?(\d+\.\d+(?:\.\d+)*(?:[a-z]\d*)?)"
)


def disclosed_version(port: PortFacts) -> str | None:
    """The software and version the service gives away, or None.

    nmap's product and version when service detection read them; otherwise a "Name/1.2"-like token
    in the banner (protocol versions such as ``SSH-2.0`` or ``HTTP/1.1`` do not count).
    """
    if port.version and (port.identified or port.product):
        return shorten(port.software or port.version, 80)
    text = port.banner.decode("latin-1")
    for match in _VERSION_TOKEN.finditer(text):
        name = match.group(1)
        first, _, rest = name.partition(" ")
        if rest and first.lower() in _PROTOCOL_WORDS:
            name = rest  # "ESMTP Exim 4.96": the product is Exim
        if name.lower() in _PROTOCOL_WORDS:
            continue
        return shorten(f"{name} {match.group(2)}", 80)
    return None


def banner_snippet(port: PortFacts, limit: int = 120) -> str:
    """The banner, or else the first recorded answer, for a report."""
    if port.banner:
        return printable(port.banner, limit)
    for response in port.responses:
        if response.data:
            return printable(response.data, limit)
    return ""
