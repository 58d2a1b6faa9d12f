"""A third-party check family, installed as its own package into a fresh virtualenv, works like a
built-in one: discovered through entry points, its own [platforms.banner] table validated by the
family, its grade cap applied, its Vietnamese title in the report (tests/example_family)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from scanner.demo.http_server import HttpSiteServer, Reply

EXAMPLE = Path(__file__).parent / "example_family"


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv that sees platscan (this checkout's install) and gets the example by pip."""
    root = tmp_path_factory.mktemp("example-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    python = root / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # platscan and its dependencies come from this checkout's environment, not from a registry.
    (Path(site) / "platscan-under-test.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # This environment's pip installs into the new one (--python), building offline (no isolation).
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-build-isolation"]
    source = shutil.copytree(EXAMPLE, root.parent / "example")  # the build leaves nothing in the checkout
    installed = subprocess.run([*pip, str(source)], timeout=300, capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    return python


def platscan(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-m", "scanner", *args], capture_output=True, text=True, timeout=300)


def test_the_example_family_is_installed_only_in_its_venv(venv: Path) -> None:
    listed = platscan(venv, "checks", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert "banner.forbidden_server" in listed.stdout
    here = subprocess.run([sys.executable, "-m", "scanner", "checks"], capture_output=True, text=True, timeout=60)
    assert "banner.forbidden_server" not in here.stdout


def test_its_table_is_validated_by_the_family(venv: Path, tmp_path: Path) -> None:
    targets = tmp_path / "targets.toml"
    targets.write_text(
        '[[platforms]]\nid = "p"\nname = "P"\nurls = ["http://p.example/"]\n\n'
        '[platforms.banner]\nforbidden = "Apache"\ncolour = 1\n'
    )
    run = platscan(venv, "scan", str(targets), "--db", str(tmp_path / "x.db"))
    assert run.returncode == 2, run.stderr
    assert 'targets.toml:7: platforms[0] ("p"): banner.forbidden: must be a list of product names' in run.stderr
    assert 'targets.toml:8: platforms[0] ("p"): banner.colour: unknown key' in run.stderr


def test_a_scan_applies_its_cap_and_the_report_speaks_vietnamese(venv: Path, tmp_path: Path) -> None:
    with HttpSiteServer(lambda _: Reply(200, (("Server", "Apache/2.4.58 (Debian)"),), b"ok")) as site:
        targets = tmp_path / "targets.toml"
        targets.write_text(
            "[scan]\ntimeout = 2\nretries = 0\n\n"
            f'[[platforms]]\nid = "p"\nname = "P"\nurls = ["http://p.example:{site.port}/"]\n'
            'resolve = { "p.example" = "127.0.0.1" }\n\n[platforms.banner]\nforbidden = ["Apache"]\n'
        )
        db = tmp_path / "x.db"
        scan = platscan(venv, "scan", str(targets), "--db", str(db), "--only", "banner")
        assert scan.returncode == 0, scan.stderr
    report = platscan(venv, "report", "--db", str(db), "--format", "json", "-o", str(tmp_path / "r.json"))
    assert report.returncode == 0, report.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    (platform,) = doc["platforms"]
    (result,) = platform["results"]
    assert (result["check"], result["status"]) == ("banner.forbidden_server", "fail")
    assert "names Apache" in result["detail"]
    # One medium failure alone leaves 90 points (an A); the family's declared cap makes it a C.
    assert (platform["score"], platform["grade"]) == (90, "C")
    html = platscan(
        venv, "report", "--db", str(db), "--format", "html", "--lang", "vi", "-o", str(tmp_path / "vi.html")
    )
    assert html.returncode == 0, html.stderr
    pages = sorted(tmp_path.rglob("*.html"))  # the fleet page and the platform's own page
    showing = [page.name for page in pages if "Tiêu đề Server nêu tên sản phẩm bị cấm" in page.read_text("utf-8")]
    assert "p.html" in showing, (showing, pages)
    # The family's own message, said with the failure, renders in its own Vietnamese.
    assert "Tiêu đề Server nêu tên Apache." in (tmp_path / "vi-platforms" / "p.html").read_text("utf-8")
    # The scan records the version of the family it ran (the catalogue holds its checks' texts and cap).
    with sqlite3.connect(db) as conn:
        (settings,) = conn.execute("select settings from scans").fetchone()
        (cap,) = conn.execute("select caps from catalogue where check_id = 'banner.forbidden_server'").fetchone()
    assert json.loads(settings)["family_versions"] == {"banner": "0.1.0"}
    assert json.loads(cap)[0]["grade"] == "C"
