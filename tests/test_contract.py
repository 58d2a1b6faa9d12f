"""One contract test over the whole registry of installed checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scanner.criteria import load_profile
from scanner.plugin import discover_checks

TESTS = Path(__file__).parent

# The catalogue's ids are a public contract (other tools parse them): add, never rename.
STABLE_IDS = {
    "tls": """https_available protocol_ssl protocol_legacy protocol_tls12 protocol_tls13 cipher_insecure
        cipher_no_forward_secrecy cipher_cbc dh_weak cert_expired cert_not_yet_valid cert_expiring cert_revoked
        cert_hostname_mismatch cert_untrusted cert_chain_incomplete cert_chain_order cert_weak_key
        cert_weak_signature cert_lifetime ocsp_stapling vuln_heartbleed vuln_robot vuln_ccs_injection
        renegotiation_insecure compression fallback_scsv client_cert_required""",
    "http": """https_redirect hsts csp frame_ancestors content_type_options referrer_policy permissions_policy
        cookie_flags cors version_disclosure trace_enabled directory_listing sensitive_files error_disclosure
        mixed_content security_txt""",
    "ports": "unexpected_open cleartext_service database_exposed remote_admin_exposed version_disclosure",
    "auth": """login_https form_action_https basic_over_http protected_paths admin_exposed session_cookie lockout
        user_enumeration""",
}

CATALOGUE = discover_checks()


def test_every_plugin_loads() -> None:
    assert [str(problem) for problem in CATALOGUE.problems] == []


@pytest.mark.parametrize("family", sorted(STABLE_IDS))
def test_stable_ids_exist(family: str) -> None:
    ids = {check.id for check in CATALOGUE.checks}
    missing = sorted(f"{family}.{name}" for name in STABLE_IDS[family].split() if f"{family}.{name}" not in ids)
    assert missing == []


@pytest.mark.parametrize("check", CATALOGUE.checks, ids=lambda check: check.id)
def test_check_metadata(check: object) -> None:
    from scanner.plugin import Check

    assert isinstance(check, Check)
    assert re.fullmatch(r"[a-z0-9]+\.[a-z0-9_]+", check.id)
    assert check.title.strip() and check.title[0].isupper()
    assert len(check.why.strip()) > 20, "say why the finding matters"
    assert len(check.remediation.strip()) > 40, "say how to fix it"


def test_every_check_is_mapped_to_a_requirement() -> None:
    ids = {check.id for check in CATALOGUE.checks}
    mapping = load_profile("vn-baseline", ids).criteria_by_check()
    assert sorted(ids - set(mapping)) == []


def test_every_check_is_named_in_a_test() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in TESTS.rglob("*.py") if p.name != "test_contract.py")
    untested = sorted(check.id for check in CATALOGUE.checks if f'"{check.id}"' not in text)
    assert untested == []


def test_docs_criteria_mapping_is_current() -> None:
    from scanner.criteria.table import block

    docs = (TESTS.parent / "docs" / "criteria.md").read_text(encoding="utf-8")
    assert block(load_profile("vn-baseline")) in docs, "regenerate: python -m scanner.criteria.table"
