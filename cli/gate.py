"""``platscan gate``: the CI go-live gate. Scans, decides against the bar, writes JUnit/SARIF, exits."""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from cli.common import (
    choose_checks,
    db_option,
    fail_usage,
    lang_option,
    load_catalogue,
    open_profile,
    open_store,
    pick_platforms,
    read_targets,
    read_waivers,
    selection_options,
    stop_on_signals,
    timeout_option,
    waiver_notices,
    write_output,
)
from reports.placeholders import endpoint_host, fill
from scanner.assessment import Assessment, ScanAssessment, assess_scan
from scanner.config import shown
from scanner.gate import DEFAULT_FAIL_ON, DEFAULT_MIN_GRADE, Bar, Baseline, GateVerdict, Outcome, decide
from scanner.model import Platform, Severity, Status
from scanner.registry import (
    GRADES,
    Targets,
    TargetsError,
    address_problem,
    ca_bundle_file,
    host_problem,
    targets_from,
    url_problem,
)
from scanner.runner import ScanInterrupted, execute_scan
from scanner.scoring import fixes_to_reach
from scanner.store import Store
from scanner.urls import normalize_host, parse

if TYPE_CHECKING:
    from reports.i18n import CheckTexts
    from reports.view import FleetView

F = TypeVar("F", bound=Callable[..., Any])


def never_pass_on_a_crash(func: F) -> F:
    """An unexpected failure exits 3 (could not scan), never 1 or 0: a gate must not read as a verdict."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (SystemExit, KeyboardInterrupt, click.exceptions.Exit, click.ClickException):
            raise
        except Exception as exc:
            click.echo(f"platscan gate: could not complete: {type(exc).__name__}: {exc}", err=True)
            sys.exit(int(Outcome.COULD_NOT_SCAN))

    return wrapper  # type: ignore[return-value]


@click.command(
    epilog="""\b
Exit codes:
  0  every platform meets the bar
  1  at least one platform is below the bar
  2  usage or configuration error (bad option, targets file, waivers file, database)
  3  could not scan: a check could not run (endpoint unreachable, nmap missing, ...)
     A gate never passes because a scan failed; warnings alone never fail it.
     An unexpected internal failure also exits 3.
  130/143  interrupted (Ctrl-C / SIGTERM)"""
)
@click.argument("targets_file", metavar="[TARGETS]", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--url", help="Gate one URL that is not in a targets file (the URL is the whole scope).")
@click.option("--level", type=click.IntRange(1, 5), default=3, show_default=True, help="Security level, with --url.")
@click.option("--allowed-ports", default="80,443", show_default=True, help="Ports meant to be open, with --url.")
@click.option("--resolve", "resolves", multiple=True, metavar="HOST=IP", help="Connect to IP for HOST (with --url).")
@click.option("--ca-bundle", type=click.Path(dir_okay=False, path_type=Path), help="Extra trust anchors (PEM).")
@click.option("--platform", "platforms", multiple=True, metavar="ID", help="Gate only this platform (repeatable).")
@selection_options
@click.option("--min-grade", type=click.Choice(GRADES), help=f"Lowest passing grade [default: {DEFAULT_MIN_GRADE}].")
@click.option(
    "--fail-on",
    type=click.Choice([s.value for s in Severity]),
    help=f"Fail on any unwaived failure at this severity or above [default: {DEFAULT_FAIL_ON.value}].",
)
@click.option(
    "--require-compliant/--no-require-compliant",
    default=None,
    help="Also require compliance with the criteria at the platform's level.",
)
@click.option(
    "--waivers",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Waivers file [default: waivers.toml beside TARGETS].",
)
@click.option(
    "--baseline",
    metavar="SCAN_ID|last-passed",
    help="Fail only on what is new or worse than this scan (last-passed: the full bar until a gate has passed).",
)
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write JUnit XML here.")
@click.option("--sarif", type=click.Path(dir_okay=False, path_type=Path), help="Write SARIF 2.1.0 here.")
@db_option
@timeout_option
@click.option("--quiet", "-q", is_flag=True, help="Only the verdict lines.")
@lang_option
@never_pass_on_a_crash
def gate(
    targets_file: Path | None,
    url: str | None,
    level: int,
    allowed_ports: str,
    resolves: tuple[str, ...],
    ca_bundle: Path | None,
    platforms: tuple[str, ...],
    only: tuple[str, ...],
    skip: tuple[str, ...],
    min_grade: str | None,
    fail_on: str | None,
    require_compliant: bool | None,
    waivers: Path | None,
    baseline: str | None,
    junit: Path | None,
    sarif: Path | None,
    db: Path,
    timeout: float | None,
    quiet: bool,
    lang: str,
) -> None:
    """Go-live gate for CI: scan, then exit non-zero when a platform does not meet the bar.

    The bar: a minimum grade (default B), no unwaived failure at --fail-on or above (default
    high), and with --require-compliant the criteria at the platform's level. Per-platform
    defaults come from [platforms.gate] in the targets file; options override them.

    \b
    Examples:
      platscan gate targets.toml --platform dvc --junit junit.xml --sarif platscan.sarif
      platscan gate --url https://staging.dvc.nghean.example/ --level 3 --allowed-ports 443 \\
                    --resolve staging.dvc.nghean.example=10.20.0.5 --ca-bundle gov-ca.pem
    """
    overrides: dict[str, Any] = {}
    if timeout is not None:
        overrides["timeout"] = timeout
    if ca_bundle is not None:
        bundle = ca_bundle_file(str(ca_bundle), Path())
        if isinstance(bundle, str):
            fail_usage(f"--ca-bundle: {bundle}")
        overrides["ca_bundle"] = bundle
    if (targets_file is None) == (url is None):
        fail_usage("give either a TARGETS file or --url URL")
    if targets_file is not None:
        # A TARGETS file sets these per platform; silently ignoring them would gate another bar.
        given = [option for name, option in _URL_ONLY if option_given(name)]
        if given:
            fail_usage(
                f"{', '.join(given)}: only with --url; a TARGETS file sets level, allowed_ports and resolve "
                "for each platform in its [[platforms]] table"
            )
    if baseline is not None and baseline != "last-passed" and not baseline.isdigit():
        fail_usage(f"--baseline: {baseline!r} is not a scan number or last-passed")
    if baseline is not None and baseline.isdigit() and not db.exists():
        fail_usage(f"--baseline: no scan {int(baseline)}: there is no database at {db}")  # and none is created
    if url is not None:
        if platforms:
            fail_usage("--platform goes with a TARGETS file, not with --url")
        registered = targets = adhoc_targets(url, level, allowed_ports, resolves, overrides)
    else:
        assert targets_file is not None
        registered = read_targets(targets_file, overrides)
        targets = pick_platforms(registered, platforms)
    catalogue = load_catalogue(quiet=True)
    waiver_list = read_waivers(waivers, targets_file, registered, catalogue)
    checks = choose_checks(catalogue, only, skip, active=False)
    profile = open_profile(targets.settings.profile, catalogue)
    if not quiet:
        for warning in sorted({w for check in checks if (w := check.preflight(targets.settings))}):
            click.echo(f"warning: {warning}", err=True)
    with open_store(db) as store:
        baselines = {p.id: resolve_baseline(store, baseline, p.id) for p in targets.platforms} if baseline else {}
        for platform_id in sorted(p for p, found in baselines.items() if found is None):
            click.echo(
                f"notice: --baseline last-passed: {platform_id} has never passed a gate in {store.path}; "
                "it is gated against the full bar",
                err=True,
            )
        try:
            with stop_on_signals():
                outcome = execute_scan(
                    targets, checks, store, profile, {"only": list(only), "skip": list(skip)}, waivers=waiver_list
                )
        except ScanInterrupted as exc:
            click.echo(f"platscan gate: {exc.stop.reason}; not a pass", err=True)
            sys.exit(exc.stop.exit_code)
        # The gate decides on the scan's assessment; a report view is built only for the CI files.
        assessed, assessment = assess_scan(store, outcome.scan_id, profile)
        inactive = {check.id for check in catalogue.checks if check.active}
        gated = []
        for platform in sorted(targets.platforms, key=lambda p: p.id):
            if platform.id in assessed:
                bar = bar_for(platform, min_grade, fail_on, require_compliant)
                gated.append(judge(platform, assessed[platform.id], bar, baselines.get(platform.id), inactive))
        if junit is not None or sarif is not None:
            from reports.view import build

            write_ci_files(build(store, store.scan(outcome.scan_id), profile), junit, sarif, lang)
        # Stored last: a verdict whose CI files could not be written must not become `last-passed`.
        for item in gated:
            verdict = item.verdict
            store.save_gate(
                outcome.scan_id,
                item.platform.id,
                int(verdict.outcome),
                verdict.grade,
                [str(r) for r in verdict.reasons],
            )
    from reports.catalogue import check_texts

    worst = summarise(gated, assessment, outcome.scan_id, quiet, check_texts([check.entry() for check in checks], lang))
    sys.exit(int(worst))


_URL_ONLY = (("level", "--level"), ("allowed_ports", "--allowed-ports"), ("resolves", "--resolve"))


def option_given(name: str) -> bool:
    """Whether the user set the option (on the command line or in the environment), not its default."""
    source = click.get_current_context().get_parameter_source(name)
    return source is not None and source not in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)


def adhoc_targets(
    url: str, level: int, allowed_ports: str, resolves: Sequence[str], overrides: dict[str, Any]
) -> Targets:
    document = adhoc_document(url, level, allowed_ports, resolves)
    if isinstance(document, str):
        fail_usage(document)
    try:
        return targets_from(document, Path("--url"), overrides=overrides)
    except TargetsError as exc:
        fail_usage("\n".join(exc.problems))


def adhoc_platform(url: str, level: int, allowed_ports: str, resolves: Sequence[str]) -> Platform | str:
    """The platform that ``--url`` and its options describe, or the usage error, naming the option."""
    document = adhoc_document(url, level, allowed_ports, resolves)
    if isinstance(document, str):
        return document
    try:
        return targets_from(document, Path("--url")).platforms[0]
    except TargetsError as exc:
        return "\n".join(exc.problems)


def adhoc_document(url: str, level: int, allowed_ports: str, resolves: Sequence[str]) -> dict[str, Any] | str:
    """The one-platform targets document that ``--url`` and its options describe (validated, as a
    targets file is, by the registry and the families), or the usage error, naming the option.

    The options are checked first so that a problem names the option: the URL, and ``--resolve``
    IP addresses only."""
    problem = url_problem(url)
    if problem:
        return f"--url: {problem}"
    host = parse(url).host
    ports = parse_port_list(allowed_ports)
    if isinstance(ports, str):
        return f"--allowed-ports: {ports}"
    resolve: dict[str, str] = {}
    for entry in resolves:
        name, equals, address = entry.partition("=")
        if not equals or host_problem(name):
            return f"--resolve: {shown(entry)} is not HOST=IP"
        problem = address_problem(address)
        if problem:
            return f"--resolve: {shown(entry)}: {problem}; give the address to connect to, as curl --resolve does"
        if normalize_host(name) != host:
            return f"--resolve: {name} is not the host of --url ({host}); the URL is the whole scope"
        if resolve:
            return f"--resolve: {host} is given twice; one address per host"
        resolve[host] = address
    platform_id = re.sub(r"[^a-z0-9._-]", "-", host)[:64] or "target"
    # allowed_ports is the ports family's key; the registry hands it to whichever family declares it.
    return {
        "platforms": [
            {
                "id": platform_id,
                "name": url,
                "level": level,
                "urls": [url],
                "allowed_ports": list(ports),
                "resolve": resolve,
            }
        ]
    }


def parse_port_list(text: str) -> tuple[int, ...] | str:
    """The ports of a comma-separated list such as "80,443", sorted; a message when it is not one."""
    try:
        ports = tuple(sorted({int(p) for p in text.split(",") if p.strip()}))
    except ValueError:
        return f"{shown(text)} is not a comma-separated list of ports"
    if not all(1 <= p <= 65535 for p in ports):
        return f"{shown(text)} has a port outside 1-65535"
    return ports


def resolve_baseline(store: Store, baseline: str, platform: str) -> Baseline | None:
    """The baseline for ``platform``: its known, unwaived failures and grade in that scan."""
    scans = store.scans()
    if baseline == "last-passed":
        scan_id = store.last_passed(platform, max((s.id for s in scans), default=0) + 1)
        if scan_id is None:
            return None  # nothing has passed yet: the full bar applies
    elif baseline.isdigit():
        scan_id = int(baseline)
        if scan_id not in {s.id for s in scans}:
            fail_usage(f"--baseline: no scan {scan_id} in {store.path}")
    else:
        fail_usage(f"--baseline: {baseline!r} is not a scan number or last-passed")
    grade = store.stored_scores([scan_id])[scan_id].get(platform, (None, None))[1]
    if grade is None:
        fail_usage(f"--baseline: scan {scan_id} has no grade for platform {platform!r}")
    (judged,) = ScanAssessment(store, scan_id, platform=platform)
    failures = {
        (r.check, r.endpoint): r
        for r in judged.results
        if r.status == Status.FAIL and (r.check, r.endpoint) not in judged.waived
    }
    return Baseline(scan_id=scan_id, failures=failures, grade=grade)


@dataclass(frozen=True)
class Gated:
    verdict: GateVerdict
    bar: Bar
    baseline: Baseline | None
    platform: Platform
    assessment: Assessment


def judge(platform: Platform, judged: Assessment, bar: Bar, baseline: Baseline | None, inactive: set[str]) -> Gated:
    assert judged.compliance is not None  # assessed with the profile
    verdict = decide(
        platform.id, judged.results, judged.score, judged.compliance, bar, judged.waived_results, baseline, inactive
    )
    return Gated(verdict, bar, baseline, platform, judged)


def bar_for(platform: Platform, min_grade: str | None, fail_on: str | None, require: bool | None) -> Bar:
    own = platform.gate
    return Bar(
        min_grade=min_grade or (own.min_grade if own and own.min_grade else DEFAULT_MIN_GRADE),
        fail_on=Severity(fail_on) if fail_on else (own.fail_on if own and own.fail_on else DEFAULT_FAIL_ON),
        require_compliant=bool(
            require if require is not None else (own.require_compliant if own and own.require_compliant else False)
        ),
    )


def write_ci_files(fleet: FleetView, junit: Path | None, sarif: Path | None, lang: str = "en") -> None:
    from reports.render import render_report

    for path, fmt in ((junit, "junit"), (sarif, "sarif")):
        if path is not None:
            (file,) = render_report(fmt, fleet, lang)
            write_output(path, file.text)


def summarise(
    gated: Sequence[Gated], assessment: ScanAssessment, scan_id: int, quiet: bool, texts: CheckTexts
) -> Outcome:
    caps = assessment.caps
    """Print what was decided and why, in the language of ``texts``; return the worst outcome (the
    exit code)."""
    t, say = texts.t, texts.sentence
    for notice in waiver_notices(assessment):
        click.echo(f"warning: {notice}")
    for item in gated:
        verdict, bar, platform, score = item.verdict, item.bar, item.platform, item.assessment.score
        fail_on = t(f"severity.{bar.fail_on.value}").lower() if t.lang != "en" else bar.fail_on.value
        terms = t("gate.bar", grade=bar.min_grade, fail_on=fail_on)
        if item.baseline is not None:
            terms = t("gate.bar_baseline", scan=item.baseline.scan_id, fail_on=fail_on)
        if bar.require_compliant:
            terms += t("gate.bar_compliant")
        label = t(f"gate.outcome.{verdict.outcome.name.lower()}")
        click.echo(
            f"{label}  {platform.id} ({platform.name}): " + t("gate.verdict", grade=verdict.grade or "-", terms=terms)
        )
        for reason in verdict.reasons:
            click.echo(f"  - {say(reason)}")
        if quiet:
            continue
        for result in verdict.blocking:
            click.echo(f"    [{result.severity.value}] {result.check} {result.endpoint}: {texts.detail(result)}")
            remediation = texts.get(result.check, result.title, result.remediation).remediation
            fix = first_sentences(fill(remediation, platform.id, endpoint_host(result.endpoint)))
            if fix:
                click.echo(f"        {t('gate.fix')}: {fix}")
        if verdict.outcome == Outcome.BELOW_BAR and score.fixes and score.next_grade:
            click.echo(f"  {t('gate.to_reach', grade=score.next_grade, checks=', '.join(score.fixes))}")
        if verdict.outcome == Outcome.BELOW_BAR and item.baseline is None and bar.min_grade != score.next_grade:
            # The list an owner needs for go-live: the bar, not only the next letter.
            to_bar = fixes_to_reach(score, bar.min_grade, caps)
            if to_bar:
                click.echo(f"  {t('gate.to_reach_bar', grade=bar.min_grade, checks=', '.join(to_bar))}")
        if verdict.waived:
            waived = ", ".join(sorted({r.check for r in verdict.waived}))
            click.echo(f"  {t('gate.waived', n=len(verdict.waived), checks=waived)}")
        compliance = item.assessment.compliance
        if compliance is not None:
            # The reports' words for the same state (Compliant, Not compliant, Undetermined).
            state = t({True: "compliant", False: "not_compliant", None: "undetermined"}[compliance.compliant])
            click.echo(f"  {t('gate.compliance', level=compliance.level, state=state)}")
            active_only = [r.requirement.id for r in compliance.requirements if r.needs_active]
            if active_only:
                click.echo(f"  {t('gate.active_only', requirements=', '.join(active_only))}")
        if verdict.notes:
            click.echo(f"  {t('gate.warnings', n=len(verdict.notes))}")
            for note in verdict.notes:
                click.echo(f"    - {say(note)}")
    worst = max((item.verdict.outcome for item in gated), default=Outcome.PASSED)
    below = sum(1 for item in gated if item.verdict.outcome == Outcome.BELOW_BAR)
    unscanned = sum(1 for item in gated if item.verdict.outcome == Outcome.COULD_NOT_SCAN)
    if worst == Outcome.PASSED:
        click.echo(t("gate.passed", n=len(gated), scan=scan_id))
    else:
        click.echo(t("gate.failed", below=below, unscanned=unscanned, n=len(gated), scan=scan_id, code=int(worst)))
    return worst


#: Words whose full stop ends no sentence ("e.g. `default-src 'self'`").
_ABBREVIATIONS = ("e.g.", "i.e.", "cf.", "vs.", "incl.", "approx.")
#: Where a remediation's prose hands over to its snippets: "…, e.g." or "…:" before the first one.
_LEAD_IN = re.compile(r"(,?\s+(e\.g\.|for example|such as)|:)\s*$")
_SENTENCE_END = re.compile(r"[.!?][)\"'”]*(?=\s|$)")
_CODE = re.compile(r"`[^`]*`")


def first_sentences(remediation: str, budget: int = 240) -> str:
    """The opening whole sentence(s) of a remediation, for one line of the gate's log: as many as
    fit in ``budget`` characters, at least the first; never cut mid-sentence.

    Remediations open with a line of prose and go on with snippets, one server per line; the prose
    may hand over to them mid-sentence ("…, e.g." or "…:"): such a lead-in is ended as a sentence."""
    prose = remediation.strip().split("\n", 1)[0].strip()
    if not prose:
        return ""
    masked = _CODE.sub(lambda m: "_" * len(m.group()), prose)  # a full stop inside a snippet ends nothing
    ends = [m.end() for m in _SENTENCE_END.finditer(masked) if not masked[: m.end()].lower().endswith(_ABBREVIATIONS)]
    chosen = [end for end in ends if end <= budget] or ends[:1]
    if chosen:
        return prose[: chosen[-1]]
    lead_in = _LEAD_IN.search(prose)
    return (prose[: lead_in.start()] if lead_in else prose).rstrip(" ,;") + "."
