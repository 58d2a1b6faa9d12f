"""One URL parser for scope and dialling (scanner.urls), and the client's last check at the socket."""

from __future__ import annotations

import pytest
from urllib3.util import parse_url

from checks.http.client import HttpClient, OffScopeConnection
from checks.http.facts import ErrorKind
from scanner.demo.http_server import LOOPBACK, HttpSiteServer, Reply
from scanner.model import Platform
from scanner.plugin import ScanSettings
from scanner.urls import UnusableUrl, follow, normalize_host, parse

BASE = "https://portal.example/a/b"


@pytest.mark.parametrize(
    ("reference", "host", "url"),
    [
        # urllib.parse reads portal's name after "@"; browsers and urllib3 end the authority at "\".
        ("http://127.0.0.2:8080\\@portal.example/", "127.0.0.2", "http://127.0.0.2:8080/@portal.example/"),
        ("https://evil.example\\\\@portal.example/x", "evil.example", "https://evil.example//@portal.example/x"),
        ("//evil.example\\@portal.example/", "evil.example", "https://evil.example/@portal.example/"),
        ("http://%65vil.example/", "evil.example", "http://evil.example/"),  # urllib3 decodes the host
        (" \t//evil.example/\n", "evil.example", "https://evil.example/"),
        ("http://evil.example#@portal.example/", "evil.example", "http://evil.example/"),
        ("/login?next=/a\\b", "portal.example", "https://portal.example/login?next=/a%5Cb"),  # "\" kept in a query
        ("https:other/x", "portal.example", "https://portal.example/a/other/x"),  # same scheme: a relative path
        ("HTTPS://Portal.Example.:443/X/../Y", "portal.example", "https://portal.example/Y"),
        ("https://bücher.example/", "xn--bcher-kva.example", "https://xn--bcher-kva.example/"),
        ("https://[::1]:8443/x#frag", "::1", "https://[::1]:8443/x"),
        # Any run of slashes (or backslashes) before a host is one authority marker in http(s).
        ("///evil.example/", "evil.example", "https://evil.example/"),
        ("////evil.example/x", "evil.example", "https://evil.example/x"),
        ("/\\/evil.example/", "evil.example", "https://evil.example/"),
        ("\\\\\\evil.example/", "evil.example", "https://evil.example/"),
        ("https:///evil.example/", "evil.example", "https://evil.example/"),
        # Another scheme's URL is absolute whatever follows its colon.
        ("http:evil.example/x", "evil.example", "http://evil.example/x"),
        ("http:///evil.example/", "evil.example", "http://evil.example/"),
    ],
)
def test_references_resolve_to_the_host_that_is_dialled(reference: str, host: str, url: str) -> None:
    target = follow(BASE, reference)
    assert (target.host, target.url) == (host, url)
    # The canonical URL re-parses to the same host with the parser requests and urllib3 dial with.
    dialled = parse_url(target.url)
    assert (dialled.host or "").strip("[]") == host and dialled.auth is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://portal.example@evil.example/", "user info"),
        ("https://user:pass@portal.example/", "user info"),
        ("https://[127.0.0.1]/", "not a usable URL"),
        ("https://[::1/", "not a usable URL"),
        ("https://portal.example:0/", "port 0"),
        ("https://portal.example:99999/", "not a usable URL"),
        ("javascript:alert(1)", "no host"),
        ("https://./", "no host"),
        ("http://%2e%2e/", "no host"),
        ("https://ex\tample.org/", "not a usable URL"),
    ],
)
def test_urls_that_cannot_be_dialled_unambiguously_are_refused(url: str, why: str) -> None:
    with pytest.raises(UnusableUrl, match=why):
        parse(url)


def test_an_empty_authority_is_refused() -> None:
    with pytest.raises(UnusableUrl, match="no host"):
        follow(BASE, "//")


@pytest.mark.parametrize(
    ("name", "dialled"),
    [
        ("faß.example", "xn--fa-hia.example"),  # IDNA 2003 would say fass.example: another domain
        ("Bücher.Example.", "xn--bcher-kva.example"),
        ("đắk-lắk.example", "xn--k-lk-zua6066bda.example"),
    ],
)
def test_host_names_are_spelled_as_urllib3_dials_them(name: str, dialled: str) -> None:
    assert normalize_host(name) == dialled
    assert parse(f"https://{name}/").host == dialled
    assert (parse_url(f"https://{name}/").host or "").rstrip(".") == dialled


def test_the_socket_refuses_a_host_off_the_platform_whatever_parsed_the_url() -> None:
    """The last line of defence: a request that reached the session without the scope check dials nothing."""
    with HttpSiteServer(lambda _: Reply(200, (), b"ok"), host="127.0.0.2") as elsewhere:
        platform = Platform(id="p", name="P", urls=(f"http://portal.example:{elsewhere.port}/",), hosts=())
        settings = ScanSettings(timeout=1.0, retries=0)
        with HttpClient(platform, settings) as client:
            with pytest.raises(OffScopeConnection):
                client._session.get(f"http://127.0.0.2:{elsewhere.port}/", timeout=1)
            fetch = client.get(f"http://127.0.0.2:{elsewhere.port}/")
        assert fetch.error is not None and fetch.error.kind is ErrorKind.OFF_SCOPE
        assert elsewhere.connections == 0


def test_a_registered_host_is_dialled_normally() -> None:
    with HttpSiteServer(lambda _: Reply(200, (), b"ok")) as portal:
        url = f"http://portal.example:{portal.port}/"
        platform = Platform(id="p", name="P", urls=(url,), hosts=(), resolve=(("portal.example", LOOPBACK),))
        with HttpClient(platform, ScanSettings(timeout=1.0, retries=0)) as client:
            fetch = client.get(url)
    assert fetch.ok and fetch.final is not None and fetch.final.body == b"ok"
