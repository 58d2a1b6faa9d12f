"""The ``platscan`` command line: parses options, calls the library, maps errors to exit codes.

Exit codes: 0 the command did its job (a scan that finds problems still exits 0); 2 usage or
configuration error, or a database that cannot be used (locked past the wait, disk full, removed
during the scan); 1 an unexpected failure; 130 interrupted with Ctrl-C.
"""

from __future__ import annotations

import json
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.common import (
    EXIT_NOT_ASSESSED,
    Progress,
    build_report,
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
    write_files,
)
from cli.gate import gate
from cli.init import init
from scanner import __version__
from scanner.assessment import ScanAssessment
from scanner.criteria import Profile
from scanner.plugin import Check
from scanner.registry import Targets
from scanner.runner import ScanInterrupted, execute_scan, start_workers
from scanner.store import Store, StoreError
from scanner.waivers import Waiver

if TYPE_CHECKING:
    from scanner.demo.workdir import DemoLayout


class LazyChoice(click.Choice[str]):
    """A ``click.Choice`` whose choices are read when first needed (parsing or help for its own
    command), so that building the command line does not import what defines them."""

    def __init__(self, load: Callable[[], Sequence[str]]) -> None:
        super().__init__(())
        self._load = load
        self._loaded: tuple[str, ...] | None = None

    @property
    def choices(self) -> tuple[str, ...]:
        if self._loaded is None:
            self._loaded = tuple(self._load())
        return self._loaded

    @choices.setter
    def choices(self, value: Sequence[str]) -> None:
        self._loaded = tuple(value) if value else None


def report_formats() -> Sequence[str]:
    from reports.render import FORMATS

    return FORMATS


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="platscan")
def main() -> None:
    """platscan: security compliance scanner for a province's shared digital platforms.

    Checks every registered platform endpoint (TLS, exposed ports, HTTP headers and cookies,
    authentication) against the provincial criteria, stores every result in SQLite and writes
    reports. Start with `platscan demo`, then `platscan scan targets.toml`.
    """


@main.command()
@click.argument("targets_file", metavar="TARGETS", type=click.Path(dir_okay=False, path_type=Path))
@db_option
@click.option("--platform", "platforms", multiple=True, metavar="ID", help="Scan only this platform (repeatable).")
@selection_options
@click.option("--concurrency", type=click.IntRange(1, 256), help="Endpoints scanned at once (default from [scan]).")
@timeout_option
@click.option("--active", is_flag=True, help="Also run active checks (login attempts); needs written authorisation.")
@click.option(
    "--waivers",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Waivers file [default: waivers.toml beside TARGETS, if there is one].",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress or summary output.")
@lang_option
def scan(
    targets_file: Path,
    db: Path,
    platforms: tuple[str, ...],
    only: tuple[str, ...],
    skip: tuple[str, ...],
    concurrency: int | None,
    timeout: float | None,
    active: bool,
    waivers: Path | None,
    quiet: bool,
    lang: str,
) -> None:
    """Scan every registered platform in TARGETS and store the results.

    Exits 0 when the scan ran and is stored, whatever it found; 3 when it is stored but a platform
    could not be assessed (none of its web URLs could be tested: it has no grade); 2 on a bad
    targets file or option, or when the database cannot take the scan (the message says where its
    results are).

    \b
    Example:
      platscan scan targets.toml --db fleet.db --only tls
    """
    overrides: dict[str, Any] = {"active": active}
    if concurrency is not None:
        overrides["concurrency"] = concurrency
    if timeout is not None:
        overrides["timeout"] = timeout
    registered = read_targets(targets_file, overrides)
    targets = pick_platforms(registered, platforms)
    catalogue = load_catalogue(quiet)
    checks = choose_checks(catalogue, only, skip, active)
    start_workers(targets.platforms, checks)  # the forkserver preloads while the scan is prepared
    profile = open_profile(targets.settings.profile, catalogue)
    # Before the store: a bad file leaves no database behind.
    approved = read_waivers(waivers, targets_file, registered, catalogue)
    with open_store(db) as store:
        selection = {"only": list(only), "skip": list(skip)}
        run_and_summarise(store, targets, checks, profile, selection, quiet, approved, lang=lang)


def run_and_summarise(
    store: Store,
    targets: Targets,
    checks: Sequence[Check],
    profile: Profile,
    selection: dict[str, list[str]],
    quiet: bool,
    waivers: Sequence[Waiver] = (),
    exit_when_unassessed: bool = True,
    lang: str = "en",
) -> int:
    from reports.i18n import CheckTexts
    from reports.text import assessed_summary

    texts = CheckTexts(lang, {})
    t = texts.t

    if not quiet:
        for warning in sorted({w for check in checks if (w := check.preflight(targets.settings))}):
            click.echo(f"warning: {warning}", err=True)
    progress = Progress(enabled=not quiet and sys.stderr.isatty())
    try:
        with stop_on_signals():
            outcome = execute_scan(targets, checks, store, profile, selection, progress, waivers)
    except ScanInterrupted as exc:
        click.echo(f"\n{exc.stop.reason}: scan {exc.scan_id} kept the results of {exc.finished} endpoint(s)", err=True)
        sys.exit(exc.stop.exit_code)
    # One platform at a time: a fleet's results need not all be in memory to be summarised.
    names = {row["id"]: row["name"] for row in store.platforms(outcome.scan_id)}
    stored, unassessed = 0, []
    assessment = ScanAssessment(store, outcome.scan_id)
    for judged in assessment:
        if not quiet:
            click.echo(assessed_summary(names[judged.platform], judged, texts))
        stored += len(judged.results)
        if judged.score.grade is None:
            unassessed.append(judged.platform)
    if not quiet:
        for notice in waiver_notices(assessment):
            click.echo(f"warning: {notice}", err=True)
        status = outcome.status.value if lang == "en" else t(f"term.scan_{outcome.status.value}")
        done = t("term.scan_done", scan=outcome.scan_id, status=status, endpoints=outcome.endpoints, results=stored)
        click.echo(f"\n{done} {store.path}")
    if unassessed:
        # Stored, but not a success: a scheduled job must alert on a fleet it could not see.
        said = t(
            "term.unassessed",
            n=len(unassessed),
            total=len(names),
            platforms=", ".join(unassessed),
            code=EXIT_NOT_ASSESSED,
        )
        click.echo(f"platscan: {said}", err=True)
    if unassessed and exit_when_unassessed:
        sys.exit(EXIT_NOT_ASSESSED)
    return outcome.scan_id


@main.command()
@db_option
@click.option("--scan", "scan_id", type=int, help="Scan number (default: the latest).")
@click.option("--format", "fmt", type=LazyChoice(report_formats), default="json", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    required=True,
    help="File to write, or - for standard output.",
)
@click.option("--platform", metavar="ID", help="Only this platform (the remediation report for its owner).")
@lang_option
@click.option("--profile", help="Criteria profile to judge compliance with (default: the one the scan used).")
def report(
    db: Path, scan_id: int | None, fmt: str, output: Path, platform: str | None, lang: str, profile: str | None
) -> None:
    """Write a stored scan as a report, graded with the current scoring rules.

    HTML: the fleet overview at -o, with one remediation page per platform in the folder
    <name>-platforms/ beside it; with --platform, that platform's page alone. CSV: one row per
    result (UTF-8 with BOM, for spreadsheets). JSON: the platscan/1 document.

    \b
    Examples:
      platscan report --db fleet.db --format html -o out/fleet.html --lang vi
      platscan report --db fleet.db --format html --platform dvc -o dvc.html
      platscan report --db fleet.db --format json -o scan.json
    """
    if fmt == "html" and platform is None and str(output) == "-":
        # The fleet page links one page per platform; standard output can hold only the one page.
        fail_usage(
            "--format html -o - would write a fleet page whose links to the platform pages lead nowhere: "
            "give -o FILE (the platform pages go in a folder beside it), or --platform ID for one page "
            "on standard output"
        )
    if not db.exists():
        fail_usage(f"no database at {db}: run `platscan scan TARGETS --db {db}` first")
    main_name = output.name if str(output) != "-" else "fleet.html"
    with open_store(db, write=False) as store:
        files = build_report(store, scan_id, fmt, lang, platform, profile, main_name)
    write_files(output, files)


@main.command()
@db_option
@click.option("--scan", "scan_id", type=int, help="Only this scan (default: every scan).")
def rescore(db: Path, scan_id: int | None) -> None:
    """Grade stored scans again with the current scoring rules (after an upgrade changed them).

    \b
    Example:
      platscan rescore --db fleet.db
    """
    from scanner.runner import save_scores
    from scanner.scoring import SCORING_VERSION

    if not db.exists():
        fail_usage(f"no database at {db}")
    with open_store(db) as store:
        try:
            scans = [store.scan(scan_id)] if scan_id is not None else store.scans()
        except StoreError as exc:
            fail_usage(str(exc))
        for scan_row in scans:
            save_scores(store, scan_row.id)
        store.confirm_in_place()
        click.echo(f"re-scored {len(scans)} scan(s) with scoring rules version {SCORING_VERSION}")


@main.command(name="checks")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--profile", default="vn-baseline", show_default=True, help="Criteria profile for the criteria column.")
@lang_option
def list_checks(fmt: str, profile: str, lang: str) -> None:
    """List the check catalogue: id, family, severity, criteria, whether it is active, and title.

    Active checks send more than ordinary traffic (login attempts): only `platscan scan --active`
    runs them, never `scan` without it, `gate` or `demo`.

    \b
    Example:
      platscan checks --format json
    """
    from reports.catalogue import check_texts

    catalogue = load_catalogue()
    criteria = open_profile(profile, catalogue).criteria_by_check()
    texts = check_texts([check.entry() for check in catalogue.checks], lang)
    rows: list[dict[str, Any]] = [
        {
            "id": check.id,
            "family": check.family,
            "severity": check.severity.value,
            "active": check.active,
            "criteria": list(criteria.get(check.id, ())),
            "title": texts.title(check.id),
            "finding": texts.failure(check.id),
        }
        for check in catalogue.checks
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    header = ("ID", "FAMILY", "SEVERITY", "CRITERIA", "ACTIVE", "TITLE")
    table = [header] + [
        (
            row["id"],
            row["family"],
            row["severity"],
            ",".join(row["criteria"]) or "-",
            "active" if row["active"] else "-",
            row["title"],
        )
        for row in rows
    ]
    widths = [max(len(cells[n]) for cells in table) for n in range(len(header) - 1)]
    for cells in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=False)) + "  " + cells[-1])
    if any(row["active"] for row in rows):
        click.echo("\nactive: sends more than ordinary traffic (login attempts); only `platscan scan --active` runs it")


@main.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("platscan-demo"),
    show_default=True,
    help="Where the demo's certificates, database and reports go (it never overwrites a file it did not create).",
)
@click.option(
    "--serve",
    is_flag=True,
    help="After the scan, keep the demo fleet running (until Ctrl-C or SIGTERM) to try scan, gate, waivers "
    "and --baseline on it.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@lang_option
def demo(workdir: Path, serve: bool, quiet: bool, lang: str) -> None:
    """Start a demo fleet on 127.0.0.1, scan it, and write its reports (HTML and JSON).

    The demo fleet is a handful of pure-Python TLS endpoints named after a province's shared
    platforms, some configured well and some badly, with their own test CA and DNS server, and
    the official e-mail system's mail host (SMTP and IMAP on 127.0.0.25, whose standard ports
    need root: without it the demo runs without the mail host and says so). Nothing leaves
    this machine. Each platform keeps its port from run to run in the same workdir, so a second
    run's report compares like with like ("new since" and "fixed" are true).

    \b
    Examples:
      platscan demo --workdir /tmp/demo
      platscan demo --workdir /tmp/demo --serve
    """
    import datetime as dt

    from reports.html import pages_directory
    from reports.i18n import Translator
    from scanner.demo.fleet import DemoFleet, write_waivers_example
    from scanner.demo.workdir import DemoLayout, WorkdirError, claim, remember_ports

    layout = DemoLayout(workdir, pages_directory("fleet.html"))
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        ports = claim(layout)
    except WorkdirError as exc:
        fail_usage(str(exc))
    except OSError as exc:
        fail_usage(f"cannot use {workdir} for the demo: {exc.strerror or exc}")
    catalogue = load_catalogue(quiet)
    with DemoFleet(workdir, ports=ports, lang=lang) as fleet:
        remember_ports(layout, fleet.ports)
        for moved in fleet.moved:
            click.echo(
                f"warning: port {moved.wanted} of demo platform {moved.platform} is taken; serving it on "
                f"{moved.port} (the report lists its findings as new: its endpoint changed)",
                err=True,
            )
        if fleet.mail_unavailable:
            click.echo(f"warning: {fleet.mail_unavailable}", err=True)
        write_waivers_example(layout.waivers_example, dt.date.today() + dt.timedelta(days=90))
        targets = read_targets(fleet.targets_path, {})
        profile = open_profile(targets.settings.profile, catalogue)
        with open_store(layout.database) as store:
            passive = tuple(check for check in catalogue.checks if not check.active)  # the demo never sends logins
            # The demo fleet includes unreachable cases on purpose: its job is the report.
            scan_id = run_and_summarise(
                store, targets, passive, profile, {}, quiet, exit_when_unassessed=False, lang=lang
            )
            write_files(layout.json_report, build_report(store, scan_id, "json", "en", None, None))
            html_path = layout.html_report
            write_files(html_path, build_report(store, scan_id, "html", lang, None, None, html_path.name))
        t = Translator(lang)
        click.echo(f"\n{t('term.html_report')} {html_path.resolve()}")
        click.echo(f"{t('term.json_report')} {layout.json_report.resolve()}")
        click.echo(f"{t('term.database')} {layout.database.resolve()}")
        click.echo(f"{t('term.targets')} {fleet.targets_path.resolve()}")
        if serve:
            click.echo(serve_instructions(layout, scan_id))
            stopped_by = wait_for_stop()
            click.echo(f"{stopped_by}: stopping the demo fleet", err=True)


def serve_instructions(layout: DemoLayout, scan_id: int) -> str:
    """What a newcomer can try against the running demo fleet, with this workdir's paths."""
    targets, db, waivers, html = (
        shlex.quote(str(path.resolve()))
        for path in (layout.targets, layout.database, layout.waivers_example, layout.html_report)
    )
    # The demo declares no test account, so auth.session_cookie cannot run; a gate would say "could not scan".
    gate = f"platscan gate {targets} --db {db} --skip auth.session_cookie"
    return "\n".join(
        [
            "",
            "The demo fleet keeps running on 127.0.0.1 until Ctrl-C (or SIGTERM). In another terminal, try:",
            f"  platscan scan {targets} --db {db}",
            f"  {gate} --platform dvc",
            f"  {gate} --platform motcua --waivers {waivers}",
            f"  {gate} --baseline {scan_id}",
            f"  platscan report --db {db} --format html -o {html}",
            "(the first gate passes; the second waives motcua's TLS 1.0 and 1.1 with the example waivers file and",
            f"still fails on its grade; the third fails only on what is new or worse than scan {scan_id}; the report",
            "shows what changed since the scan before it; the gates skip auth.session_cookie, which needs a test",
            "account that the demo does not declare)",
        ]
    )


def wait_for_stop() -> str:
    """Block until Ctrl-C, SIGTERM or SIGHUP; return the signal's name."""
    received: list[str] = []
    stopped = threading.Event()

    def stop(signum: int, frame: object) -> None:
        received.append(signal.Signals(signum).name)
        stopped.set()

    watched = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, stop) for sig in watched}
    try:
        while not stopped.wait(1.0):  # a timeout: a signal is handled between waits on every platform
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return received[0]


main.add_command(gate)
main.add_command(init)
