"""Remediation placeholders: the checks use only known ones (English and Vietnamese alike), name no
other platform in their examples, and filling them touches nothing but the placeholders."""

from __future__ import annotations

import re

from reports.i18n import load_translations
from reports.placeholders import PLACEHOLDERS, endpoint_host, fill
from scanner.plugin import discover_checks

CHECKS = discover_checks().checks
#: Lower-case ``{name}`` tokens: IIS's ``{HTTPS}``, Apache's ``%{HTTP_HOST}`` and nginx's ``$host`` are not.
TOKEN = re.compile(r"(?<![%$\w])\{([a-z_]+)\}")


def remediations() -> list[tuple[str, str]]:
    vietnamese = load_translations("vi")
    out = [(check.id, check.remediation) for check in CHECKS]
    out += [(f"{check} (vi)", text["remediation"]) for check, text in vietnamese.items() if "remediation" in text]
    return out


def test_remediation_uses_known_placeholders_and_no_other_platforms_names() -> None:
    unknown = [(check, sorted(set(TOKEN.findall(text)) - set(PLACEHOLDERS))) for check, text in remediations()]
    assert [found for found in unknown if found[1]] == []
    # an example naming one platform is copied by every other: they say {host} or {platform}
    assert [check for check, text in remediations() if re.search(r"\bdvc\b", text)] == []


def test_the_converted_examples_carry_placeholders() -> None:
    used = {name for _, text in remediations() for name in TOKEN.findall(text)}
    assert used == set(PLACEHOLDERS)


def test_fill_touches_only_placeholders() -> None:
    text = (
        "nginx: `server { listen 80; server_name {host}; return 301 https://$host$request_uri; }` "
        "`ssl_certificate /etc/ssl/{platform}/fullchain.pem;` "
        'Apache: `SetEnvIf Origin "^https://{host_regex}$"` '
        "`RewriteRule ^ https://%{HTTP_HOST}%{REQUEST_URI}` "
        "IIS: `{HTTPS}` = `off`, `https://{HTTP_HOST}/{R:1}`"
    )
    assert fill(text, "cong", "cong.nghean.example") == (
        "nginx: `server { listen 80; server_name cong.nghean.example; return 301 https://$host$request_uri; }` "
        "`ssl_certificate /etc/ssl/cong/fullchain.pem;` "
        'Apache: `SetEnvIf Origin "^https://cong\\.nghean\\.example$"` '
        "`RewriteRule ^ https://%{HTTP_HOST}%{REQUEST_URI}` "
        "IIS: `{HTTPS}` = `off`, `https://{HTTP_HOST}/{R:1}`"
    )
    assert fill("`server_name {host};` `/etc/ssl/{platform}/`", "p", None) == "`server_name {host};` `/etc/ssl/p/`"


def test_the_host_of_an_endpoint() -> None:
    assert endpoint_host("https://Cong.NgheAn.example:8443/dang-nhap") == "cong.nghean.example"
    assert endpoint_host("mail.cong.nghean.example.") == "mail.cong.nghean.example"
    assert endpoint_host("https://[2001:db8::1]/") == "2001:db8::1"
