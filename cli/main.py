"""The ``platscan`` command line: parses options, calls the library, maps errors to exit codes.

Exit codes: 0 the command did its job (a scan that finds problems still exits 0); 2 usage or
configuration error, or a database that cannot be used (locked past the wait, disk full, removed
during the scan); 1 an unexpected failure; 130 interrupted with Ctrl-C.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from cli.common import (
    EXIT_NOT_ASSESSED,
    Progress,
    build_report,
    choose_checks,
    db_option,
    fail_usage,
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
from reports.i18n import LANGUAGES
from scanner import __version__
from scanner.assessment import ScanAssessment
from scanner.criteria import Profile
from scanner.plugin import Check
from scanner.registry import Targets
from scanner.runner import ScanInterrupted, execute_scan, start_workers
from scanner.store import Store, StoreError
from scanner.waivers import Waiver


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
        run_and_summarise(store, targets, checks, profile, selection, quiet, approved)


def run_and_summarise(
    store: Store,
    targets: Targets,
    checks: Sequence[Check],
    profile: Profile,
    selection: dict[str, list[str]],
    quiet: bool,
    waivers: Sequence[Waiver] = (),
    exit_when_unassessed: bool = True,
) -> int:
    from reports.text import assessed_summary

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
            click.echo(assessed_summary(names[judged.platform], judged))
        stored += len(judged.results)
        if judged.score.grade is None:
            unassessed.append(judged.platform)
    if not quiet:
        for notice in waiver_notices(assessment):
            click.echo(f"warning: {notice}", err=True)
        click.echo(
            f"\nscan {outcome.scan_id} {outcome.status.value}: {outcome.endpoints} endpoints, "
            f"{stored} results stored in {store.path}"
        )
    if unassessed:
        # Stored, but not a success: a scheduled job must alert on a fleet it could not see.
        click.echo(
            f"platscan: {len(unassessed)} of {len(names)} platform(s) could not be assessed "
            f"({', '.join(unassessed)}); exit {EXIT_NOT_ASSESSED}",
            err=True,
        )
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
@click.option("--lang", type=click.Choice(LANGUAGES), default="en", show_default=True, help="Language of the report.")
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
def list_checks(fmt: str, profile: str) -> None:
    """List the check catalogue: id, family, severity, criteria and title.

    \b
    Example:
      platscan checks --format json
    """
    catalogue = load_catalogue()
    criteria = open_profile(profile, catalogue).criteria_by_check()
    rows: list[dict[str, Any]] = [
        {
            "id": check.id,
            "family": check.family,
            "severity": check.severity.value,
            "active": check.active,
            "criteria": list(criteria.get(check.id, ())),
            "title": check.title,
        }
        for check in catalogue.checks
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        crit = ",".join(row["criteria"]) or "-"
        click.echo(f"{row['id']:<32} {row['family']:<6} {row['severity']:<8} {crit:<14} {row['title']}")


@main.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("platscan-demo"),
    show_default=True,
    help="Where the demo's certificates, database and reports go.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
def demo(workdir: Path, quiet: bool) -> None:
    """Start a demo fleet on 127.0.0.1, scan it, and write its reports (HTML and JSON).

    The demo fleet is a handful of pure-Python TLS endpoints named after a province's shared
    platforms, some configured well and some badly, with their own test CA. Nothing leaves
    this machine.

    \b
    Example:
      platscan demo --workdir /tmp/demo
    """
    from scanner.demo.fleet import DemoFleet

    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "platscan-demo.db"
    catalogue = load_catalogue(quiet)
    with DemoFleet(workdir) as fleet:
        targets = read_targets(fleet.targets_path, {})
        profile = open_profile(targets.settings.profile, catalogue)
        with open_store(db) as store:
            passive = tuple(check for check in catalogue.checks if not check.active)  # the demo never sends logins
            # The demo fleet includes unreachable cases on purpose: its job is the report.
            scan_id = run_and_summarise(store, targets, passive, profile, {}, quiet, exit_when_unassessed=False)
            report_path = workdir / "report.json"
            write_files(report_path, build_report(store, scan_id, "json", "en", None, None))
            html_path = workdir / "fleet.html"
            write_files(html_path, build_report(store, scan_id, "html", "en", None, None, html_path.name))
    click.echo(f"\nHTML report: {html_path.resolve()}")
    click.echo(f"JSON report: {report_path.resolve()}")
    click.echo(f"Database:    {db.resolve()}")
    click.echo(f"Targets:     {fleet.targets_path.resolve()}")


main.add_command(gate)
