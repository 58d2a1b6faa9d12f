"""Grade caps are declared beside each check, stored with the scan, and graded from what was stored.

A cap cannot silently disappear: the installed caps are pinned below and published in
docs/scoring.md (generated), the scoring names no check, and a stored scan keeps its caps whatever
the installed checks declare later.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from cli.main import main
from scanner import assessment
from scanner.caps_table import BEGIN, END, block
from scanner.criteria import Profile, Requirement
from scanner.model import Cap, Endpoint, Platform, Result, ScanStatus, Severity, Status
from scanner.plugin import Check, ScanContext, _contract_problem, discover_checks
from scanner.store import SCHEMA_VERSION, Store
from tests.scanner.sample_checks import Capped, VariedRemediation

ROOT = Path(__file__).parents[2]
CATALOGUE = discover_checks()

#: Every cap of the built-in checks, as published in docs/scoring.md before caps moved beside the
#: checks: (grade, min_severity) strictest first. Changing a cap is a decision: change it here too.
PUBLISHED: dict[str, tuple[tuple[str, Severity], ...]] = {
    **{
        check: (("F", Severity.INFO),)
        for check in (
            "tls.https_available",
            "tls.protocol_ssl",
            "tls.cert_expired",
            "tls.cert_not_yet_valid",
            "tls.cert_revoked",
            "tls.cert_untrusted",
            "tls.cert_hostname_mismatch",
            "tls.cert_weak_signature",
            "tls.vuln_heartbleed",
            "tls.vuln_ccs_injection",
            "tls.vuln_robot",
            "ports.database_exposed",
            "auth.protected_paths",
            "auth.login_https",
            "auth.form_action_https",
            "auth.basic_over_http",
        )
    },
    "tls.cipher_insecure": (("F", Severity.CRITICAL), ("C", Severity.INFO)),
    "tls.cert_weak_key": (("F", Severity.CRITICAL), ("B", Severity.INFO)),
    "tls.protocol_tls12": (("C", Severity.HIGH),),
    "tls.compression": (("C", Severity.INFO),),
    "tls.renegotiation_insecure": (("C", Severity.INFO),),
    "tls.protocol_legacy": (("B", Severity.INFO),),
    "tls.cipher_no_forward_secrecy": (("B", Severity.INFO),),
    "tls.dh_weak": (("B", Severity.INFO),),
    "tls.cert_chain_incomplete": (("B", Severity.INFO),),
    "ports.cleartext_service": (("F", Severity.CRITICAL), ("C", Severity.INFO)),
    "ports.remote_admin_exposed": (("C", Severity.INFO),),
    "http.sensitive_files": (("F", Severity.HIGH), ("C", Severity.INFO)),
    "http.https_redirect": (("B", Severity.INFO),),
    "http.cors": (("C", Severity.INFO),),
    "auth.admin_exposed": (("C", Severity.HIGH),),
    "auth.lockout": (("C", Severity.INFO),),
    # Mail forged in the name of the domain is delivered: held at B (the call; TCVN 14423 6.9.2.5).
    "mail.dmarc": (("B", Severity.INFO),),
    # A bogus zone: validating resolvers refuse the name, as browsers refuse an expired certificate.
    "dns.dnssec": (("F", Severity.CRITICAL),),
    # Mail that crosses the network in clear: the cap every cleartext service gets (ports.cleartext_service).
    "mail.starttls": (("C", Severity.INFO),),
    "mail.submission_tls": (("C", Severity.INFO),),
    "mail.mailbox_tls": (("C", Severity.INFO),),
}

PLATFORM = Platform(id="dvc", name="Portal", urls=("https://a.test/",))
PROFILE = Profile(
    id="test",
    title="test profile",
    version="1",
    requirements=(Requirement("T-1", "One", "Một", "c", "l", "I", (1, 2, 3), True, ("sample.capped",)),),
)


# ---- declared beside the checks, the same as before, published ----
def test_the_built_in_checks_declare_exactly_the_published_caps() -> None:
    declared = {
        check.id: tuple((cap.grade, cap.min_severity) for cap in check.caps) for check in CATALOGUE.checks if check.caps
    }
    assert declared == PUBLISHED


def test_docs_caps_table_is_current() -> None:
    docs = (ROOT / "docs" / "scoring.md").read_text(encoding="utf-8")
    assert block(CATALOGUE.checks) in docs, "regenerate: python -m scanner.caps_table"


def test_every_capped_check_is_in_the_docs_table() -> None:
    docs = (ROOT / "docs" / "scoring.md").read_text(encoding="utf-8")
    table = docs[docs.index(BEGIN) : docs.index(END)]
    missing = sorted(check.id for check in CATALOGUE.checks if check.caps and f"`{check.id}`" not in table)
    assert missing == []


def test_the_scoring_names_no_check() -> None:
    text = (ROOT / "scanner" / "scoring.py").read_text(encoding="utf-8")
    assert sorted(check.id for check in CATALOGUE.checks if check.id in text) == []


# ---- the plugin contract validates caps ----
def _check_with(caps: Any) -> type[Check]:
    class Declared(Check):
        id: ClassVar[str] = "sample.declared"
        title: ClassVar[str] = "Declared"
        family: ClassVar[str] = "sample"
        severity: ClassVar[Severity] = Severity.HIGH
        remediation: ClassVar[str] = "Nothing to do."

        def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
            return []

    Declared.caps = caps
    return Declared


@pytest.mark.parametrize(
    ("caps", "problem"),
    [
        ((), None),
        ((Cap("F", Severity.CRITICAL), Cap("C")), None),
        ([Cap("F")], "caps must be a tuple of scanner.model.Cap"),
        (("F",), "caps must be a tuple of scanner.model.Cap"),
        ((Cap("E"),), "cap grade 'E' is not one of F, D, C, B, A"),
        ((Cap("A+"),), "cap grade 'A+' is not one of F, D, C, B, A"),
        ((Cap("F", "high"),), "cap min_severity must be a scanner.model.Severity"),  # type: ignore[arg-type]
        ((Cap("C"), Cap("F", Severity.CRITICAL)), "caps must be listed strictest first"),
        ((Cap("F"), Cap("C", Severity.HIGH)), "cap C can never apply: the cap before it already covers its severities"),
    ],
)
def test_the_contract_checks_caps(caps: Any, problem: str | None) -> None:
    assert _contract_problem("sample.declared", _check_with(caps)) == problem


# ---- stored with the scan, graded from what was stored ----
def begin(store: Store, check: Check, recorded: bool = True) -> int:
    """A scan of ``check`` on one endpoint where it fails (medium: 90, an A before caps); without
    ``recorded`` its catalogue holds no caps, as in a scan stored before schema 5."""
    entry = check.entry(("T-1",))
    if not recorded:
        entry = replace(entry, caps=None)
    scan_id = store.begin_scan("t.toml", {}, {}, [PLATFORM], [entry])
    endpoint = Endpoint.for_url(PLATFORM, PLATFORM.urls[0])
    failed = check.run(endpoint, None)  # type: ignore[arg-type]  # Capped needs no context
    passed = [replace(failed[0], check=f"sample.pass{i}", status=Status.PASS) for i in range(5)]
    store.add_results(scan_id, [*failed, *passed])
    store.finish_scan(scan_id, ScanStatus.COMPLETE)
    return scan_id


def upgrade(monkeypatch: pytest.MonkeyPatch) -> None:
    """The installed sample check now declares a B cap (an upgrade changed it) instead of its F."""
    monkeypatch.setattr(Capped, "caps", (Cap("B"),))
    monkeypatch.setattr(assessment, "installed_caps", lambda: {Capped.id: Capped.caps})


def test_the_catalogue_stores_the_caps(tmp_path: Path) -> None:
    with Store(tmp_path / "p.db") as store:
        scan_id = begin(store, Capped())
        assert store.catalogue(scan_id)[Capped.id].caps == (Cap("F"),)
        assert store.catalogue(begin(store, VariedRemediation()))["sample.varied"].caps == ()
    with sqlite3.connect(tmp_path / "p.db") as conn:
        (caps,) = conn.execute("select caps from catalogue where check_id = 'sample.capped'").fetchone()
    assert caps == '[{"grade": "F", "min_severity": "info"}]'


def test_a_stored_scan_keeps_the_caps_it_ran_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reports.view import build

    db = tmp_path / "p.db"
    with Store(db) as store:
        scan_id = begin(store, Capped())
        upgrade(monkeypatch)
        assert assessment.save_scores(store, scan_id)["dvc"].grade == "F", "graded with the stored cap, not today's B"
        fleet = build(store, store.scan(scan_id), PROFILE)
        (view,) = fleet.platforms
        assert (view.score.score, view.score.grade) == (90, "F")
        assert [(cap.check, cap.grade) for cap in view.score.caps] == [(Capped.id, "F")]
    result = CliRunner().invoke(main, ["rescore", "--db", str(db)])
    assert result.exit_code == 0, result.output
    with Store(db, write=False) as store:
        assert store.stored_scores([scan_id])[scan_id]["dvc"] == (90, "F")


def test_a_removed_cap_does_not_lift_a_stored_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(assessment, "installed_caps", dict)  # the check no longer exists, or caps nothing
    with Store(tmp_path / "p.db") as store:
        scan_id = begin(store, Capped())
        assert assessment.save_scores(store, scan_id)["dvc"].grade == "F"


def test_a_scan_that_recorded_no_caps_uses_the_installed_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Store(tmp_path / "p.db") as store:
        scan_id = begin(store, Capped(), recorded=False)
        upgrade(monkeypatch)
        assert store.catalogue(scan_id)[Capped.id].caps is None
        assert assessment.caps_of_scan(store, scan_id) == {Capped.id: (Cap("B"),)}
        assert assessment.save_scores(store, scan_id)["dvc"].grade == "B"


def test_a_schema_4_database_migrates_and_grades_with_the_installed_caps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "p.db"
    with Store(db) as store:
        old = begin(store, Capped())
    upgrade(monkeypatch)
    with sqlite3.connect(db) as conn:  # as schema 4 left it: no caps column
        conn.execute("alter table catalogue drop column caps")
        conn.execute("update meta set value = '4' where key = 'schema_version'")
    with Store(db) as store:
        version = store.db.execute("select value from meta where key = 'schema_version'").fetchone()[0]
        assert int(version) == SCHEMA_VERSION == 7
        assert store.catalogue(old)[Capped.id].caps is None, "rows of schema 4 recorded no caps"
        assert assessment.save_scores(store, old)["dvc"].grade == "B", "so they are graded with the installed caps"
        new = begin(store, Capped())  # a scan taken after the upgrade records the new cap
        assert store.catalogue(new)[Capped.id].caps == (Cap("B"),)
        assert assessment.save_scores(store, new)["dvc"].grade == "B"


def test_a_catalogue_without_the_caps_column_still_reads(tmp_path: Path) -> None:
    """As a reader sees a schema-4 database it could not migrate (on read-only media, say)."""
    with Store(tmp_path / "p.db") as store:
        scan_id = begin(store, Capped())
        store.db.execute("alter table catalogue drop column caps")
        assert store.catalogue(scan_id)[Capped.id].caps is None
