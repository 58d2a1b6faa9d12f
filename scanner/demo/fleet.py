"""The built-in demo fleet behind ``platscan demo``: a province's shared platforms, on loopback.

Pure Python (no nginx): a test PKI plus one :class:`~scanner.demo.tls_server.TlsServer` per
platform, each with a realistic flaw; an authoritative DNS server for the demo zone
(:mod:`scanner.demo.dns_server`); the official e-mail system's mail host (SMTP and IMAP with
STARTTLS, :mod:`scanner.demo.mail_server`) on the standard mail ports of ``MAIL_ADDRESS``; and a
targets file that maps the web platforms' ``*.example`` names to 127.0.0.1 and asks the demo DNS
server for every other name::

    with DemoFleet(workdir) as fleet:
        scan(fleet.targets_path)        # ca_bundle = the demo root; dns_servers = the demo DNS server

Each platform's port scan is limited to its own port (``ports`` and ``allowed_ports``), so the demo
never port-scans anything else on the machine (the mail family probes the standard mail ports of
the mail platform's hosts itself). Given the ports of a previous run, each platform, and the DNS
server, is served on its old port again when that port is free (``moved`` lists the platforms that
had to move). The mail ports are below 1024: without root the mail host is not started, the demo
runs without it, and ``mail_unavailable`` says why.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

import dns.zone

from scanner.demo.dns_server import DnsServer
from scanner.demo.mail_server import BindError, MailServer
from scanner.demo.mail_system import MAIL_ADDRESS, DemoMail, demo_zone, mail_server_config
from scanner.demo.pki import EXPIRED, ChainLayout, IssuerKind, LeafSpec, Pki, Validity
from scanner.demo.pki import NORMAL as NORMAL_VALIDITY
from scanner.demo.tls_server import LOOPBACK, TlsServer, TlsServerConfig

__all__ = [
    "DEMO_PLATFORMS",
    "DNS_SERVER",
    "DOMAIN",
    "MAIL_ADDRESS",
    "PKI_DIR",
    "TARGETS_FILE",
    "DemoFleet",
    "DemoMail",
    "DemoPlatform",
    "MovedPort",
    "RunningPlatform",
    "write_waivers_example",
]

TARGETS_FILE = "targets.toml"
#: The webmail's address: beside the mail host's, away from a mail server the machine may run.
WEBMAIL_ADDRESS = "127.0.0.26"
PKI_DIR = "pki"
DOMAIN = "nghean.example"
#: The demo DNS server's entry in ``DemoFleet.ports`` (no demo platform has this id).
DNS_SERVER = "dns"
ORGANIZATION = "Nghe An Provincial Test PKI"

_MODERN = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305"
_LEGACY = "ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:@SECLEVEL=0"

_GOOD_HEADERS: Mapping[str, str] = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "geolocation=(), camera=(), microphone=()",
}


@dataclass(frozen=True)
class DemoPlatform:
    """One demo platform and how its endpoint is (mis)configured.

    Attributes:
        id: platform id in the targets file.
        name: the platform's name.
        owner: the department responsible for it.
        level: security level (1-5).
        host: its ``*.example`` host name.
        flaw: what is wrong with it, in one line ("" when nothing is meant to be).
        cert_hosts: the names its certificate is issued for (None: its own host).
        issuer: who signed its certificate.
        validity: its certificate's validity window.
        layout: the chain it sends.
        legacy_tls: also accept TLS 1.0 and 1.1.
        headers: HTTP response headers it sends.
        title: the page title (Vietnamese, as the real portals have).
        name_vi, owner_vi: the name and owner in Vietnamese, for a demo run with ``--lang vi``.
        mail: its mail system, for a mail platform: its MX host becomes a registered host, and the
            targets file gets its ``[platforms.mail]`` table.
        address: the loopback address it listens on.
    """

    id: str
    name: str
    owner: str
    level: int
    host: str
    flaw: str
    title: str
    cert_hosts: tuple[str, ...] | None = None
    issuer: IssuerKind = IssuerKind.INTERMEDIATE
    validity: Validity = NORMAL_VALIDITY
    layout: ChainLayout = ChainLayout.FULL
    legacy_tls: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    name_vi: str = ""
    owner_vi: str = ""
    mail: DemoMail | None = None
    address: str = LOOPBACK

    @property
    def hosts(self) -> tuple[str, ...]:
        """Its registered hosts beyond its URL's."""
        return (self.mail.mx_host,) if self.mail else ()

    @property
    def flaws(self) -> tuple[str, ...]:
        return ((self.flaw,) if self.flaw else ()) + (self.mail.flaws if self.mail else ())

    def name_in(self, lang: str) -> str:
        return self.name_vi if lang == "vi" and self.name_vi else self.name

    def owner_in(self, lang: str) -> str:
        return self.owner_vi if lang == "vi" and self.owner_vi else self.owner

    @property
    def contact(self) -> str:
        return f"ops@{self.host}"


DEMO_PLATFORMS: tuple[DemoPlatform, ...] = (
    DemoPlatform(
        id="dvc",
        name="Provincial Public Service Portal",
        name_vi="Cổng Dịch vụ công tỉnh",
        owner="Department of Science and Technology",
        owner_vi="Sở Khoa học và Công nghệ",
        level=3,
        host=f"dvc.{DOMAIN}",
        flaw="",
        title="Cổng Dịch vụ công tỉnh Nghệ An",
        headers=_GOOD_HEADERS,
    ),
    DemoPlatform(
        id="motcua",
        name="Administrative Procedure Information System",
        name_vi="Hệ thống thông tin giải quyết thủ tục hành chính",
        owner="Office of the Provincial People's Committee",
        owner_vi="Văn phòng Ủy ban nhân dân tỉnh",
        level=3,
        host=f"motcua.{DOMAIN}",
        flaw="still accepts TLS 1.0 and TLS 1.1",
        title="Hệ thống thông tin giải quyết thủ tục hành chính tỉnh Nghệ An",
        legacy_tls=True,
        headers={"Server": "Apache/2.4.29 (Ubuntu)", "X-Content-Type-Options": "nosniff"},
    ),
    DemoPlatform(
        id="mail",
        name="Official E-mail System",
        name_vi="Hệ thống thư điện tử công vụ",
        owner="Department of Science and Technology",
        owner_vi="Sở Khoa học và Công nghệ",
        level=3,
        host=f"mail.{DOMAIN}",
        # Not 127.0.0.1: the mail family tries the standard mail ports of every host of a mail
        # platform, and a mail server of the machine itself may listen on 127.0.0.1.
        address=WEBMAIL_ADDRESS,
        flaw="the webmail's certificate expired ten days ago",
        title="Hệ thống thư điện tử công vụ tỉnh Nghệ An",
        validity=EXPIRED,
        headers={"Strict-Transport-Security": "max-age=31536000", "X-Frame-Options": "SAMEORIGIN"},
        mail=DemoMail(
            domain=DOMAIN,
            mx_host=f"mx.{DOMAIN}",
            dkim_selector="default",
            spf="v=spf1 mx -all",
            dmarc=f"v=DMARC1; p=none; rua=mailto:dmarc-reports@{DOMAIN}",
            tls_rpt=f"v=TLSRPTv1; rua=mailto:tls-reports@{DOMAIN}",
            submission_auth_before_tls=True,
            flaws=(
                "DMARC policy p=none: mail forged in the domain's name is still delivered",
                "submission (port 587) offers AUTH before STARTTLS: passwords may cross in cleartext",
            ),
        ),
    ),
    DemoPlatform(
        id="yte",
        name="Health Sector Database",
        name_vi="Cơ sở dữ liệu ngành Y tế",
        owner="Department of Health",
        owner_vi="Sở Y tế",
        level=2,
        host=f"yte.{DOMAIN}",
        flaw="certificate issued for another host name",
        title="Cơ sở dữ liệu ngành Y tế tỉnh Nghệ An",
        cert_hosts=(f"csdl-yte.{DOMAIN}",),
        headers={"X-Powered-By": "PHP/7.2.34"},
    ),
    DemoPlatform(
        id="congthuong",
        name="Industry and Trade Digital Database Management System",
        name_vi="Hệ thống quản lý cơ sở dữ liệu số ngành Công Thương",
        owner="Department of Industry and Trade",
        owner_vi="Sở Công Thương",
        level=2,
        host=f"congthuong.{DOMAIN}",
        flaw="self-signed certificate",
        title="Hệ thống quản lý cơ sở dữ liệu số ngành Công Thương",
        issuer=IssuerKind.SELF,
        headers={"X-Content-Type-Options": "nosniff"},
    ),
    DemoPlatform(
        id="nongnghiep",
        name="Agriculture and Environment Digital Database Management System",
        name_vi="Hệ thống quản lý cơ sở dữ liệu số ngành Nông nghiệp và Môi trường",
        owner="Department of Agriculture and Environment",
        owner_vi="Sở Nông nghiệp và Môi trường",
        level=2,
        host=f"nongnghiep.{DOMAIN}",
        flaw="sends its certificate without the intermediate CA",
        title="Hệ thống quản lý cơ sở dữ liệu số ngành Nông nghiệp và Môi trường",
        layout=ChainLayout.LEAF,
        headers={"Strict-Transport-Security": "max-age=86400", "X-Content-Type-Options": "nosniff"},
    ),
)


@dataclass(frozen=True)
class RunningPlatform:
    """A demo platform with its live endpoint.

    Attributes:
        platform: the definition.
        port: its port on its address.
    """

    platform: DemoPlatform
    port: int

    @property
    def url(self) -> str:
        return f"https://{self.platform.host}:{self.port}/"


@dataclass(frozen=True)
class MovedPort:
    """A platform that could not have its previous port (something else listens there).

    Attributes:
        platform: the platform id.
        wanted: the port it had before.
        port: the port it has now.
    """

    platform: str
    wanted: int
    port: int


class DemoFleet:
    """Create the demo PKI in ``workdir``, start one TLS server per platform on 127.0.0.1, the demo
    DNS server, the mail platforms' mail host, and write ``targets_path``; stop them all on exit.

    ``ports`` (platform id, or ``DNS_SERVER`` -> port, e.g. a previous run's ``ports``) are used
    again where they are free; the others get ports the OS picks."""

    def __init__(
        self,
        workdir: Path,
        platforms: tuple[DemoPlatform, ...] = DEMO_PLATFORMS,
        ports: Mapping[str, int] | None = None,
        lang: str = "en",
    ) -> None:
        self.workdir = workdir
        self.lang = lang  # the language of the platforms' names in the targets file
        self.definitions = platforms
        self.wanted_ports = dict(ports or {})
        self._stack: contextlib.ExitStack | None = None
        self._running: tuple[RunningPlatform, ...] = ()
        self._moved: tuple[MovedPort, ...] = ()
        self._pki: Pki | None = None
        self._dns_port: int | None = None
        self._mail_unavailable: str | None = None

    @property
    def pki(self) -> Pki:
        if self._pki is None:
            raise RuntimeError("the demo fleet is not started")
        return self._pki

    @property
    def platforms(self) -> tuple[RunningPlatform, ...]:
        return self._running

    @property
    def ports(self) -> dict[str, int]:
        """platform id -> its port, and ``DNS_SERVER`` -> the DNS server's, for the next run."""
        ports = {item.platform.id: item.port for item in self._running}
        if self._dns_port is not None:
            ports[DNS_SERVER] = self._dns_port
        return ports

    @property
    def dns_server(self) -> str:
        """The demo DNS server as a ``dns_servers`` entry (``127.0.0.1:port``)."""
        if self._dns_port is None:
            raise RuntimeError("the demo fleet is not started")
        return f"{LOOPBACK}:{self._dns_port}"

    @property
    def mail_unavailable(self) -> str | None:
        """Why the mail host was not started (one sentence), or None when it runs (or none is needed)."""
        return self._mail_unavailable

    @property
    def moved(self) -> tuple[MovedPort, ...]:
        return self._moved

    @property
    def targets_path(self) -> Path:
        return self.workdir / TARGETS_FILE

    @property
    def ca_bundle(self) -> Path:
        return self.pki.bundle_path

    def start(self) -> Self:
        if self._stack is not None:
            raise RuntimeError("already started")
        self.workdir.mkdir(parents=True, exist_ok=True)
        pki = Pki.create(self.workdir / PKI_DIR, organization=ORGANIZATION)
        with contextlib.ExitStack() as stack:
            ports: dict[str, int] = {}
            # Remembered ports first: a port the OS picks for another platform must not take one.
            for platform in sorted(self.definitions, key=lambda p: p.id not in self.wanted_ports):
                server = _listen(_server_config(pki, platform), self.wanted_ports.get(platform.id), platform.address)
                stack.callback(server.stop)
                ports[platform.id] = server.port
            self._running = tuple(RunningPlatform(platform=p, port=ports[p.id]) for p in self.definitions)
            self._moved = tuple(
                MovedPort(platform=p.id, wanted=self.wanted_ports[p.id], port=ports[p.id])
                for p in self.definitions
                if p.id in self.wanted_ports and self.wanted_ports[p.id] != ports[p.id]
            )
            mail = tuple(p.mail for p in self.definitions if p.mail is not None)
            self._mail_unavailable = None
            for system in mail:
                try:
                    stack.enter_context(
                        MailServer(mail_server_config(system, pki, _leaf_spec((system.mx_host,)), _MODERN))
                    )
                except BindError as exc:
                    self._mail_unavailable = _mail_refusal(exc)
                    break
            addresses = {p.host: p.address for p in self.definitions}
            addresses.update({system.mx_host: MAIL_ADDRESS for system in mail})
            zone = demo_zone(DOMAIN, addresses, mail, pki)
            dns = _listen_dns(zone, self.wanted_ports.get(DNS_SERVER))
            stack.callback(dns.stop)
            self._dns_port = dns.port
            self._pki = pki
            _write_targets(self.targets_path, pki.bundle_path, self._running, self.dns_server, self.lang)
            self._stack = stack.pop_all()
        return self

    def stop(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _listen(config: TlsServerConfig, port: int | None, host: str) -> TlsServer:
    """A started server on ``host``:``port`` if that port is free, else on a port the OS picks."""
    if port:
        with contextlib.suppress(OSError):  # taken (or not ours to bind): the caller reports the move
            return TlsServer(config, host=host, port=port).start()
    return TlsServer(config, host=host).start()


def _listen_dns(zone: dns.zone.Zone, port: int | None) -> DnsServer:
    """The DNS server, started on ``port`` if it is free (UDP and TCP), else on one the OS picks.
    Its port is in the targets file only: a move changes no endpoint, so it goes unmentioned."""
    if port:
        with contextlib.suppress(OSError):
            return DnsServer(zone, port=port).start()
    return DnsServer(zone).start()


def _mail_refusal(exc: BindError) -> str:
    why = f"{exc}; ports below 1024 need root" if exc.needs_root else str(exc)
    return (
        f"the demo mail servers were not started ({why}): the mail platform's mail checks report "
        "what they find on its mail ports"
    )


def _leaf_spec(
    hosts: tuple[str, ...], issuer: IssuerKind = IssuerKind.INTERMEDIATE, validity: Validity = NORMAL_VALIDITY
) -> LeafSpec:
    """A certificate of the demo CA (its AIA as the province's CA would write it), or a self-signed one."""
    self_signed = issuer is IssuerKind.SELF
    return LeafSpec(
        hosts=hosts,
        issuer=issuer,
        validity=validity,
        ca_issuers_url=None if self_signed else f"http://pki.{DOMAIN}/issuing-ca.crt",
        ocsp_url=None if self_signed else f"http://ocsp.pki.{DOMAIN}/",
    )


def _server_config(pki: Pki, platform: DemoPlatform) -> TlsServerConfig:
    spec = _leaf_spec(platform.cert_hosts or (platform.host,), platform.issuer, platform.validity)
    leaf = pki.issue(platform.id, spec)
    return TlsServerConfig(
        cert_chain=pki.write_chain(leaf, platform.layout),
        key=leaf.key_path,
        minimum_version=ssl.TLSVersion.TLSv1 if platform.legacy_tls else ssl.TLSVersion.TLSv1_2,
        ciphers=_LEGACY if platform.legacy_tls else _MODERN,
        body=_page(platform),
        headers=dict(platform.headers),
    )


def _page(platform: DemoPlatform) -> str:
    return (
        "<!doctype html>\n<html lang=vi><head><meta charset=utf-8>"
        f"<title>{platform.title}</title></head>\n"
        f"<body><h1>{platform.title}</h1><p>{platform.name} ({platform.owner})</p>"
        "<p>Demo endpoint for platscan.</p></body></html>\n"
    )


def _write_targets(
    path: Path, ca_bundle: Path, running: tuple[RunningPlatform, ...], dns_server: str, lang: str = "en"
) -> None:
    lines = [
        "# platscan demo fleet: shared platforms of a province, served on 127.0.0.1 (the mail host on",
        f"# {MAIL_ADDRESS}). Generated by `platscan demo`; each platform keeps its port from run to run",
        "# (platscan-demo.json).",
        "[scan]",
        "timeout = 3",
        "# Every demo platform lives on 127.0.0.1: scan them side by side (each one's port scan waits",
        "# on its TLS port for several seconds; per_host would otherwise queue them two at a time).",
        f"per_host = {max(2, len(running))}",
        f"ca_bundle = {_toml_str(str(ca_bundle.resolve()))}",
        f"# The demo's own DNS server, authoritative for {DOMAIN}: every name of the scan is asked there.",
        f"dns_servers = [{_toml_str(dns_server)}]",
    ]
    for item in running:
        platform = item.platform
        lines += [
            "",
            *[f"# demo flaw: {flaw}" for flaw in platform.flaws],
            "[[platforms]]",
            f"id = {_toml_str(platform.id)}",
            f"name = {_toml_str(platform.name_in(lang))}",
            f"owner = {_toml_str(platform.owner_in(lang))}",
            f"contact = {_toml_str(platform.contact)}",
            f"level = {platform.level}",
            f"urls = [{_toml_str(item.url)}]",
            *([f"hosts = [{', '.join(_toml_str(h) for h in platform.hosts)}]"] if platform.hosts else []),
            f"ports = [{item.port}]",
            f"allowed_ports = [{item.port}]",
            # DNS says the same; pinned all the same, so a web platform never waits on a lookup.
            f"resolve = {{ {_toml_str(platform.host)} = {_toml_str(platform.address)} }}",
        ]
        if platform.mail is not None:
            lines += [
                "",
                "[platforms.mail]",
                f"domains = [{_toml_str(platform.mail.domain)}]",
                f"dkim_selectors = [{_toml_str(platform.mail.dkim_selector)}]",
            ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_waivers_example(path: Path, expires: dt.date) -> None:
    """An example waivers file for the demo fleet (``--waivers``): one approved exception that
    expires on ``expires``. It is not named ``waivers.toml``, so no command reads it unasked."""
    lines = [
        "# An example waivers file for the demo fleet, written by `platscan demo`. Try it with",
        "#   platscan gate targets.toml --platform motcua --waivers waivers.example.toml",
        "# A waived failure is still stored and shown as waived; it leaves the grade and the gate.",
        "[[waivers]]",
        'platform = "motcua"',
        'check = "tls.protocol_legacy"',
        'reason = "Old kiosks in the one-stop offices need TLS 1.0 until they are replaced"',
        'approved_by = "Demo CISO"',
        f"expires = {expires.isoformat()}",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _toml_str(value: str) -> str:
    # A JSON string is a valid TOML basic string (same escapes; \uXXXX for control characters).
    return json.dumps(value, ensure_ascii=False)
