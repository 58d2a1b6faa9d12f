"""The HTML reports, rendered from a real SQLite store built in the test (three scans, four platforms)."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pytest

from reports import html, page_assets, page_parts, page_text, palette
from reports.catalogue import Catalogue
from reports.render import OutputFile, render_report
from reports.view import FleetView, build
from scanner.criteria import load_profile
from scanner.store import Store
from tests.reports.fixtures import PAYLOAD, build_store


class Page(HTMLParser):
    """Parses a page into what the tests look at: tags with attributes, script bodies, visible text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in_script = False
        self._in_style = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        self._in_style = tag == "style"
        if tag == "script":
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data
        elif not self._in_style:
            self.text.append(data)

    @property
    def plain(self) -> str:
        return " ".join(" ".join(self.text).split())

    def attrs(self, name: str) -> list[str]:
        return [value or "" for _, attrs in self.tags for key, value in attrs.items() if key == name]


def assert_self_contained_and_inert(text: str) -> Page:
    """The page loads nothing, carries exactly our script (allowed by its hash), and no markup from data."""
    page = Page(text)
    tags = {tag for tag, _ in page.tags}
    assert not tags & {"img", "iframe", "object", "embed", "link", "base", "form", "input", "video", "audio"}
    assert len(page.scripts) == 1 and page.scripts[0] == page_assets.script()
    assert not [attrs for _, attrs in page.tags if "src" in attrs]
    assert not [key for _, attrs in page.tags for key in attrs if key.startswith("on")], "no inline event handlers"
    for href in page.attrs("href"):
        assert not re.match(r"^[a-z][a-z0-9+.-]*:", href, re.I), f"absolute link {href!r}"
    assert "url(" not in text and "@import" not in text
    (csp,) = [a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    digest = base64.b64encode(hashlib.sha256(page.scripts[0].encode()).digest()).decode()
    assert csp == (
        f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{digest}'; "
        "base-uri 'none'; form-action 'none'"
    )
    return page


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with build_store(tmp_path_factory.mktemp("store") / "platscan.db") as store:
        yield store


@pytest.fixture(scope="module")
def fleet(store: Store) -> FleetView:
    return build(store, store.scan(), load_profile("vn-baseline"))


def files(fleet: FleetView, lang: str = "en", platform: str | None = None) -> dict[str | None, str]:
    return {f.name: f.text for f in render_report("html", fleet, lang, platform, "fleet.html")}


def test_environment_autoescapes_explicitly_and_refuses_undefined_names() -> None:
    env = page_assets.environment()
    assert env.autoescape is True  # a bool, not select_autoescape(), which ignores *.html.j2
    assert env.undefined is jinja2.StrictUndefined
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ nothing }}").render()


def test_fleet_report_is_one_page_plus_one_per_platform(fleet: FleetView) -> None:
    out = files(fleet)
    assert sorted(name for name in out if name) == [
        f"fleet-platforms/{p}.html" for p in ("dvc", "mail", "motcua", "yte")
    ]
    fleet_page = Page(out[None])
    links = fleet_page.attrs("href")
    for platform in ("dvc", "mail", "motcua", "yte"):
        assert f"fleet-platforms/{platform}.html" in links
        assert '<a href="../fleet.html">' in out[f"fleet-platforms/{platform}.html"]


def test_every_page_is_self_contained_with_a_strict_policy(fleet: FleetView) -> None:
    for lang in ("en", "vi"):
        for text in files(fleet, lang).values():
            assert_self_contained_and_inert(text)
            assert f'<html lang="{lang}">' in text


def test_fleet_page_header_summary_and_table(fleet: FleetView) -> None:
    page = Page(files(fleet)[None])
    text = page.plain
    assert re.search(
        r"Scan #3 Started \S+ \S+ UTC Finished \S+ \S+ UTC Status complete Compared with Scan #2 "
        r"Criteria profile vn-baseline 2026.12 platscan version \S+ Scoring rules v2",
        text,
    )
    assert "4 platforms scanned" in text
    rows = [a["data-platform"] for t, a in page.tags if t == "tr" and "data-platform" in a]
    assert rows == ["yte", "mail", "motcua", "dvc"], "worst grade first; not graded below F"
    assert re.search(
        r"yte.*Could not be assessed \(no grade\): none of its 1 web URL\(s\) could be tested "
        r"\(https://yte\.nghean\.example/: connection timed out after 3 seconds\)\. TLS not tested ",
        text,
    ), "the reason once: the family line does not repeat it"
    # compliance counts: motcua and mail fail VN-A6 (OCSP stapling); dvc and yte cannot be decided
    assert re.search(r"✓ Compliant 0 ✗ Not compliant 1 \? Undetermined [^0-9]* 3 ", text)
    # failed checks by severity across the fleet: mail medium (expiring) + low (ocsp), motcua low (ocsp)
    assert re.search(r"Critical 0 High 0 Medium 1 Low 2 Info 0", text)


def test_grade_chart_and_trend_are_inline_svg_with_text(fleet: FleetView) -> None:
    out = files(fleet)[None]
    svgs = re.findall(r"<svg.*?</svg>", out, re.S)
    assert len(svgs) == 2 and all('role="img"' in svg and "<title" in svg and "<desc" in svg for svg in svgs)
    grades, trend = svgs
    assert "A+: 1, A: 1, B: 1, C: 0, D: 0, F: 0, –: 1" in grades
    assert trend.count('class="bar-label"') >= 3 and "#1" in trend and "#3" in trend
    assert '<table id="trend-table">' in out  # the same numbers as a table, for screen readers and print


def test_new_fixed_and_expiring_certificates(fleet: FleetView) -> None:
    page = Page(files(fleet)[None])
    text = page.plain
    new = text[text.index("New since scan #2") : text.index("Fixed since scan #2")]
    start = text.index("Fixed since scan #2")
    fixed = text[start : text.index("Certificates expiring within 30 days", start)]
    assert "tls.cert_expiring" in new and "mail" in new and "tls.protocol_legacy" not in new
    assert "tls.protocol_legacy" in fixed and "tls.cipher_cbc" in fixed and "motcua" in fixed
    assert re.search(r"12 days \S+ mail https://mail\.nghean\.example/ CN=mail\.nghean\.example", text)


def test_first_scan_has_nothing_to_compare_and_no_trend(tmp_path: Path) -> None:
    with build_store(tmp_path / "one.db", scans=1) as store:
        fleet = build(store, store.scan(), load_profile("vn-baseline"))
    text = Page(files(fleet)[None]).plain
    assert "This is the first scan in this database" in text
    assert "Only one scan so far" in text


def test_platform_page_explains_the_grade_and_how_to_fix_it(fleet: FleetView) -> None:
    out = files(fleet)["fleet-platforms/mail.html"]
    page = assert_self_contained_and_inert(out)
    text = page.plain
    assert "Official E-mail System" in text and "87/100" in text
    assert "To reach A, fix: “The certificate expires within 30 days” (tls.cert_expiring)." in text
    assert "8/8 checks tested" in text
    # compliance at level 3: VN-A6 not met because of the two failing certificate checks
    assert re.search(r"VN-A6 Valid certificate.*Mandatory ✗ Not met Failing: .*tls\.cert_expiring", text)
    # findings: medium before low, each with endpoint, detail, why, requirement and remediation
    assert text.index("Medium 1 finding") < text.index("Low 1 finding")
    finding = out[out.index('data-check="tls.cert_expiring"') :]
    finding = finding[: finding.index("</article>")]
    assert '<span class="tag-new"' in finding, "new since the previous scan"
    assert "https://mail.nghean.example/" in finding and "The certificate expires in 12 days." in finding
    assert "government renewals often need paperwork" in finding  # why, from the installed check
    assert "VN-A6" in finding
    assert "<code>nginx -t &amp;&amp; systemctl reload nginx</code>" in finding  # remediation, snippets as code
    assert "&#34;not_after&#34;" in finding or "&quot;not_after&quot;" in finding or '"not_after"' in finding
    assert "<details" in out and "Passing checks (6)" in text and "Skipped checks (1)" in text
    assert "History" in text or "Grade history" in text


def test_platform_page_lists_what_could_not_be_tested(fleet: FleetView) -> None:
    text = Page(files(fleet)["fleet-platforms/yte.html"]).plain
    assert "Could not be assessed (no grade): none of its 1 web URL(s) could be tested" in text
    assert "Not tested (9)" in text and "connection timed out after 3 seconds" in text


def test_single_platform_report_is_just_that_page(fleet: FleetView, store: Store) -> None:
    one = build(store, store.scan(), load_profile("vn-baseline"), "motcua")
    out = render_report("html", one, "en", "motcua", "motcua.html")
    assert [f.name for f in out] == [None]
    page = assert_self_contained_and_inert(out[0].text)
    assert "All platforms" not in page.plain and "../" not in out[0].text
    assert "motcua" in page.plain and "Fixed" not in page.plain


def test_vietnamese_report_translates_fixed_strings_and_check_texts(fleet: FleetView) -> None:
    out = files(fleet, "vi")
    text = Page(out[None]).plain
    for phrase in ("Đánh giá tuân thủ an toàn thông tin", "Mới phát sinh từ lần quét #2", "Danh sách nền tảng"):
        assert phrase in text
    assert "Chứng thư số sẽ hết hạn trong vòng 30 ngày tới" in text
    mail = Page(out["fleet-platforms/mail.html"]).plain
    assert "Để đạt hạng A, cần khắc phục: “Chứng thư số sẽ hết hạn trong vòng 30 ngày tới" in mail
    assert "Gia hạn chứng thư số" in mail and "nginx -t && systemctl reload nginx" in mail
    assert "Chứng thư số hợp lệ" in mail  # the requirement's Vietnamese title from the profile
    assert "Why it matters" not in mail and "Findings (" not in mail and "How to fix it" not in mail
    assert "Vì sao cần quan tâm" in mail and "Cách khắc phục" in mail


def test_checks_without_translation_or_installation_fall_back(tmp_path: Path) -> None:
    from scanner.model import Platform, Result, ScanStatus, Severity, Status
    from scanner.runner import save_scores

    with Store(tmp_path / "p.db") as store:
        scan = store.begin_scan("t.toml", {}, {}, [Platform(id="p", name="P", level=3)])
        store.add_results(
            scan,
            [
                Result(
                    "custom.banner",
                    "p",
                    "https://p.test/",
                    Status.FAIL,
                    Severity.LOW,
                    "Stored title",
                    "seen",
                    remediation="Stored remediation: `ServerTokens Prod`",
                ),
                Result("tls.protocol_legacy", "p", "https://p.test/", Status.FAIL, Severity.HIGH, "Old", "TLS 1.0"),
            ],
        )
        save_scores(store, scan)
        store.finish_scan(scan, ScanStatus.COMPLETE)
        fleet = build(store, store.scan(), load_profile("vn-baseline"))
    vi = Page(files(fleet, "vi")["fleet-platforms/p.html"]).plain
    assert "Stored title" in vi and "Stored remediation: ServerTokens Prod" in vi  # no translation, not installed
    assert "Máy chủ chấp nhận TLS 1.0 hoặc TLS 1.1" in vi  # translated
    bare = dict(html.render_fleet(fleet, "en", "fleet.html", Catalogue(texts={}, severities={})))
    assert "Old" in Page(bare["fleet-platforms/p.html"]).plain  # the stored title when the check is gone


def test_server_text_is_escaped_everywhere(tmp_path: Path) -> None:
    with build_store(tmp_path / "two.db", scans=2) as store:
        fleet = build(store, store.scan(), load_profile("vn-baseline"))
    for lang in ("en", "vi"):
        for text in files(fleet, lang).values():
            assert "<script>alert" not in text and "<img" not in text
            assert_self_contained_and_inert(text)
        yte = Page(files(fleet, lang)["fleet-platforms/yte.html"])
        assert PAYLOAD in yte.plain.replace("\\", ""), "shown, as text"


def test_output_is_deterministic(fleet: FleetView) -> None:
    assert files(fleet) == files(fleet)


@pytest.mark.parametrize(
    ("colours", "what"),
    [(palette.GRADE_COLOURS, "grade"), ({s.value: c for s, c in palette.SEVERITY_COLOURS.items()}, "sev")],
)
def test_colours_have_enough_contrast(colours: dict[str, str], what: str) -> None:
    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    for name, colour in colours.items():
        ratio = (1.05) / (luminance(colour) + 0.05)  # against white text / a white page
        assert ratio >= 4.5, f"{what} {name} {colour}: {ratio:.2f}"


def test_page_names_are_safe_file_names() -> None:
    assert page_parts.page_name("dvc") == "dvc.html"
    assert page_parts.page_name("sở-tt") != "sở-tt.html" and page_parts.page_name("../etc") != "../etc.html"
    assert re.fullmatch(r"platform-[0-9a-f]{16}\.html", page_parts.page_name("../../x"))


def test_remediation_snippets_become_code_after_escaping() -> None:
    out = str(page_text.rich_text("Apache: `<VirtualHost *:443>` then <b>reload</b>\nnginx: `a && b`"))
    assert out == (
        "<strong>Apache:</strong> <code>&lt;VirtualHost *:443&gt;</code> then &lt;b&gt;reload&lt;/b&gt;\n"
        "<strong>nginx:</strong> <code>a &amp;&amp; b</code>"
    )


def test_render_report_knows_its_formats(fleet: FleetView) -> None:
    with pytest.raises(ValueError, match="unknown report format"):
        render_report("pdf", fleet)
    with pytest.raises(ValueError, match="unknown report language"):
        render_report("html", fleet, "fr")
    assert isinstance(render_report("csv", fleet)[0], OutputFile)


def test_tables_are_semantic(fleet: FleetView) -> None:
    for name, text in files(fleet, "vi").items():
        page = Page(text)
        tags = [tag for tag, _ in page.tags]
        assert tags.count("table") == tags.count("caption"), f"{name}: every table has a caption"
        assert all(attrs.get("scope") in ("col", "row", "colgroup") for tag, attrs in page.tags if tag == "th"), name
        sortable = [a for t, a in page.tags if t == "th" and "data-sort-type" in a]
        assert all((a.get("data-col") or "").isdigit() for a in sortable), name
