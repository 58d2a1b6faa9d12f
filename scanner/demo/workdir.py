"""The demo's working directory: which files in it belong to ``platscan demo``, and the ports it keeps.

The demo writes only what it created itself. Its manifest (``platscan-demo.json``) lists the names
it owns; a workdir that holds one of those names without the manifest listing it is refused before
anything is written, so a user's own ``targets.toml`` is never replaced.

The manifest also remembers the port of each demo platform (and of the demo DNS server, under
``fleet.DNS_SERVER``): the next run serves the same endpoints, so the reports' "new since scan N"
and "fixed" compare like with like instead of listing every failure as new because its URL changed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.config import shown_path
from scanner.demo.fleet import PKI_DIR, TARGETS_FILE
from scanner.files import write_atomically

__all__ = ["MANIFEST", "DemoLayout", "WorkdirError", "claim", "remember_ports"]

MANIFEST = "platscan-demo.json"
_SCHEMA = "platscan-demo/1"


class WorkdirError(Exception):
    """The workdir holds something the demo would write but did not create; ``path`` names it."""

    def __init__(self, path: Path, message: str) -> None:
        self.path = path
        super().__init__(message)


@dataclass(frozen=True)
class DemoLayout:
    """Where the demo writes in its workdir.

    Attributes:
        root: the workdir.
        html_pages: the folder the HTML report puts its platform pages in, beside ``fleet.html``
            (the report names it; the demo only needs to own it).
    """

    root: Path
    html_pages: str

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def targets(self) -> Path:
        return self.root / TARGETS_FILE

    @property
    def database(self) -> Path:
        return self.root / "platscan-demo.db"

    @property
    def json_report(self) -> Path:
        return self.root / "report.json"

    @property
    def html_report(self) -> Path:
        return self.root / "fleet.html"

    @property
    def waivers_example(self) -> Path:
        return self.root / "waivers.example.toml"

    @property
    def owned(self) -> tuple[Path, ...]:
        """Everything the demo writes, the manifest aside (a folder stands for all that is in it)."""
        return (
            self.targets,
            self.root / PKI_DIR,
            self.database,
            self.json_report,
            self.html_report,
            self.root / self.html_pages,
            self.waivers_example,
        )


def claim(layout: DemoLayout) -> dict[str, int]:
    """Make the workdir the demo's, or raise ``WorkdirError`` having written nothing; return the
    ports the previous run remembered (platform id -> port).

    Every name is claimed at once, before anything is written: a run stopped halfway still
    recognises what it wrote the next time.
    """
    manifest = _read(layout.manifest)
    created = set(manifest.get("created", ())) if manifest else set()
    for path in layout.owned:
        if os.path.lexists(path) and path.name not in created:
            raise WorkdirError(
                path,
                f"{shown_path(path)} was not created by platscan demo, which would overwrite it; nothing was "
                "written: give --workdir a new or empty folder, or move the file away",
            )
    ports = _ports(manifest.get("platform_ports") if manifest else None)
    _write(layout, ports)
    return ports


def remember_ports(layout: DemoLayout, ports: Mapping[str, int]) -> None:
    """Keep this run's ports for the next run in the same workdir."""
    _write(layout, ports)


def _read(path: Path) -> dict[str, Any] | None:
    if not os.path.lexists(path):
        return None
    refusal = (
        f"{shown_path(path)} is not a platscan demo manifest; nothing was written: give --workdir a new or empty folder"
    )
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        raise WorkdirError(path, refusal) from None
    if not isinstance(doc, dict) or doc.get("schema") != _SCHEMA or not isinstance(doc.get("created"), list):
        raise WorkdirError(path, refusal)
    return doc


def _ports(value: Any) -> dict[str, int]:
    """The remembered ports that can still be used; anything else is forgotten (new ports are picked)."""
    if not isinstance(value, dict):
        return {}
    return {
        key: port
        for key, port in value.items()
        if isinstance(key, str) and isinstance(port, int) and not isinstance(port, bool) and 1024 <= port <= 65535
    }


def _write(layout: DemoLayout, ports: Mapping[str, int]) -> None:
    doc = {
        "schema": _SCHEMA,
        "note": "Written by `platscan demo`: the files it created here, and the ports its fleet keeps.",
        "created": sorted(path.name for path in layout.owned),
        "platform_ports": dict(sorted(ports.items())),
    }
    write_atomically(layout.manifest, (json.dumps(doc, indent=2) + "\n").encode("utf-8"))
