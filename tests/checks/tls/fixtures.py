"""Recorded sslyze JSON (``data/``), edited copies of it, and the facts built from them.

Every document handed to ``facts_from_sslyze_json`` here is first validated with sslyze's own
pydantic model, so an edit that sslyze could never produce fails loudly instead of testing nothing.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import functools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from sslyze.json.json_output import ServerScanResultAsJson
from sslyze.plugins.certificate_info.json_output import _CertificateAsJson

from checks.tls._collect import read_pem_certificates
from checks.tls.facts import TlsFacts
from checks.tls.sslyze_adapter import facts_from_sslyze_json

DATA = Path(__file__).parent / "data"
RECORDED_AT = dt.datetime(2026, 11, 21, 20, 38, 58, tzinfo=dt.UTC)
FIXTURES = ("good", "weak", "self_signed", "client_cert", "no_tls", "refused")

Doc = dict[str, Any]
Edit = Callable[[Doc], object]

# RFC 7919 ffdhe2048: a 2048-bit safe prime.
FFDHE2048 = int(
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695A9E13641146433FBCC939DCE249B3EF9"
    "7D2FE363630C75D8F681B202AEC4617AD3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935"
    "984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797ABC0AB182B324FB61D108A94BB2C8E3FB"
    "B96ADAB760D7F4681D4F42A3DE394DF4AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F61"
    "9172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005C58EF1837D1683B2C6F34A26C1B2EFFA"
    "886B423861285C97FFFFFFFFFFFFFFFF",
    16,
)


@functools.cache
def _text(name: str) -> str:
    return (DATA / f"{name}.json").read_text(encoding="utf-8")


def load(name: str) -> Doc:
    """A fresh (mutable) copy of a recorded document."""
    doc: Doc = json.loads(_text(name))
    return doc


@functools.cache
def anchors() -> tuple[x509.Certificate, ...]:
    """The fixtures' trust anchors: the test fleet's root (``data/ca.pem``)."""
    return tuple(read_pem_certificates((DATA / "ca.pem").read_bytes()))


def validate(doc: Doc) -> Doc:
    ServerScanResultAsJson.model_validate(doc)
    return doc


def facts(
    source: str | Doc,
    *edits: Edit,
    now: dt.datetime = RECORDED_AT,
    hostname: str | None = None,
    trust: Sequence[x509.Certificate] | None = None,
) -> TlsFacts:
    """Facts from a recorded document (by name) or a document, after applying ``edits`` in order."""
    doc = load(source) if isinstance(source, str) else copy.deepcopy(source)
    for edit in edits:
        edit(doc)
    validate(doc)
    return facts_from_sslyze_json(
        doc,
        hostname=hostname or doc["server_location"]["hostname"],
        anchors=anchors() if trust is None else trust,
        now=now,
    )


@functools.cache
def recorded(name: str) -> TlsFacts:
    """Facts from a recorded document as is (cached: building them parses certificates)."""
    return facts(name)


# --------------------------------------------------------------------------------------------------
# Edits: each takes the document and changes it in place, as sslyze would have reported it.


def result(doc: Doc, command: str) -> Doc:
    value: Doc = doc["scan_result"][command]["result"]
    return value


def deployment(doc: Doc, index: int = 0) -> Doc:
    value: Doc = result(doc, "certificate_info")["certificate_deployments"][index]
    return value


def suite(
    name: str, openssl_name: str, key_size: int = 128, *, anonymous: bool = False, ephemeral: Doc | None = None
) -> Doc:
    return {
        "cipher_suite": {"name": name, "openssl_name": openssl_name, "key_size": key_size, "is_anonymous": anonymous},
        "ephemeral_key": ephemeral,
    }


def dh_key(size: int, prime: int, generator: int = 2) -> Doc:
    def b64(value: int) -> str:
        return base64.b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big")).decode()

    return {
        "type_name": "DH",
        "size": size,
        "public_bytes": b64(generator),
        "curve_name": None,
        "x": None,
        "y": None,
        "prime": b64(prime),
        "generator": b64(generator),
    }


def accept(version_command: str, *suites: Doc) -> Edit:
    """The server also accepts ``suites`` with this protocol version."""

    def edit(doc: Doc) -> None:
        found = result(doc, version_command)
        found["is_tls_version_supported"] = True
        found["accepted_cipher_suites"].extend(copy.deepcopy(list(suites)))

    return edit


def refuse(version_command: str) -> Edit:
    """The server accepts nothing with this protocol version."""

    def edit(doc: Doc) -> None:
        found = result(doc, version_command)
        found["is_tls_version_supported"] = False
        found["accepted_cipher_suites"] = []

    return edit


def keep_suites(keep: Callable[[str], bool]) -> Edit:
    """Drop accepted suites whose IANA name ``keep`` rejects (versions left empty become unsupported)."""

    def edit(doc: Doc) -> None:
        for command, attempt in doc["scan_result"].items():
            if command.endswith("_cipher_suites") and attempt["result"]:
                found = attempt["result"]
                found["accepted_cipher_suites"] = [
                    s for s in found["accepted_cipher_suites"] if keep(s["cipher_suite"]["name"])
                ]
                found["is_tls_version_supported"] = bool(found["accepted_cipher_suites"])

    return edit


def set_result(command: str, **fields: Any) -> Edit:
    def edit(doc: Doc) -> None:
        result(doc, command).update(fields)

    return edit


def command_error(command: str, reason: str = "CONNECTIVITY_ISSUE", message: str = "") -> Edit:
    """The scan command failed the way sslyze reports it."""
    last = message or 'sslyze.errors.ConnectionToServerTimedOut: x.test:443 -> "Connection to the server timed out".'
    trace = f'Traceback (most recent call last):\n  File "sslyze/plugins/plugin_base.py", line 1, in run\n{last}\n'

    def edit(doc: Doc) -> None:
        doc["scan_result"][command] = {"status": "ERROR", "error_reason": reason, "error_trace": trace, "result": None}

    return edit


def connectivity_error(trace_line: str) -> Edit:
    """Turn a scan into a connectivity failure with this last trace line."""

    def edit(doc: Doc) -> None:
        doc["connectivity_status"] = "ERROR"
        doc["connectivity_error_trace"] = f"Traceback (most recent call last):\n  ...\n{trace_line}\n"
        doc["connectivity_result"] = None
        doc["scan_status"] = "ERROR_NO_CONNECTIVITY"
        doc["scan_result"] = None

    return edit


def cert_json(cert: x509.Certificate) -> Doc:
    """A certificate as sslyze's JSON model renders it."""
    value: Doc = _CertificateAsJson.model_validate(cert).model_dump(mode="json")
    return value


def chain_edit(change: Callable[[list[Doc]], list[Doc]]) -> Edit:
    """Replace the first deployment's received chain by ``change(chain)``."""

    def edit(doc: Doc) -> None:
        found = deployment(doc)
        found["received_certificate_chain"] = change(found["received_certificate_chain"])

    return edit


def ocsp(certificate_status: str | None, *, response_status: str = "SUCCESSFUL", **fields: Any) -> Edit:
    """Edit the stapled OCSP response of the first deployment (``good`` has one)."""

    def edit(doc: Doc) -> None:
        found = deployment(doc)["ocsp_response"]
        found.update(response_status=response_status, certificate_status=certificate_status, **fields)

    return edit


def no_ocsp(doc: Doc) -> None:
    found = deployment(doc)
    found["ocsp_response"] = None
    found["ocsp_response_is_trusted"] = None


def add_deployment_from(name: str) -> Edit:
    """Add the first certificate deployment of another recording (a server with two leaf certificates)."""

    def edit(doc: Doc) -> None:
        other = deployment(load(name))
        result(doc, "certificate_info")["certificate_deployments"].append(other)

    return edit


def client_auth(requirement: str) -> Edit:
    def edit(doc: Doc) -> None:
        doc["connectivity_result"]["client_auth_requirement"] = requirement

    return edit
