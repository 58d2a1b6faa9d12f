"""The platform page's "Services and domains" section in headless Chromium, in English and Vietnamese,
from a real stored scan: a mail platform whose families declared services on its host and a mail
domain, with results on service, domain and host endpoints (one check keyed per MX host, a port
that is not offered, server text carrying markup), beside a platform that declared none."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reports.catalogue import check_texts, installed_entries, rules_of
from reports.view import FleetView, build
from scanner.criteria import load_profile
from scanner.model import CatalogueEntry, Platform, Result, ScanStatus, Severity, Status
from scanner.runner import save_scores
from scanner.store import Store
from tests.reports import browser
from tests.reports.owner_fleet import write_pages

pytestmark = pytest.mark.skipif(
    not browser.available(), reason="Debian's chromium is not installed (scripts/bootstrap installs it)"
)

PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(2)>"
MX, DOMAIN, CORP, RELAY = "mx1.mail.test", "mail.test", "corp.test", "relay.mail.test"
SMTP, SMTPS, SUBMISSION, IMAPS, POP3 = (
    f"smtp://{MX}:25",
    f"smtps://{MX}:465",
    f"smtp://{MX}:587",
    f"imaps://{MX}:993",
    f"pop3://{MX}:110",
)
MAIL = Platform(
    id="mail",
    name="Official e-mail system",
    urls=("https://webmail.mail.test/",),
    # corp.test is a mail domain that is also a registered host; 10.0.0.5 has only a skipped DNS check.
    hosts=(MX, CORP, RELAY, "10.0.0.5"),
    services=(SMTP, SMTPS, SUBMISSION, IMAPS, POP3),
    domains=(DOMAIN,),
)
PORTAL = Platform(id="portal", name="Citizen portal", urls=("https://portal.test/",))

#: Checks of families that are not installed yet (or ever) get the test's own catalogue entry.
OWN = {
    "mail.mx": ("mail", "MX records"),
    "mail.starttls": ("mail", "STARTTLS on the MX hosts"),
    "mail.spf": ("mail", "SPF record"),
    "mail.submission_tls": ("mail", "Submission over TLS"),
    "dns.dnssec": ("dns", "DNSSEC"),
    # a family no package declares: it counts as name-level because it ran on a domain endpoint
    "relay.policy": ("relay", "Relay policy"),
}
TLS = ("tls.protocol_legacy", "tls.cert_untrusted", "tls.cert_hostname_mismatch", "tls.protocol_tls13")
HOST_CHECK = "ports.unexpected_open"  # a host-level check: not about the name


def _catalogue() -> list[CatalogueEntry]:
    installed = installed_entries()
    entries = [installed[check] for check in (*TLS, HOST_CHECK)]
    for check, (family, title) in OWN.items():
        entries.append(installed.get(check) or CatalogueEntry(check, family, title, Severity.HIGH, "Fix it."))
    return entries


def _result(
    check: str, platform: str, endpoint: str, status: Status, detail: str = "observed", key: str = ""
) -> Result:
    return Result(check, platform, endpoint, status, Severity.HIGH, check, detail, key=key)


def _results() -> list[Result]:
    m = MAIL.id
    out = [
        # the mail domain: one result per check, except STARTTLS: one per MX host (keyed)
        _result("mail.mx", m, DOMAIN, Status.PASS),
        _result("mail.starttls", m, DOMAIN, Status.PASS, key=MX),
        _result(
            "mail.starttls", m, DOMAIN, Status.ERROR, "not registered: add it to hosts to test it", "mx.other.example"
        ),
        _result("mail.starttls", m, DOMAIN, Status.FAIL, f"no STARTTLS from {PAYLOAD}", PAYLOAD),
        _result("mail.spf", m, DOMAIN, Status.WARN, "3 void lookups"),
        _result("dns.dnssec", m, DOMAIN, Status.PASS),
        _result("relay.policy", m, DOMAIN, Status.PASS),
        # hosts: name-level checks make rows; a host-level check is not a column
        _result("dns.dnssec", m, MX, Status.PASS),
        _result(HOST_CHECK, m, MX, Status.PASS),
        _result("mail.mx", m, CORP, Status.FAIL, "no MX record"),
        _result("dns.dnssec", m, CORP, Status.WARN, "the zone is not signed"),
        _result("relay.policy", m, RELAY, Status.PASS),
        _result("dns.dnssec", m, "10.0.0.5", Status.SKIP, "an address has no DNSSEC"),
        _result(HOST_CHECK, m, "10.0.0.5", Status.FAIL, "port 8080 is open"),
        # services: TLS with two warnings on 25; nothing listens on 465; submission fails on 587
        _result("tls.protocol_legacy", m, SMTP, Status.PASS),
        _result("tls.cert_untrusted", m, SMTP, Status.WARN, "self-signed"),
        _result("tls.cert_hostname_mismatch", m, SMTP, Status.WARN, "issued to another name"),
        *(_result(check, m, SMTPS, Status.SKIP, "no service on port 465") for check in TLS),
        _result("mail.submission_tls", m, SMTPS, Status.SKIP, "not offered"),
        _result("mail.submission_tls", m, SUBMISSION, Status.FAIL, "AUTH before STARTTLS"),
        _result("tls.protocol_legacy", m, SUBMISSION, Status.PASS),
        _result("tls.protocol_tls13", m, IMAPS, Status.ERROR, f"handshake failed: {PAYLOAD}"),
        # the plain platform
        _result("tls.protocol_legacy", PORTAL.id, "https://portal.test/", Status.PASS),
    ]
    return out


@dataclass(frozen=True)
class Pages:
    fleet: FleetView
    files: dict[str, Path]  # lang -> the fleet page; the platform pages beside it


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pages]:
    workdir = tmp_path_factory.mktemp("services")
    with Store(workdir / "platscan.db") as store:
        scan_id = store.begin_scan("targets.toml", {"profile": "vn-baseline"}, {}, [MAIL, PORTAL], _catalogue())
        store.add_results(scan_id, _results())
        save_scores(store, scan_id)
        store.finish_scan(scan_id, ScanStatus.COMPLETE)
        fleet = build(store, store.scan(), load_profile("vn-baseline"))
        yield Pages(fleet, write_pages(fleet, workdir))


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[browser.Chromium]:
    with browser.Chromium(tmp_path_factory.mktemp("chromium")) as running:
        yield running


def platform_file(pages: Pages, lang: str, platform: str) -> Path:
    main = pages.files[lang]
    return main.parent / f"{main.stem}-platforms" / f"{platform}.html"


SECTION = """(() => {
  const text = el => el.textContent.replace(/\\s+/g, ' ').trim();
  const s = document.querySelector('#services');
  if (!s) return null;
  const order = [...document.querySelectorAll('main section.card')].map(c => c.id);
  return {
    heading: text(s.querySelector('h2')),
    order,
    toc: [...document.querySelectorAll('nav.toc a')].map(a => a.getAttribute('href')),
    columns: [...s.querySelectorAll('#domains-table thead th[data-check]')].map(th => [th.dataset.check, text(th)]),
    domains: [...s.querySelectorAll('#domains-table tbody tr')].map(tr => ({
      name: tr.dataset.domain, kind: tr.dataset.kind,
      cells: Object.fromEntries([...tr.querySelectorAll('td')].map(td => [td.dataset.check,
        [...td.querySelectorAll('li')].map(li => ({key: li.dataset.key || '', status: li.dataset.status,
          text: text(li), href: (li.querySelector('a') || {getAttribute: () => ''}).getAttribute('href')}))]))})),
    services: [...s.querySelectorAll('#services-table tbody tr')].map(tr => ({
      service: tr.dataset.service, offered: tr.dataset.offered, text: text(tr.querySelector('td')),
      families: [...tr.querySelectorAll('li')].map(li => [li.dataset.family, text(li)]),
      links: [...tr.querySelectorAll('a')].map(a => a.getAttribute('href'))})),
    scripts: document.querySelectorAll('script').length,
    injected: s.querySelectorAll('script, img').length,
  };
})()"""


def section(chromium: browser.Chromium, path: Path) -> Any:
    page = chromium.open(path)
    found = page.evaluate(SECTION)
    assert page.dialogs == [] and page.requests == [path.resolve().as_uri()]
    return found


def targets_exist(chromium: browser.Chromium, hrefs: list[str]) -> list[str]:
    """The hrefs whose anchor is missing from the open page."""
    assert chromium.page is not None
    return [h for h in hrefs if not chromium.page.evaluate(f"!!document.getElementById({h[1:]!r})")]


def test_the_section_shows_domains_with_their_checks_and_keyed_results(
    pages: Pages, chromium: browser.Chromium
) -> None:
    found = section(chromium, platform_file(pages, "en", "mail"))
    texts = check_texts(rules_of(pages.fleet), "en")
    assert found["heading"] == "Services and domains"
    # after the findings, before compliance, and in the table of contents in that place
    assert found["order"].index("findings") < found["order"].index("services") < found["order"].index("compliance")
    assert found["toc"].index("#findings") < found["toc"].index("#services") < found["toc"].index("#compliance")
    # the domain endpoint, then the hosts with name-level results; a host with only a skipped
    # name-level result and the URL host with none have no row
    assert [(d["name"], d["kind"]) for d in found["domains"]] == [
        (DOMAIN, "domain"),
        (MX, "host"),
        (CORP, "host"),
        (RELAY, "host"),
    ]
    checks = ["dns.dnssec", "mail.mx", "mail.spf", "mail.starttls", "relay.policy"]
    assert found["columns"] == [[c, texts.title(c)] for c in checks]  # the host-level check is no column
    domain = found["domains"][0]["cells"]
    assert [c["text"] for c in domain["mail.mx"]] == ["✓ pass"]
    assert [c["text"] for c in domain["mail.spf"]] == ["! warning 3 void lookups"]
    starttls = {c["key"]: c for c in domain["mail.starttls"]}
    assert sorted(starttls) == sorted([MX, "mx.other.example", PAYLOAD])
    assert starttls[MX]["text"] == f"{MX} ✓ pass"
    assert (
        starttls["mx.other.example"]["text"]
        == "mx.other.example ? not tested not registered: add it to hosts to test it"
    )
    assert starttls["mx.other.example"]["href"] == "#not-tested"
    # server text is shown as text, never as markup
    assert starttls[PAYLOAD]["text"] == f"{PAYLOAD} ✗ fail no STARTTLS from {PAYLOAD}"
    assert found["injected"] == 0 and found["scripts"] == 1
    # a failure's chip leads to its finding
    href = starttls[PAYLOAD]["href"]
    assert href.startswith("#finding-") and targets_exist(chromium, [href]) == []
    assert chromium.page is not None
    assert chromium.page.evaluate(f"document.getElementById({href[1:]!r}).dataset.check") == "mail.starttls"
    # a check that did not run on a name leaves its cell empty
    corp = found["domains"][2]["cells"]
    assert corp["mail.spf"] == [] and [c["status"] for c in corp["mail.mx"]] == ["fail"]
    relay = found["domains"][3]["cells"]
    assert [c["status"] for c in relay["relay.policy"]] == ["pass"] and relay["dns.dnssec"] == []


def test_the_section_shows_each_service_with_a_tally_per_family(pages: Pages, chromium: browser.Chromium) -> None:
    found = section(chromium, platform_file(pages, "en", "mail"))
    rows = {s["service"]: s for s in found["services"]}
    assert list(rows) == [SMTP, SMTPS, SUBMISSION, IMAPS]  # declared order; pop3 had no result
    assert rows[SMTPS]["offered"] == "no" and rows[SMTPS]["text"] == "not offered"
    assert rows[SMTP]["offered"] == "yes" and rows[SMTP]["text"] == "TLS: 2 warnings, 1 passed"
    # the failing family first
    assert rows[SUBMISSION]["families"] == [["mail", "Mail: 1 failed"], ["tls", "TLS: 1 passed"]]
    assert rows[IMAPS]["text"] == "TLS: 1 not tested" and rows[IMAPS]["links"] == ["#not-tested"]
    assert rows[SMTP]["links"][0].startswith("#finding-") and rows[SMTP]["links"][1] == "#passing"
    links = [href for row in rows.values() for href in row["links"]]
    assert links and targets_exist(chromium, links) == []


def test_the_section_in_vietnamese(pages: Pages, chromium: browser.Chromium) -> None:
    found = section(chromium, platform_file(pages, "vi", "mail"))
    texts = check_texts(rules_of(pages.fleet), "vi")
    assert found["heading"] == "Dịch vụ và tên miền"
    assert [title for _, title in found["columns"]] == [texts.title(c) for c, _ in found["columns"]]
    rows = {s["service"]: s for s in found["services"]}
    assert rows[SMTPS]["text"] == "không cung cấp"
    assert rows[SMTP]["text"].endswith(": 2 cảnh báo, 1 đạt")
    starttls = {c["key"]: c["text"] for c in found["domains"][0]["cells"]["mail.starttls"]}
    assert starttls[MX] == f"{MX} ✓ đạt"
    assert starttls["mx.other.example"].startswith("mx.other.example ? chưa kiểm tra được")
    assert found["injected"] == 0


def test_a_platform_without_services_or_domains_has_no_such_section(pages: Pages, chromium: browser.Chromium) -> None:
    for lang in ("en", "vi"):
        path = platform_file(pages, lang, "portal")
        assert section(chromium, path) is None
        assert chromium.page is not None
        assert chromium.page.evaluate("document.querySelector('nav.toc a[href=\"#services\"]')") is None
        assert chromium.page.evaluate("!!document.querySelector('#findings')")  # the page itself rendered
