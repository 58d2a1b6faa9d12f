"""What keeps a big scan's memory flat: private facts released with their endpoint, collectors that
neither run the program's main script again nor copy the forkserver's pages for the garbage collector."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scanner.engine import Job, run_scan
from scanner.facts import Workers
from scanner.model import Platform, Result
from scanner.plugin import ScanSettings
from tests.scanner.sample_checks import PrivateProbe, Probe, read_log

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "collect.log"
    monkeypatch.setenv("PLATSCAN_TEST_LOG", str(path))
    return path


def test_private_facts_are_released_when_their_endpoint_is_done(log: Path) -> None:
    # Two endpoints on one host, one after the other: Probe's facts (shared) are collected once and
    # kept; PrivateProbe's, keyed the same way but declared private, are gone once the first is done.
    fleet = [Platform(id="p", name="p", urls=("https://one.test/", "https://one.test/login"))]
    results: list[Result] = []

    def keep(job: Job, produced: list[Result]) -> None:
        results.extend(produced)

    run_scan(fleet, (Probe(), PrivateProbe()), ScanSettings(concurrency=1), on_results=keep)
    assert len(results) == 4
    targets = [entry["target"] for entry in read_log(log)]
    assert sorted(targets) == ["one.test", "one.test", "one.test"], "1 shared + 2 private collections"


def gc_frozen() -> int:
    return gc.get_freeze_count()


def test_collectors_do_not_walk_the_inherited_objects() -> None:
    assert Workers().run(gc_frozen, (), 30) > 1000


def test_collectors_do_not_import_the_main_scripts_modules_again(tmp_path: Path) -> None:
    """Like the `platscan` console script (``from cli.main import main``), a main script whose
    import is heavy: the forkserver imports it once, not each collector as it starts."""
    imports = tmp_path / "imports.log"
    (tmp_path / "heavy.py").write_text(
        f"import os\nwith open({str(imports)!r}, 'a') as log:\n    log.write(f'{{os.getpid()}}\\n')\n"
        "def main() -> None:\n    pass\n"
    )
    script = tmp_path / "console_script.py"
    script.write_text(
        textwrap.dedent("""
            import os
            from heavy import main
            from scanner.facts import Workers

            def pid() -> int:
                return os.getpid()

            if __name__ == "__main__":
                workers = Workers(preload=["json"])
                print(len({workers.run(pid, (), 30) for _ in range(3)}))
        """)
    )
    # Installed, as cli.main is: importable by the forkserver too, which does not get sys.path.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    assert done.stdout.strip() == "3", done.stderr
    assert len(imports.read_text().splitlines()) == 2, "imported by the program and the forkserver only"
