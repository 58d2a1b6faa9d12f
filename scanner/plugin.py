"""The check contract, the context a check runs in, and discovery of checks through entry points.

A check family gathers its facts about an endpoint once (``ScanContext.collect``), in an isolated
worker process with a hard deadline; each check of the family then judges those facts with a pure
function. Built-in checks register in the same entry-point group a third-party package would use.
"""

from __future__ import annotations

import abc
import functools
import itertools
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from scanner.facts import FactCache
from scanner.messages import Message
from scanner.model import Cap, CatalogueEntry, Endpoint, Platform, Result, Severity, Status
from scanner.scoring import GRADE_ORDER

ENTRY_POINT_GROUP = "platscan.checks"
BUILTIN_DISTRIBUTION = "platscan"

T = TypeVar("T")


@dataclass(frozen=True)
class ScanSettings:
    """Scan-wide settings from the ``[scan]`` table of the targets file and the command line.

    Attributes:
        concurrency: endpoints scanned at once.
        per_host: endpoints of the same host scanned at once (politeness towards one server).
        timeout: seconds allowed for one network operation (connect, read).
        retries: how often a failed connection is retried.
        endpoint_timeout: hard bound, in seconds, on all the collection for one endpoint.
        ca_bundle: extra trust anchors (PEM), used in addition to the system store.
        profile: the criteria profile's name or path.
        dns_servers: the resolvers every name lookup of the scan asks (``address`` or
            ``address:port``); empty: the system's (``scanner.dns``).
        active: whether checks that send more than ordinary traffic may run.
        families: family name -> its scan-wide settings, from the ``[scan]`` keys it declares
            (``Family.configure_scan``).
    """

    concurrency: int = 8
    per_host: int = 2
    timeout: float = 10.0
    retries: int = 1
    endpoint_timeout: float = 180.0
    ca_bundle: Path | None = None
    profile: str = "vn-baseline"
    dns_servers: tuple[str, ...] = ()
    active: bool = False
    families: tuple[tuple[str, Any], ...] = ()

    def family_settings(self, family: str) -> Any:
        """``family``'s scan-wide settings, or None when it was not configured (settings built by
        hand); the family then uses its defaults."""
        return next((settings for name, settings in self.families if name == family), None)


@dataclass(frozen=True)
class Verdict:
    """What a pure judge returns; ``Check.result`` turns it into a ``Result``.

    ``key`` names what was found (see ``Result.key``): the facts behind the verdict, never its wording.
    """

    status: Status
    detail: str | Message
    evidence: Mapping[str, Any] = field(default_factory=dict)
    severity: Severity | None = None
    key: str = ""


class ScanContext:
    """What a check may use while it runs on one endpoint: its platform, the settings, the shared facts.

    ``checks`` holds the ids of every check that runs on this endpoint in this scan (empty when not
    known), so that checks sharing one collection can shape it to what was selected: the auth
    family's active checks, for instance, send only the login attempts the selected checks need.
    """

    def __init__(
        self,
        platform: Platform,
        settings: ScanSettings,
        facts: FactCache,
        deadline: float,
        checks: Iterable[str] = (),
    ) -> None:
        self.platform = platform
        self.settings = settings
        self._facts = facts
        self.deadline = deadline
        self.checks = frozenset(checks)
        #: Keys of facts that only this endpoint asks for: the engine releases them when it is done.
        self.private_keys: set[Hashable] = set()

    def remaining(self) -> float:
        """Seconds left of this endpoint's time budget: what a collector is given (a duration, never
        the deadline itself, which is a reading of this machine's clock)."""
        return max(0.0, self.deadline - time.monotonic())

    def collect(self, key: Hashable, collector: Callable[..., T], *args: Any, private: bool = False) -> T:
        """Facts for ``key``, gathered once per scan by ``collector(*args)`` in a worker process.

        ``collector`` must be a module-level function and its arguments and return value picklable.
        Raises ``CollectionError`` (the same one to every caller) when the collector failed or ran
        past this endpoint's deadline.

        ``private=True`` says that no other endpoint asks for ``key`` (facts about this URL of this
        platform, say): they are released once this endpoint's checks are done instead of being held
        until the scan ends. Facts that endpoints share (a TLS server, a host's ports) stay.
        """
        if private:
            self.private_keys.add(key)
        return self._facts.get(key, collector, args, self.deadline)


class Check(abc.ABC):
    """The base of every check. Subclasses set the class attributes and implement ``run``.

    ``criteria`` is not declared here: the criteria profile (data) maps requirements to checks, so
    that a new framework needs no code change.

    ``caps`` are the grade caps a failure of this check imposes, strictest first (see ``Cap``): the
    scoring names no check, it applies what each check declares (stored with every scan).
    """

    id: ClassVar[str]
    title: ClassVar[str]
    finding: ClassVar[str] = ""
    severity: ClassVar[Severity]
    family: ClassVar[str]
    remediation: ClassVar[str]
    why: ClassVar[str] = ""
    active: ClassVar[bool] = False
    caps: ClassVar[tuple[Cap, ...]] = ()
    #: False for a check that only reads DNS about its endpoint's name and never connects to it: it
    #: runs even when the name has no address (a bogus DNSSEC zone, a mail domain without an A
    #: record), where every check that connects is `error` "does not resolve".
    needs_address: ClassVar[bool] = True

    def applies_to(self, endpoint: Endpoint) -> bool:
        return endpoint.kind == "url"

    def applies_on(self, endpoint: Endpoint, platform: Platform) -> bool:
        """Whether the check runs on ``endpoint`` of ``platform``: ``applies_to`` unless the check
        needs the platform to decide (a mail-domain check runs on the names its platform lists as
        mail domains). The engine plans with this one."""
        return self.applies_to(endpoint)

    @classmethod
    def preflight(cls, settings: ScanSettings) -> str | None:
        """Why this check cannot run on this machine (e.g. a missing program), said once before a scan.

        None when it can. The scan still runs: the check records ``error`` results with its reason.
        """
        return None

    @abc.abstractmethod
    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        """Judge the endpoint; network I/O belongs in a collector reached through ``ctx.collect``."""

    def result(
        self,
        endpoint: Endpoint,
        status: Status,
        detail: str | Message,
        evidence: Mapping[str, Any] | None = None,
        severity: Severity | None = None,
        key: str = "",
    ) -> Result:
        """A result of this check; ``detail`` is best a ``Message`` (``scanner.messages.say``), which
        every report renders in its language."""
        return Result(
            check=self.id,
            platform=endpoint.platform,
            endpoint=endpoint.target,
            status=status,
            severity=severity or self.severity,
            title=self.title,
            detail=str(detail),
            evidence=dict(evidence or {}),
            remediation=self.remediation,
            key=key,
            message=detail if isinstance(detail, Message) else None,
        )

    def from_verdict(self, endpoint: Endpoint, verdict: Verdict) -> Result:
        return self.result(endpoint, verdict.status, verdict.detail, verdict.evidence, verdict.severity, verdict.key)

    def entry(self, criteria: tuple[str, ...] = ()) -> CatalogueEntry:
        """What this check's results share in a scan whose profile maps it to ``criteria``."""
        return CatalogueEntry(
            check=self.id,
            family=self.family,
            title=self.title,
            severity=self.severity,
            remediation=self.remediation,
            why=self.why,
            active=self.active,
            criteria=criteria,
            caps=self.caps,
            finding=self.finding,
        )


@dataclass(frozen=True)
class PluginProblem:
    """A plugin that could not be used, named so its owner can find it."""

    name: str
    source: str
    reason: str

    def __str__(self) -> str:
        return f"check plugin {self.name!r} ({self.source}): {self.reason}"


@dataclass(frozen=True)
class Catalogue:
    checks: tuple[Check, ...]
    problems: tuple[PluginProblem, ...] = ()


def _contract_problem(name: str, obj: object) -> str | None:
    if not (isinstance(obj, type) and issubclass(obj, Check)):
        return "does not name a subclass of scanner.plugin.Check"
    if getattr(obj, "__abstractmethods__", None):
        return f"is abstract (missing {', '.join(sorted(obj.__abstractmethods__))})"
    for attr in ("id", "title", "family", "remediation"):
        value = getattr(obj, attr, None)
        if not isinstance(value, str) or not value.strip():
            return f"has no {attr}"
    if obj.id != name:
        return f"declares id {obj.id!r}, which differs from its entry-point name"
    if not obj.id.startswith(obj.family + "."):
        return f"id {obj.id!r} does not start with its family {obj.family!r}"
    if not isinstance(getattr(obj, "severity", None), Severity):
        return "has no severity of type scanner.model.Severity"
    return _caps_problem(getattr(obj, "caps", ()))


#: The letters a cap may hold a grade at (A+ is no cap).
CAP_GRADES = GRADE_ORDER[:-1]


def _caps_problem(caps: object) -> str | None:
    """Why ``caps`` is not a valid declaration: a tuple of ``Cap``, strictest first, none unreachable."""
    if not isinstance(caps, tuple) or not all(isinstance(cap, Cap) for cap in caps):
        return "caps must be a tuple of scanner.model.Cap"
    for cap in caps:
        if cap.grade not in CAP_GRADES:
            return f"cap grade {cap.grade!r} is not one of {', '.join(CAP_GRADES)}"
        if not isinstance(cap.min_severity, Severity):
            return "cap min_severity must be a scanner.model.Severity"
    for stricter, laxer in itertools.pairwise(caps):
        if CAP_GRADES.index(laxer.grade) < CAP_GRADES.index(stricter.grade):
            return "caps must be listed strictest first"
        if laxer.min_severity.rank >= stricter.min_severity.rank:
            return f"cap {laxer.grade} can never apply: the cap before it already covers its severities"
    return None


def load_plugins(
    group: str,
    found: Iterable[EntryPoint] | None,
    make: Callable[[str, object], object],
    what: str,
) -> tuple[dict[str, Any], list[PluginProblem]]:
    """name -> ``make(name, loaded object)`` for every entry point of ``group`` (or ``found``).

    Built-ins come first, so they win a name clash; then by name, for determinism. A plugin that
    fails to import, or that ``make`` refuses (a ``PluginRefused``) or fails on, is reported by name
    and left out: it never stops the others.
    """
    eps = list(entry_points(group=group) if found is None else found)
    eps.sort(key=lambda ep: (distribution_of(ep) != BUILTIN_DISTRIBUTION, ep.name, ep.value))
    chosen: dict[str, Any] = {}
    problems: list[PluginProblem] = []
    for ep in eps:
        source = f"{distribution_of(ep) or 'unknown package'}: {ep.value}"
        if ep.name in chosen:
            problems.append(PluginProblem(ep.name, source, f"{what} already provided by another plugin; ignored"))
            continue
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must not stop the scan
            problems.append(PluginProblem(ep.name, source, f"failed to load: {type(exc).__name__}: {exc}"))
            continue
        try:
            chosen[ep.name] = make(ep.name, obj)
        except PluginRefused as exc:
            problems.append(PluginProblem(ep.name, source, str(exc)))
        except Exception as exc:
            problems.append(PluginProblem(ep.name, source, f"failed to instantiate: {exc}"))
    return chosen, problems


class PluginRefused(Exception):
    """A loaded plugin breaks the contract; the message says how."""


def _make_check(name: str, obj: object) -> Check:
    problem = _contract_problem(name, obj)
    if problem:
        raise PluginRefused(problem)
    assert isinstance(obj, type) and issubclass(obj, Check)
    return obj()


def discover_checks(
    found: Iterable[EntryPoint] | None = None, wanted: Callable[[str], bool] | None = None
) -> Catalogue:
    """Load every check registered under ``platscan.checks`` (with ``wanted``, only the entry points
    whose names it accepts: nothing else is imported), sorted by id.

    A plugin that fails to import or breaks the contract is reported in ``problems`` by name and
    left out; it never stops the others. On an id clash the built-in check wins.
    """
    eps = list(entry_points(group=ENTRY_POINT_GROUP) if found is None else found)
    if wanted is not None:
        eps = [ep for ep in eps if wanted(ep.name)]
    chosen, problems = load_plugins(ENTRY_POINT_GROUP, eps, _make_check, "id")
    checks = tuple(sorted(chosen.values(), key=lambda check: check.id))
    return Catalogue(checks=checks, problems=tuple(problems))


def check_names(found: Iterable[EntryPoint] | None = None) -> frozenset[str]:
    """The names (check ids) of every entry point under ``platscan.checks``, without loading any."""
    return frozenset(ep.name for ep in (entry_points(group=ENTRY_POINT_GROUP) if found is None else found))


def selection_filter(only: Sequence[str], skip: Sequence[str]) -> Callable[[str], bool] | None:
    """Which entry-point names a ``--only``/``--skip`` selection can need, or None for all of them
    (no ``--only``).

    A check's id is its entry-point name and starts with its family and a dot (the contract), so
    the checks that ``select_checks`` picks are all among the names equal to, or under, a token of
    ``only``; those under a token of ``skip`` are loaded too, so that every token is known exactly
    as with the whole catalogue. ``select_checks`` still decides on the loaded checks.
    """
    wanted = _tokens(only)
    if not wanted:
        return None
    names = wanted | _tokens(skip)
    prefixes = tuple(f"{name}." for name in names)
    return lambda name: name in names or name.startswith(prefixes)


def _tokens(values: Sequence[str]) -> set[str]:
    return {token.strip() for value in values for token in value.split(",") if token.strip()}


def installed_caps() -> Mapping[str, tuple[Cap, ...]]:
    """check id -> the caps the installed checks declare: what a scan that did not record its caps
    (stored before schema 5) is graded with, and what results of no stored scan are scored with."""
    return _installed()[0]


def installed_active() -> frozenset[str]:
    """The ids of the installed active checks (they run only with ``--active``): what a requirement
    that a passive scan cannot evidence names."""
    return _installed()[1]


@functools.cache
def _installed() -> tuple[Mapping[str, tuple[Cap, ...]], frozenset[str]]:
    checks = discover_checks().checks
    return {c.id: c.caps for c in checks if c.caps}, frozenset(c.id for c in checks if c.active)


def distribution_of(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return str(dist.name) if dist is not None else ""


class SelectionError(ValueError):
    pass


def select_checks(
    checks: Sequence[Check], only: Sequence[str] = (), skip: Sequence[str] = (), active: bool = False
) -> tuple[Check, ...]:
    """The checks named by ``--only``/``--skip`` (families or ids, comma-separated, repeatable).

    Active checks are dropped unless ``active`` is set. Unknown names are a ``SelectionError``.
    """
    known_ids = {check.id for check in checks}
    known_families = {check.family for check in checks}

    def tokens(values: Sequence[str]) -> set[str]:
        out = _tokens(values)
        unknown = sorted(out - known_ids - known_families)
        if unknown:
            raise SelectionError(
                f"unknown check or family: {', '.join(unknown)} "
                f"(families: {', '.join(sorted(known_families))}; `platscan checks` lists the ids)"
            )
        return out

    wanted, unwanted = tokens(only), tokens(skip)

    def named(check: Check, names: set[str]) -> bool:
        return check.id in names or check.family in names

    return tuple(
        check
        for check in checks
        if (not wanted or named(check, wanted)) and not named(check, unwanted) and (active or not check.active)
    )
