"""What a page's HTML says to the checks: loaded resources, forms, and policy <meta> tags. Pure.

``page_info(response)`` parses the (capped) body with the standard library's tolerant HTML parser,
so broken or truncated markup still yields what it contains. The auth family reads ``forms`` (forms
with password fields, their actions resolved against the page).
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

from checks.http.facts import HttpResponse
from checks.http.list_headers import REFERRER_POLICIES
from scanner.urls import UnusableUrl, parse, resolve_reference

#: Elements whose resource runs with the page's privileges: blocked as mixed content by browsers.
ACTIVE = {("script", "src"), ("iframe", "src"), ("frame", "src"), ("object", "data"), ("embed", "src")}
#: <link rel=...> values that load active content.
ACTIVE_LINK_RELS = {"stylesheet", "preload", "modulepreload", "import", "prefetch"}
#: Elements whose resource is only displayed (browsers upgrade or warn).
PASSIVE = {("img", "src"), ("audio", "src"), ("video", "src"), ("source", "src"), ("track", "src"), ("video", "poster")}


@dataclass(frozen=True)
class Resource:
    """A resource the page loads. ``active``: script-like (mixed content is blocked, not just shown)."""

    tag: str
    attribute: str
    url: str
    active: bool


@dataclass(frozen=True)
class FormInput:
    """A form control. ``value``: its ``value`` attribute (hidden CSRF tokens; the auth family posts them back)."""

    name: str
    type: str
    value: str = ""


@dataclass(frozen=True)
class Form:
    """A form. ``action`` is resolved against the page (and <base>); the page's URL when absent."""

    action: str
    method: str
    inputs: tuple[FormInput, ...]

    @property
    def has_password(self) -> bool:
        return any(i.type == "password" for i in self.inputs)


@dataclass(frozen=True)
class PageInfo:
    """Attributes:
    title: the <title> text.
    base: the document's base URL (the page URL, or <base href>).
    resources: resources loaded by the page, resolved to absolute URLs.
    links: absolute URLs of <a href> on the page.
    forms: every form.
    csp_meta: values of <meta http-equiv="Content-Security-Policy">.
    referrer_meta: values of <meta name="referrer">.
    """

    title: str
    base: str
    resources: tuple[Resource, ...] = ()
    links: tuple[str, ...] = ()
    forms: tuple[Form, ...] = ()
    csp_meta: tuple[str, ...] = ()
    referrer_meta: tuple[str, ...] = ()


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: list[str] = []
        self.in_title = False
        self.base: str | None = None
        self.raw_resources: list[tuple[str, str, str, bool]] = []
        self.raw_links: list[str] = []
        self.forms: list[tuple[str | None, str, list[FormInput]]] = []
        self.in_form = False
        self.csp_meta: list[str] = []
        self.referrer_meta: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): (value or "") for name, value in attrs}
        if tag == "title":
            self.in_title = True
        elif tag == "base" and self.base is None and values.get("href"):
            self.base = values["href"]
        elif tag == "meta":
            equiv = values.get("http-equiv", "").lower()
            if equiv == "content-security-policy" and values.get("content"):
                self.csp_meta.append(values["content"])
            if values.get("name", "").lower() == "referrer" and "content" in values:
                self.referrer_meta.append(values["content"])
        elif tag == "link" and values.get("href"):
            rels = set(values.get("rel", "").lower().split())
            self.raw_resources.append(("link", "href", values["href"], bool(rels & ACTIVE_LINK_RELS)))
        elif tag == "a" and values.get("href"):
            self.raw_links.append(values["href"])
        elif tag == "form":
            self.forms.append((values.get("action") or None, (values.get("method") or "get").lower(), []))
            self.in_form = True
        elif tag in ("input", "button", "select", "textarea") and self.forms and self.in_form:
            kind = values.get("type", "text" if tag == "input" else "submit" if tag == "button" else tag).lower()
            self.forms[-1][2].append(FormInput(values.get("name", ""), kind, values.get("value", "")))
        for attribute in ("src", "data", "poster"):
            if values.get(attribute) and ((tag, attribute) in ACTIVE or (tag, attribute) in PASSIVE):
                self.raw_resources.append((tag, attribute, values[attribute], (tag, attribute) in ACTIVE))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif tag == "form":
            self.in_form = False

    def handle_data(self, data: str) -> None:
        if self.in_title and len("".join(self.title)) < 500:
            self.title.append(data)


def parse_html(text: str, url: str) -> PageInfo:
    collector = _Collector()
    try:
        collector.feed(text)
        collector.close()
    except (AssertionError, ValueError):  # very broken markup: keep what was found so far
        pass
    # Resolved as browsers resolve them (and as the client dials them): see scanner.urls.
    base = resolve_reference(url, collector.base) if collector.base else url

    def absolute(ref: str) -> str:
        return resolve_reference(base, ref)

    resources = tuple(
        Resource(tag, attribute, absolute(ref), active)
        for tag, attribute, ref, active in collector.raw_resources
        if not ref.strip().lower().startswith(("javascript:", "data:", "about:", "#"))
    )
    forms = tuple(
        Form(absolute(action) if action else url, method, tuple(inputs)) for action, method, inputs in collector.forms
    )
    return PageInfo(
        title=" ".join("".join(collector.title).split()),
        base=base,
        resources=resources,
        links=tuple(absolute(ref) for ref in collector.raw_links),
        forms=forms,
        csp_meta=tuple(collector.csp_meta),
        referrer_meta=tuple(collector.referrer_meta),
    )


#: Legacy <meta name=referrer> keywords and the policy each stands for (HTML, "Standard metadata names").
_LEGACY_REFERRER = {
    "never": "no-referrer",
    "default": "strict-origin-when-cross-origin",
    "always": "unsafe-url",
    "origin-when-crossorigin": "origin-when-cross-origin",
}


def meta_referrer_policy(values: tuple[str, ...]) -> str | None:
    """The policy ``<meta name=referrer>`` elements set, or None when none applies.

    The HTML standard takes the whole content, lowercased, as one token: a list such as
    ``no-referrer, unsafe-url`` (valid in the header) or an unknown word leaves the policy unchanged.
    Each valid element sets the policy in turn, so the last one wins.
    """
    policy = None
    for value in values:
        token = value.lower()
        token = _LEGACY_REFERRER.get(token, token)
        if token in REFERRER_POLICIES:
            policy = token
    return policy


def page_info(response: HttpResponse) -> PageInfo:
    """The HTML facts of a response ("empty" for a non-HTML one)."""
    if not response.is_html:
        return PageInfo(title="", base=response.url)
    return parse_html(response.text, response.url)


def directories(info: PageInfo, origin: str, limit: int) -> list[str]:
    """Up to ``limit`` directory paths ("/static/js/") of same-origin resources and links, most used first."""
    counts: dict[str, int] = {}
    own = parse(origin)
    for url in [r.url for r in info.resources] + list(info.links):
        try:
            target = parse(url)
        except UnusableUrl:
            continue
        if not target.same_origin(own):
            continue
        path = target.path
        directory = path if path.endswith("/") else path.rsplit("/", 1)[0] + "/"
        if directory != "/" and ".." not in directory:
            counts[directory] = counts.get(directory, 0) + 1
    ranked = sorted(counts, key=lambda d: (-counts[d], d))
    return ranked[:limit]
