"""Security headers of the page: HSTS, CSP, framing, nosniff, Referrer-Policy, Permissions-Policy,
and version numbers in any response. Each judge reads the headers exactly as received and parses
them as browsers do (``csp``, ``hsts``, ``list_headers``, ``permissions_policy``), so an invalid
value fails like a missing one."""

from __future__ import annotations

from typing import ClassVar

from checks.http.base import HttpCheck, header_line, page_evidence
from checks.http.client import certificate_refused, tls_problem
from checks.http.csp import CspPolicy, frame_ancestors_restrict, judge_scripts, object_src_restricted, parse_csp
from checks.http.detect import page_versions
from checks.http.facts import HttpFacts, HttpResponse
from checks.http.hsts import parse_hsts
from checks.http.html import meta_referrer_policy, page_info
from checks.http.list_headers import PRIVATE_REFERRER_POLICIES, nosniff, parse_referrer_policy, parse_xfo
from checks.http.list_headers import ReferrerPolicy as ReferrerPolicyValue
from checks.http.permissions_policy import parse_permissions_policy
from checks.http.server_versions import VERSION_HEADERS, end_of_life, versions_in
from scanner.evidence import FACTS, clip, shorten, software_fact
from scanner.messages import Message, Text, say
from scanner.model import Severity, Status
from scanner.plugin import Verdict
from scanner.urls import parse
from scanner.wording import listed, semicolons

#: One year, the minimum HSTS max-age (OWASP ASVS 5.0 V3.4.1; the HSTS preload list).
HSTS_MIN_AGE = 31_536_000


def _duration(seconds: int) -> Message:
    for unit, size in (("year", 31_536_000), ("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            amount = seconds / size
            text = f"{amount:.0f}" if amount >= 10 or amount == int(amount) else f"{amount:.1f}"
            return _in_units(unit, text)
    if seconds == 1:
        return say("http.duration.second", "{amount} second", amount=str(seconds))
    return say("http.duration.seconds", "{amount} seconds", amount=str(seconds))


def _in_units(unit: str, amount: str) -> Message:
    one = amount == "1"
    if unit == "year":
        if one:
            return say("http.duration.year", "{amount} year", amount=amount)
        return say("http.duration.years", "{amount} years", amount=amount)
    if unit == "day":
        if one:
            return say("http.duration.day", "{amount} day", amount=amount)
        return say("http.duration.days", "{amount} days", amount=amount)
    if unit == "hour":
        if one:
            return say("http.duration.hour", "{amount} hour", amount=amount)
        return say("http.duration.hours", "{amount} hours", amount=amount)
    if one:
        return say("http.duration.minute", "{amount} minute", amount=amount)
    return say("http.duration.minutes", "{amount} minutes", amount=amount)


class Hsts(HttpCheck):
    id: ClassVar[str] = "http.hsts"
    title: ClassVar[str] = "HSTS header"
    finding: ClassVar[str] = "HSTS is missing, shorter than one year or not effective"
    severity: ClassVar[Severity] = Severity.MEDIUM
    needs_page: ClassVar[bool] = False
    why: ClassVar[str] = (
        "HSTS makes browsers use HTTPS for the host without first trying plain HTTP, which defeats "
        "SSL-stripping on public Wi-Fi and mistyped http:// links; a short max-age lets the protection lapse "
        "between visits."
    )
    remediation: ClassVar[str] = (
        "Send the header on every HTTPS response (including redirects and errors), with at least one year:\n"
        'nginx: `add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;`\n'
        'Apache (mod_headers): `Header always set Strict-Transport-Security "max-age=31536000; '
        'includeSubDomains"`\n'
        "IIS 10 (1709+): Site > HSTS: Enable, Max-Age 31536000, IncludeSubDomains; older IIS: `<customHeaders>"
        '<add name="Strict-Transport-Security" value="max-age=31536000; includeSubDomains" /></customHeaders>`.\n'
        "Add includeSubDomains once every subdomain serves HTTPS, and preload only after that."
    )

    def judge(self, facts: HttpFacts) -> Verdict:
        responses = facts.page.responses
        https = [r for r in responses if r.https]
        evidence = page_evidence(facts)
        if not https:
            return Verdict(
                Status.SKIP,
                say(
                    "http.hsts.plain",
                    "Not tested: {url} is served over plain HTTP, and HSTS only applies to HTTPS responses (see "
                    "http.https_redirect).",
                    url=facts.url,
                ),
                evidence,
            )
        final = https[-1]
        if final is not responses[-1]:
            return Verdict(
                Status.FAIL,
                say(
                    "http.hsts.downgrade",
                    "{url} redirects from HTTPS down to plain HTTP ({target}).",
                    url=shorten(final.url, 200),
                    target=shorten(responses[-1].url, 200),
                ),
                evidence,
                Severity.HIGH,
            )
        evidence = page_evidence(facts, final)
        values = final.values("Strict-Transport-Security")
        if not values:
            return Verdict(
                Status.FAIL,
                say(
                    "http.hsts.missing", "{url} sends no Strict-Transport-Security header.", url=shorten(final.url, 200)
                ),
                evidence,
            )
        evidence["header"] = header_line(final, "Strict-Transport-Security")
        hsts = parse_hsts(values[0])  # RFC 6797 8.1: only the first header counts
        if len(values) > 1:
            evidence["note"] = "several Strict-Transport-Security headers: browsers use only the first"
        if not hsts.valid:
            return Verdict(
                Status.FAIL,
                say(
                    "http.hsts.invalid",
                    "The Strict-Transport-Security header is invalid ({problems}): browsers ignore it.",
                    problems=semicolons(hsts.problems),
                ),
                evidence,
            )
        assert hsts.max_age is not None
        evidence.update(
            {"max_age": hsts.max_age, "include_subdomains": hsts.include_subdomains, "preload": hsts.preload}
        )
        if hsts.max_age < HSTS_MIN_AGE:
            if hsts.max_age == 0:
                what = say("http.hsts.forget", "max-age=0 tells browsers to forget the policy")
            else:
                what = say("http.hsts.too_short", "too short")
            return Verdict(
                Status.FAIL,
                say(
                    "http.hsts.short",
                    "HSTS max-age is {seconds} seconds ({duration}): {what}; at least {minimum} (1 year) is required.",
                    seconds=hsts.max_age,
                    duration=_duration(hsts.max_age),
                    what=what,
                    minimum=HSTS_MIN_AGE,
                ),
                evidence,
            )
        extras = [
            name for name, on in (("includeSubDomains", hsts.include_subdomains), ("preload", hsts.preload)) if on
        ]
        if extras:
            suffix = say("http.hsts.with", ", with {extras}", extras=listed(extras))
        else:
            suffix = say("http.hsts.without_subdomains", ", without includeSubDomains")
        if final.tls_verified is False:
            return Verdict(Status.WARN, _hsts_unverified(facts, final, hsts.max_age, suffix), evidence, Severity.LOW)
        return Verdict(
            Status.PASS,
            say(
                "http.hsts.set", "HSTS max-age is {duration}{suffix}.", duration=_duration(hsts.max_age), suffix=suffix
            ),
            evidence,
        )


def _hsts_unverified(facts: HttpFacts, final: HttpResponse, max_age: int, suffix: Message) -> Message:
    """Why HSTS read over an unverified connection may not count, naming the client's real TLS problem:
    a protocol or cipher refusal is not a certificate problem (the tls family judges both)."""
    set_as = say(
        "http.hsts.set_as", "HSTS is set (max-age {duration}{suffix})", duration=_duration(max_age), suffix=suffix
    )
    problem = tls_problem(final.url, facts.tls_problems)
    if problem is None:
        return say(
            "http.hsts.unverified",
            "{set_as}, but the certificate did not verify, and browsers ignore HSTS from a host whose certificate "
            "they reject (see the tls checks).",
            set_as=set_as,
        )
    if certificate_refused(problem):
        return say(
            "http.hsts.unverified_because",
            "{set_as}, but the certificate did not verify ({problem}), and browsers ignore HSTS from a host whose "
            "certificate they reject (see the tls checks).",
            set_as=set_as,
            problem=_quoted(problem),
        )
    return say(
        "http.hsts.relaxed",
        "{set_as}, but the HTTP client could read it only with its TLS checks relaxed: {problem}. That refusal is not "
        "about the certificate; browsers that refuse the connection too never see the header (the tls checks judge "
        "the protocols, cipher suites and certificate).",
        set_as=set_as,
        problem=_quoted(problem),
    )


def _quoted(problem: Text) -> Text:
    """A TLS problem to quote inside a sentence: the client's phrase, or (hand-built facts) text without its period."""
    return problem if isinstance(problem, Message) else shorten(problem.rstrip("."), 200)


def _policies(final: HttpResponse) -> tuple[list[CspPolicy], list[CspPolicy]]:
    """(enforced, report-only) policies of the page: headers, then <meta http-equiv>."""
    enforced = [p for v in final.values("Content-Security-Policy") for p in parse_csp(v, "header")]
    enforced += [p for v in page_info(final).csp_meta for p in parse_csp(v, "meta")]
    report_only = [p for v in final.values("Content-Security-Policy-Report-Only") for p in parse_csp(v, "report-only")]
    return enforced, report_only


class ContentSecurityPolicy(HttpCheck):
    id: ClassVar[str] = "http.csp"
    title: ClassVar[str] = "Content-Security-Policy for scripts"
    finding: ClassVar[str] = "The Content-Security-Policy does not fully restrict scripts"
    severity: ClassVar[Severity] = Severity.MEDIUM
    why: ClassVar[str] = (
        "A Content-Security-Policy that allows only the platform's own scripts (or nonce/hash-approved ones) "
        "stops most cross-site scripting from running even when the application has an injection bug; "
        "'unsafe-inline', broad sources or a report-only policy leave that door open."
    )
    remediation: ClassVar[str] = (
        "Enforce a policy that names script sources without 'unsafe-inline'/'unsafe-eval' (use nonces or hashes "
        "for inline scripts), and restrict object-src and base-uri, e.g. `default-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'self'; frame-ancestors 'self'`. Test with Content-Security-Policy-Report-"
        "Only first, then switch to the enforcing header.\n"
        "nginx: `add_header Content-Security-Policy \"default-src 'self'; object-src 'none'; base-uri 'self'; "
        "frame-ancestors 'self'\" always;`\n"
        "Apache: `Header always set Content-Security-Policy \"default-src 'self'; object-src 'none'; base-uri "
        "'self'; frame-ancestors 'self'\"`\n"
        "IIS: `<customHeaders><add name=\"Content-Security-Policy\" value=\"default-src 'self'; object-src 'none'; "
        "base-uri 'self'; frame-ancestors 'self'\" /></customHeaders>` in web.config."
    )

    def judge(self, facts: HttpFacts) -> Verdict:
        final = facts.final
        assert final is not None
        evidence = page_evidence(facts)
        enforced, report_only = _policies(final)
        lines = final.lines("Content-Security-Policy") + final.lines("Content-Security-Policy-Report-Only")
        if lines:
            evidence["header"] = clip(lines)
        if enforced:
            evidence["policies"] = clip(
                {
                    "source": p.source,
                    "directives": list(p.names),
                    **({"ignored_repeats": list(p.duplicates)} if p.duplicates else {}),
                }
                for p in enforced
            )
        if not enforced:
            if report_only:
                return Verdict(
                    Status.FAIL,
                    say(
                        "http.csp.report_only",
                        "Only Content-Security-Policy-Report-Only is sent: violations are reported but nothing is "
                        "blocked.",
                    ),
                    evidence,
                )
            return Verdict(Status.FAIL, say("http.csp.missing", "No Content-Security-Policy is sent."), evidence)
        verdicts = [judge_scripts(p) for p in enforced]
        governing = [v for v in verdicts if v.directive is not None]
        if not governing:
            return Verdict(
                Status.FAIL,
                say(
                    "http.csp.no_script_directive",
                    "The Content-Security-Policy does not restrict scripts (no script-src and no default-src).",
                ),
                evidence,
            )
        safe = [v for v in governing if v.safe]
        if not safe:
            worst = governing[0]
            evidence["script_sources"] = f"{worst.directive} {' '.join(worst.sources)}"
            if worst.ignored:
                evidence["ignored_sources"] = [shorten(t, 100) for t in worst.ignored[:10]]
            return Verdict(
                Status.FAIL,
                say(
                    "http.csp.unsafe",
                    "The policy's {directive} allows {failures}, so injected scripts can run.",
                    directive=worst.directive or "",
                    failures=listed(worst.failures),
                ),
                evidence,
            )
        best = min(safe, key=lambda v: len(v.warnings))
        evidence["script_sources"] = shorten(f"{best.directive} {' '.join(best.sources)}")
        if best.ignored:
            evidence["ignored_sources"] = [shorten(t, 100) for t in best.ignored[:10]]
        object_ok = any(object_src_restricted(p) for p in enforced)
        base_uri = next((p.get("base-uri") for p in enforced if p.has("base-uri")), None)
        evidence["object_src_restricted"] = object_ok
        evidence["base_uri"] = " ".join(base_uri) if base_uri is not None else None
        notes: list[Text] = [] if base_uri is not None else [say("http.csp.no_base_uri", "base-uri is not set")]
        if report_only:
            notes.append(say("http.csp.also_report_only", "a report-only policy is sent as well"))
        note: Text = say("http.csp.notes", " ({notes})", notes=semicolons(notes)) if notes else ""
        directive = best.directive or ""
        if best.warnings:
            return Verdict(
                Status.WARN,
                say(
                    "http.csp.weak",
                    "Scripts are restricted by {directive} with nonces or hashes, but it allows {warnings}{note}.",
                    directive=directive,
                    warnings=listed(best.warnings),
                    note=note,
                ),
                evidence,
                Severity.LOW,
            )
        if not object_ok:
            return Verdict(
                Status.WARN,
                say(
                    "http.csp.object_src_open",
                    "Scripts are restricted ({directive}), but object-src is not (set object-src 'none'){note}.",
                    directive=directive,
                    note=note,
                ),
                evidence,
                Severity.LOW,
            )
        if best.nonce_or_hash:
            how = say("http.csp.by_nonce", "with nonces or hashes")
        else:
            how = say("http.csp.by_sources", "to listed sources")
        return Verdict(
            Status.PASS,
            say("http.csp.restricts", "The Content-Security-Policy restricts scripts {how}{note}.", how=how, note=note),
            evidence,
        )


class FrameAncestors(HttpCheck):
    id: ClassVar[str] = "http.frame_ancestors"
    title: ClassVar[str] = "Framing protection (frame-ancestors, X-Frame-Options)"
    finding: ClassVar[str] = "Other sites can frame the page"
    severity: ClassVar[Severity] = Severity.MEDIUM
    why: ClassVar[str] = (
        "A page that any site may frame can be overlaid with a decoy (clickjacking), tricking an official into "
        "clicking buttons such as 'approve' or 'delete' on the real platform."
    )
    remediation: ClassVar[str] = (
        "Send CSP frame-ancestors (current browsers) and X-Frame-Options (older ones):\n"
        "nginx: `add_header Content-Security-Policy \"frame-ancestors 'self'\" always; add_header X-Frame-Options "
        "SAMEORIGIN always;`\n"
        "Apache: `Header always set X-Frame-Options SAMEORIGIN` and frame-ancestors in the Content-Security-Policy\n"
        'IIS: `<customHeaders><add name="X-Frame-Options" value="SAMEORIGIN" /></customHeaders>` plus '
        "frame-ancestors in the Content-Security-Policy.\n"
        "X-Frame-Options takes only DENY or SAMEORIGIN (ALLOW-FROM is obsolete); list other allowed framers in "
        "frame-ancestors."
    )

    def judge(self, facts: HttpFacts) -> Verdict:
        final = facts.final
        assert final is not None
        evidence = page_evidence(facts)
        # <meta> policies cannot set frame-ancestors: only headers count.
        policies = [p for v in final.values("Content-Security-Policy") for p in parse_csp(v, "header")]
        ancestors = [p.get("frame-ancestors") for p in policies if p.has("frame-ancestors")]
        xfo = parse_xfo(final.values("X-Frame-Options"))
        if final.values("X-Frame-Options"):
            evidence["x_frame_options"] = header_line(final, "X-Frame-Options")
        if ancestors:
            evidence["frame_ancestors"] = [" ".join(a or ()) for a in ancestors]
        restricting = [a for a in ancestors if a is not None and frame_ancestors_restrict(a)]
        if restricting:
            note: Text = ""
            if xfo is None:
                note = say(
                    "http.frame_ancestors.no_xfo",
                    " (X-Frame-Options is not sent; only browsers without CSP 2 would allow framing)",
                )
            elif not xfo.protects:
                note = say(
                    "http.frame_ancestors.xfo_ignored",
                    " (X-Frame-Options is ignored: {problem})",
                    problem=xfo.problem or "",
                )
            sources: Text = " ".join(restricting[0]) or say("http.frame_ancestors.empty", "(empty)")
            return Verdict(
                Status.PASS,
                say(
                    "http.frame_ancestors.restricts",
                    "CSP frame-ancestors {sources} restricts framing{note}.",
                    sources=sources,
                    note=note,
                ),
                evidence,
            )
        if ancestors:
            broad = " ".join(ancestors[0] or ())
            if xfo is not None and xfo.protects:
                return Verdict(
                    Status.FAIL,
                    say(
                        "http.frame_ancestors.broad_over_xfo",
                        "CSP frame-ancestors {sources} lets any site frame the page, and current browsers follow it "
                        "rather than X-Frame-Options {value}.",
                        sources=broad,
                        value=xfo.value,
                    ),
                    evidence,
                )
            return Verdict(
                Status.FAIL,
                say(
                    "http.frame_ancestors.broad",
                    "CSP frame-ancestors {sources} lets any site frame the page.",
                    sources=broad,
                ),
                evidence,
            )
        if xfo is None:
            return Verdict(
                Status.FAIL,
                say("http.frame_ancestors.missing", "Neither CSP frame-ancestors nor X-Frame-Options is sent."),
                evidence,
            )
        if xfo.protects:
            note = say("http.frame_ancestors.xfo_note", " ({problem})", problem=xfo.problem) if xfo.problem else ""
            return Verdict(
                Status.PASS,
                say(
                    "http.frame_ancestors.xfo_refuses",
                    "X-Frame-Options {value} refuses framing{note}.",
                    value=xfo.value.upper(),
                    note=note,
                ),
                evidence,
            )
        return Verdict(
            Status.FAIL,
            say(
                "http.frame_ancestors.xfo_useless",
                "X-Frame-Options does not protect: {problem}.",
                problem=xfo.problem or "",
            ),
            evidence,
        )


class ContentTypeOptions(HttpCheck):
    id: ClassVar[str] = "http.content_type_options"
    title: ClassVar[str] = "X-Content-Type-Options header"
    finding: ClassVar[str] = "X-Content-Type-Options: nosniff is not sent"
    severity: ClassVar[Severity] = Severity.LOW
    why: ClassVar[str] = (
        "Without nosniff, browsers may guess that an uploaded file or an API response is a script or a page and "
        "run it, turning a harmless upload into cross-site scripting."
    )
    remediation: ClassVar[str] = (
        "Send `X-Content-Type-Options: nosniff` on every response, and correct Content-Types.\n"
        "nginx: `add_header X-Content-Type-Options nosniff always;`\n"
        "Apache: `Header always set X-Content-Type-Options nosniff`\n"
        'IIS: `<customHeaders><add name="X-Content-Type-Options" value="nosniff" /></customHeaders>`.'
    )

    def judge(self, facts: HttpFacts) -> Verdict:
        final = facts.final
        assert final is not None
        evidence = page_evidence(facts)
        values = final.values("X-Content-Type-Options")
        if not values:
            return Verdict(
                Status.FAIL, say("http.content_type_options.missing", "X-Content-Type-Options is not sent."), evidence
            )
        evidence["header"] = header_line(final, "X-Content-Type-Options")
        if nosniff(values):
            return Verdict(
                Status.PASS, say("http.content_type_options.nosniff", "X-Content-Type-Options is nosniff."), evidence
            )
        return Verdict(
            Status.FAIL,
            say(
                "http.content_type_options.invalid",
                "X-Content-Type-Options is {value}, not nosniff: browsers ignore it.",
                value=repr(shorten(", ".join(values), 100)),
            ),
            evidence,
        )


class ReferrerPolicy(HttpCheck):
    id: ClassVar[str] = "http.referrer_policy"
    title: ClassVar[str] = "Referrer-Policy"
    finding: ClassVar[str] = "The Referrer-Policy lets page addresses leak to other sites"
    severity: ClassVar[Severity] = Severity.LOW
    why: ClassVar[str] = (
        "Addresses of a public-service platform can carry case numbers, names or tokens; a strict Referrer-Policy "
        "keeps full URLs from leaking to the other sites a page links to or loads from."
    )
    remediation: ClassVar[str] = (
        "Send `Referrer-Policy: strict-origin-when-cross-origin` (or no-referrer, same-origin, strict-origin).\n"
        "nginx: `add_header Referrer-Policy strict-origin-when-cross-origin always;`\n"
        "Apache: `Header always set Referrer-Policy strict-origin-when-cross-origin`\n"
        'IIS: `<customHeaders><add name="Referrer-Policy" value="strict-origin-when-cross-origin" />'
        "</customHeaders>`."
    )

    def judge(self, facts: HttpFacts) -> Verdict:
        final = facts.final
        assert final is not None
        evidence = page_evidence(facts)
        header = final.values("Referrer-Policy")
        meta = page_info(final).referrer_meta if final.is_html else ()
        if header:
            evidence["header"] = header_line(final, "Referrer-Policy")
        if meta:
            evidence["meta"] = [shorten(m, 100) for m in meta]
        if not header and not meta:
            return Verdict(
                Status.FAIL,
                say("http.referrer_policy.missing", "No Referrer-Policy is set (header or <meta name=referrer>)."),
                evidence,
            )
        # HTML standard: a <meta name=referrer> applies only when its whole content is one policy token.
        from_meta = meta_referrer_policy(meta)
        parsed = ReferrerPolicyValue(from_meta) if from_meta else parse_referrer_policy(header)
        where = "<meta name=referrer>" if from_meta else "Referrer-Policy"
        ignored: Text = "" if from_meta or not meta else _ignored_meta(meta)
        if ignored:
            evidence["meta_ignored"] = True
        if not parsed.policy:
            if not header:
                return Verdict(
                    Status.FAIL,
                    say(
                        "http.referrer_policy.meta_only_ignored",
                        "<meta name=referrer> {meta} is ignored (its content must be a single policy token), and no "
                        "Referrer-Policy header is sent.",
                        meta=_shown_meta(meta),
                    ),
                    evidence,
                )
            shown = shorten(", ".join(header), 120)
            return Verdict(
                Status.FAIL,
                say(
                    "http.referrer_policy.invalid",
                    "{where} {value} names no valid policy, so browsers ignore it{ignored}.",
                    where=where,
                    value=repr(shown),
                    ignored=ignored,
                ),
                evidence,
            )
        evidence["policy"] = parsed.policy
        if parsed.unknown:
            evidence["unknown_tokens"] = [shorten(t, 60) for t in parsed.unknown]
        if parsed.policy in PRIVATE_REFERRER_POLICIES:
            return Verdict(
                Status.PASS,
                say(
                    "http.referrer_policy.private",
                    "{where} is {policy}{ignored}.",
                    where=where,
                    policy=parsed.policy,
                    ignored=ignored,
                ),
                evidence,
            )
        return Verdict(
            Status.FAIL,
            say(
                "http.referrer_policy.leaks",
                "{where} is {policy}, which sends the page's address (or origin) to other sites{ignored}.",
                where=where,
                policy=parsed.policy,
                ignored=ignored,
            ),
            evidence,
        )


def _shown_meta(meta: tuple[str, ...]) -> str:
    return shorten(", ".join(repr(m) for m in meta), 120)


def _ignored_meta(meta: tuple[str, ...]) -> Message:
    """A note for <meta name=referrer> values browsers ignore: the content must be a single policy token."""
    return say(
        "http.referrer_policy.meta_ignored",
        " (<meta name=referrer> {meta} is ignored: its content must be a single policy token)",
        meta=_shown_meta(meta),
    )


class PermissionsPolicy(HttpCheck):
    id: ClassVar[str] = "http.permissions_policy"
    title: ClassVar[str] = "Permissions-Policy header"
    finding: ClassVar[str] = "No valid Permissions-Policy restricts browser features"
    severity: ClassVar[Severity] = Severity.LOW
    why: ClassVar[str] = (
        "A Permissions-Policy switches off powerful browser features (camera, microphone, geolocation, payment) "
        "that the platform does not use, so injected or third-party code cannot request them."
    )
    remediation: ClassVar[str] = (
        "Send a Permissions-Policy that disables unused features, in structured-field syntax:\n"
        'nginx: `add_header Permissions-Policy "camera=(), microphone=(), geolocation=(), payment=()" always;`\n'
        'Apache: `Header always set Permissions-Policy "camera=(), microphone=(), geolocation=(), payment=()"`\n'
        'IIS: `<customHeaders><add name="Permissions-Policy" value="camera=(), microphone=(), geolocation=(), '
        'payment=()" /></customHeaders>`.\n'
        "The old Feature-Policy syntax (`camera 'none'`) is not valid here."
    )

    def judge(self, facts: HttpFacts) -> Verdict:
        final = facts.final
        assert final is not None
        evidence = page_evidence(facts)
        values = final.values("Permissions-Policy")
        if not values:
            if final.values("Feature-Policy"):
                evidence["header"] = header_line(final, "Feature-Policy")
                return Verdict(
                    Status.FAIL,
                    say(
                        "http.permissions_policy.feature_policy",
                        "Only the obsolete Feature-Policy header is sent; send Permissions-Policy.",
                    ),
                    evidence,
                )
            return Verdict(
                Status.FAIL, say("http.permissions_policy.missing", "Permissions-Policy is not sent."), evidence
            )
        evidence["header"] = header_line(final, "Permissions-Policy")
        policy = parse_permissions_policy(", ".join(values))
        if policy.problem:
            return Verdict(
                Status.FAIL,
                say(
                    "http.permissions_policy.invalid",
                    "Permissions-Policy is invalid ({problem}): browsers ignore it.",
                    problem=policy.problem,
                ),
                evidence,
            )
        evidence["features"] = dict(policy.features)
        if policy.ignored:
            evidence["ignored"] = list(policy.ignored)
        if not policy.restricted:
            return Verdict(
                Status.FAIL,
                say("http.permissions_policy.nothing", "Permissions-Policy restricts no feature."),
                evidence,
            )
        return Verdict(
            Status.PASS,
            say(
                "http.permissions_policy.restricts",
                "Permissions-Policy restricts {features}.",
                features=listed(list(policy.restricted)),
            ),
            evidence,
        )


class VersionDisclosure(HttpCheck):
    id: ClassVar[str] = "http.version_disclosure"
    title: ClassVar[str] = "Software versions in responses"
    finding: ClassVar[str] = "Responses reveal software versions"
    severity: ClassVar[Severity] = Severity.LOW
    needs_page: ClassVar[bool] = False
    why: ClassVar[str] = (
        "Version numbers in Server, X-Powered-By and similar headers (or on default error pages) tell an attacker "
        "which published vulnerabilities to try, and flag software that is out of support."
    )
    remediation: ClassVar[str] = (
        "Hide versions (and upgrade software that is out of support):\n"
        "nginx: `server_tokens off;`; remove X-Powered-By from the application or with `proxy_hide_header "
        "X-Powered-By; fastcgi_hide_header X-Powered-By;`\n"
        "Apache: `ServerTokens Prod` and `ServerSignature Off`; PHP: `expose_php = Off` in php.ini\n"
        'IIS: `<requestFiltering removeServerHeader="true" />` (IIS 10), `<httpRuntime enableVersionHeader="false"'
        ' />`, `<customHeaders><remove name="X-Powered-By" /></customHeaders>`; ASP.NET MVC: '
        "`MvcHandler.DisableMvcResponseHeader = true`."
    )

    def judge(self, facts: HttpFacts) -> Verdict:
        evidence = page_evidence(facts)
        found: dict[str, list[str]] = {}  # header line or page signature -> product/versions
        where: dict[str, str] = {}
        for response in facts.responses():
            for name in VERSION_HEADERS:
                for value, line in zip(response.values(name), response.lines(name), strict=True):
                    versions = versions_in(name, value)
                    if versions and line not in found:
                        found[line] = versions
                        where[line] = response.url
            if not 200 <= response.status < 300:  # default error pages print the server's version
                for signature in page_versions(response):
                    key = f"error page: {signature}"
                    if key not in found:
                        found[key] = versions_in("page", signature) or [signature]
                        where[key] = response.url
        if not found:
            return Verdict(
                Status.PASS,
                say(
                    "http.version_disclosure.none",
                    "No response reveals a software version (Server, X-Powered-By, X-AspNet-Version, "
                    "X-AspNetMvc-Version, X-Generator and default error pages).",
                ),
                evidence,
            )
        notes = {str(note): note for versions in found.values() for v in versions if (note := end_of_life(v))}
        eol = [notes[text] for text in sorted(notes)]
        evidence["disclosed"] = clip({"header": line, "url": shorten(where[line], 200)} for line in found)
        if eol:
            evidence["end_of_life"] = sorted(notes)
        products = [v for versions in found.values() for v in versions]
        host = parse(facts.url).host
        evidence[FACTS] = sorted(
            {software_fact(host, *v.rsplit("/", 1)) for v in products if "/" in v and ": " not in v}
        )
        revealed = listed(list(dict.fromkeys(products)))  # each once, in the order seen
        if eol:
            return Verdict(
                Status.FAIL,
                say(
                    "http.version_disclosure.end_of_life",
                    "Responses reveal {products}, and that is software out of support: {notes}.",
                    products=revealed,
                    notes=listed(eol),
                ),
                evidence,
                Severity.MEDIUM,
            )
        return Verdict(
            Status.FAIL,
            say("http.version_disclosure.revealed", "Responses reveal {products}.", products=revealed),
            evidence,
        )
