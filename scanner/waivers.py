"""Waivers: approved, dated exceptions for known failures.

A waiver never hides a result: the database keeps every result as observed. Reports show a waived
failure as waived, the gate does not fail on it, an expired waiver stops applying (and says so),
and a waiver whose checks were tested and found nothing to cover is reported as stale so the file
does not rot.

A waiver is judged stale only inside what a scan tested: a ``--platform`` or ``--only`` scan, an
interrupted one, or a check that could not run (``error``) says nothing about the waivers of what
it did not test, and calling them stale would have owners delete approved exceptions. A waiver that
can never match (an unknown platform, check or endpoint) is refused when the file is read instead.
"""

from __future__ import annotations

import datetime as dt
import difflib
import fnmatch
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from scanner.config import ConfigFileError, Lines, key_name, read_toml, shown, unknown_key
from scanner.model import Result, Status
from scanner.plugin import installed_caps
from scanner.scoring import Caps, CheckOutcome, cap_for

WAIVER_KEYS = {"platform", "check", "endpoint", "reason", "approved_by", "expires"}
WAIVABLE = (Status.FAIL, Status.WARN)
CONCLUSIVE = (Status.PASS, Status.SKIP)  # the check ran and found nothing a waiver could cover
MAX_WAIVER_DAYS = 366  # an exception is re-approved at least once a year
_CHECK_PATTERN = re.compile(r"[a-z0-9]+\.[a-z0-9_*?\[\]]+")


class WaiverError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Waiver:
    """One approved exception. ``check`` and ``endpoint`` are shell-style patterns (``tls.*``)."""

    platform: str
    check: str
    endpoint: str
    reason: str
    approved_by: str
    expires: dt.date
    line: int = 0

    def matches(self, result: Result, caps: Caps | None = None) -> bool:
        """Whether this waiver covers ``result``; ``caps`` are the grade caps of its scan (None: the
        installed checks')."""
        if not self.concerns(result):
            return False
        if self.check == result.check:
            return True
        # A pattern never covers a finding that caps the grade at F: those are waived by exact id only.
        return not caps_at_f(result, caps)

    def concerns(self, result: Result) -> bool:
        """Whether ``result`` is of this waiver's platform, checks and endpoints, whatever its status."""
        return (
            result.platform == self.platform
            and fnmatch.fnmatchcase(result.endpoint, self.endpoint)
            and fnmatch.fnmatchcase(result.check, self.check)
        )

    def expired(self, on: dt.date) -> bool:
        return on > self.expires

    @property
    def where(self) -> str:
        """How messages name it: platform, check, endpoint pattern when there is one, and its line."""
        endpoint = "" if self.endpoint == "*" else f" {self.endpoint}"
        line = f" (line {self.line})" if self.line else ""
        return f"{self.platform} {self.check}{endpoint}{line}"

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "check": self.check,
            "endpoint": self.endpoint,
            "reason": self.reason,
            "approved_by": self.approved_by,
            "expires": self.expires.isoformat(),
            "line": self.line,  # in the waivers file: where to renew or remove it
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Waiver:
        return cls(
            platform=str(data["platform"]),
            check=str(data["check"]),
            endpoint=str(data.get("endpoint", "*")),
            reason=str(data["reason"]),
            approved_by=str(data["approved_by"]),
            expires=dt.date.fromisoformat(str(data["expires"])),
            line=int(data.get("line", 0)),
        )


@dataclass(frozen=True)
class WaiverOutcome:
    """How a set of waivers applies to a set of results on a given day.

    Attributes:
        waived: (platform, check, endpoint) -> the waiver that covers that failure.
        expired: waivers past their date, whether or not a failure would still need them.
        stale: waivers in force whose checks ran on their endpoints, every time conclusively
            (pass or skip), so there is nothing left to waive: the failure was fixed.
    """

    waived: Mapping[tuple[str, str, str], Waiver]
    expired: tuple[Waiver, ...]
    stale: tuple[Waiver, ...]

    def covers(self, result: Result) -> Waiver | None:
        return self.waived.get((result.platform, result.check, result.endpoint))


def caps_at_f(result: Result, caps: Caps | None = None) -> bool:
    outcome = CheckOutcome(result.check, Status.FAIL, result.severity, result.detail, 1)
    return cap_for(outcome, installed_caps() if caps is None else caps) == "F"


def apply_waivers(
    waivers: Sequence[Waiver], results: Iterable[Result], on: dt.date, caps: Caps | None = None
) -> WaiverOutcome:
    """How ``waivers`` apply to ``results`` on day ``on``; ``caps`` are the results' scan's grade caps.

    ``results`` are what was tested: a waiver none of whose checks and endpoints is among them is
    neither used nor stale (it is outside the scan), unless it has expired.
    """
    caps = installed_caps() if caps is None else caps
    results = list(results)
    waived: dict[tuple[str, str, str], Waiver] = {}
    expired: list[Waiver] = []
    stale: list[Waiver] = []
    for waiver in waivers:
        if waiver.expired(on):
            expired.append(waiver)
            continue
        concerned = [r for r in results if waiver.concerns(r)]
        matched = [r for r in concerned if r.status in WAIVABLE and waiver.matches(r, caps)]
        if concerned and not matched and all(r.status in CONCLUSIVE for r in concerned):
            stale.append(waiver)
        for result in matched:
            waived.setdefault((result.platform, result.check, result.endpoint), waiver)
    return WaiverOutcome(waived=waived, expired=tuple(expired), stale=tuple(stale))


@dataclass(frozen=True)
class WaiverScope:
    """What a waiver may name: the registered platforms with their endpoints, and the check ids.

    Attributes:
        source: where the platforms are registered (``targets.toml``), for the messages.
        endpoints: platform id -> the endpoint names its results carry (URLs as registered, hosts).
        checks: every check id that is installed.
    """

    source: str
    endpoints: Mapping[str, Sequence[str]]
    checks: Collection[str]

    def problems(self, platform: str, check: str, endpoint: str) -> list[str]:
        """What in one valid-looking entry can never match a result, field by field."""
        out = []
        if platform not in self.endpoints:
            out.append(
                f"platform: {shown(platform)} is not registered in {self.source}{_close(platform, self.endpoints)}"
            )
        elif not any(fnmatch.fnmatchcase(name, endpoint) for name in self.endpoints[platform]):
            names = ", ".join(self.endpoints[platform][:6]) + (", …" if len(self.endpoints[platform]) > 6 else "")
            out.append(f"endpoint: {shown(endpoint)} matches none of {platform}'s endpoints ({names})")
        if not any(fnmatch.fnmatchcase(known, check) for known in self.checks):
            hint = _close(check, self.checks) if not any(c in check for c in "*?[") else ""
            out.append(f"check: {shown(check)} names no installed check{hint} (platscan checks lists them)")
        return out


def _close(word: str, known: Collection[str]) -> str:
    near = difflib.get_close_matches(word, sorted(known), n=1)
    return f" (did you mean {near[0]}?)" if near else ""


def load_waivers(path: Path, today: dt.date | None = None, scope: WaiverScope | None = None) -> list[Waiver]:
    """Read and validate a waivers file; every problem names the file, line, entry and field.

    With ``scope``, a waiver that names an unregistered platform, an endpoint of none of its
    platform's endpoints, or no installed check is a problem too: it could never apply.
    """
    today = today or dt.date.today()
    try:
        text, doc = read_toml(path)
    except ConfigFileError as exc:
        raise WaiverError([str(exc)]) from None
    lines = Lines(text)
    problems: list[str] = []
    for key in sorted(set(doc) - {"waivers"}):
        problems.append(f"{path.name}: {key_name(key)}: unknown top-level key (expected [[waivers]] tables)")
    entries = doc.get("waivers", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise WaiverError([*problems, f"{path.name}: waivers: must be an array of tables ([[waivers]])"])
    waivers = []
    for index, entry in enumerate(entries):
        line = lines.entry("[[waivers]]", index)
        where = f"{path.name}:{line}: waivers[{index}]" if line else f"{path.name}: waivers[{index}]"
        before = len(problems)
        for key in sorted(set(entry) - WAIVER_KEYS):
            problems.append(f"{where}: {key_name(key)}: {unknown_key(WAIVER_KEYS)}")
        for key in ("platform", "check", "reason", "approved_by"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                problems.append(f"{where}: {key}: required (a non-empty string)")
        if "endpoint" in entry and not isinstance(entry["endpoint"], str):
            problems.append(f"{where}: endpoint: must be a string (a URL, a host, or a pattern with *)")
        expires = entry.get("expires")
        if isinstance(expires, dt.datetime):
            expires = expires.date()
        if not isinstance(expires, dt.date):
            problems.append(f"{where}: expires: required (a date without quotes, e.g. expires = 2027-03-31)")
        check = entry.get("check")
        if isinstance(check, str) and not _CHECK_PATTERN.fullmatch(check):
            problems.append(
                f"{where}: check: {shown(check)} is not a check id or a pattern within one family "
                "(tls.protocol_legacy, http.*)"
            )
        if isinstance(expires, dt.date) and (expires - today).days > MAX_WAIVER_DAYS:
            problems.append(f"{where}: expires: {expires} is more than a year ahead; waivers are re-approved yearly")
        if len(problems) == before and scope is not None:
            endpoint = entry.get("endpoint", "*")
            problems += [f"{where}: {p}" for p in scope.problems(entry["platform"], entry["check"], endpoint)]
        if len(problems) == before:
            assert isinstance(expires, dt.date)
            waivers.append(
                Waiver(
                    platform=entry["platform"],
                    check=entry["check"],
                    endpoint=entry.get("endpoint", "*"),
                    reason=entry["reason"].strip(),
                    approved_by=entry["approved_by"].strip(),
                    expires=expires,
                    line=line,
                )
            )
    if problems:
        raise WaiverError(problems)
    return waivers


def scoring_view(results: Iterable[Result], outcome: WaiverOutcome) -> list[Result]:
    """The results as the grade sees them: a waived failure is an accepted risk, so it neither
    deducts nor caps. It counts as tested and passed, not as "does not apply": the check ran and its
    answer is known, so coverage does not drop. Reports still show it, marked waived."""
    out = []
    for result in results:
        waiver = outcome.covers(result)
        if waiver is None:
            out.append(result)
        else:
            out.append(replace(result, status=Status.PASS, detail=f"waived until {waiver.expires}: {waiver.reason}"))
    return out


def waivers_of_scan(settings: Mapping[str, Any]) -> list[Waiver]:
    """The waivers a scan ran with (stored in its settings)."""
    return [Waiver.from_json(entry) for entry in settings.get("waivers", [])]


def scan_day(started: str) -> dt.date:
    return dt.datetime.fromisoformat(started).date()
