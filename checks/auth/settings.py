"""What the auth family reads from the targets file: the ``[platforms.auth]`` table, validated here
(the registry delegates to it). Secrets are named by environment variable, never written there.

    [platforms.auth]
    login_url = "https://dvc.example/dang-nhap"   # on one of the platform's hosts
    protected_paths = ["/quan-tri/"]
    username_env = "DVC_SCAN_USER"                 # the test account, read from the environment
    password_env = "DVC_SCAN_PASS"
    username_field = "user"                        # optional: the form's field names
    password_field = "pass"
    success_marker = "Đăng xuất"                   # optional: text shown only after logging in
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.config import unknown_key
from scanner.family import PlatformSection, Report
from scanner.model import Platform
from scanner.registry import SECRET_KEYS, url_problem
from scanner.urls import parse

FAMILY_NAME = "auth"
KEYS = {
    "login_url",
    "protected_paths",
    "username_env",
    "password_env",
    "username_field",
    "password_field",
    "success_marker",
}
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class AuthSettings:
    """How to reach a platform's login. Secrets are named by environment variable, never stored."""

    login_url: str | None = None
    protected_paths: tuple[str, ...] = ()
    username_env: str | None = None
    password_env: str | None = None
    username_field: str | None = None
    password_field: str | None = None
    success_marker: str | None = None


def configure(section: PlatformSection, report: Report) -> AuthSettings | None:
    """The platform's auth settings; None when it has no ``[platforms.auth]`` table."""
    table = section.table
    if table is None:
        return None
    for key in sorted(set(table) - KEYS):
        if key.lower() in SECRET_KEYS:
            report(key, "credentials never go in the targets file; use username_env / password_env")
        else:
            report(key, unknown_key(KEYS))
    login_url = table.get("login_url")
    if login_url is not None:
        message = url_problem(login_url) if isinstance(login_url, str) else "must be a URL"
        if not message and parse(login_url).host not in section.hosts:
            message = "is not on one of this platform's hosts"
        if message:
            report("login_url", message)
    paths = table.get("protected_paths", [])
    if not (isinstance(paths, list) and all(isinstance(p, str) and p.startswith("/") for p in paths)):
        report("protected_paths", 'must be a list of paths starting with "/"')
        paths = []
    for key in ("username_env", "password_env"):
        if key in table and not (isinstance(table[key], str) and _ENV_RE.match(table[key])):
            report(key, "must be the name of an environment variable, e.g. DVC_SCAN_USER")
    for key in ("username_field", "password_field", "success_marker"):
        if key in table and not isinstance(table[key], str):
            report(key, "must be a string")
    return AuthSettings(
        login_url=login_url if isinstance(login_url, str) else None,
        protected_paths=tuple(paths),
        username_env=table.get("username_env"),
        password_env=table.get("password_env"),
        username_field=table.get("username_field"),
        password_field=table.get("password_field"),
        success_marker=table.get("success_marker"),
    )


def auth_settings(platform: Platform) -> AuthSettings | None:
    """The platform's ``[platforms.auth]`` settings, or None when it declares none."""
    settings = platform.family_settings(FAMILY_NAME)
    return settings if isinstance(settings, AuthSettings) else None
