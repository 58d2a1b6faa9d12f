"""The values that flow through platscan: what is registered, what is scanned, what was found.

Everything here is a frozen dataclass or a str-Enum so it can be pickled to a worker, stored as
JSON and compared in tests without surprises.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from scanner.messages import Message, Text
from scanner.urls import UnusableUrl, normalize_host, parse


class Status(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    ERROR = "error"
    SKIP = "skip"


class Severity(enum.StrEnum):
    """The one severity scale. ``rank`` orders it: a bigger rank is worse."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class ScanStatus(enum.StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"
    INTERRUPTED = "interrupted"
    FAILED = "failed"


@dataclass(frozen=True)
class GateSettings:
    """A platform's own go-live bar (``[platforms.gate]``); None means the gate's default."""

    min_grade: str | None = None
    fail_on: Severity | None = None
    require_compliant: bool | None = None


@dataclass(frozen=True)
class Platform:
    """One registered platform, as written in the targets file (validated)."""

    id: str
    name: str
    owner: str = ""
    contact: str = ""
    level: int = 3
    urls: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    resolve: tuple[tuple[str, str], ...] = ()
    tags: tuple[str, ...] = ()
    gate: GateSettings | None = None
    #: family name -> what the family made of this platform's entry (its table and keys).
    families: tuple[tuple[str, Any], ...] = ()
    #: Services on the platform's hosts that its families test beyond its URLs, as URLs
    #: ("smtp://mx1.example:25"), and the names they only look up in DNS (mail domains that are not
    #: hosts): what the families' ``endpoints`` declare for this platform (``Family.endpoints``).
    services: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    #: Hosts the scan's resolver found no address for, with its reason (set by the engine, not the
    #: targets file): a client must not look them up again.
    unresolved: tuple[tuple[str, Text], ...] = ()

    def family_settings(self, family: str) -> Any:
        """What ``family`` made of this platform's entry (``Family.configure``), or None when it was not
        configured (a platform built by hand); the family then uses its defaults."""
        return next((settings for name, settings in self.families if name == family), None)

    def address_for(self, host: str) -> str | None:
        """The address registered with ``resolve`` for ``host``, or None to use DNS."""
        wanted = normalize_host(host)
        for name, address in self.resolve:
            if name == wanted:
                return address
        return None

    def unresolved_reason(self, host: str) -> Text | None:
        """Why the scan's resolver found no address for ``host``, or None."""
        wanted = normalize_host(host)
        return next((reason for name, reason in self.unresolved if name == wanted), None)

    @property
    def all_hosts(self) -> tuple[str, ...]:
        """Every host the platform owns: the URLs' hosts, then ``hosts``; the scan scope."""
        seen: dict[str, None] = {}
        for url in self.urls:
            # The host the URL is dialled at (the registry refuses URLs that parsers read differently).
            try:
                seen[parse(url).host] = None
            except UnusableUrl:
                continue
        for host in self.hosts:
            seen[normalize_host(host)] = None
        return tuple(seen)


@dataclass(frozen=True)
class Endpoint:
    """One thing checks run against.

    Kinds: "url", a registered URL; "host", a registered host, for host-level checks; "service", a
    service on a registered host that a family declared (``smtp://mx1.example:25``: a port that may
    be closed, which is then not a finding of the checks that run on it); "domain", a name that is
    only looked up in DNS, never contacted (a mail domain that is not one of the platform's hosts).

    Attributes:
        platform: id of the platform it belongs to.
        target: the stable name stored with results: the URL as registered, or the host name.
        kind: "url", "host", "service" or "domain".
        host: lower-case host name (or IP literal) without brackets; the name for a domain.
        port: TCP port for URLs (explicit or the scheme's default) and services; None otherwise.
        scheme: "https" or "http" for URLs, the service's protocol ("smtp", "imaps") for services;
            "" otherwise.
        address: the address to connect to instead of resolving ``host`` (from ``resolve``).
    """

    platform: str
    target: str
    kind: str
    host: str
    port: int | None = None
    scheme: str = ""
    address: str | None = None

    @classmethod
    def for_url(cls, platform: Platform, url: str) -> Endpoint:
        try:
            target = parse(url)
        except UnusableUrl:  # the registry refuses such URLs; an endpoint built by hand fails closed
            return cls(platform=platform.id, target=url, kind="url", host="")
        return cls(
            platform=platform.id,
            target=url,
            kind="url",
            host=target.host,
            port=target.port,
            scheme=target.scheme,
            address=platform.address_for(target.host),
        )

    @classmethod
    def for_host(cls, platform: Platform, host: str) -> Endpoint:
        return cls(platform=platform.id, target=host, kind="host", host=host, address=platform.address_for(host))

    @classmethod
    def for_service(cls, platform: Platform, service: str) -> Endpoint:
        """The endpoint of ``service``, a ``scheme://host:port`` URL that a family declared."""
        parts = urlsplit(service)
        host = normalize_host(parts.hostname or "")
        return cls(
            platform=platform.id,
            target=service,
            kind="service",
            host=host,
            port=parts.port,
            scheme=parts.scheme,
            address=platform.address_for(host),
        )

    @classmethod
    def for_domain(cls, platform: Platform, name: str) -> Endpoint:
        return cls(platform=platform.id, target=name, kind="domain", host=normalize_host(name))


@dataclass(frozen=True)
class Result:
    """One verdict of one check on one endpoint.

    Attributes:
        check: the check id, e.g. "tls.protocol_legacy".
        platform: the platform id.
        endpoint: the endpoint's target (URL or host).
        status: pass, fail, warn, error or skip.
        severity: how bad a failure is; a check may raise its default for a worse case.
        title: the check's title.
        detail: one specific sentence about what was observed.
        evidence: JSON-serialisable facts behind the verdict.
        remediation: what to do about it.
        criteria: requirement ids from the criteria profile that this check evidences.
        duration: seconds spent, including the family's shared collection when this check triggered it.
        message: the sentence ``detail`` words in English, by message id with its parameters
            (``scanner.messages``), so that a report renders it in any language; None for a result
            stored before messages, or said by a check that gives plain text.
        key: what the family says was found, independent of how ``detail`` words it (open ports,
            exposed paths, cookie names, a certificate's fingerprint...); "" when the check gives one
            finding per endpoint. A finding's identity is (check, endpoint, key): baselines and SARIF
            fingerprints compare that, never the detail sentence.
    """

    check: str
    platform: str
    endpoint: str
    status: Status
    severity: Severity
    title: str
    detail: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    remediation: str = ""
    criteria: tuple[str, ...] = ()
    duration: float = 0.0
    key: str = ""
    message: Message | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "endpoint": self.endpoint,
            "status": self.status.value,
            "severity": self.severity.value,
            "title": self.title,
            "detail": self.detail,
            "evidence": dict(self.evidence),
            "remediation": self.remediation,
            "criteria": list(self.criteria),
            "duration": round(self.duration, 3),
            "key": self.key,
            "message": None if self.message is None else self.message.to_json(),
        }


@dataclass(frozen=True)
class Cap:
    """A grade cap: a failed check at ``min_severity`` or worse limits the platform's grade to ``grade``.

    A check declares its caps beside itself (``Check.caps``), strictest first: the first cap whose
    ``min_severity`` a failure reaches is the one that applies. A warning never caps. ``note`` says in
    words which failure it is, for the caps table of docs/scoring.md; it is documentation only (not
    compared, not stored with a scan).
    """

    grade: str
    min_severity: Severity = Severity.INFO
    note: str = field(default="", compare=False)


@dataclass(frozen=True)
class CatalogueEntry:
    """What a check says about itself, the same for every result it gives in one scan.

    The store keeps it once per scan (its stored catalogue) instead of in every result row; a
    result keeps a title, remediation or criteria of its own only when they differ from these.

    Attributes:
        check: the check id.
        family: its family.
        title: the title its results carry by default.
        severity: its default severity (a result may be raised or lowered).
        remediation: what to do about a failure.
        why: why it matters.
        active: whether it sends more than ordinary traffic (``--active``).
        criteria: the requirement ids the scan's criteria profile maps it to.
        caps: the grade caps it ran with, strictest first; None when the scan did not record them
            (stored before schema 5), and grading then uses the installed check's caps.
        finding: the failing state as one sentence ("The certificate has expired"), which every
            place that names a failure uses; ``title`` is neutral ("Certificate validity"). Empty
            for a scan stored before schema 7: readers then fall back to the title.
    """

    check: str
    family: str
    title: str
    severity: Severity
    remediation: str
    why: str = ""
    active: bool = False
    criteria: tuple[str, ...] = ()
    caps: tuple[Cap, ...] | None = None
    finding: str = ""

    @property
    def failure(self) -> str:
        """How a failure of this check is named: its finding, or its title where it has none."""
        return self.finding or self.title


@dataclass(frozen=True)
class Scan:
    """One stored scan run.

    Attributes:
        id: the scan's number in its database.
        started, finished: ISO 8601 UTC times; ``finished`` is None while it runs.
        status: running, complete, interrupted or failed.
        platscan_version: the version that ran it.
        scoring_version: the scoring rules its grades were computed with (None before scoring existed).
        targets: the targets file it scanned.
        error: why it failed or stopped, if it did.
    """

    id: int
    started: str
    finished: str | None
    status: ScanStatus
    platscan_version: str
    scoring_version: int | None
    targets: str
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started": self.started,
            "finished": self.finished,
            "status": self.status.value,
            "platscan_version": self.platscan_version,
            "scoring_version": self.scoring_version,
            "targets": self.targets,
            "error": self.error,
        }
