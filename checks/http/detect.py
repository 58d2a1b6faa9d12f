"""Content detectors: is this an exposed file, an autoindex page, a stack trace? Pure functions.

Status codes lie (many servers answer 200 to everything), so each decision rests on what the body
contains (magic bytes, formats, markers of a product) and is checked against the soft-404 baseline:
a response whose body is the same as the answer to a random nonexistent path proves nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from checks.http.facts import HttpResponse
from scanner.messages import Message, Text, say
from scanner.model import Severity

# -- sensitive files ----------------------------------------------------------------------------------


def _text(body: bytes) -> str:
    return body[:16384].decode("utf-8", errors="replace")


def _not_html(body: bytes) -> bool:
    head = body.lstrip()[:200].lower()
    return not head.startswith((b"<!doctype", b"<html", b"<head", b"<body", b"<?xml", b"<div", b"<!--", b"<p"))


def _git_head(body: bytes) -> bool:
    text = _text(body).strip()
    return bool(re.fullmatch(r"ref: refs/[\w./-]+|[0-9a-f]{40}|[0-9a-f]{64}", text))


def _git_config(body: bytes) -> bool:
    text = _text(body)
    return _not_html(body) and "[core]" in text and ("repositoryformatversion" in text or "filemode" in text)


def _dotenv(body: bytes) -> bool:
    if not _not_html(body):
        return False
    lines = [line.strip() for line in _text(body).splitlines() if line.strip() and not line.strip().startswith("#")]
    assignments = [line for line in lines if re.match(r"^(export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=", line)]
    return len(assignments) >= 2 and len(assignments) >= 0.6 * len(lines)


def _svn_entries(body: bytes) -> bool:
    text = _text(body)
    first = text.split("\n", 1)[0].strip()
    return _not_html(body) and ((first.isdigit() and int(first) in range(4, 40)) or "svn:wc:" in text)


def _ds_store(body: bytes) -> bool:
    return body[:8] == b"\x00\x00\x00\x01Bud1"


def _server_status(body: bytes) -> bool:
    text = _text(body)
    apache = "Apache Server Status for" in text or ("Server uptime" in text and "Total accesses" in text)
    nginx = text.lstrip().startswith("Active connections:") and "server accepts handled requests" in text
    return apache or nginx


def _phpinfo(body: bytes) -> bool:
    text = _text(body)
    return "<title>phpinfo()</title>" in text or ('class="p"' in text and "PHP Version" in text)


def _zip(body: bytes) -> bool:
    return body[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def _gzip(body: bytes) -> bool:
    return body[:3] == b"\x1f\x8b\x08"


def _sql_dump(body: bytes) -> bool:
    if not _not_html(body):
        return False
    text = _text(body)
    markers = ("-- MySQL dump", "-- MariaDB dump", "-- PostgreSQL database dump", "-- phpMyAdmin SQL Dump")
    if any(m in text for m in markers):
        return True
    return bool(re.search(r"^\s*(CREATE TABLE|INSERT INTO)\b", text, re.IGNORECASE | re.MULTILINE))


@dataclass(frozen=True)
class SensitiveFile:
    """A well-known path and how to recognise its content.

    Attributes:
        path: the path probed.
        what: what it is, for a report.
        severity: how bad an exposure is.
        detect: recognises the file's content in a body prefix.
    """

    path: str
    what: Message
    severity: Severity
    detect: Callable[[bytes], bool]


SENSITIVE_FILES: tuple[SensitiveFile, ...] = (
    SensitiveFile(
        "/.git/HEAD",
        say("http.sensitive_files.git_head", "a Git repository: source code and its history"),
        Severity.HIGH,
        _git_head,
    ),
    SensitiveFile(
        "/.git/config",
        say("http.sensitive_files.git_config", "a Git repository's configuration"),
        Severity.HIGH,
        _git_config,
    ),
    SensitiveFile(
        "/.env",
        say("http.sensitive_files.dotenv", "an environment file (typically database passwords and API keys)"),
        Severity.CRITICAL,
        _dotenv,
    ),
    SensitiveFile(
        "/.svn/entries", say("http.sensitive_files.svn", "a Subversion working copy"), Severity.HIGH, _svn_entries
    ),
    SensitiveFile(
        "/.DS_Store",
        say("http.sensitive_files.ds_store", "a macOS folder index listing file names"),
        Severity.MEDIUM,
        _ds_store,
    ),
    SensitiveFile(
        "/server-status",
        say("http.sensitive_files.server_status", "the web server's live status page"),
        Severity.MEDIUM,
        _server_status,
    ),
    SensitiveFile(
        "/phpinfo.php",
        say("http.sensitive_files.phpinfo", "a phpinfo() page showing configuration and environment"),
        Severity.MEDIUM,
        _phpinfo,
    ),
    SensitiveFile("/backup.zip", say("http.sensitive_files.zip", "a ZIP backup"), Severity.CRITICAL, _zip),
    SensitiveFile("/db.sql", say("http.sensitive_files.sql", "a database dump"), Severity.CRITICAL, _sql_dump),
    SensitiveFile(
        "/www.tar.gz", say("http.sensitive_files.archive", "a compressed archive of the site"), Severity.CRITICAL, _gzip
    ),
)


def same_as_baseline(response: HttpResponse, baseline: HttpResponse | None) -> bool:
    """Whether ``response`` is the server's answer to any unknown path (soft 404)."""
    if baseline is None or baseline.status != response.status:
        return False
    a, b = response.body.strip(), baseline.body.strip()
    if a == b:
        return True
    # Soft-404 pages often echo the requested path: compare with the paths taken out.
    return _without_paths(a, response.url) == _without_paths(b, baseline.url)


def _without_paths(body: bytes, url: str) -> bytes:
    from urllib.parse import urlsplit

    path = urlsplit(url).path.encode("utf-8", "replace")
    return body.replace(path, b"").replace(path.lstrip(b"/"), b"") if path.strip(b"/") else body


def exposed(file: SensitiveFile, response: HttpResponse, baseline: HttpResponse | None) -> bool:
    """The probe of ``file`` returned the file itself (2xx, recognisable content, not the soft-404 page)."""
    if not 200 <= response.status < 300 or not response.body:
        return False
    if not file.detect(response.body):
        return False
    if baseline is not None and 200 <= baseline.status < 300 and file.detect(baseline.body):
        return False  # the server answers everything with content that looks like this file
    return not same_as_baseline(response, baseline)


# -- directory listings -------------------------------------------------------------------------------

#: (how a report names it, how to recognise it); its English name is the kind the facts record.
_AUTOINDEX: tuple[tuple[Message, re.Pattern[str]], ...] = (
    (
        say("http.directory_listing.autoindex", "Apache/nginx/lighttpd autoindex"),
        re.compile(r"<title>\s*Index of /", re.IGNORECASE),
    ),
    (
        say("http.directory_listing.autoindex_h1", "Apache/nginx autoindex"),
        re.compile(r"<h1>\s*Index of /", re.IGNORECASE),
    ),
    (
        say("http.directory_listing.iis", "IIS directory browsing"),
        re.compile(r"\[To Parent Directory\]"),
    ),
    (
        say("http.directory_listing.python", "Python http.server listing"),
        re.compile(r"<title>\s*Directory listing for /", re.IGNORECASE),
    ),
    (
        say("http.directory_listing.tomcat", "Tomcat directory listing"),
        re.compile(r"<title>\s*Directory Listing For /", re.IGNORECASE),
    ),
    (
        say("http.directory_listing.jetty", "Jetty directory listing"),
        re.compile(r"<title>\s*Directory: /", re.IGNORECASE),
    ),
)


def autoindex(response: HttpResponse, baseline: HttpResponse | None) -> str | None:
    """Which server's directory listing ``response`` is (its kind), or None."""
    if not 200 <= response.status < 300 or not response.body or same_as_baseline(response, baseline):
        return None
    text = response.text[:65536]
    for label, pattern in _AUTOINDEX:
        if pattern.search(text):
            return label.text
    return None


def autoindex_label(kind: str) -> Text:
    """How a report names a directory listing's ``kind`` (``autoindex``), in any language."""
    return next((label for label, _ in _AUTOINDEX if label.text == kind), kind)


# -- error disclosure ---------------------------------------------------------------------------------


def _signature(name: str, label: Message, *alternatives: str) -> tuple[str, Message, re.Pattern[str]]:
    return name, label, re.compile("|".join(alternatives))


#: (name, how a report names it, how to recognise it).
ERROR_SIGNATURES: tuple[tuple[str, Message, re.Pattern[str]], ...] = (
    _signature(
        "Python traceback",
        say("http.error_disclosure.python", "Python traceback"),
        r"Traceback \(most recent call last\):",
    ),
    _signature(
        "Django debug page",
        say("http.error_disclosure.django", "Django debug page"),
        r"You(?:'|&#x27;|&#39;)re seeing this error because you have <code>DEBUG = True",
    ),
    _signature(
        "Werkzeug debugger",
        say("http.error_disclosure.werkzeug", "Werkzeug debugger"),
        r"Werkzeug Debugger",
        r"The debugger caught an exception in your WSGI application",
    ),
    _signature(
        "PHP error message",
        say("http.error_disclosure.php", "PHP error message"),
        r"<b>(?:Fatal error|Parse error|Warning|Notice|Deprecated)</b>:.{0,400}? on line <b>\d+",
        r"PHP (?:Fatal error|Parse error|Warning):\s+.{0,400}? on line \d+",
    ),
    _signature(
        "Laravel / Whoops debug page",
        say("http.error_disclosure.laravel", "Laravel / Whoops debug page"),
        r"Whoops(?:, looks like something went wrong|! There was an error)",
    ),
    _signature(
        "Symfony exception page",
        say("http.error_disclosure.symfony", "Symfony exception page"),
        r"Symfony\\Component\\[A-Za-z\\]+Exception",
        r"<abbr title=\"Symfony\\",
    ),
    _signature(
        "ASP.NET error page",
        say("http.error_disclosure.aspnet", "ASP.NET error page"),
        r"Server Error in '[^']*' Application",
        r"An unhandled exception occurred during the execution",
    ),
    _signature(
        ".NET stack trace",
        say("http.error_disclosure.dotnet", ".NET stack trace"),
        r"\bat System\.[\w.`]+\(.*\)",
        r"\bat Microsoft\.[\w.`]+\(.*\)",
    ),
    _signature(
        "Java stack trace",
        say("http.error_disclosure.java_trace", "Java stack trace"),
        r"\bat (?:java|javax|jakarta|org\.apache|org\.springframework|com\.sun)\.[\w.$]+\(",
    ),
    _signature(
        "Java exception",
        say("http.error_disclosure.java_exception", "Java exception"),
        r"\b(?:java\.lang|javax\.servlet|jakarta\.servlet)\.\w*(?:Exception|Error)\b",
    ),
    _signature(
        "Ruby on Rails debug page",
        say("http.error_disclosure.rails", "Ruby on Rails debug page"),
        r"Action Controller: Exception caught",
        r"ActionController::RoutingError",
    ),
    _signature(
        "Node.js stack trace",
        say("http.error_disclosure.node", "Node.js stack trace"),
        r"\bat (?:Layer\.handle|Module\._compile|Object\.<anonymous>|processTicksAndRejections)\b",
    ),
    _signature("Go panic", say("http.error_disclosure.go", "Go panic"), r"goroutine \d+ \[running\]:"),
    _signature(
        "SQL error",
        say("http.error_disclosure.sql", "SQL error"),
        r"You have an error in your SQL syntax",
        r"SQLSTATE\[\w+\]",
        r"\bORA-\d{5}:",
        r"Unclosed quotation mark after the character string",
        r"pg_query\(\): Query failed",
        r"org\.postgresql\.util\.PSQLException",
    ),
)


def error_signatures(response: HttpResponse) -> list[tuple[str, str]]:
    """(what, excerpt) for each stack trace or debug-page marker in the body."""
    text = response.text
    found: list[tuple[str, str]] = []
    names: set[str] = set()
    for name, _, pattern in ERROR_SIGNATURES:
        match = pattern.search(text)
        if match and name not in names:
            names.add(name)
            start = max(0, match.start() - 40)
            found.append((name, " ".join(text[start : match.end() + 80].split())[:240]))
    return found


def error_label(name: str) -> Text:
    """How a report names the error signature ``name`` (``error_signatures``), in any language."""
    return next((label for known, label, _ in ERROR_SIGNATURES if known == name), name)


# -- version strings in pages ---------------------------------------------------------------------------

PAGE_VERSION_SIGNATURES: tuple[re.Pattern[str], ...] = (
    re.compile(r"<address>\s*((?:Apache|lighttpd)/\d[\w.]*(?: \([^)<]*\))?)[^<]*Server at", re.IGNORECASE),
    re.compile(r"<center>\s*((?:nginx|openresty|tengine)/\d[\w.]*)\s*</center>", re.IGNORECASE),
    re.compile(r"<h3>\s*(Apache Tomcat/\d[\w.]*)\s*</h3>", re.IGNORECASE),
    re.compile(r"\b(Apache Tomcat/\d[\w.]*) - Error report", re.IGNORECASE),
    re.compile(r"(Microsoft-IIS/\d[\d.]*)"),
)


def page_versions(response: HttpResponse) -> list[str]:
    """Server versions printed in a (typically default error) page body."""
    if not response.body:
        return []
    text = response.text[:65536]
    found: list[str] = []
    for pattern in PAGE_VERSION_SIGNATURES:
        for match in pattern.finditer(text):
            value = " ".join(match.group(1).split())
            if value not in found:
                found.append(value)
    return found
