"""What the platform exposes beyond its pages: CORS grants, TRACE, directory listings, sensitive files,
stack traces, and (the good kind) a security.txt contact. Exposure is decided from content, checked
against the answer to a random nonexistent path, never from a status code alone."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, ClassVar
from urllib.parse import urlsplit

from checks.http.base import HttpCheck, no_response, page_evidence, probe_failed, worst_severity
from checks.http.detect import (
    SENSITIVE_FILES,
    SensitiveFile,
    autoindex,
    autoindex_label,
    error_label,
    error_signatures,
    exposed,
)
from checks.http.facts import Fetch, HttpFacts, HttpResponse
from checks.http.security_txt import parse_security_txt
from scanner.evidence import clip, finding_key, shorten
from scanner.messages import Message, Text, say
from scanner.model import Cap, Severity, Status
from scanner.plugin import Verdict
from scanner.wording import listed

_ORIGIN_HEADERS = ("Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods")


def _baseline(facts: HttpFacts) -> HttpResponse | None:
    return facts.not_found.final if facts.not_found is not None else None


def _baseline_note(baseline: HttpResponse | None) -> Text:
    if baseline is not None and 200 <= baseline.status < 300:
        return say(
            "http.soft_404_note",
            "; the server answers {status} to any unknown path, so content decided",
            status=baseline.status,
        )
    return ""


class Cors(HttpCheck):
    id: ClassVar[str] = "http.cors"
    title: ClassVar[str] = "CORS policy"
    finding: ClassVar[str] = "CORS grants arbitrary origins access to the platform's responses"
    severity: ClassVar[Severity] = Severity.HIGH
    caps: ClassVar[tuple[Cap, ...]] = (Cap("C", note="credentials readable by any origin"),)
    needs_page: ClassVar[bool] = False
    why: ClassVar[str] = (
        "If the platform echoes any Origin back together with Access-Control-Allow-Credentials: true, every "
        "website a logged-in user visits can read that user's data from the platform through the browser."
    )
    remediation: ClassVar[str] = (
        "Allow credentials only for an explicit list of trusted origins, compared exactly; never reflect the "
        "request's Origin unchecked, and never pair `*` with credentials.\n"
        'nginx: `map $http_origin $cors_ok { default ""; "https://{host}" $http_origin; }` then '
        "`add_header Access-Control-Allow-Origin $cors_ok always; add_header Vary Origin always;`\n"
        'Apache: `SetEnvIf Origin "^https://{host_regex}$" CORS_OK=$0` and `Header always set '
        "Access-Control-Allow-Origin %{CORS_OK}e env=CORS_OK`\n"
        'IIS (CORS module): `<cors enabled="true"><add origin="https://{host}" allowCredentials="true" '
        "/></cors>`; fix the framework's CORS policy (e.g. ASP.NET `WithOrigins(...)`, not `SetIsOriginAllowed(_ "
        "=> true)`)."
    )

    def judge(self, facts: HttpFacts) -> Verdict:
        evidence = page_evidence(facts)
        evidence["origin_sent"] = facts.foreign_origin
        probes = [("preflight OPTIONS", facts.cors_preflight), ("GET with Origin", facts.cors_get)]
        answered = [(label, fetch.final) for label, fetch in probes if fetch is not None and fetch.final is not None]
        if not answered:
            reasons = [probe_failed(fetch) or "" for _, fetch in probes]
            return Verdict(
                Status.ERROR,
                say("http.cors.no_answer", "The CORS probes got no answer: {reason}", reason=reasons[0]),
                evidence,
            )
        findings: list[tuple[Status, Severity, Message]] = []
        seen: list[dict[str, Any]] = []
        for label, response in answered:
            assert response is not None
            origins = response.values("Access-Control-Allow-Origin")
            if not origins:
                continue
            lines = [line for name in _ORIGIN_HEADERS for line in response.lines(name)]
            seen.append({"probe": label, "status": response.status, "headers": lines})
            allowed = origins[0].strip()
            credentials = (response.header("Access-Control-Allow-Credentials") or "").strip().lower() == "true"
            if len(origins) > 1 or "," in allowed:
                findings.append(
                    (
                        Status.WARN,
                        Severity.LOW,
                        say("http.cors.several", "several Access-Control-Allow-Origin values (browsers reject them)"),
                    )
                )
            elif allowed == facts.foreign_origin and credentials:
                findings.append(
                    (
                        Status.FAIL,
                        Severity.HIGH,
                        say(
                            "http.cors.reflects_credentials",
                            "it reflects an arbitrary Origin ({origin}) with Access-Control-Allow-Credentials: true: "
                            "any website can read a logged-in user's data",
                            origin=facts.foreign_origin,
                        ),
                    )
                )
            elif allowed == "null" and credentials:
                findings.append(
                    (
                        Status.FAIL,
                        Severity.HIGH,
                        say(
                            "http.cors.null_origin",
                            "it allows the null origin (sandboxed pages, local files) with credentials",
                        ),
                    )
                )
            elif allowed == "*" and credentials:
                findings.append(
                    (
                        Status.FAIL,
                        Severity.MEDIUM,
                        say(
                            "http.cors.wildcard_credentials",
                            "it sends Access-Control-Allow-Origin: * with Access-Control-Allow-Credentials: true "
                            "(browsers refuse the pair, but it shows a permissive policy that is often 'fixed' by "
                            "reflecting the Origin)",
                        ),
                    )
                )
            elif allowed == facts.foreign_origin:
                findings.append(
                    (
                        Status.WARN,
                        Severity.LOW,
                        say(
                            "http.cors.reflects",
                            "it reflects an arbitrary Origin ({origin}) without credentials: any site can read its "
                            "public responses",
                            origin=facts.foreign_origin,
                        ),
                    )
                )
        if seen:
            evidence["responses"] = seen
        if not findings:
            if seen:
                return Verdict(
                    Status.PASS,
                    say(
                        "http.cors.headers_safe",
                        "CORS headers are sent, but no credentialed access is granted to {origin}.",
                        origin=facts.foreign_origin,
                    ),
                    evidence,
                )
            return Verdict(
                Status.PASS,
                say("http.cors.none", "No cross-origin access is granted to {origin}.", origin=facts.foreign_origin),
                evidence,
            )
        findings.sort(key=lambda f: (f[0] is not Status.FAIL, -f[1].rank))
        status, severity, what = findings[0]
        return Verdict(status, say("http.cors.too_open", "CORS is too open: {what}.", what=what), evidence, severity)


class TraceEnabled(HttpCheck):
    id: ClassVar[str] = "http.trace_enabled"
    title: ClassVar[str] = "TRACE method"
    finding: ClassVar[str] = "TRACE is enabled"
    severity: ClassVar[Severity] = Severity.LOW
    needs_page: ClassVar[bool] = False
    why: ClassVar[str] = (
        "TRACE echoes the request back, including headers a proxy or load balancer adds (internal addresses, "
        "authentication); with other flaws it helps steal credentials (cross-site tracing), and no application "
        "needs it."
    )
    remediation: ClassVar[str] = (
        "Disable TRACE (and TRACK).\n"
        "nginx: TRACE is refused by default (405); behind nginx check the upstream too, or add `if ($request_method "
        "= TRACE) { return 405; }`\n"
        "Apache: `TraceEnable Off`\n"
        'IIS: Request Filtering > HTTP Verbs > Deny Verb `TRACE` (`<verbs><add verb="TRACE" allowed="false" />'
        "</verbs>`)."
    )

    def judge(self, facts: HttpFacts) -> Verdict:
        evidence: dict[str, Any] = {"url": facts.url, "request": f"TRACE {facts.origin}/"}
        trace = facts.trace
        failed = probe_failed(trace)
        if failed is not None or trace is None:
            return Verdict(
                Status.ERROR,
                say("http.trace_enabled.no_answer", "The TRACE request got no answer: {reason}", reason=failed or ""),
                evidence,
            )
        response = trace.final
        assert response is not None
        evidence["status"] = response.status
        evidence["content_type"] = response.header("Content-Type")
        body = response.body
        echoed = (bool(facts.trace_marker) and facts.trace_marker.encode() in body) or body.startswith(b"TRACE ")
        if 200 <= response.status < 300 and echoed:
            evidence["echo"] = shorten(body[:200].decode("latin-1"), 200)
            return Verdict(
                Status.FAIL,
                say(
                    "http.trace_enabled.echoed",
                    "TRACE is enabled: {origin}/ answered {status} and echoed the request back.",
                    origin=facts.origin,
                    status=response.status,
                ),
                evidence,
            )
        if 200 <= response.status < 300:
            return Verdict(
                Status.PASS,
                say(
                    "http.trace_enabled.no_echo",
                    "TRACE answered {status} but did not echo the request (not a working TRACE).",
                    status=response.status,
                ),
                evidence,
            )
        return Verdict(
            Status.PASS,
            say(
                "http.trace_enabled.refused",
                "TRACE is refused ({status} {reason}).",
                status=response.status,
                reason=response.reason,
            ),
            evidence,
        )


class DirectoryListing(HttpCheck):
    id: ClassVar[str] = "http.directory_listing"
    title: ClassVar[str] = "Directory listings"
    finding: ClassVar[str] = "A directory listing is shown"
    severity: ClassVar[Severity] = Severity.MEDIUM
    needs_page: ClassVar[bool] = False
    why: ClassVar[str] = (
        "An automatic directory listing shows every file in a folder: uploaded citizen documents, backups, "
        "configuration and scripts that were never meant to be linked."
    )
    remediation: ClassVar[str] = (
        "Turn automatic indexes off, and put an index page or a 403 where a folder must stay reachable.\n"
        "nginx: `autoindex off;` (the default; remove `autoindex on;`)\n"
        "Apache: `Options -Indexes` (in the `<Directory>` or .htaccess)\n"
        'IIS: Directory Browsing > Disable (`<directoryBrowse enabled="false" />`).'
    )

    def judge(self, facts: HttpFacts) -> Verdict:
        evidence = page_evidence(facts)
        baseline = _baseline(facts)
        fetches: list[Fetch] = []
        if facts.page.final is not None and not facts.page.blocked_redirect:
            fetches.append(facts.page)
        fetches += list(facts.directories)
        checked: list[str] = []
        untested: list[str] = []
        listings: list[dict[str, Any]] = []
        for fetch in fetches:
            response = fetch.final
            if response is None:
                untested.append(fetch.url)
                continue
            checked.append(response.url)
            kind = autoindex(response, baseline)
            if kind:
                listings.append(
                    {"url": response.url, "status": response.status, "kind": kind, "title": _title(response)}
                )
        evidence["checked"] = clip(checked)
        if untested:
            evidence["untested"] = clip(untested)
        if listings:
            evidence["listings"] = listings
            urls = [str(item["url"]) for item in listings]
            return Verdict(
                Status.FAIL,
                say(
                    "http.directory_listing.found",
                    "Directory listing at {urls} ({kind}).",
                    urls=listed(urls),
                    kind=autoindex_label(str(listings[0]["kind"])),
                ),
                evidence,
                key=finding_key(urlsplit(url).path or "/" for url in urls),
            )
        if not checked:
            return Verdict(
                Status.ERROR,
                say("http.directory_listing.no_answer", "None of the directory probes got an answer."),
                evidence,
            )
        return Verdict(
            Status.PASS,
            say(
                "http.directory_listing.none",
                "None of the {paths} checked shows a directory listing{note}.",
                paths=_paths(len(checked)),
                note=_baseline_note(baseline),
            ),
            evidence,
        )


def _paths(count: int) -> Message:
    if count == 1:
        return say("http.count.path", "{count} path", count=count)
    return say("http.count.paths", "{count} paths", count=count)


def _sensitive_paths(count: int) -> Message:
    if count == 1:
        return say("http.count.sensitive_path", "{count} sensitive path", count=count)
    return say("http.count.sensitive_paths", "{count} sensitive paths", count=count)


def _contacts(count: int) -> Message:
    if count == 1:
        return say("http.count.contact", "{count} contact", count=count)
    return say("http.count.contacts", "{count} contacts", count=count)


def _title(response: HttpResponse) -> str:
    match = re.search(r"<title>(.*?)</title>", response.text[:4096], re.IGNORECASE | re.DOTALL)
    return shorten(" ".join(match.group(1).split()), 120) if match else ""


def _excerpt(file: SensitiveFile, body: bytes) -> str:
    """What proves the exposure, without copying secrets into the report."""
    text = body[:4096].decode("utf-8", "replace")
    if file.path == "/.env":
        names = re.findall(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=", text, re.MULTILINE)
        return "variables: " + ", ".join(names[:10]) + (" …" if len(names) > 10 else "") + " (values not kept)"
    if file.path == "/.git/config":
        return "sections: " + ", ".join(re.findall(r"^\s*\[([^\]]+)\]", text, re.MULTILINE)[:8])
    if file.path in ("/backup.zip", "/www.tar.gz", "/.DS_Store"):
        return f"starts with bytes {body[:8].hex()} ({len(body)} bytes read)"
    if file.path == "/db.sql":
        line = next((ln for ln in text.splitlines() if ln.strip().startswith(("--", "CREATE", "INSERT"))), "")
        return shorten(line.split("VALUES", 1)[0], 120)
    if file.path == "/phpinfo.php":
        match = re.search(r"PHP Version\s*(?:<[^>]*>\s*)*([\d.]+)", text)
        return f"phpinfo() of PHP {match.group(1)}" if match else "phpinfo() page"
    return shorten(text.strip().splitlines()[0] if text.strip() else "", 120)


class SensitiveFiles(HttpCheck):
    id: ClassVar[str] = "http.sensitive_files"
    title: ClassVar[str] = "Exposed sensitive files"
    finding: ClassVar[str] = "Repositories, environment files, backups or status pages are readable"
    severity: ClassVar[Severity] = Severity.HIGH
    caps: ClassVar[tuple[Cap, ...]] = (
        Cap("F", Severity.HIGH, ".git, .env, dumps exposed"),
        Cap("C", note="lesser files"),
    )
    needs_page: ClassVar[bool] = False
    why: ClassVar[str] = (
        "A readable .git or .svn folder gives away the source code and its history (often with passwords); a "
        ".env file, database dump or site archive hands over credentials and citizens' data outright; status "
        "and phpinfo pages map the server for an attacker."
    )
    remediation: ClassVar[str] = (
        "Remove these files from the web root (deploy build artefacts, not working copies) and deny dot-files and "
        "archives in the server:\n"
        "nginx: `location ~ /\\.(?!well-known) { deny all; }` and `location ~* \\.(sql|zip|tar\\.gz|bak)$ { deny all; "
        "}`; remove `stub_status` from public servers\n"
        'Apache: `<DirectoryMatch "/\\.(git|svn)">Require all denied</DirectoryMatch>`, `<FilesMatch '
        '"^\\.env|\\.(sql|zip|gz|bak)$">Require all denied</FilesMatch>`, and restrict `<Location /server-status>` '
        "to `Require ip 127.0.0.1`\n"
        "IIS: Request Filtering > Hidden Segments: add `.git`, `.svn`, `.env`; File Name Extensions: deny `.sql`, "
        "`.zip`, `.gz`, `.bak`.\n"
        "Then treat every secret that was exposed as compromised and change it."
    )

    def judge(self, facts: HttpFacts) -> Verdict:
        evidence: dict[str, Any] = {"url": facts.url, "origin": facts.origin}
        baseline = _baseline(facts)
        if baseline is not None:
            evidence["not_found_baseline"] = {
                "path": baseline.url,
                "status": baseline.status,
                "size": len(baseline.body),
            }
        found: list[tuple[SensitiveFile, HttpResponse]] = []
        untested: list[str] = []
        for file, fetch in zip(SENSITIVE_FILES, facts.sensitive, strict=False):
            response = fetch.final
            if response is None:
                untested.append(file.path)
            elif exposed(file, response, baseline):
                found.append((file, response))
        if len(facts.sensitive) < len(SENSITIVE_FILES):
            untested += [f.path for f in SENSITIVE_FILES[len(facts.sensitive) :]]
        if untested:
            evidence["untested"] = untested
        if found:
            evidence["exposed"] = [
                {
                    "path": file.path,
                    "what": str(file.what),
                    "status": response.status,
                    "bytes_read": len(response.body),
                    "content_type": response.header("Content-Type"),
                    "proof": _excerpt(file, response.body),
                }
                for file, response in found
            ]
            severity = worst_severity((file.severity for file, _ in found), self.severity)
            files = [
                say("http.sensitive_files.item", "{path} ({what})", path=file.path, what=file.what) for file, _ in found
            ]
            return Verdict(
                Status.FAIL,
                say(
                    "http.sensitive_files.readable",
                    "Readable from {origin}: {files}.",
                    origin=facts.origin,
                    files=listed(files),
                ),
                evidence,
                severity,
                finding_key(file.path for file, _ in found),
            )
        if untested:
            return Verdict(
                Status.ERROR,
                say(
                    "http.sensitive_files.untested",
                    "{paths} could not be tested ({untested}); none of the others is exposed.",
                    paths=_sensitive_paths(len(untested)),
                    untested=listed(untested),
                ),
                evidence,
            )
        return Verdict(
            Status.PASS,
            say(
                "http.sensitive_files.none",
                "None of the {count} sensitive paths (/.git/HEAD, /.env, /.svn/entries, backups, server-status, "
                "phpinfo, …) returns the file{note}.",
                count=len(SENSITIVE_FILES),
                note=_baseline_note(baseline),
            ),
            evidence,
        )


class ErrorDisclosure(HttpCheck):
    id: ClassVar[str] = "http.error_disclosure"
    title: ClassVar[str] = "Error pages"
    finding: ClassVar[str] = "Error pages show stack traces or debug output"
    severity: ClassVar[Severity] = Severity.MEDIUM
    needs_page: ClassVar[bool] = False
    why: ClassVar[str] = (
        "Stack traces and framework debug pages reveal file paths, library versions, configuration and sometimes "
        "secrets or SQL, and a debug mode left on in production often allows running code."
    )
    remediation: ClassVar[str] = (
        "Turn debug mode off in production (Django `DEBUG = False`, Flask/Werkzeug `debug=False`, Laravel "
        '`APP_DEBUG=false`, PHP `display_errors = Off`, ASP.NET `<customErrors mode="RemoteOnly" />`, Spring '
        "`server.error.include-stacktrace=never`), log errors server-side, and serve generic error pages:\n"
        "nginx: `error_page 404 /404.html; error_page 500 502 503 504 /50x.html;` (and `proxy_intercept_errors on;` "
        "in front of an application)\n"
        "Apache: `ErrorDocument 404 /404.html` and `ErrorDocument 500 /500.html`\n"
        'IIS: `<httpErrors errorMode="Custom" existingResponse="Replace">` with custom pages.'
    )

    def judge(self, facts: HttpFacts) -> Verdict:
        evidence: dict[str, Any] = {"url": facts.url}
        failed = probe_failed(facts.not_found)
        baseline = _baseline(facts)
        if baseline is not None:
            evidence["error_probe"] = {"url": baseline.url, "status": baseline.status}
        found: list[dict[str, Any]] = []
        for response in facts.responses():
            for what, excerpt in error_signatures(response):
                found.append(
                    {"url": shorten(response.url, 200), "status": response.status, "what": what, "excerpt": excerpt}
                )
        if found:
            evidence["found"] = clip(found, 10)
            kinds = list(dict.fromkeys(str(item["what"]) for item in found))
            return Verdict(
                Status.FAIL,
                say(
                    "http.error_disclosure.shown",
                    "{what} shown at {url} ({status}).",
                    what=listed([error_label(kind) for kind in kinds]),
                    url=shorten(str(found[0]["url"]), 120),
                    status=int(found[0]["status"]),
                ),
                evidence,
            )
        if failed is not None or baseline is None:
            return Verdict(
                Status.ERROR,
                say(
                    "http.error_disclosure.no_answer",
                    "The error-page probe got no answer: {reason}",
                    reason=failed or no_response(),
                ),
                evidence,
            )
        return Verdict(
            Status.PASS,
            say(
                "http.error_disclosure.none",
                "The error page for a nonexistent path ({status}) and the other responses show no stack trace or "
                "debug output.",
                status=baseline.status,
            ),
            evidence,
        )


class SecurityTxt(HttpCheck):
    id: ClassVar[str] = "http.security_txt"
    title: ClassVar[str] = "Security contact in security.txt (RFC 9116)"
    finding: ClassVar[str] = "No valid, current security contact is published in security.txt"
    severity: ClassVar[Severity] = Severity.LOW
    needs_page: ClassVar[bool] = False
    why: ClassVar[str] = (
        "Researchers and the national CERT (VNCERT/CC) who find a vulnerability need a published, current contact; "
        "/.well-known/security.txt is the standard place, and its Expires date shows it is maintained."
    )
    remediation: ClassVar[str] = (
        "Publish /.well-known/security.txt over HTTPS as text/plain, with at least one Contact and one Expires "
        "(less than a year ahead), e.g.\n"
        "`Contact: mailto:security@{host}`\n`Expires: 2027-06-30T17:00:00.000Z`\n"
        "`Preferred-Languages: vi, en`\n"
        "nginx: `location = /.well-known/security.txt { alias /etc/nginx/security.txt; default_type text/plain; }`\n"
        "Apache: `Alias /.well-known/security.txt /etc/apache2/security.txt`\n"
        "IIS: place the file under `.well-known\\` and add a MIME map for `.txt` as `text/plain` if missing.\n"
        "Renew Expires before it passes."
    )

    def judge(self, facts: HttpFacts) -> Verdict:
        fetch = facts.security_txt
        evidence: dict[str, Any] = {"url": f"{facts.origin}/.well-known/security.txt"}
        failed = probe_failed(fetch)
        if failed is not None or fetch is None:
            return Verdict(
                Status.ERROR,
                say(
                    "http.security_txt.no_answer",
                    "The security.txt request got no answer: {reason}",
                    reason=failed or "",
                ),
                evidence,
            )
        response = fetch.final
        assert response is not None
        evidence.update({"status": response.status, "content_type": response.header("Content-Type")})
        if fetch.blocked_redirect:
            evidence["not_followed"] = shorten(fetch.blocked_redirect)
            return Verdict(
                Status.WARN,
                say(
                    "http.security_txt.off_platform",
                    "/.well-known/security.txt redirects off the platform to {target} (not followed, so not checked).",
                    target=shorten(fetch.blocked_redirect, 200),
                ),
                evidence,
                Severity.LOW,
            )
        if response.status != 200:
            return Verdict(
                Status.FAIL,
                say(
                    "http.security_txt.missing",
                    "No security.txt: /.well-known/security.txt answers {status}.",
                    status=response.status,
                ),
                evidence,
            )
        if response.is_html or response.body.lstrip()[:1] == b"<":
            return Verdict(
                Status.FAIL,
                say(
                    "http.security_txt.html",
                    "No security.txt: /.well-known/security.txt answers 200 with an HTML page (a soft 404?).",
                ),
                evidence,
            )
        parsed = parse_security_txt(response.text)
        evidence["fields"] = clip(f"{name.title()}: {shorten(value, 120)}" for name, value in parsed.fields)
        if parsed.signed:
            evidence["signed"] = True
        problems: list[Message] = []
        if not parsed.contacts:
            problems.append(say("http.security_txt.no_contact", "it has no Contact field"))
        expires_values = parsed.values("expires")
        expires = parsed.expires()
        if not expires_values:
            problems.append(say("http.security_txt.no_expires", "it has no Expires field"))
        elif len(expires_values) > 1:
            problems.append(say("http.security_txt.expires_twice", "Expires appears more than once"))
        elif expires is None:
            problems.append(
                say(
                    "http.security_txt.bad_expires",
                    "Expires {value} is not an RFC 3339 date with a time zone",
                    value=repr(shorten(expires_values[0], 60)),
                )
            )
        elif expires <= facts.collected_at:
            problems.append(say("http.security_txt.expired", "it expired on {date}", date=expires.date().isoformat()))
        if not response.https:
            problems.append(
                say("http.security_txt.plain_http", "it is served over plain HTTP (RFC 9116 requires HTTPS)")
            )
        if problems:
            return Verdict(
                Status.FAIL,
                say("http.security_txt.invalid", "security.txt is not valid: {problems}.", problems=listed(problems)),
                evidence,
            )
        assert expires is not None
        warnings: list[Message] = []
        if response.content_type != "text/plain":
            content_type = response.content_type or say("http.security_txt.no_type", "missing")
            warnings.append(
                say(
                    "http.security_txt.content_type",
                    "its Content-Type is {content_type}, not text/plain",
                    content_type=content_type,
                )
            )
        if expires - facts.collected_at > dt.timedelta(days=366):
            warnings.append(
                say("http.security_txt.far_expiry", "Expires is more than a year ahead (RFC 9116 recommends less)")
            )
        contacts, date = _contacts(len(parsed.contacts)), expires.date().isoformat()
        if warnings:
            return Verdict(
                Status.WARN,
                say(
                    "http.security_txt.valid_but",
                    "security.txt lists {contacts} and expires on {date}, but {warnings}.",
                    contacts=contacts,
                    date=date,
                    warnings=listed(warnings),
                ),
                evidence,
                Severity.LOW,
            )
        return Verdict(
            Status.PASS,
            say(
                "http.security_txt.valid",
                "security.txt lists {contacts} and expires on {date}.",
                contacts=contacts,
                date=date,
            ),
            evidence,
        )
