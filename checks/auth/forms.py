"""Login forms: which form logs in, which fields carry what, and whether an answer is logged in. Pure.

Field discovery (``targets.toml`` overrides win):

* the **form**: the first form with exactly one password field (a sign-up form has two), or the one
  holding ``password_field``;
* the **password** field: ``password_field``, else the form's password input;
* the **account** field: ``username_field``, else an ``email`` input, else a text input whose name
  says user/login/email/account (``tai_khoan``, ``ten_dang_nhap``, ``j_username``, …), else the
  text input just before the password;
* **everything else** the form carries is sent back as the page gave it: hidden inputs (CSRF tokens,
  ASP.NET ``__VIEWSTATE``) and the first named submit button; check boxes ("remember me") are left out.

Logged in? With ``success_marker``: the marker appears in the answer. Without: the answer is not an
error (status < 400) and shows no password field any more.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from html.parser import HTMLParser
from typing import ClassVar
from urllib.parse import quote, quote_plus

from checks.http.api import Form, FormInput

#: Field names that carry the account name.
USERNAME_NAME = re.compile(
    r"user|login|e-?mail|account|acct|uid|^log$|^name$|^u$|tai_?khoan|taikhoan|ten_?dang_?nhap|tendangnhap|"
    r"^tk$|ma_?can_?bo|so_?dien_?thoai|phone|cccd|cmnd",
    re.IGNORECASE,
)
_TEXT_TYPES = ("text", "email", "tel", "")
_SKIPPED_TYPES = ("checkbox", "radio", "file", "reset", "button", "image", "password")
_SUBMIT_TYPES = ("submit",)
#: CAPTCHA widgets and the word itself (reCAPTCHA, hCaptcha, Turnstile, home-made image captchas).
CAPTCHA = re.compile(r"g-recaptcha|h-captcha|hcaptcha|cf-turnstile|captcha|mã xác nhận|mã bảo vệ", re.IGNORECASE)
#: An answer speaking of a lock or of too many attempts (English and Vietnamese).
LOCKED_WORDS = re.compile(
    r"\block(?:ed|out)\b|too many|temporarily disabled|try again later|"
    r"bị khóa|bị khoá|tạm khóa|tạm khoá|khóa tài khoản|khoá tài khoản|quá nhiều|quá số lần|thử lại sau",
    re.IGNORECASE,
)
#: A URL that looks like a sign-in page (for redirects of protected paths and admin consoles).
LOGIN_URL_WORDS = re.compile(
    r"log-?in|sign-?in|signon|auth|sso|/cas/|oauth|openid|dang-?nhap|dangnhap|account/|wp-login", re.IGNORECASE
)
REDACTED = "[redacted]"
USER_MARK = "‹user›"


def password_inputs(form: Form) -> list[FormInput]:
    return [i for i in form.inputs if i.type == "password"]


def choose_login_form(forms: Sequence[Form], password_field: str | None = None) -> Form | None:
    """The form that logs in: the one with ``password_field``, else the first with exactly one password field."""
    with_password = [f for f in forms if f.has_password]
    if password_field:
        for form in forms:
            if any(i.name == password_field for i in form.inputs):
                return form
    single = [f for f in with_password if len(password_inputs(f)) == 1]
    if single:
        return single[0]
    return with_password[0] if with_password else None


def username_input(form: Form, override: str | None = None) -> str | None:
    """The name of the field the account name goes into, or None."""
    if override:
        return override
    candidates = [i for i in form.inputs if i.name and i.type in _TEXT_TYPES]
    for field in candidates:
        if field.type == "email":
            return field.name
    for field in candidates:
        if USERNAME_NAME.search(field.name):
            return field.name
    names = [i for i in form.inputs if i.name]
    password_at = next((n for n, i in enumerate(names) if i.type == "password"), len(names))
    before = [i for i in names[:password_at] if i.type in _TEXT_TYPES]
    if before:
        return before[-1].name
    return candidates[0].name if candidates else None


def password_input(form: Form, override: str | None = None) -> str | None:
    if override:
        return override
    found = [i.name for i in password_inputs(form) if i.name]
    return found[0] if found else None


def other_fields(form: Form, username_field: str, password_field: str) -> list[tuple[str, str]]:
    """The (name, value) pairs sent back besides the account and password: hidden inputs, prefilled
    text inputs, selects, and the first named submit button."""
    out: list[tuple[str, str]] = []
    submitted = False
    for field in form.inputs:
        if not field.name or field.name in (username_field, password_field):
            continue
        if field.type in _SUBMIT_TYPES:
            if not submitted:
                out.append((field.name, field.value))
                submitted = True
            continue
        if field.type in _SKIPPED_TYPES:
            continue
        out.append((field.name, field.value))
    return out


def login_data(
    form: Form, username_field: str, password_field: str, username: str, password: str
) -> list[tuple[str, str]]:
    """The body of the login POST, in the form's order."""
    data = other_fields(form, username_field, password_field)
    return [(username_field, username), (password_field, password), *data]


# -- reading answers --------------------------------------------------------------------------------


class _Text(HTMLParser):
    _HIDDEN: ClassVar[frozenset[str]] = frozenset({"script", "style", "noscript", "template", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self.skip += 1
        elif tag in ("br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "label", "span", "td", "option", "form"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and self.skip:
            self.skip -= 1
        elif tag in ("p", "div", "li", "tr", "h1", "h2", "h3", "h4", "label", "span", "td"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def visible_lines(html: str, limit: int = 300) -> list[str]:
    """The text a reader sees, one stripped line per block (scripts, styles and <head> left out)."""
    parser = _Text()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):
        pass
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return [line[:200] for line in lines if line][:limit]


def normalise_lines(lines: Iterable[str], names: Iterable[str]) -> tuple[str, ...]:
    """Lines with the given account names replaced by a mark and digits by '#' (counters, times)."""
    out = []
    for line in lines:
        out.append(re.sub(r"\d", "#", replace_all(line, names, USER_MARK)))
    return tuple(out)


def variants(value: str) -> list[str]:
    """``value`` as it may appear in text, URLs or form bodies."""
    return sorted({value, quote(value, safe=""), quote_plus(value), quote(value)}, key=len, reverse=True)


def replace_all(text: str, values: Iterable[str], mark: str = REDACTED) -> str:
    """``text`` with every spelling of each value (as is, URL-encoded; any letter case) replaced by ``mark``."""
    for value in values:
        if not value:
            continue
        for form in variants(value):
            if form.lower() in text.lower():
                text = re.sub(re.escape(form), lambda _: mark, text, flags=re.IGNORECASE)
    return text


def looks_like_login_url(url: str) -> bool:
    return bool(LOGIN_URL_WORDS.search(url))
