"""The demo fleet's mail system and DNS: what its zone publishes and how its mail host is served.

The demo zone (``nghean.example``) holds an A record for every demo host, and for the mail
platform its MX, SPF, DMARC, DKIM key and TLS-RPT records, served by
:class:`~scanner.demo.dns_server.DnsServer`. The mail host answers on the standard mail ports at
an address of its own (``MAIL_ADDRESS``), served by :class:`~scanner.demo.mail_server.MailServer`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass

import dns.zone
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from scanner.demo.mail_server import ImapService, MailServerConfig, SmtpService
from scanner.demo.pki import ChainLayout, KeyType, LeafSpec, Pki
from scanner.demo.tls_server import LOOPBACK, TlsServerConfig

__all__ = ["MAIL_ADDRESS", "DemoMail", "demo_zone", "mail_server_config"]

#: The demo mail host's address: the standard mail ports (25, 587, 143) are bound there, not on
#: 127.0.0.1, where a mail server of the machine itself may already listen.
MAIL_ADDRESS = "127.0.0.25"
_TXT_CHUNK = 255  # a TXT record is a list of strings of at most 255 bytes each (RFC 1035 3.3.14)
_SOA = "ns hostmaster 2026010101 3600 600 1209600 300"
_TTL = 3600


@dataclass(frozen=True)
class DemoMail:
    """A demo platform's mail system: its ``[platforms.mail]`` table and what its DNS and mail host say.

    Attributes:
        domain: the mail domain.
        mx_host: the host its MX names (a registered host of the platform), served on ``MAIL_ADDRESS``.
        dkim_selector: the selector its DKIM key is published under.
        spf: its SPF record.
        dmarc: its DMARC record (at ``_dmarc.<domain>``).
        tls_rpt: its TLS-RPT record (at ``_smtp._tls.<domain>``), or "" for none.
        submission_auth_before_tls: submission (587) offers AUTH before STARTTLS.
        flaws: what is wrong with it, one line each.
    """

    domain: str
    mx_host: str
    dkim_selector: str
    spf: str
    dmarc: str
    tls_rpt: str
    submission_auth_before_tls: bool
    flaws: tuple[str, ...] = ()


def demo_zone(origin: str, addresses: Mapping[str, str], mail: tuple[DemoMail, ...], pki: Pki) -> dns.zone.Zone:
    """The zone ``origin``: ``addresses`` (host -> IPv4 address), the name server on 127.0.0.1, a CAA
    record naming the demo CA, and each mail system's records (its DKIM key from ``pki``'s key pool)."""
    records = [
        f"@ {_TTL} IN SOA {_SOA}",
        f"@ {_TTL} IN NS ns",
        f"ns {_TTL} IN A {LOOPBACK}",
        f'@ {_TTL} IN CAA 0 issue "pki.{origin}"',
    ]
    records += [f"{host}. {_TTL} IN A {address}" for host, address in sorted(addresses.items())]
    for system in mail:
        domain = f"{system.domain}."
        records += [
            f"{domain} {_TTL} IN MX 10 {system.mx_host}.",
            f"{domain} {_TTL} IN TXT {_txt(system.spf)}",
            f"_dmarc.{domain} {_TTL} IN TXT {_txt(system.dmarc)}",
            f"{system.dkim_selector}._domainkey.{domain} {_TTL} IN TXT {_txt(_dkim_record(pki))}",
        ]
        if system.tls_rpt:
            records.append(f"_smtp._tls.{domain} {_TTL} IN TXT {_txt(system.tls_rpt)}")
    return dns.zone.from_text("\n".join(records) + "\n", origin=f"{origin}.", relativize=False)


def mail_server_config(system: DemoMail, pki: Pki, leaf_spec: LeafSpec, ciphers: str) -> MailServerConfig:
    """The mail host of ``system``: SMTP on 25 and 587, IMAP on 143, all with STARTTLS, serving the
    certificate ``leaf_spec`` describes with its full chain."""
    leaf = pki.issue("mail-host", leaf_spec)
    tls = TlsServerConfig(cert_chain=pki.write_chain(leaf, ChainLayout.FULL), key=leaf.key_path, ciphers=ciphers)
    services: tuple[SmtpService | ImapService, ...] = (
        SmtpService(25),
        SmtpService(587, auth=True, auth_before_tls=system.submission_auth_before_tls),
        ImapService(143),
    )
    return MailServerConfig(address=MAIL_ADDRESS, hostname=system.mx_host, tls=tls, services=services)


def _dkim_record(pki: Pki) -> str:
    key = pki.keys.get(KeyType.RSA_2048, "dkim")
    assert isinstance(key, rsa.RSAPrivateKey)
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode('ascii')}"


def _txt(text: str) -> str:
    """``text`` as the quoted strings of a TXT record in zone-file syntax."""
    chunks = [text[i : i + _TXT_CHUNK] for i in range(0, len(text), _TXT_CHUNK)] or [""]
    return " ".join('"' + chunk.replace("\\", "\\\\").replace('"', '\\"') + '"' for chunk in chunks)
