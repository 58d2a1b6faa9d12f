"""The shipped JSON Schema of the ``platscan/1`` report, checked against real reports.

Real runs through the command line: ``platscan demo`` (every installed family, on its fleet of
local servers), and two ``platscan scan --only http`` runs of three HTTP fleet sites with a waivers
file, with one site fixed and one broken between the scans, so that the report has a previous scan,
new and fixed findings, a waived result, expired and stale waivers and a platform that could not be
assessed. Both reports must validate, and the schema must refuse each of them with any field renamed.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from scanner.family import discover_families
from tests.fleet.http_fleet import CASES, handler, start_http_fleet

PLATSCAN = [sys.executable, "-m", "scanner"]
#: Objects whose keys are data (evidence, a family's reason, a message's parameters), not field names.
OPEN_OBJECTS = re.compile(r"(\.evidence|\.coverage\.untested|\.params)(\.|$)")


def schema() -> dict[str, Any]:
    text = resources.files("reports").joinpath("schemas", "platscan-1.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def problems(doc: Any) -> list[str]:
    return [f"{e.json_path}: {e.message[:300]}" for e in validator().iter_errors(doc)]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PLATSCAN, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("demo-schema")
    done = run("demo", "--workdir", str(workdir / "demo"), "--quiet", cwd=workdir)
    assert done.returncode == 0, done.stderr
    (path,) = re.findall(r"^JSON report:\s+(.+)$", done.stdout, flags=re.M)
    doc: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return doc


@pytest.fixture(scope="module")
def rescanned_reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    """The reports of scan 1 and scan 2, by scan number."""
    workdir = tmp_path_factory.mktemp("http-schema")
    with start_http_fleet(workdir, cases=["good", "hsts_short", "closed"]) as fleet:
        targets = fleet.write_targets(timeout=2)
        today = dt.date.today()
        (targets.parent / "waivers.toml").write_text(
            "[[waivers]]\n"
            'platform = "hsts_short"\ncheck = "http.hsts"\nreason = "Raised with the next release"\n'
            f'approved_by = "CISO"\nexpires = {today + dt.timedelta(days=30)}\n\n'
            "[[waivers]]\n"
            'platform = "good"\ncheck = "http.trace_enabled"\nreason = "Kept after a fix"\n'
            f'approved_by = "CISO"\nexpires = {today + dt.timedelta(days=30)}\n\n'
            "[[waivers]]\n"
            'platform = "good"\ncheck = "http.csp"\nreason = "Past its date"\n'
            f'approved_by = "CISO"\nexpires = {today - dt.timedelta(days=1)}\n',
            encoding="utf-8",
        )
        db = workdir / "fleet.db"
        first = run("scan", str(targets), "--db", str(db), "--only", "http", "--quiet", cwd=workdir)
        assert first.returncode == 3, first.stderr  # stored; "closed" could not be assessed
        # Between the scans the good site starts sending HSTS max-age=300 and hsts_short is fixed.
        canary = f"https://127.0.0.1:{fleet.canary.port}/"
        by_name = {case.name: case for case in CASES}
        for name, now in (("good", "hsts_short"), ("hsts_short", "good")):
            site = fleet[name]
            site.servers[0].handler = handler(
                by_name[now].site, host=site.host, https_port=site.https_port, canary=canary, secure=True
            )
        second = run("scan", str(targets), "--db", str(db), "--only", "http", "--quiet", cwd=workdir)
        assert second.returncode == 3, second.stderr
        reports = {}
        for scan in ("1", "2"):
            written = run("report", "--db", str(db), "--scan", scan, "--format", "json", "-o", "-", cwd=workdir)
            assert written.returncode == 0, written.stderr
            reports[scan] = json.loads(written.stdout)
        yield reports


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_demo_report_validates_and_covers_every_family(demo_report: dict[str, Any]) -> None:
    assert problems(demo_report) == []
    families = {r["check"].split(".")[0] for p in demo_report["platforms"] for r in p["results"]}
    assert set(discover_families().by_name) <= families


def test_two_scans_with_waivers_validate(rescanned_reports: dict[str, dict[str, Any]]) -> None:
    first, second = rescanned_reports["1"], rescanned_reports["2"]
    assert problems(first) == [] and problems(second) == []
    # The fields only such reports have are really there, so the schema was tested on them.
    waived = [r for p in first["platforms"] for r in p["results"] if "waived" in r]
    assert [(r["check"], r["status"], r["waived"]["approved_by"]) for r in waived] == [("http.hsts", "fail", "CISO")]
    platforms = {p["id"]: p for p in second["platforms"]}
    assert second["previous_scan"] == first["scan"]["id"]
    assert [f["check"] for f in platforms["good"]["new"]] == ["http.hsts"]
    assert [f["check"] for f in platforms["hsts_short"]["fixed"]] == ["http.hsts"]
    assert [w["check"] for w in second["waivers"]["expired"]] == ["http.csp"]
    assert sorted(w["check"] for w in second["waivers"]["stale"]) == ["http.hsts", "http.trace_enabled"]
    assert platforms["closed"]["grade"] is None and platforms["closed"]["scoring"]["coverage"]["unreachable"]


def closed_objects(value: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object of the document whose keys are field names, with its path (list items as [*])."""
    if isinstance(value, dict):
        if not OPEN_OBJECTS.search(path):
            yield path, value
        for key, item in value.items():
            yield from closed_objects(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from closed_objects(item, f"{path}[*]")


def test_a_renamed_field_is_refused(demo_report: dict[str, Any], rescanned_reports: dict[str, dict[str, Any]]) -> None:
    # A schema that let a rename through would not protect the contract ("add fields, never rename").
    seen: set[tuple[str, str]] = set()
    for name, doc in (("demo", demo_report), ("scan 1", rescanned_reports["1"]), ("scan 2", rescanned_reports["2"])):
        for path, obj in closed_objects(doc):
            for key in obj:
                if (path, key) in seen:
                    continue
                seen.add((path, key))
                renamed = copy.deepcopy(doc)
                target = _find(renamed, path, obj)
                target[f"{key}_renamed"] = target.pop(key)
                assert problems(renamed), f"{name}: renaming {path}.{key} went unnoticed"
    assert len(seen) > 80  # every level of the document was tried: scan, platform, scoring, result...


def _find(doc: Any, path: str, original: dict[str, Any]) -> dict[str, Any]:
    """The object in the copy ``doc`` that sits where ``original`` sits in the document it was copied from."""
    found = next(obj for p, obj in closed_objects(doc) if p == path and obj == original)
    return found
