"""`platscan report --format html|csv`: files where the user asked for them, clear errors otherwise."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cli.main import main
from tests.reports.fixtures import build_store


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_html_fleet_report_writes_its_platform_pages_beside_it(tmp_path: Path) -> None:
    build_store(tmp_path / "p.db").close()
    code, _, err = run(
        "report", "--db", str(tmp_path / "p.db"), "--format", "html", "-o", str(tmp_path / "out" / "r.html")
    )
    assert code == 0, err
    assert f"wrote {tmp_path / 'out' / 'r.html'}" in err
    assert sorted(p.name for p in (tmp_path / "out" / "r-platforms").iterdir()) == [
        "dvc.html",
        "mail.html",
        "motcua.html",
        "yte.html",
    ]
    assert 'href="r-platforms/mail.html"' in (tmp_path / "out" / "r.html").read_text()
    assert 'href="../r.html"' in (tmp_path / "out" / "r-platforms" / "mail.html").read_text()


def test_html_to_standard_output_and_one_platform(tmp_path: Path) -> None:
    build_store(tmp_path / "p.db", scans=1).close()
    code, out, err = run("report", "--db", str(tmp_path / "p.db"), "--format", "html", "--lang", "vi", "-o", "-")
    assert code == 2 and out == "" and "--platform ID" in err, "a fleet page whose links lead nowhere is refused"
    args = ("--format", "html", "--lang", "vi", "--platform", "dvc", "-o", "-")
    code, out, _ = run("report", "--db", str(tmp_path / "p.db"), *args)
    assert code == 0 and out.startswith("<!doctype html>") and '<html lang="vi">' in out
    assert "Cổng Dịch vụ công tỉnh" in out and "fleet-platforms" not in out
    code, _, err = run("report", "--db", str(tmp_path / "p.db"), "--format", "html", "--platform", "x", "-o", "-")
    assert code == 2 and "no platform 'x'" in err


def test_csv_file_starts_with_a_byte_order_mark(tmp_path: Path) -> None:
    build_store(tmp_path / "p.db", scans=1).close()
    code, _, _ = run("report", "--db", str(tmp_path / "p.db"), "--format", "csv", "-o", str(tmp_path / "r.csv"))
    data = (tmp_path / "r.csv").read_bytes()
    assert code == 0 and data.startswith(b"\xef\xbb\xbfscan,platform id,")
    assert b"\r\n" in data and b"\r\r\n" not in data
