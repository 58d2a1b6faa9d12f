"""A scan of a few families imports only those: the command line without the reports, the catalogue
with only the entry points a selection can name, and the same selection, errors and profile checks
as the whole catalogue gives."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cli.common import DeferredCatalogue, choose_checks, open_profile
from cli.main import main
from scanner.family import declared, discover_families
from scanner.plugin import discover_checks, select_checks, selection_filter

ROOT = Path(__file__).resolve().parents[2]
WHOLE = declared(discover_checks(), discover_families())


def imported_after(code: str) -> set[str]:
    script = textwrap.dedent(code) + "\nimport sys\nprint('\\n'.join(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_the_command_line_imports_no_report_renderer() -> None:
    modules = imported_after("import cli.main")
    assert not {"reports.render", "reports.html", "reports.csv_report", "jinja2"} & modules


def test_only_tls_loads_no_other_familys_checks() -> None:
    modules = imported_after(
        """
        from scanner.plugin import discover_checks, selection_filter
        catalogue = discover_checks(wanted=selection_filter(["tls"], []))
        assert catalogue.checks and all(check.family == "tls" for check in catalogue.checks)
        """
    )
    assert any(name.startswith("checks.tls.") for name in modules)
    others = sorted(name for name in modules if name.startswith(("checks.http.", "checks.auth.", "checks.ports.")))
    others = [name for name in others if not name.endswith(".settings")]  # the families' own declarations
    assert others == []


@pytest.mark.parametrize(
    ("only", "skip", "active"),
    [
        (["tls"], [], False),
        (["tls,http"], [], False),
        (["tls", "auth"], ["tls.cert_expired"], True),
        (["tls"], ["http.hsts,ports"], False),
        (["tls.cert_expired,http.hsts"], [], False),
        ([], ["tls"], False),
    ],
)
def test_a_deferred_selection_is_the_whole_catalogues(only: list[str], skip: list[str], active: bool) -> None:
    catalogue = DeferredCatalogue(quiet=True)
    chosen = choose_checks(catalogue, only, skip, active)
    assert [c.id for c in chosen] == [c.id for c in select_checks(WHOLE.checks, only, skip, active)]
    assert catalogue.known == {c.id for c in WHOLE.checks}
    assert [c.id for c in catalogue.checks] == [c.id for c in WHOLE.checks]  # the whole, when asked


def test_selection_filter_keeps_everything_a_selection_names() -> None:
    wanted = selection_filter(["tls"], ["http.hsts"])
    assert wanted is not None
    assert wanted("tls.cert_expired") and wanted("http.hsts") and wanted("tls")
    assert not wanted("http.csp") and not wanted("tlsx.a")
    assert selection_filter([], ["tls"]) is None


@pytest.mark.parametrize("only", [["tls,nope"], ["tls.nope"]])
def test_unknown_names_are_reported_as_by_the_whole_catalogue(only: list[str]) -> None:
    @click.command()
    def pick() -> None:
        choose_checks(DeferredCatalogue(quiet=True), only, [], False)

    result = CliRunner().invoke(pick, [])
    assert result.exit_code == 2
    assert "unknown check or family" in result.output
    assert "families: auth, dns, http, mail, ports, tls" in result.output


def test_a_profile_is_checked_against_every_installed_check() -> None:
    catalogue = DeferredCatalogue(quiet=True)
    choose_checks(catalogue, ["tls"], [], False)
    profile = open_profile("vn-baseline", catalogue)
    whole = open_profile("vn-baseline", WHOLE)
    assert profile.criteria_by_check() == whole.criteria_by_check()


def test_report_help_still_lists_every_format() -> None:
    result = CliRunner().invoke(main, ["report", "--help"])
    assert "[json|html|csv|sarif|junit]" in result.output
    bad = CliRunner().invoke(main, ["report", "--format", "pdf", "-o", "-"])
    assert bad.exit_code == 2 and "'pdf' is not one of" in bad.output
