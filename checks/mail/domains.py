"""Which endpoints are a platform's mail domains: where the per-domain mail checks run."""

from __future__ import annotations

from checks.mail.settings import FAMILY_NAME, MailSettings
from scanner.model import Endpoint, Platform


def mail_domain(endpoint: Endpoint, platform: Platform) -> str | None:
    """The mail domain ``endpoint`` stands for, or None: a "domain" endpoint, or a "host" endpoint
    whose name is also one of the platform's ``[platforms.mail] domains`` (the host endpoint then
    serves the name, and the family declares no domain endpoint for it)."""
    settings = platform.family_settings(FAMILY_NAME)
    if not isinstance(settings, MailSettings) or endpoint.kind not in ("domain", "host"):
        return None
    return endpoint.host if endpoint.host in settings.domains else None
