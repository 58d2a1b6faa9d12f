"""No configuration file makes platscan crash.

Valid targets, waivers and profile files are mutated (values replaced by other types, deep nesting,
odd URLs and paths, keys removed or added, bytes inserted, text cut short) and loaded the way
`platscan scan` and `platscan gate` load them. Each must either load, or be refused with
problems that name the file, one line each; never an exception of another kind. A few of the
refused files then go through the real command line to prove the exit code is 2, with no
traceback. The gate's `--url` options are fuzzed the same way.

The number of examples is bounded for the normal test run; set PLATSCAN_FUZZ_EXAMPLES (e.g. 3000)
to fuzz for longer.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cli.gate import adhoc_platform
from cli.main import main
from scanner.criteria import ProfileError, load_profile
from scanner.model import Platform
from scanner.plugin import discover_checks
from scanner.registry import TargetsError, address_problem, ca_bundle_file, endpoints, load_targets
from scanner.waivers import WaiverError, load_waivers

EXAMPLES = int(os.environ.get("PLATSCAN_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written into the working tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
CLI_FUZZ = settings(FUZZ, max_examples=max(EXAMPLES // 20, 4))
CA_PEM = Path(__file__).parent.parent / "checks" / "tls" / "data" / "ca.pem"
KNOWN_CHECKS = frozenset(check.id for check in discover_checks().checks)
TODAY = dt.date.today()

TARGETS: dict[str, Any] = {
    "scan": {
        "concurrency": 4,
        "timeout": 5,
        "profile": "profile.toml",
        "ca_bundle": "ca.pem",
        "port_scan": "connect",
        "udp": False,
    },
    "platforms": [
        {
            "id": "dvc",
            "name": "Provincial Public Service Portal",
            "owner": "Department of Science and Technology",
            "contact": "ops@dvc.nghean.example",
            "level": 3,
            "urls": ["https://dvc.nghean.example/", "http://dvc.nghean.example:8080/app"],
            "hosts": ["mail.dvc.nghean.example", "10.20.0.6"],
            "ports": ["1-1024", 8443],
            "allowed_ports": [80, 443],
            "resolve": {"dvc.nghean.example": "10.20.0.5"},
            "tags": ["citizen-facing"],
            "auth": {
                "login_url": "https://dvc.nghean.example/login",
                "protected_paths": ["/admin/"],
                "username_env": "DVC_SCAN_USER",
                "password_env": "DVC_SCAN_PASS",
            },
            "gate": {"min_grade": "B", "fail_on": "high", "require_compliant": True},
        },
        {"id": "mail", "name": "Official e-mail", "hosts": ["mail.nghean.example"], "ports": "top-100"},
    ],
}
WAIVERS: dict[str, Any] = {
    "waivers": [
        {
            "platform": "dvc",
            "check": "tls.protocol_legacy",
            "endpoint": "https://dvc.nghean.example/*",
            "reason": "Old kiosks need TLS 1.0 until March",
            "approved_by": "Nguyen Van A, CISO",
            "expires": TODAY + dt.timedelta(days=100),
        },
        {"platform": "mail", "check": "http.*", "reason": "r", "approved_by": "a", "expires": TODAY},
    ]
}
PROFILE: dict[str, Any] = {
    "profile": {"id": "mine", "title": "My profile", "version": "2027.01"},
    "requirements": [
        {
            "id": "X-1",
            "title": "No legacy TLS",
            "title_vi": "Không dùng TLS cũ",
            "current": "TCVN 14423:2026",
            "legacy": "TCVN 11930:2017",
            "grade": "V",
            "levels": [2, 3, 4, 5],
            "mandatory": True,
            "checks": ["tls.protocol_legacy", "tls.protocol_ssl"],
        },
        {"id": "X-2", "title": "HSTS", "checks": ["http.hsts"]},
    ],
    "not_testable": [{"title": "Backups", "title_vi": "Sao lưu", "current": "4.1", "levels": [3, 4, 5]}],
}
FILES = {"targets.toml": TARGETS, "waivers.toml": WAIVERS, "profile.toml": PROFILE}


# ---- writing TOML (the documents are plain data; a few markers stand for raw text) ----


@dataclass(frozen=True)
class Deep:
    """Raw TOML for a value nested ``depth`` levels deep: the recursion bombs."""

    depth: int
    table: bool

    def toml(self) -> str:
        if self.table:
            return "{a = " * self.depth + "1" + "}" * self.depth
        return "[" * self.depth + "]" * self.depth


def toml_key(key: str) -> str:
    if key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key):
        return key
    return toml_string(key)


def toml_string(text: str) -> str:
    # JSON string escapes are TOML basic-string escapes, except that TOML also forbids a raw DEL.
    return json.dumps(text).replace("\x7f", "\\u007f")


def toml_value(value: Any) -> str:
    if isinstance(value, Deep):
        return value.toml()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def toml_document(doc: dict[str, Any]) -> str:
    """Top-level tables as [headers], arrays of tables as [[headers]] with their sub-tables, the
    rest inline, so that mutated values land on their own lines as in a hand-written file."""
    plain = [f"{toml_key(k)} = {toml_value(v)}" for k, v in doc.items() if not _is_table(v) and not _is_tables(v)]
    out = [*plain, ""]
    for key, value in doc.items():
        if _is_table(value):
            out += [f"[{toml_key(key)}]", *_table_body(value, toml_key(key)), ""]
        elif _is_tables(value):
            for entry in value:
                out += [f"[[{toml_key(key)}]]", *_table_body(entry, toml_key(key)), ""]
    return "\n".join(out)


def _is_table(value: Any) -> bool:
    return isinstance(value, dict)


def _is_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table_body(table: dict[str, Any], prefix: str) -> list[str]:
    lines = [f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items() if not _is_table(v)]
    for key, value in table.items():
        if _is_table(value):
            lines += ["", f"[{prefix}.{toml_key(key)}]"]
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()]
    return lines


# ---- what the fuzzer puts in ----

URL_PARTS = ["https://", "http://", "ftp://", "[", "]", "::1", "127.0.0.1", "v1.x", ":", "0", "99999", "8443", "/"]
URL_PARTS += ["@", "user:pw@", "dvc.nghean.example", "é", "xn--", ".", "-", "a" * 64, "%", "\uff03", "\u2100", "?#"]
PATH_PARTS = ["~", "nosuchuser", "~nosuchuser/", "/", "\x00", "a" * 300, "..", "ca.pem", "profile.toml", "loop"]
PATH_PARTS += ["adir", "targets.toml", ".toml", "/dev/null", "vn-baseline", "b/" * 2100]
SPECIAL = [
    "https://[127.0.0.1]/",
    "https://[::1/",
    "https://[::1]/",
    "http://[v1.x]/",
    "https://a[::1]b/",
    "https://dvc.nghean.example:99999/",
    "https://ex\uff03ample.example/",
    "https://\u2100.example/",
    "~nosuchuser/x",
    "x" * 300,
    "x\x00y",
    "loop",
    "loop/x",
    "adir",
    "ca.pem/x",
    "1-70000",
    "9-1",
    "top-100",
    "high",
    "A+",
    "tls.*",
    "http.[",
    "fe80::1%eth0",
    "2130706433",
    "vn-baseline",
    "a\nb",
    "",
]
KEYS = st.sampled_from(["colour", "password", "alowed_ports", "id", "checks", "levels", "a\nb", "requirements"])
DEEP = st.builds(Deep, st.sampled_from([40, 150, 300, 600, 1200, 5000]), st.booleans())
URLISH = st.lists(st.sampled_from(URL_PARTS), max_size=6).map("".join)
PATHISH = st.lists(st.sampled_from(PATH_PARTS), max_size=4).map("".join)
ODD = st.sampled_from(SPECIAL)
SCALARS = st.one_of(
    st.text(max_size=12),
    ODD,
    st.integers(),
    st.floats(),
    st.booleans(),
    st.dates(),
    st.datetimes(timezones=st.none() | st.just(dt.UTC)),
    st.times(),
)
# The odd strings weigh as much as all other values together: they are where the bugs were.
VALUES = st.one_of(
    ODD,
    URLISH,
    PATHISH,
    st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=2)),
    DEEP,
)
# Half of the values put where a URL or a path is expected look like one.
HINTS = {
    "urls": URLISH,
    "login_url": URLISH,
    "hosts": URLISH,
    "resolve": st.dictionaries(URLISH, URLISH | ODD, max_size=2),
    "ca_bundle": PATHISH | ODD,
    "profile": PATHISH | ODD,
    "endpoint": URLISH,
}


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a document a mutation can hit."""
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from paths(inner, (*prefix, index))


def mutated(data: st.DataObject, doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        places = list(paths(doc))[1:]
        if not places:  # everything was deleted: start again from a key
            doc[data.draw(KEYS, label="key")] = data.draw(VALUES, label="value")
            continue
        *parents, last = data.draw(st.sampled_from(places), label="where")
        parent: Any = doc
        for step in parents:
            parent = parent[step]
        named = next((step for step in reversed([*parents, last]) if isinstance(step, str)), "")
        value = st.one_of(VALUES, HINTS.get(named, VALUES))
        action = data.draw(st.sampled_from(["replace", "replace", "delete", "add"]), label="action")
        if action == "replace":
            parent[last] = data.draw(value, label="value")
        elif action == "delete":
            del parent[last]
        elif isinstance(parent, dict):
            parent[data.draw(KEYS, label="key")] = data.draw(value, label="value")
        else:
            parent.append(data.draw(value, label="value"))
    return doc


def garbled(data: st.DataObject, text: str) -> bytes:
    """The file as bytes, sometimes damaged: bytes inserted (invalid UTF-8), cut short, a line repeated."""
    raw = text.encode("utf-8")
    action = data.draw(st.sampled_from(["none", "none", "none", "insert", "cut", "repeat", "bom"]), label="bytes")
    if action == "insert":
        at = data.draw(st.integers(0, len(raw)), label="at")
        return raw[:at] + data.draw(st.binary(min_size=1, max_size=4), label="inserted") + raw[at:]
    if action == "cut":
        return raw[: data.draw(st.integers(0, len(raw)), label="cut at")]
    if action == "repeat":
        lines = raw.splitlines(keepends=True)
        at = data.draw(st.integers(0, max(len(lines) - 1, 0)), label="line")
        return b"".join(lines[: at + 1] + lines[at:])
    if action == "bom":
        return b"\xef\xbb\xbf" + raw
    return raw


# ---- what must come out ----


@dataclass(frozen=True)
class Refusal:
    file: str  # the file that was refused: targets.toml, waivers.toml or profile.toml
    problems: list[str]


def workdir() -> tempfile.TemporaryDirectory[str]:
    """A folder for the three files, with things paths in them may lead to: the CA bundle, a directory,
    a symlink loop."""
    folder = tempfile.TemporaryDirectory(prefix="platscan-fuzz-")
    root = Path(folder.name)
    shutil.copy(CA_PEM, root / "ca.pem")
    (root / "adir").mkdir()
    (root / "loop").symlink_to(root / "loop")
    return folder


def write_files(root: Path, contents: dict[str, bytes]) -> None:
    for name, doc in FILES.items():
        (root / name).write_bytes(contents.get(name, toml_document(doc).encode("utf-8")))


def load_like_the_cli(root: Path) -> Refusal | None:
    """Load the files as `scan` and `gate` do; None when everything is accepted."""
    try:
        targets = load_targets(root / "targets.toml")
        for platform in targets.platforms:
            endpoints(platform)
        load_profile(targets.settings.profile, KNOWN_CHECKS)
        load_waivers(root / "waivers.toml")
    except TargetsError as exc:
        # A profile file's problems are listed in the targets file's refusal, after its `profile` line.
        own = [problem.partition(": scan.profile: ")[2] for problem in exc.problems]
        if all(text.startswith(str(root / "profile.toml")) for text in own):
            return Refusal("profile.toml", own)
        return Refusal("targets.toml", exc.problems)
    except ProfileError as exc:
        return Refusal("profile.toml", exc.problems)
    except WaiverError as exc:
        return Refusal("waivers.toml", exc.problems)
    return None


def assert_one_short_line(message: str) -> None:
    assert "\n" not in message and len(message) < 1000, f"one short line per problem: {message!r}"


def assert_names_the_file(refusal: Refusal, root: Path) -> None:
    assert refusal.problems, "a refusal says why"
    for problem in refusal.problems:
        assert_one_short_line(problem)
        named = problem.startswith((refusal.file, str(root)))
        assert named, f"{problem!r} does not start with the file it is about"


def fuzzed_files(data: st.DataObject, root: Path, name: str) -> Refusal | None:
    write_files(root, {name: garbled(data, toml_document(mutated(data, FILES[name])))})
    refusal = load_like_the_cli(root)
    if refusal is not None:
        assert_names_the_file(refusal, root)
    return refusal


@FUZZ
@given(st.data())
def test_fuzzed_targets_files_load_or_are_refused_with_the_file_named(data: st.DataObject) -> None:
    with workdir() as folder:
        fuzzed_files(data, Path(folder), "targets.toml")


@FUZZ
@given(st.data())
def test_fuzzed_waivers_files_load_or_are_refused_with_the_file_named(data: st.DataObject) -> None:
    with workdir() as folder:
        fuzzed_files(data, Path(folder), "waivers.toml")


@FUZZ
@given(st.data())
def test_fuzzed_profile_files_load_or_are_refused_with_the_file_named(data: st.DataObject) -> None:
    with workdir() as folder:
        fuzzed_files(data, Path(folder), "profile.toml")


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback: show it
    return result.exit_code, result.stderr


@CLI_FUZZ
@given(st.data(), st.sampled_from(list(FILES)))
def test_refused_files_exit_2_from_scan_and_gate_without_a_traceback(data: st.DataObject, name: str) -> None:
    with workdir() as folder:
        root = Path(folder)
        refusal = fuzzed_files(data, root, name)
        assume(refusal is not None)  # an accepted file would start a real scan
        assert refusal is not None
        for command in ("scan", "gate"):
            code, err = invoke(command, str(root / "targets.toml"), "--db", str(root / "p.db"))
            assert code == 2, err
            assert "Traceback" not in err and refusal.problems[0] in err


HOSTS = st.sampled_from(["dvc.nghean.example", "DVC.nghean.example.", "other.example", "[::1]", "", "a=b"])
ADDRESSES = st.sampled_from(["10.20.0.5", "::1", "[::1]", "dvc2.nghean.example", "localhost", "10.0.0.256", ""])
RESOLVES = st.lists(
    st.tuples(HOSTS | st.text(max_size=6), ADDRESSES | st.text(max_size=6)).map("=".join) | st.text(max_size=8),
    max_size=2,
)
PORT_LISTS = st.sampled_from(["80,443", "443", "", "0", "99999", "80,x", " 80 , 443 ", "1e3"]) | st.text(max_size=8)


@FUZZ
@given(
    st.sampled_from(["https://dvc.nghean.example/", "http://[::1]:8080/"]) | URLISH | ODD,
    st.integers(1, 5),  # click's IntRange has checked --level already
    PORT_LISTS,
    RESOLVES,
)
def test_fuzzed_gate_url_options_give_a_platform_or_a_usage_error(
    url: str, level: int, ports: str, resolves: list[str]
) -> None:
    platform = adhoc_platform(url, level, ports, resolves)
    if isinstance(platform, str):
        assert_one_short_line(platform)
        assert platform.startswith(("--url: ", "--allowed-ports: ", "--resolve: "))
        return
    assert isinstance(platform, Platform) and platform.urls == (url,)
    assert [e.kind for e in endpoints(platform)] == ["url", "host"]
    assert all(address_problem(address) is None for _, address in platform.resolve), "IP addresses only"


@FUZZ
@given(PATHISH | ODD)
def test_fuzzed_ca_bundle_paths_give_the_file_or_a_message(value: str) -> None:
    with workdir() as folder:
        bundle = ca_bundle_file(value, Path(folder))
        if isinstance(bundle, str):
            assert_one_short_line(bundle)
        else:
            assert bundle == Path(folder, "ca.pem").resolve()


# ---- each traceback site the fuzzer found, kept as a plain test ----


def _set(doc: dict[str, Any], *path: Any, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    parent: Any = doc
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return doc


REGRESSIONS = [
    ("targets.toml", _set(TARGETS, "scan", "timeout", value=Deep(5000, False)), "nested too deeply"),
    ("targets.toml", _set(TARGETS, "scan", "timeout", value=Deep(5000, True)), "nested too deeply"),
    ("targets.toml", _set(TARGETS, "platforms", 0, "gate", "fail_on", value=["high"]), "gate.fail_on: ['high'] is not"),
    ("targets.toml", _set(TARGETS, "platforms", 0, "gate", "fail_on", value={"a": 1}), "gate.fail_on: {'a': 1} is not"),
    ("targets.toml", _set(TARGETS, "platforms", 0, "urls", 0, value="https://[127.0.0.1]/"), "is not a valid URL"),
    ("targets.toml", _set(TARGETS, "platforms", 0, "urls", 0, value="https://[::1/"), "is not a valid URL"),
    ("targets.toml", _set(TARGETS, "platforms", 0, "urls", 0, value="https://a[::1]b/"), "only an IPv6 address"),
    ("targets.toml", _set(TARGETS, "scan", "ca_bundle", value="x" * 300), "File name too long"),
    ("targets.toml", _set(TARGETS, "scan", "ca_bundle", value="~nosuchuser/x"), "no user 'nosuchuser'"),
    ("targets.toml", _set(TARGETS, "scan", "ca_bundle", value="x\x00y"), "contains a NUL character"),
    ("targets.toml", _set(TARGETS, "scan", "ca_bundle", value="loop"), "cannot be resolved (Symlink loop"),
    ("targets.toml", _set(TARGETS, "scan", "profile", value="x\x00y.toml"), "contains a NUL character"),
    ("targets.toml", _set(TARGETS, "scan", "profile", value="p" * 300 + ".toml"), "File name too long"),
    ("targets.toml", _set(TARGETS, "scan", "profile", value="~nosuchuser/p.toml"), "no user 'nosuchuser'"),
    ("targets.toml", _set(TARGETS, "platforms", 1, "a\nb", value=1), "'a\\nb': unknown key"),
    ("profile.toml", _set(PROFILE, "requirements", value="x"), "requirements: must be an array of at least one"),
    ("profile.toml", _set(PROFILE, "requirements", value=dt.datetime(2026, 1, 1)), "requirements: must be an array"),
    ("profile.toml", _set(PROFILE, "profile", value="x"), "profile: must be a table"),
    ("profile.toml", _set(PROFILE, "requirements", 0, "levels", value=[math.inf]), "levels: must be a list of"),
    ("profile.toml", _set(PROFILE, "requirements", 0, "checks", value=Deep(5000, False)), "nested too deeply"),
    ("waivers.toml", _set(WAIVERS, "waivers", 0, "reason", value=Deep(5000, True)), "nested too deeply"),
]


@pytest.mark.parametrize(
    ("name", "doc", "expected"), REGRESSIONS, ids=[f"{n}-{i}" for i, (n, *_) in enumerate(REGRESSIONS)]
)
def test_traceback_sites_found_by_the_fuzzer(name: str, doc: dict[str, Any], expected: str) -> None:
    with workdir() as folder:
        root = Path(folder)
        write_files(root, {name: toml_document(doc).encode("utf-8")})
        refusal = load_like_the_cli(root)
        assert refusal is not None and refusal.file == name
        assert_names_the_file(refusal, root)
        assert any(expected in problem for problem in refusal.problems), refusal.problems


@pytest.mark.parametrize("name", list(FILES))
def test_invalid_utf8_names_the_file_and_line(name: str) -> None:
    with workdir() as folder:
        root = Path(folder)
        write_files(root, {name: toml_document(FILES[name]).encode("utf-8").replace(b"\n", b"\n\xff", 3)})
        refusal = load_like_the_cli(root)
        assert refusal is not None and refusal.file == name
        (problem,) = refusal.problems
        assert problem.startswith((f"{name}:2: not valid UTF-8", f"{root / name}:2: not valid UTF-8")), problem


def test_unmodified_files_load() -> None:
    with workdir() as folder:
        write_files(Path(folder), {})
        assert load_like_the_cli(Path(folder)) is None


def test_a_refused_file_exits_2_through_a_real_process() -> None:
    """The exit code as a shell sees it, for a targets file that once raised RecursionError."""
    with workdir() as folder:
        root = Path(folder)
        write_files(root, {"targets.toml": toml_document(REGRESSIONS[0][1]).encode("utf-8")})
        for command in ("scan", "gate"):
            proc = subprocess.run(
                [sys.executable, "-m", "scanner", command, str(root / "targets.toml"), "--db", str(root / "p.db")],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert proc.returncode == 2, proc.stderr
            assert (
                "Traceback" not in proc.stderr
                and "targets.toml: not usable: arrays or tables nested too deeply" in proc.stderr
            )
