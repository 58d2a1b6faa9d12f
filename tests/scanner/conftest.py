"""The sample checks never connect: the ``.test`` names of these tests resolve to a documentation address.

The engine resolves every unit's host before its checks run (``scanner.resolver``); ``.test`` never
resolves (RFC 6761), so without this every sample check would be ``error`` "does not resolve".
Other names still go to the system resolver.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

import scanner.engine
from scanner.resolver import Resolver, system_lookup

SAMPLE_ADDRESS = "192.0.2.1"  # TEST-NET-1 (RFC 5737): never dialled by the sample checks


def sample_lookup(host: str, timeout: float) -> Sequence[str]:
    return [SAMPLE_ADDRESS] if host.endswith(".test") else system_lookup(host, timeout)


class SampleResolver(Resolver):
    def __init__(self, timeout: float = 10.0, lookup: object = None) -> None:
        super().__init__(timeout, sample_lookup)


@pytest.fixture(autouse=True)
def _sample_names_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scanner.engine, "Resolver", SampleResolver)
