"""One contract test over the whole registry of installed checks."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from scanner.criteria import load_profile
from scanner.family import discover_families
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
    "mail": "mx starttls submission_tls mailbox_tls spf dmarc dkim mta_sts tls_rpt",
    "dns": "dnssec caa ipv6",
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


def test_every_check_belongs_to_a_declared_family_that_translates_only_its_own_checks() -> None:
    families = discover_families()
    assert families.problems == ()
    checks = discover_checks().checks
    assert {check.family for check in checks} <= set(families.by_name)
    for name, family in families.by_name.items():
        own = {check.id for check in checks if check.family == name}
        assert set(family.translations("vi")) <= own, f"{name} translates checks it does not have"
        assert own, f"family {name} has no checks"


def test_a_check_of_an_undeclared_family_is_a_named_problem() -> None:
    from importlib.metadata import EntryPoint

    from scanner.family import declared

    found = [EntryPoint("sample.probe", "tests.scanner.sample_checks:Probe", "platscan.checks")]
    catalogue = declared(discover_checks(found), discover_families())
    assert catalogue.checks == ()
    assert any("is not declared" in problem.reason for problem in catalogue.problems), catalogue.problems


# -- families talk through public APIs -----------------------------------------------------------------

CHECKS_PACKAGE = TESTS.parent / "checks"


def imported_names(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """Every dotted name an import in ``source`` (module ``module``) reaches, with its line.

    ``from a.b import c`` reaches ``a.b`` and ``a.b.c`` (c may be a module or a name in it); relative imports
    are resolved against ``module``'s package.
    """
    package = module if is_package else module.rpartition(".")[0]
    names: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            names.append((node.lineno, base))
            names += [(node.lineno, f"{base}.{alias.name}") for alias in node.names if alias.name != "*"]
    return names


def _private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def cross_family_imports(source: str, module: str, is_package: bool = False) -> list[tuple[int, str, str]]:
    """(line, imported name, other family) for each import of another family of ``checks``."""
    own = module.split(".")[1] if module.startswith("checks.") else None
    found = []
    for line, name in imported_names(source, module, is_package):
        parts = name.split(".")
        if len(parts) >= 3 and parts[0] == "checks" and parts[1] != own:
            found.append((line, name, parts[1]))
    return found


def private_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """Imports of another family's private module (or private name), e.g. ``checks.http._collect``."""
    problems: dict[int, str] = {}  # one per import statement
    for line, name, family in cross_family_imports(source, module, is_package):
        if any(_private(part) for part in name.split(".")[2:]):
            problems.setdefault(line, f"{module}:{line} imports {name}, private to the {family} family")
    return list(problems.values())


def non_api_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """Imports of another family's modules other than its public ``api`` module."""
    problems: dict[int, str] = {}  # one per import statement
    for line, name, family in cross_family_imports(source, module, is_package):
        first = name.split(".")[2]
        is_module = (CHECKS_PACKAGE / family / f"{first}.py").exists() or (CHECKS_PACKAGE / family / first).is_dir()
        if is_module and first != "api":
            problems.setdefault(line, f"{module}:{line} imports {name}: use checks.{family}.api")
    return list(problems.values())


def family_modules() -> list[tuple[str, str, bool]]:
    """(source, module name, is a package) for every module under checks/."""
    out = []
    for path in sorted(CHECKS_PACKAGE.rglob("*.py")):
        parts = path.relative_to(TESTS.parent).with_suffix("").parts
        package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if package else parts)
        out.append((path.read_text(encoding="utf-8"), module, package))
    return out


def test_no_family_imports_another_familys_private_module() -> None:
    problems = [
        problem for source, module, package in family_modules() for problem in private_imports(source, module, package)
    ]
    assert problems == []


def test_families_use_each_other_only_through_the_public_api_module() -> None:
    problems = [
        problem for source, module, package in family_modules() for problem in non_api_imports(source, module, package)
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("source", "module", "private", "non_api"),
    [
        # What checks/auth did before the http family had a public API.
        ("from checks.http._collect import HttpTarget, collect_http\n", "checks.auth.base", 1, 1),
        ("import checks.http._collect\n", "checks.auth.base", 1, 1),
        ("from checks.http import _collect\n", "checks.auth.base", 1, 1),
        ("from .._collect import plain_twin\n", "checks.auth.http_bits", 0, 0),  # its own family's
        ("from ...http._collect import plain_twin\n", "checks.auth.sub.x", 1, 1),
        ("def f():\n    from checks.http._collect import plain_twin\n", "checks.auth.base", 1, 1),
        ("from checks.http.facts import HttpFacts\n", "checks.auth.base", 0, 1),
        ("from checks.http.api import _hidden\n", "checks.auth.base", 1, 0),
        ("from checks.http.api import HttpFacts, http_facts\n", "checks.auth.base", 0, 0),
        ("from checks.http import api\n", "checks.auth.base", 0, 0),
        ("from checks.auth._collect_anonymous import collect_auth\n", "checks.auth.base", 0, 0),
        ("from checks.http._collect import collect_http\n", "checks.http.base", 0, 0),
    ],
)
def test_the_import_rules_catch_what_they_should(source: str, module: str, private: int, non_api: int) -> None:
    assert len(private_imports(source, module)) == private
    assert len(non_api_imports(source, module)) == non_api


def test_the_core_and_the_reports_name_no_check() -> None:
    """Caps, itemising, report sections come from what the families declare; a check id written into
    scanner/ or reports/ as a value (docstrings and help texts may cite examples) is a failure."""
    import ast

    ids = {check.id for check in discover_checks().checks}
    root = Path(__file__).resolve().parents[1]
    found = []
    for path in core_modules(root):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in ids:
                found.append(f"{path.relative_to(root)}:{node.lineno}: {node.value}")
    assert found == [], found


# -- layers: the command line sits on top of scanning and rendering --------------------------------------

#: package -> the platscan packages it may import. scanner/ is the core; checks/ are plugins on it;
#: reports/ render what the core stored; only cli/ knows scanning and rendering together.
LAYERS = {
    "scanner": {"scanner"},
    "checks": {"scanner", "checks"},
    "reports": {"scanner", "reports"},
    "cli": {"scanner", "reports", "cli"},
}
#: A launcher, not part of the core: ``python -m scanner`` starts the command line.
LAUNCHERS = {"scanner/__main__.py"}


def layer_violations(source: str, module: str, is_package: bool = False) -> list[str]:
    own = module.split(".")[0]
    found: dict[int, str] = {}  # one per import statement
    for line, name in imported_names(source, module, is_package):
        top = name.split(".")[0]
        if top in LAYERS and top not in LAYERS[own]:
            found.setdefault(line, f"{module}:{line} imports {name}")
    return list(found.values())


def test_each_layer_imports_only_the_layers_below_it() -> None:
    root = TESTS.parent
    problems = []
    for package in LAYERS:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            if str(relative) in LAUNCHERS:
                continue
            parts = relative.with_suffix("").parts
            is_package = parts[-1] == "__init__"
            module = ".".join(parts[:-1] if is_package else parts)
            problems += layer_violations(path.read_text(encoding="utf-8"), module, is_package)
    assert problems == []


@pytest.mark.parametrize(
    ("source", "module", "violations"),
    [
        ("from reports.view import build\n", "scanner.gate", 1),  # the gate building a report view
        ("def f():\n    from cli.common import open_store\n", "reports.html", 1),
        ("from checks.http.api import http_facts\n", "scanner.engine", 1),
        ("from scanner.store import Store\n", "reports.view", 0),
        ("from reports.render import render_report\n", "cli.gate", 0),
    ],
)
def test_the_layer_rule_catches_what_it_should(source: str, module: str, violations: int) -> None:
    assert len(layer_violations(source, module)) == violations


#: Family names that are also other words the core must use: "http" is a URL scheme, "dns" where an
#: address came from (``Resolution.source``).
NOT_ONLY_A_FAMILY = {"http", "dns"}
#: The demo fleet is sample data, not the core: it writes a targets file, which names families'
#: tables and checks as any user's does.
SAMPLE_DATA = ("scanner/demo/",)


def core_modules(root: Path) -> list[Path]:
    return [
        path
        for package in ("scanner", "reports")
        for path in sorted((root / package).rglob("*.py"))
        if not str(path.relative_to(root)).startswith(SAMPLE_DATA)
    ]


def test_the_core_and_the_reports_name_no_family() -> None:
    """A family's name, or a prefix such as "ports.", written into scanner/ or reports/ as a value is a
    failure: what a report needs from a family (its title, its settings) comes from its declaration."""
    names = set(discover_families().by_name)
    root = TESTS.parent
    found = []
    for path in core_modules(root):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            value = node.value
            if (value in names - NOT_ONLY_A_FAMILY) or any(value.startswith(f"{name}.") for name in names):
                found.append(f"{path.relative_to(root)}:{node.lineno}: {value!r}")
    assert found == [], found
