"""banner.forbidden_server: collect once (through platscan's scoped HTTP client), judge purely."""

from __future__ import annotations

from typing import ClassVar

from checks.http.api import HttpClient
from platscan_banner import BannerSettings
from scanner.messages import say
from scanner.model import Cap, Endpoint, Platform, Result, Severity, Status
from scanner.plugin import Check, ScanContext, ScanSettings, Verdict


def collect_server(platform: Platform, settings: ScanSettings, url: str) -> str | None:
    """The Server header of ``url`` (None when there is none); raises when the URL cannot be fetched.

    Runs in a collector process. The client contacts only the platform's registered hosts."""
    with HttpClient(platform, settings) as client:
        fetch = client.get(url, follow=False)
    if fetch.first is None:
        raise RuntimeError(fetch.error.message if fetch.error else "no response")
    return fetch.first.header("Server")


def judge(server: str | None, forbidden: tuple[str, ...]) -> Verdict:
    named = [product for product in forbidden if server and product.lower() in server.lower()]
    if named:
        return Verdict(
            Status.FAIL, say("banner.named", "The Server header names {products}.", products=named), {"server": server}
        )
    return Verdict(
        Status.PASS, say("banner.clean", "The Server header names no forbidden product."), {"server": server or ""}
    )


class ForbiddenServer(Check):
    id: ClassVar[str] = "banner.forbidden_server"
    family: ClassVar[str] = "banner"
    title: ClassVar[str] = "Server header products"
    finding: ClassVar[str] = "The Server header names a forbidden product"
    severity: ClassVar[Severity] = Severity.MEDIUM
    why: ClassVar[str] = "A product name in the Server header tells attackers which exploits to try."
    remediation: ClassVar[str] = "Hide the product name: nginx `server_tokens off;`, Apache `ServerTokens Prod`."
    caps: ClassVar[tuple[Cap, ...]] = (Cap("C"),)

    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        settings = ctx.platform.family_settings("banner") or BannerSettings()
        server = ctx.collect(
            ("banner", ctx.platform.id, endpoint.target), collect_server, ctx.platform, ctx.settings, endpoint.target
        )
        return [self.from_verdict(endpoint, judge(server, settings.forbidden))]
