"""The CSV report: one row per result, Excel-friendly UTF-8, RFC 4180, no formula injection."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from reports.csv_report import neutralise
from reports.render import render_report
from reports.view import FleetView, build
from scanner.criteria import load_profile
from scanner.model import Platform, Result, ScanStatus, Severity, Status
from scanner.runner import save_scores
from scanner.store import Store
from tests.reports.fixtures import build_store


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> FleetView:
    with build_store(tmp_path_factory.mktemp("csv") / "p.db") as store:
        return build(store, store.scan(), load_profile("vn-baseline"))


def rows(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff"), "byte-order mark for Excel"
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def test_one_row_per_result_with_platform_and_grade(fleet: FleetView) -> None:
    (out,) = render_report("csv", fleet, "en")
    assert out.name is None
    table = rows(out.text)
    assert table[0] == [
        "scan",
        "platform id",
        "platform",
        "owner",
        "level",
        "grade",
        "check",
        "family",
        "endpoint",
        "status",
        "severity",
        "title",
        "detail",
        "criteria",
        "new",
    ]
    assert len(table) - 1 == sum(len(p.results) for p in fleet.platforms)
    by_key = {(r[1], r[6]): r for r in table[1:]}
    mail = by_key[("mail", "tls.cert_expiring")]
    assert mail[0] == "3" and mail[2] == "Official E-mail System" and mail[4] == "3" and mail[5] == "B"
    assert mail[7:11] == ["tls", "https://mail.nghean.example/", "fail", "medium"]
    assert mail[11] == "Certificate expiry date"
    assert mail[13] == "VN-A6" and mail[14] == "yes"
    assert by_key[("mail", "tls.ocsp_stapling")][14] == "no", "failing before too: not new"
    assert by_key[("yte", "tls.cert_expired")][5] == "", "not graded"
    assert "\r\n" in out.text and "\n" not in out.text.replace("\r\n", "")  # CRLF records (RFC 4180)


def test_vietnamese_headers_values_and_titles(fleet: FleetView) -> None:
    table = rows(render_report("csv", fleet, "vi")[0].text)
    assert table[0][:3] == ["lần quét", "mã nền tảng", "nền tảng"]
    row = next(r for r in table[1:] if r[1] == "dvc" and r[6] == "tls.protocol_legacy")
    assert row[3] == "Sở Khoa học và Công nghệ" and row[9] == "đạt" and row[10] == "Cao"
    assert row[11] == "Các phiên bản TLS cũ"
    assert render_report("csv", fleet, "vi")[0].text.encode("utf-8").startswith(b"\xef\xbb\xbf")


def test_formulas_from_server_data_are_neutralised(tmp_path: Path) -> None:
    hostile = {
        '=HYPERLINK("http://evil.example","x")': '\'=HYPERLINK("http://evil.example","x")',
        "+cmd|' /C calc'!A0": "'+cmd|' /C calc'!A0",
        "-2+3": "'-2+3",
        "@SUM(A1:A9)": "'@SUM(A1:A9)",
    }
    with Store(tmp_path / "p.db") as store:
        scan = store.begin_scan("t.toml", {}, {}, [Platform(id="p", name="=1+1", owner="@owner", level=3)])
        store.add_results(
            scan,
            [
                Result(f"tls.check{i}", "p", "https://p.test/", Status.FAIL, Severity.LOW, "T", detail)
                for i, detail in enumerate(hostile)
            ]
            + [Result("tls.plain", "p", "https://p.test/", Status.PASS, Severity.LOW, "T", 'say "hi", ok\nnext')],
        )
        save_scores(store, scan)
        store.finish_scan(scan, ScanStatus.COMPLETE)
        fleet = build(store, store.scan(), load_profile("vn-baseline"))
    table = rows(render_report("csv", fleet, "en")[0].text)
    details = [r[12] for r in table[1:]]
    assert set(hostile.values()) <= set(details)
    assert 'say "hi", ok\nnext' in details  # quoted field with a comma, quotes and a newline round-trips
    assert table[1][2] == "'=1+1" and table[1][3] == "'@owner"
    assert table[1][0] == "1" and table[1][4] == "3"  # numbers are not strings: left alone


def test_neutralise() -> None:
    assert neutralise("=1") == "'=1" and neutralise("\t=1") == "'\t=1" and neutralise("a=1") == "a=1"
    assert neutralise(-3) == -3 and neutralise("") == ""
