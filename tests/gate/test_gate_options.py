"""`platscan gate --url`: the options that describe an unregistered platform are checked like a
targets file, and every bad one is a usage error (exit 2) naming the option, before anything is
contacted."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.gate import adhoc_platform
from cli.main import main

URL = "https://dvc.nghean.example/"


def gate(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["gate", *args, "--db", str(tmp_path / "p.db")])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    "value", ["dvc2.nghean.example", "localhost", "", "10.0.0.256", "[10.0.0.5]", "0x0a000005", "2130706433"]
)
def test_resolve_takes_an_ip_address_only(tmp_path: Path, value: str) -> None:
    entry = f"dvc.nghean.example={value}"
    code, err = gate(tmp_path, "--url", URL, "--resolve", entry)
    assert code == 2, err
    assert f"--resolve: {entry!r}: {value!r} is not an IP address" in err
    assert not (tmp_path / "p.db").exists(), "refused before anything is scanned or stored"


@pytest.mark.parametrize("address", ["10.20.0.5", "::1", "fe80::1%eth0"])
def test_resolve_accepts_ipv4_and_ipv6_addresses(address: str) -> None:
    platform = adhoc_platform(URL, 3, "443", [f"DVC.nghean.example.={address}"])
    assert not isinstance(platform, str), platform
    assert platform.resolve == (("dvc.nghean.example", address),)
    assert platform.address_for("dvc.nghean.example") == address


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--url", "https://[::1/"], "--url: 'https://[::1/' is not a valid URL"),
        (["--url", "https://[127.0.0.1]/"], "--url: 'https://[127.0.0.1]/' is not a valid URL"),
        (["--url", URL, "--resolve", "dvc.nghean.example"], "--resolve: 'dvc.nghean.example' is not HOST=IP"),
        (["--url", URL, "--allowed-ports", "80,x"], "--allowed-ports: '80,x' is not a comma-separated list"),
        (["--url", URL, "--ca-bundle", "c" * 300], "--ca-bundle: "),
        (["--url", URL, "--ca-bundle", "~nosuchuser/ca.pem"], "no user 'nosuchuser' to expand '~' for"),
        (["--url", URL, "--timeout", "nan"], "'nan' is not a number of seconds"),
        (["--url", " https://dvc.nghean.example/"], "write the URL plainly"),
        (
            ["--url", URL, "--resolve", "dvc.nghean.example=10.0.0.5", "--resolve", "DVC.nghean.example.=10.0.0.6"],
            "--resolve: dvc.nghean.example is given twice",
        ),
    ],
)
def test_bad_options_are_usage_errors_naming_the_option(tmp_path: Path, args: list[str], expected: str) -> None:
    code, err = gate(tmp_path, *args)
    assert code == 2 and expected in err, err
    assert "Traceback" not in err
