"""Packaging: the wheel builds without a setuptools warning, carries every data file the code loads,
and an installed wheel (no checkout beside it) finds them: the example targets file, the criteria,
the translations, the report templates and the JSON Schema. Its console script completes in a shell."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from packaging.requirements import Requirement

from scanner.model import Platform, Result, ScanStatus, Severity, Status
from scanner.store import Store

ROOT = Path(__file__).parent.parent
PACKAGES = ("cli", "scanner", "checks", "reports")
#: What a build of a clean clone would not see.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "platscan-demo", "out"
)


def data_files(root: Path) -> set[str]:
    """Every file of the packages that is not Python source: what the code loads at run time."""
    return {
        path.relative_to(root).as_posix()
        for package in PACKAGES
        for path in (root / package).rglob("*")
        if path.is_file()
        and path.suffix != ".py"
        and not any(part.startswith((".", "__pycache__")) for part in path.parts)
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("packaging")
    source = shutil.copytree(ROOT, work / "source", ignore=NOT_SOURCE)  # the build leaves nothing in the checkout
    # Offline: the build backend is this environment's (the test extras install it), not a download.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(work / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = (work / "dist").glob("platscan-*.whl")
    return {"work": work, "source": source, "wheel": wheel, "output": done.stdout + done.stderr}


def test_the_build_backend_is_the_one_pyproject_asks_for() -> None:
    # Otherwise the test below would pass with an old setuptools that does not warn.
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]["requires"]
    for requirement in map(Requirement, requires):
        installed = importlib.metadata.version(requirement.name)
        assert requirement.specifier.contains(installed), f"{requirement} wanted, {installed} installed"


def test_the_wheel_builds_without_warnings(built: dict[str, Any]) -> None:
    warnings = [line for line in built["output"].splitlines() if "warning" in line.lower()]
    assert warnings == [], built["output"]


def test_the_wheel_carries_every_data_file(built: dict[str, Any]) -> None:
    names = set(zipfile.ZipFile(built["wheel"]).namelist())
    expected = data_files(built["source"])
    assert {
        "reports/templates/fleet.html.j2",
        "reports/templates/platform.html.j2",
        "reports/templates/report.css",
        "reports/templates/report.js",
        "reports/schemas/platscan-1.schema.json",
        "scanner/criteria/vn-baseline.toml",
        "scanner/examples/targets.example.toml",
        "checks/tls/translations/vi.toml",
        "checks/http/translations/vi.toml",
        "checks/ports/translations/vi.toml",
        "checks/auth/translations/vi.toml",
    } <= expected
    assert sorted(expected - names) == []
    assert not [name for name in names if "__pycache__" in name or name.startswith("tests/")]
    (license_file,) = [n for n in names if n.endswith("/LICENSE") and ".dist-info/" in n]
    assert "Apache License" in zipfile.ZipFile(built["wheel"]).read(license_file).decode()


@pytest.fixture(scope="module")
def installed(built: dict[str, Any]) -> Path:
    """A fresh virtualenv with the wheel installed; its dependencies come from this environment."""
    root = built["work"] / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    python = root / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index"]
    done = subprocess.run([*pip, str(built["wheel"])], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    # Only now (pip must not see this environment's own platscan): the dependencies, without a registry.
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "platscan-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return root


def test_the_installed_wheel_runs_from_its_own_files(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import cli, reports, scanner; print(scanner.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert Path(where.stdout.strip()).is_relative_to(installed), where.stdout + where.stderr

    init = subprocess.run(
        [str(installed / "bin" / "platscan"), "init"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert init.returncode == 0, init.stderr
    assert (tmp_path / "targets.toml").read_text(encoding="utf-8") == (ROOT / "targets.example.toml").read_text(
        encoding="utf-8"
    )


def test_the_installed_wheel_renders_reports(installed: Path, tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    with Store(db) as store:
        scan_id = store.begin_scan("t.toml", {}, {}, [Platform(id="dvc", name="Portal", owner="DST", level=3)])
        store.add_results(
            scan_id,
            [
                Result("tls.protocol_legacy", "dvc", "https://dvc.test/", Status.FAIL, Severity.HIGH, "Legacy", "bad"),
                Result("tls.cert_expired", "dvc", "https://dvc.test/", Status.PASS, Severity.CRITICAL, "Exp", "ok"),
            ],
        )
        store.finish_scan(scan_id, ScanStatus.COMPLETE)
    platscan = str(installed / "bin" / "platscan")
    html = tmp_path / "out" / "fleet.vi.html"
    rendered = subprocess.run(
        [platscan, "report", "--db", str(db), "--format", "html", "--lang", "vi", "-o", str(html)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rendered.returncode == 0, rendered.stderr
    assert "<html" in html.read_text(encoding="utf-8")

    schema = subprocess.run(
        [
            str(installed / "bin" / "python"),
            "-c",
            "from importlib.resources import files; "
            "print(files('reports').joinpath('schemas', 'platscan-1.schema.json').read_text())",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert schema.returncode == 0, schema.stderr
    report = subprocess.run(
        [platscan, "report", "--db", str(db), "--format", "json", "-o", "-"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.returncode == 0, report.stderr
    jsonschema.validate(json.loads(report.stdout), json.loads(schema.stdout))


@pytest.mark.parametrize(
    ("shell", "registers"),
    [
        ("bash", "complete -o nosort -F _platscan_completion platscan"),
        ("zsh", "compdef _platscan_completion platscan"),
        ("fish", "complete --no-files --command platscan"),
    ],
)
def test_the_console_script_writes_completion_scripts(installed: Path, shell: str, registers: str) -> None:
    done = subprocess.run(
        [str(installed / "bin" / "platscan")],
        env={**os.environ, "_PLATSCAN_COMPLETE": f"{shell}_source"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert registers in done.stdout


def test_bash_completes_commands_and_choices(installed: Path, tmp_path: Path) -> None:
    script = tmp_path / "platscan.bash"
    env = {**os.environ, "PATH": f"{installed / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    written = subprocess.run(
        ["platscan"], env={**env, "_PLATSCAN_COMPLETE": "bash_source"}, capture_output=True, text=True, timeout=60
    )
    script.write_text(written.stdout, encoding="utf-8")

    def complete(*words: str) -> list[str]:
        # What bash does on <Tab>: set COMP_WORDS and COMP_CWORD, call the function the script registered.
        line = " ".join(f"'{word}'" for word in words)
        done = subprocess.run(
            [
                "bash",
                "-c",
                f'. "$1"; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; '
                f'_platscan_completion platscan; printf "%s\\n" "${{COMPREPLY[@]}}"',
                "bash",
                str(script),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert complete("platscan", "in") == ["init"]
    assert {"scan", "report", "gate", "init", "demo", "checks"} <= set(complete("platscan", ""))
    assert {"csv", "html", "json", "junit", "sarif"} <= set(complete("platscan", "report", "--format", ""))
    assert complete("platscan", "report", "--lang", "v") == ["vi"]
