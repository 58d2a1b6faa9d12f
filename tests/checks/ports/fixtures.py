"""Recorded nmap runs (``data/*.json``, see ``data/README.md``) and small builders for the ports tests."""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

from checks.ports.facts import Detection, PortFacts, PortScanFacts, RawScan, facts_from_raw

DATA = Path(__file__).parent / "data"


@functools.cache
def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    return doc


def raw(name: str) -> RawScan:
    return RawScan.from_json(load(name))


def recorded(name: str) -> PortScanFacts:
    return facts_from_raw(raw(name))


def cases(name: str) -> dict[str, int]:
    """Fleet case -> the port it listened on when ``name`` was recorded."""
    return dict(load(name)["cases"])


def port_of(facts: PortScanFacts, number: int, proto: str = "tcp") -> PortFacts:
    (found,) = [p for p in facts.ports if p.port == number and p.proto == proto]
    return found


def case_port(case: str, name: str = "fleet") -> PortFacts:
    """The recorded facts of one fleet case's port."""
    return port_of(recorded(name), cases(name)[case])


def only(facts: PortScanFacts, *numbers: int) -> PortScanFacts:
    """``facts`` with only these ports open (one fleet case on its own host)."""
    return dataclasses.replace(facts, ports=tuple(p for p in facts.ports if p.port in numbers))


def fleet_case(case: str) -> PortScanFacts:
    """The recorded fleet scan as seen by the platform of one case: only its port is open."""
    return only(recorded("fleet"), cases("fleet")[case])


def host(*ports: PortFacts, **changes: Any) -> PortScanFacts:
    """A completed scan of a host with these open ports."""
    base = PortScanFacts(
        host="h.ports.test",
        address="192.0.2.10",
        spec="top-1000",
        ports=tuple(ports),
        closed=1000 - len(ports),
        detection=Detection.COMPLETE if ports else Detection.NOT_NEEDED,
    )
    return dataclasses.replace(base, **changes)


def probed(port: int, service: str, product: str = "", version: str = "", **changes: Any) -> PortFacts:
    """A port whose service nmap identified from an answer."""
    return PortFacts(
        port=port, service=service, method="probed", confidence=10, product=product, version=version, **changes
    )


def guessed(port: int, service: str = "", proto: str = "tcp", **changes: Any) -> PortFacts:
    """A port nmap could only guess from its number (or not at all)."""
    return PortFacts(port=port, proto=proto, service=service, method="table" if service else "", **changes)
