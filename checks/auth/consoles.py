"""Admin consoles: is the answer at a well-known admin path a real console? Pure.

Judged from content, never from a status code alone (many servers answer 200 to everything, or
redirect every unknown path to a login page). An answer proves nothing when it is the same as the
answer to a random nonexistent path (the http family's soft-404 baseline, ``detect.same_as_baseline``,
with redirect targets compared with the requested path taken out) or the same as the home page.
What remains is a console when it shows:

* a product's markers (phpMyAdmin, WordPress, Joomla, Django admin, Tomcat Manager, Jenkins,
  Spring Boot Actuator JSON, OpenAPI descriptions, Swagger UI, H2, WildFly, WebLogic, Werkzeug), or
* a login form at the admin path, or
* an admin title or heading (admin, administration, dashboard, quản trị, …), or
* an HTTP authentication challenge (401 with WWW-Authenticate) that unknown paths do not get.

A console that demands authentication (login form, HTTP authentication, a redirect to a sign-in
page) is still *exposed*: the criteria want admin interfaces off the public network. But a login
that is provably the platform's *ordinary* user login (the declared ``login_url``, the same login
form as the registered page or the login page, or the same single sign-on page) is no console of its
own: ``Console.ordinary`` says which, and the check only warns about it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from checks.auth.forms import looks_like_login_url
from checks.http.api import Fetch, Form, HttpResponse, PageInfo, page_info, same_as_baseline, same_resource
from scanner.evidence import shorten
from scanner.messages import Message, Param, say

#: The well-known admin paths probed on every registered URL's origin (catalogue: auth.admin_exposed).
ADMIN_PATHS: tuple[str, ...] = (
    "/admin",
    "/administrator",
    "/quantri",
    "/wp-admin",
    "/wp-login.php",
    "/phpmyadmin",
    "/manager/html",
    "/actuator",
    "/actuator/env",
    "/swagger-ui",
    "/api-docs",
    "/console",
    "/jenkins",
)

OPEN = "open"
LOGIN_FORM = "login form"
HTTP_AUTH = "HTTP authentication"
SIGN_IN_REDIRECT = "sign-in redirect"

#: What platscan calls a console it cannot name (a product's own name is data, the same in every language).
SIGN_IN_ELSEWHERE = "sign-in elsewhere"
ORDINARY_LOGIN = "ordinary user login"
ADMIN_LOGIN = "admin login page"
ADMIN_PAGE = "admin page"
ADMIN_AREA = "admin area"


def access_said(access: str) -> Message:
    """How a console's access (``OPEN``, ``LOGIN_FORM``, ...) reads in a report."""
    if access == LOGIN_FORM:
        return say("auth.console.login_form", "login form")
    if access == HTTP_AUTH:
        return say("auth.console.http_auth", "HTTP authentication")
    if access == SIGN_IN_REDIRECT:
        return say("auth.console.sign_in_redirect", "sign-in redirect")
    return say("auth.console.open", "open")


def product_said(product: str) -> Param:
    """A console's product in a report: a product's name as it is, platscan's own words as a message."""
    if product == SIGN_IN_ELSEWHERE:
        return say("auth.console.sign_in_elsewhere", "sign-in elsewhere")
    if product == ORDINARY_LOGIN:
        return say("auth.console.ordinary_login", "ordinary user login")
    if product == ADMIN_LOGIN:
        return say("auth.console.admin_login", "admin login page")
    if product == ADMIN_PAGE:
        return say("auth.console.admin_page", "admin page")
    if product == ADMIN_AREA:
        return say("auth.console.admin_area", "admin area")
    return product


ADMIN_TITLE = re.compile(
    r"\badmin\b|administrat|dashboard|control panel|management console|console\b|"
    r"quản trị|quản lý hệ thống|bảng điều khiển|trang quản lý|quan tri",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Console:
    """An admin console found at a probed path.

    Attributes:
        path: the path probed.
        url: where the answer came from (after redirects on the platform's hosts).
        product: what it is ("phpMyAdmin", "Tomcat Manager", "admin page", …).
        access: "open", "login form", "HTTP authentication" or "sign-in redirect".
        status: the final status code.
        title: the page title, if any.
        size: bytes of body read.
        ordinary: why the login it leads to is the platform's ordinary user login ("the declared
            login_url", …), or None when it is not (or not provably).
    """

    path: str
    url: str
    product: str
    access: str
    status: int
    title: str = ""
    size: int = 0
    ordinary: Message | None = None

    @property
    def demands_auth(self) -> bool:
        return self.access != OPEN

    def evidence(self) -> dict[str, object]:
        out: dict[str, object] = {
            "path": self.path,
            "url": shorten(self.url, 200),
            "status": self.status,
            "product": self.product,
            "access": self.access,
            "size": self.size,
        }
        if self.title:
            out["title"] = shorten(self.title, 120)
        if self.ordinary is not None:
            out["ordinary_login"] = str(self.ordinary)
        return out


FormKey = tuple[str, str, tuple[tuple[str, str], ...]]


def form_key(form: Form) -> FormKey:
    """What makes two login forms the same login: where they post and the fields a user fills in.
    Queries (``?next=/admin/``), hidden values (CSRF tokens) and submit buttons vary between renderings."""
    action = form.action.split("#", 1)[0].split("?", 1)[0]
    fields = sorted((i.name, i.type) for i in form.inputs if i.name and i.type not in ("hidden", "submit"))
    return action, (form.method or "get").upper(), tuple(fields)


def _bare(url: str) -> str:
    return url.split("#", 1)[0].split("?", 1)[0]


@dataclass(frozen=True)
class OrdinaryLogin:
    """The platform's ordinary user login, to tell an admin path that merely leads there from a console.

    Attributes:
        login_url: the declared ``login_url``, if any.
        forms: (where it was found, key) of each login form on the registered page and the login page.
        sign_in: where ``login_url`` redirects off the platform (single sign-on), if it does.
    """

    login_url: str | None = None
    forms: tuple[tuple[str, FormKey], ...] = ()
    sign_in: str | None = None

    def same_page(self, url: str) -> Message | None:
        if self.login_url and same_resource(_bare(url), _bare(self.login_url)):
            return say("auth.console.declared_login", "the declared login_url")
        return None

    def same_form(self, info: PageInfo) -> Message | None:
        keys = {form_key(f) for f in info.forms if f.has_password}
        found = next((where for where, key in self.forms if key in keys), "")
        if not found:
            return None
        return say("auth.console.same_form", "the same login form as {url}", url=shorten(found, 200))

    def same_sign_in(self, target: str) -> Message | None:
        if self.sign_in and same_resource(_bare(target), _bare(self.sign_in)):
            return say("auth.console.same_sign_in", "the same sign-in page as the declared login_url")
        return None


@dataclass(frozen=True)
class Probed:
    """What one probe showed: a console, or why it is not one (``note``)."""

    path: str
    console: Console | None
    note: str


def _text(response: HttpResponse) -> str:
    return response.text[:65536]


def _json(response: HttpResponse) -> object | None:
    head = response.body.lstrip()[:1]
    if head not in (b"{", b"["):
        return None
    try:
        doc: object = json.loads(response.text)
    except ValueError:
        return None
    return doc


# product detectors: (product, test) where test returns the access ("open"/"login form") or None


def _phpmyadmin(r: HttpResponse, text: str, info: PageInfo) -> str | None:
    if "phpmyadmin" not in text.lower() or not ("pma_" in text or "phpMyAdmin" in info.title):
        return None
    return LOGIN_FORM if ("pma_username" in text or _has_login(info)) else OPEN


def _wordpress(r: HttpResponse, text: str, info: PageInfo) -> str | None:
    if "wp-login.php" in text or ("wp-submit" in text and 'name="log"' in text):
        return LOGIN_FORM if _has_login(info) else OPEN
    if "/wp-admin/" in text and "wp-" in info.title.lower():
        return OPEN
    return None


def _joomla(r: HttpResponse, text: str, info: PageInfo) -> str | None:
    if "joomla" not in text.lower() or not ("com_login" in text or "mod-login" in text or "option=com_" in text):
        return None
    return LOGIN_FORM if _has_login(info) else OPEN


def _django(r: HttpResponse, text: str, info: PageInfo) -> str | None:
    if "Django administration" not in text and "Django site admin" not in info.title:
        return None
    return LOGIN_FORM if _has_login(info) else OPEN


def _tomcat(r: HttpResponse, text: str, info: PageInfo) -> str | None:
    return OPEN if "Tomcat Web Application Manager" in text else None


def _jenkins(r: HttpResponse, text: str, info: PageInfo) -> str | None:
    if r.header("X-Jenkins") is None and "Jenkins" not in info.title:
        return None
    return LOGIN_FORM if ("j_username" in text or _has_login(info) or r.status in (401, 403)) else OPEN


def _actuator(r: HttpResponse, text: str, info: PageInfo) -> str | None:
    doc = _json(r)
    if isinstance(doc, dict) and ("propertySources" in doc or "activeProfiles" in doc):
        return OPEN
    if isinstance(doc, dict) and isinstance(doc.get("_links"), dict) and "actuator" in text:
        return OPEN
    return None


def _openapi(r: HttpResponse, text: str, info: PageInfo) -> str | None:
    doc = _json(r)
    if isinstance(doc, dict) and ("openapi" in doc or "swagger" in doc) and "paths" in doc:
        return OPEN
    if doc is None and re.search(r'"(?:openapi|swagger)"\s*:\s*"\d', text[:4096]) and '"paths"' in text:
        return OPEN  # a description cut at the size cap
    return None


def _swagger_ui(r: HttpResponse, text: str, info: PageInfo) -> str | None:
    return OPEN if ("swagger-ui" in text or info.title.strip().lower() == "swagger ui") else None


def _java_consoles(r: HttpResponse, text: str, info: PageInfo) -> str | None:
    markers = ("H2 Console", "HAL Management Console", "WebLogic Server Administration Console", "JBoss")
    if not any(m in text for m in markers):
        return None
    return LOGIN_FORM if _has_login(info) else OPEN


def _werkzeug_console(r: HttpResponse, text: str, info: PageInfo) -> str | None:
    return OPEN if ("Interactive Console" in text and "werkzeug" in text.lower()) else None


Detector = Callable[[HttpResponse, str, PageInfo], str | None]
PRODUCTS: tuple[tuple[str, Detector], ...] = (
    ("phpMyAdmin", _phpmyadmin),
    ("WordPress", _wordpress),
    ("Joomla", _joomla),
    ("Django admin", _django),
    ("Tomcat Manager", _tomcat),
    ("Jenkins", _jenkins),
    ("Spring Boot Actuator", _actuator),
    ("OpenAPI description", _openapi),
    ("Swagger UI", _swagger_ui),
    ("Java application server console", _java_consoles),
    ("Werkzeug interactive console", _werkzeug_console),
)
#: WWW-Authenticate realms (and headers) that name a product.
REALM_PRODUCTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Tomcat Manager", re.IGNORECASE), "Tomcat Manager"),
    (re.compile(r"Tomcat Host Manager", re.IGNORECASE), "Tomcat Host Manager"),
    (re.compile(r"jenkins", re.IGNORECASE), "Jenkins"),
    (re.compile(r"phpmyadmin", re.IGNORECASE), "phpMyAdmin"),
    (re.compile(r"jboss|wildfly|ManagementRealm", re.IGNORECASE), "JBoss/WildFly console"),
)


def _has_login(info: PageInfo) -> bool:
    return any(form.has_password for form in info.forms)


def without_path(text: str, url: str) -> str:
    """``text`` with the path of ``url`` taken out (raw and URL-encoded): redirects often carry it."""
    path = urlsplit(url).path
    if not path.strip("/"):
        return text
    for form in sorted({path, quote(path, safe=""), path.lstrip("/")}, key=len, reverse=True):
        text = text.replace(form, "")
    return text


def like_baseline(response: HttpResponse, baseline: HttpResponse | None) -> bool:
    """The server's answer to any unknown path: same status and body (``detect.same_as_baseline``) and,
    for redirects, the same target once the requested paths are taken out."""
    if baseline is None or not same_as_baseline(response, baseline):
        return False
    if response.is_redirect or baseline.is_redirect:
        return without_path(response.location or "", response.url) == without_path(
            baseline.location or "", baseline.url
        )
    return True


def realm(response: HttpResponse) -> str:
    return ", ".join(response.values("WWW-Authenticate"))


def identify(
    path: str,
    fetch: Fetch,
    baseline: HttpResponse | None,
    home: HttpResponse | None,
    ordinary: OrdinaryLogin | None = None,
) -> Probed:
    """Whether ``fetch`` (the probe of ``path``, redirects on the platform followed) shows an admin console."""
    ordinary = ordinary or OrdinaryLogin()
    first, final = fetch.first, fetch.final
    if first is None or final is None:
        reason = fetch.error.message if fetch.error is not None else "no response"
        return Probed(path, None, f"no answer: {reason}")
    if like_baseline(first, baseline):
        return Probed(path, None, f"{first.status}, the same answer as any unknown path")
    if fetch.blocked_redirect:
        target = fetch.blocked_redirect
        if looks_like_login_url(target):
            same = ordinary.same_sign_in(target)
            console = Console(path, target, SIGN_IN_ELSEWHERE, SIGN_IN_REDIRECT, final.status, ordinary=same)
            return Probed(path, console, f"redirects to a sign-in page off the platform ({shorten(target, 120)})")
        return Probed(path, None, f"redirects off the platform to {shorten(target, 120)} (not followed)")
    if fetch.error is not None:
        return Probed(path, None, f"{final.status}, then: {fetch.error.message}")
    if final is not first and like_baseline(final, baseline):
        return Probed(path, None, f"redirects to the same answer as any unknown path ({final.status})")
    info = page_info(final)
    text = _text(final)
    title = info.title
    size = len(final.body)
    if final.status in (401, 407) and final.values("WWW-Authenticate"):
        challenge = realm(final)
        product = next((name for pattern, name in REALM_PRODUCTS if pattern.search(challenge)), "")
        if not product:
            product = next((name for name, test in PRODUCTS if test(final, text, info)), ADMIN_AREA)
        return Probed(
            path,
            Console(path, final.url, product, HTTP_AUTH, final.status, title, size),
            f"{final.status}, asks for HTTP authentication ({shorten(challenge, 120)})",
        )
    if final.status >= 400 and not (final.status == 403 and final.header("X-Jenkins") is not None):
        return Probed(path, None, f"{final.status} {final.reason}".strip())
    if not 200 <= final.status < 300 and final.status != 403:
        return Probed(path, None, f"{final.status} {final.reason}".strip())
    if home is not None and final.status == home.status and final.body.strip() == home.body.strip() and final.body:
        return Probed(path, None, f"{final.status}, the same page as the registered URL")
    for name, test in PRODUCTS:
        access = test(final, text, info)
        if access is not None:
            return Probed(path, Console(path, final.url, name, access, final.status, title, size), f"{name} ({access})")
    if final.status == 403:
        return Probed(path, None, "403 Forbidden")
    if _has_login(info):
        # A product's own login was recognised above; this one may be the ordinary user login.
        same = ordinary.same_page(final.url) or ordinary.same_form(info)
        product = ORDINARY_LOGIN if same is not None else ADMIN_LOGIN
        console = Console(path, final.url, product, LOGIN_FORM, final.status, title, size, same)
        return Probed(path, console, f"the ordinary login ({same})" if same is not None else "login form")
    headings = " ".join([title, *re.findall(r"<h1[^>]*>(.*?)</h1>", text[:16384], re.IGNORECASE | re.DOTALL)])
    if ADMIN_TITLE.search(headings):
        return Probed(path, Console(path, final.url, ADMIN_PAGE, OPEN, final.status, title, size), "admin page")
    return Probed(path, None, f"{final.status}, nothing identifies an admin console")
