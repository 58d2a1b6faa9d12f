"""Small checks for testing the engine and discovery, written as a third-party plugin would be."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from scanner.model import Cap, Endpoint, Result, Severity, Status
from scanner.plugin import Check, ScanContext


def collect_probe(target: str, log: str, sleep: float) -> dict[str, Any]:
    """Records when it ran (so tests can see overlap and repeats), then sleeps."""
    started = time.time()
    time.sleep(sleep)
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"target": target, "pid": os.getpid(), "start": started, "end": time.time()}) + "\n")
    return {"target": target, "pid": os.getpid()}


def collect_broken(target: str) -> dict[str, Any]:
    raise ValueError(f"cannot parse the reply of {target}")


def collect_dies(target: str) -> dict[str, Any]:
    os._exit(7)


class _Base(Check):
    family = "sample"
    severity = Severity.MEDIUM
    remediation = "Nothing to do."


class Probe(_Base):
    """Passes after collecting; the collection key is the host, so endpoints on one host share it."""

    id = "sample.probe"
    title = "Probe"

    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        log = os.environ["PLATSCAN_TEST_LOG"]
        sleep = 30.0 if endpoint.host.startswith("slow") else float(os.environ.get("PLATSCAN_TEST_SLEEP", "0"))
        facts = ctx.collect(("probe", endpoint.host), collect_probe, endpoint.host, log, sleep)
        return [self.result(endpoint, Status.PASS, f"probed by pid {facts['pid']}", facts)]


class PortProbe(_Base):
    """Like Probe, but collects per host and port, so endpoints on one host do not share facts."""

    id = "sample.port_probe"
    title = "Port probe"

    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        log = os.environ["PLATSCAN_TEST_LOG"]
        key = ("port_probe", endpoint.host, endpoint.port)
        facts = ctx.collect(key, collect_probe, endpoint.target, log, float(os.environ["PLATSCAN_TEST_SLEEP"]))
        return [self.result(endpoint, Status.PASS, "probed", facts)]


class PrivateProbe(_Base):
    """Like Probe (keyed by host), but declares its facts private to the endpoint that asks."""

    id = "sample.private_probe"
    title = "Private probe"

    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        log = os.environ["PLATSCAN_TEST_LOG"]
        facts = ctx.collect(("private_probe", endpoint.host), collect_probe, endpoint.host, log, 0.0, private=True)
        return [self.result(endpoint, Status.PASS, "probed", facts)]


class VariedRemediation(_Base):
    """Gives a remediation (and title) of its own for one case, as a check may: hosts named "odd"."""

    id = "sample.varied"
    title = "Varied"
    remediation = "The usual fix."

    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        result = self.result(endpoint, Status.FAIL, f"{endpoint.host} is wrong", {"host": endpoint.host})
        if endpoint.host.startswith("odd"):
            return [replace(result, title="Varied, oddly", remediation=f"The fix for {endpoint.host}.")]
        return [result]


class Crash(_Base):
    id = "sample.crash"
    title = "Crash"

    def applies_to(self, endpoint: Endpoint) -> bool:
        return endpoint.host.startswith("crash")

    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        raise RuntimeError("bug in the check")


class Broken(_Base):
    id = "sample.broken"
    title = "Broken collector"

    def applies_to(self, endpoint: Endpoint) -> bool:
        return endpoint.host.startswith("crash")

    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        ctx.collect(("broken", endpoint.host), collect_broken, endpoint.host)
        return []


class Dies(_Base):
    id = "sample.dies"
    title = "Collector process dies"

    def applies_to(self, endpoint: Endpoint) -> bool:
        return endpoint.host.startswith("crash")

    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        ctx.collect(("dies", endpoint.host), collect_dies, endpoint.host)
        return []


class WrongId(_Base):
    id = "sample.other"
    title = "Wrong id"

    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        return []


class NoSeverity(Check):
    id = "sample.nosev"
    title = "No severity"
    family = "sample"
    remediation = "x"
    severity = "high"  # type: ignore[assignment]

    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        return []


class NotACheck:
    id = "sample.notacheck"


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


class Capped(_Base):
    """Fails, and caps the grade at F when it does: the cap a scan records and is graded with."""

    id = "sample.capped"
    title = "Capped"
    caps = (Cap("F", note="sample failure"),)

    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        return [self.result(endpoint, Status.FAIL, "sample failure")]


class OtherFamilyProbe(_Base):
    """Like PortProbe, in a family of its own: the engine runs an endpoint's families at once."""

    id = "other.port_probe"
    title = "Port probe of another family"
    family = "other"

    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        log = os.environ["PLATSCAN_TEST_LOG"]
        key = ("other_probe", endpoint.host, endpoint.port)
        facts = ctx.collect(key, collect_probe, endpoint.target, log, float(os.environ["PLATSCAN_TEST_SLEEP"]))
        return [self.result(endpoint, Status.PASS, "probed", facts)]
