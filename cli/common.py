"""Plumbing shared by the ``platscan`` commands: common options, loading with clear errors, writing files.

Library errors become one-line messages and exit code 2 here; nothing below the CLI exits.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from reports.i18n import LANGUAGES
from scanner.criteria import Profile, ProfileError, load_profile
from scanner.engine import Job
from scanner.family import declared, discover_families
from scanner.files import write_atomically
from scanner.gate import Outcome
from scanner.model import Result, Status
from scanner.plugin import (
    Catalogue,
    Check,
    PluginProblem,
    SelectionError,
    check_names,
    discover_checks,
    select_checks,
    selection_filter,
)
from scanner.registry import Targets, TargetsError, endpoints, load_targets
from scanner.runner import Stop
from scanner.store import LOCK_TIMEOUT, Store, StoreError
from scanner.waivers import Waiver, WaiverError, WaiverScope, load_waivers

if TYPE_CHECKING:
    from reports.render import OutputFile
    from scanner.assessment import ScanAssessment

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USAGE = int(Outcome.USAGE)
#: `scan`: stored, but a platform could not be assessed (the gate's "could not scan").
EXIT_NOT_ASSESSED = int(Outcome.COULD_NOT_SCAN)


def db_option(func: F) -> F:
    return click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path),
        default=Path("platscan.db"),
        show_default=True,
        help="SQLite database that holds every scan.",
    )(func)


def selection_options(func: F) -> F:
    func = click.option(
        "--skip",
        multiple=True,
        metavar="CHECKS",
        help="Leave out these families or check ids (comma-separated, repeatable).",
    )(func)
    return click.option(
        "--only",
        multiple=True,
        metavar="CHECKS",
        help="Run only these families or check ids, e.g. --only tls or --only tls.cert_expired,tls.protocol_ssl.",
    )(func)


def fail_usage(message: str) -> NoReturn:
    click.echo(f"platscan: {message}", err=True)
    sys.exit(EXIT_USAGE)


class DeferredCatalogue(Catalogue):
    """The installed checks, loaded when first needed: ``choose_checks`` with ``--only`` loads (and
    imports) only the checks the selection can name, so ``scan --only tls`` never imports the
    other families; ``checks`` and ``problems`` are the whole catalogue's, loaded when first asked
    for, as ``load_catalogue`` always gave.

    ``known`` is what a criteria profile may name: every check id before the whole catalogue is
    needed (the selected part's ids and the names of the entry points it did not load, under a
    declared family); a plugin among those that would fail to load is not reported then.
    """

    _quiet: bool
    _lock: threading.Lock
    _whole: Catalogue | None
    _part: tuple[Catalogue, frozenset[str]] | None

    def __init__(self, quiet: bool) -> None:  # no dataclass __init__: the fields are properties
        object.__setattr__(self, "_quiet", quiet)
        object.__setattr__(self, "_lock", threading.Lock())
        object.__setattr__(self, "_whole", None)
        object.__setattr__(self, "_part", None)

    @property
    def checks(self) -> tuple[Check, ...]:
        return self.whole().checks

    @property
    def problems(self) -> tuple[PluginProblem, ...]:
        return self.whole().problems

    @property
    def known(self) -> frozenset[str]:
        part, whole = self._part, self._whole
        if whole is not None or part is None:
            return frozenset(check.id for check in self.whole().checks)
        return frozenset(check.id for check in part[0].checks) | part[1]

    def whole(self) -> Catalogue:
        with self._lock:
            whole = self._whole
            if whole is None:
                whole = declared(discover_checks(), discover_families())
                object.__setattr__(self, "_whole", whole)
                if not self._quiet and self._part is None:  # else the selected part's were said
                    warn(whole.problems)
            return whole

    def select(self, only: Sequence[str], skip: Sequence[str], active: bool) -> tuple[Check, ...]:
        """The selected checks, loading only what the selection needs (the rest in the background);
        raises ``SelectionError`` as ``select_checks`` does on the whole catalogue."""
        wanted = selection_filter(only, skip)
        if wanted is None or self._whole is not None:
            return select_checks(self.checks, only, skip, active)
        families = discover_families()
        part = declared(discover_checks(wanted=wanted), families)
        try:
            checks = select_checks(part.checks, only, skip, active)
        except SelectionError:
            checks = ()
        if not checks:  # an unknown name, or nothing left: the whole catalogue says so, as always
            return select_checks(self.checks, only, skip, active)
        prefixes = tuple(f"{family}." for family in families.by_name)
        unloaded = frozenset(name for name in check_names() if not wanted(name) and name.startswith(prefixes))
        object.__setattr__(self, "_part", (part, unloaded))
        if not self._quiet:
            warn(part.problems)
        return checks


def warn(problems: Sequence[PluginProblem]) -> None:
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)


def load_catalogue(quiet: bool = False) -> DeferredCatalogue:
    """The check catalogue; what ``choose_checks`` does not need is loaded later (``DeferredCatalogue``)."""
    return DeferredCatalogue(quiet)


def choose_checks(catalogue: Catalogue, only: Sequence[str], skip: Sequence[str], active: bool) -> tuple[Check, ...]:
    try:
        if isinstance(catalogue, DeferredCatalogue):
            checks = catalogue.select(only, skip, active)
        else:
            checks = select_checks(catalogue.checks, only, skip, active)
    except SelectionError as exc:
        fail_usage(str(exc))
    if not checks:
        fail_usage("the selection leaves no check to run")
    return checks


def known_checks(catalogue: Catalogue) -> Collection[str]:
    """Every installed check id, without importing the checks a ``--only`` selection left out."""
    return catalogue.known if isinstance(catalogue, DeferredCatalogue) else {check.id for check in catalogue.checks}


def open_profile(name: str, catalogue: Catalogue) -> Profile:
    known = known_checks(catalogue)
    try:
        return load_profile(name, known)
    except ProfileError as exc:
        if len(exc.problems) <= 1:
            fail_usage(str(exc))
        click.echo(f"platscan: criteria profile {name} has {len(exc.problems)} problem(s):", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(EXIT_USAGE)


class Seconds(click.FloatRange):
    """A number of seconds in a range; unlike ``FloatRange`` it refuses "nan", which no bound stops."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if math.isnan(number):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        return number


timeout_option = click.option(
    "--timeout", type=Seconds(0.5, 300), help="Seconds per network operation (default from [scan])."
)


@contextlib.contextmanager
def open_store(path: Path, write: bool = True) -> Iterator[Store]:
    """The store for a command; any StoreError inside (a database locked past the wait, a full
    disk, a vanished file) ends the command with its one-line message and exit code 2.

    ``write=False`` for commands that only read: they never wait for another writer's lock, and
    read databases on read-only media. ``PLATSCAN_LOCK_TIMEOUT`` (seconds) sets how long writers
    wait for other processes' locks.
    """
    try:
        store = Store(path, write=write, lock_timeout=lock_timeout())
    except StoreError as exc:
        fail_usage(str(exc))
    try:
        with store:
            yield store
    except StoreError as exc:
        fail_usage(str(exc))


def lock_timeout() -> float:
    raw = os.environ.get("PLATSCAN_LOCK_TIMEOUT")
    if raw is None:
        return LOCK_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        fail_usage(f"PLATSCAN_LOCK_TIMEOUT must be a number of seconds, not {raw!r}")
    return value


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP (cron timeouts, systemd, a closed terminal) stop a scan as Ctrl-C does:
    collectors killed, finished endpoints kept, the scan marked interrupted."""

    def stop(signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        raise Stop(f"stopped by {name}", exit_code=128 + signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Progress:
    """A one-line progress counter on a terminal; silent otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.total = 0
        self.done = 0
        self.failing = 0

    def started(self, total: int) -> None:
        self.total = total
        self._draw()

    def finished(self, job: Job, results: Sequence[Result]) -> None:
        self.done += 1
        self.failing += sum(1 for r in results if r.status == Status.FAIL)
        self._draw()
        if self.enabled and self.done == self.total:
            click.echo("", err=True)

    def _draw(self) -> None:
        if self.enabled:
            click.echo(
                f"\rscanned {self.done}/{self.total} endpoints, {self.failing} failing checks", nl=False, err=True
            )


def read_targets(path: Path, overrides: dict[str, Any]) -> Targets:
    """Every platform the targets file registers (``pick_platforms`` narrows it to ``--platform``)."""
    try:
        return load_targets(path, overrides)
    except TargetsError as exc:
        click.echo(f"platscan: {path} has {len(exc.problems)} problem(s):", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(EXIT_USAGE)


def pick_platforms(targets: Targets, platforms: Sequence[str]) -> Targets:
    try:
        return targets.only(tuple(platforms))
    except KeyError as exc:
        fail_usage(str(exc.args[0]))


def build_report(
    store: Store,
    scan_id: int | None,
    fmt: str,
    lang: str,
    platform: str | None,
    profile: str | None,
    main_name: str = "fleet.html",
) -> list[OutputFile]:
    from reports.render import render_report
    from reports.view import build

    try:
        scan_row = store.scan(scan_id)
    except StoreError as exc:
        fail_usage(str(exc))
    if platform is not None and platform not in {p["id"] for p in store.platforms(scan_row.id)}:
        fail_usage(f"scan {scan_row.id} has no platform {platform!r}")
    name = profile or str(store.scan_settings(scan_row.id).get("profile", "vn-baseline"))
    fleet = build(store, scan_row, open_profile(name, load_catalogue(quiet=True)), platform)
    return render_report(fmt, fleet, lang, platform, main_name)


def write_files(output: Path, files: Sequence[OutputFile]) -> None:
    for file in files:
        if file.name is None:
            write_output(output, file.text)
        elif str(output) != "-":
            write_output(output.parent / file.name, file.text, announce=False)


def write_output(output: Path, text: str, announce: bool = True) -> None:
    """Write one output file (a report, JUnit, SARIF) whole, or exit 2 leaving what was there."""
    if str(output) == "-":
        write_stdout(text)
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(output, text.encode("utf-8"))
    except OSError as exc:
        fail_usage(f"cannot write {output}: {exc.strerror or exc}")
    if announce:
        click.echo(f"wrote {output}", err=True)


def write_stdout(text: str) -> None:
    try:
        click.echo(text, nl=False)
    except OSError as exc:
        # Python would try the buffered rest again at exit and print its own traceback-like noise.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        fail_usage(f"cannot write to standard output: {exc.strerror or exc}")


def read_waivers(
    path: Path | None, targets_file: Path | None, registered: Targets, catalogue: Catalogue
) -> list[Waiver]:
    """The waivers file's waivers, each checked against every platform ``registered`` (not only the
    ones a ``--platform`` scan picks) and every installed check id."""
    if path is None and targets_file is not None and (targets_file.parent / "waivers.toml").is_file():
        path = targets_file.parent / "waivers.toml"
    if path is None:
        return []
    scope = WaiverScope(
        source=registered.path.name,
        endpoints={p.id: [e.target for e in endpoints(p)] for p in registered.platforms},
        checks=known_checks(catalogue),
    )
    try:
        return load_waivers(path, scope=scope)
    except WaiverError as exc:
        click.echo(f"platscan: {path} has {len(exc.problems)} problem(s):", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(EXIT_USAGE)


def waiver_notices(assessment: ScanAssessment) -> list[str]:
    """What the waivers file needs after a scan: expired waivers to renew or remove, stale ones to
    remove (only where the scan tested their checks and found them passing)."""
    notices = [f"waiver for {w.where} expired on {w.expires}; it no longer applies" for w in assessment.expired]
    notices += [
        f"waiver for {w.where} is stale: its checks passed on every endpoint it names; remove it"
        for w in assessment.stale
    ]
    return notices


def default_language() -> str:
    """The terminal's language: Vietnamese under a Vietnamese locale (LC_ALL, then LC_MESSAGES, then
    LANG, as POSIX orders them), else English."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value:
            return "vi" if value.lower().startswith("vi") else "en"
    return "en"


lang_option = click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    default=default_language,
    show_default="en; vi under a Vietnamese locale",
    help="Language of what is printed and written.",
)
