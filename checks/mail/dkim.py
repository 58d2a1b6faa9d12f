"""DKIM (RFC 6376): the keys receivers verify the domain's signatures with.

With the platform's selectors (``[platforms.mail] dkim_selectors``), each key record at
``<selector>._domainkey.<domain>`` is parsed (RFC 6376 3.6.1; Ed25519 keys of RFC 8463) and its
public key read with ``cryptography``: one result per selector. Without selectors, nothing can be
read of the keys, and selectors are never guessed: as Internet.nl judges it, the domain passes when
``_domainkey.<domain>`` exists (NOERROR, even without records of its own: RFC 8020 makes the name
of every key's parent exist) and fails on NXDOMAIN.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from checks.mail.lookups import Outcome, Resolvers, TxtLookup, dns_failed
from scanner.evidence import clip, shorten
from scanner.messages import Message, say
from scanner.model import Severity, Status
from scanner.plugin import Verdict

#: RSA keys shorter than this are forgeable (RFC 8301 3.2: verifiers must not accept them).
MIN_RSA_BITS = 1024
#: RSA keys shorter than this are below current practice (RFC 8301: signers should use 2048).
GOOD_RSA_BITS = 2048
_TAG = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_ED25519_BYTES = 32


@dataclass(frozen=True)
class DkimFacts:
    """What the scan's resolvers say of one domain's DKIM keys.

    Attributes:
        domain: the mail domain.
        selectors: the platform's selectors (may be empty).
        keys: the TXT lookup of ``<selector>._domainkey.<domain>``, one per selector, in order.
        parent: the lookup of ``_domainkey.<domain>`` when there are no selectors; else None.
    """

    domain: str
    selectors: tuple[str, ...] = ()
    keys: tuple[TxtLookup, ...] = ()
    parent: TxtLookup | None = None


def collect_dkim(
    domain: str, selectors: tuple[str, ...], servers: tuple[str, ...], timeout: float, budget: float
) -> DkimFacts:
    """The DKIM facts of ``domain`` from ``servers``, within ``budget`` seconds. Runs in a worker."""
    resolvers = Resolvers(servers, timeout, budget)
    if not selectors:
        return DkimFacts(domain, parent=resolvers.txt(f"_domainkey.{domain}"))
    keys = tuple(resolvers.txt(f"{selector}._domainkey.{domain}") for selector in selectors)
    return DkimFacts(domain, selectors, keys)


@dataclass(frozen=True)
class DkimKey:
    """A key record read: its type and size, or why it cannot be used.

    Attributes:
        key_type: the ``k=`` tag ("rsa" by default, "ed25519").
        bits: the RSA modulus size (None for Ed25519 or an unreadable key).
        revoked: ``p=`` is empty (RFC 6376 3.6.1: the key was revoked).
        problem: why the record is not a usable key; None when it is.
        testing: ``t=y`` (the domain is testing DKIM; evidence only).
    """

    key_type: str = "rsa"
    bits: int | None = None
    revoked: bool = False
    problem: Message | None = None
    testing: bool = False


def read_key(record: str) -> DkimKey:
    """The key in one DKIM key record (RFC 6376 3.6.1). Pure."""
    tags: dict[str, str] = {}
    for number, part in enumerate(record.split(";")):
        if not part.strip():
            continue
        name, equals, value = part.partition("=")
        name = name.strip()
        if not equals or not _TAG.fullmatch(name):
            return DkimKey(problem=say("mail.dkim.not_a_tag", "{part} is not a tag=value pair", part=shorten(part, 60)))
        if name in tags:
            return DkimKey(problem=say("mail.dkim.duplicate_tag", "the tag {tag}= appears twice", tag=name))
        if name == "v" and number != 0:
            return DkimKey(problem=say("mail.dkim.version_not_first", "v= must be the first tag"))
        tags[name] = "".join(value.split())  # folding white space is not part of a value (RFC 6376 3.2)
    if tags.get("v", "DKIM1") != "DKIM1":
        return DkimKey(problem=say("mail.dkim.version", "v={version} is not DKIM1", version=shorten(tags["v"], 40)))
    key_type = tags.get("k", "rsa").lower()
    testing = "y" in tags.get("t", "").split(":")
    if "p" not in tags:
        return DkimKey(key_type, problem=say("mail.dkim.no_p", "the record has no p= tag (the public key)"))
    if not tags["p"]:
        return DkimKey(key_type, revoked=True, testing=testing)
    try:
        material = base64.b64decode(tags["p"], validate=True)
    except (binascii.Error, ValueError):
        return DkimKey(key_type, problem=say("mail.dkim.not_base64", "p= is not base64"), testing=testing)
    if key_type == "ed25519":
        if len(material) != _ED25519_BYTES:
            wrong = say(
                "mail.dkim.ed25519_size",
                "p= holds {size} bytes where an Ed25519 key is {expected} (RFC 8463)",
                size=len(material),
                expected=_ED25519_BYTES,
            )
            return DkimKey(key_type, problem=wrong, testing=testing)
        ed25519.Ed25519PublicKey.from_public_bytes(material)
        return DkimKey(key_type, testing=testing)
    if key_type != "rsa":
        unknown = say(
            "mail.dkim.key_type",
            "k={key_type} is not a key type verifiers know (rsa, ed25519)",
            key_type=shorten(key_type, 40),
        )
        return DkimKey(key_type, problem=unknown, testing=testing)
    try:
        key = load_der_public_key(material)
    except (ValueError, UnsupportedAlgorithm):
        unreadable = say("mail.dkim.not_spki", "p= is not a public key (DER SubjectPublicKeyInfo, RFC 6376 3.6.1)")
        return DkimKey(key_type, problem=unreadable, testing=testing)
    if not isinstance(key, rsa.RSAPublicKey):
        other = say(
            "mail.dkim.not_rsa", "p= holds a {algorithm} key, not the RSA key k=rsa says", algorithm=type(key).__name__
        )
        return DkimKey(key_type, problem=other, testing=testing)
    return DkimKey(key_type, bits=key.key_size, testing=testing)


# -- judgement ------------------------------------------------------------------------------------


def judge_dkim(facts: DkimFacts) -> list[Verdict]:
    """One verdict per selector (keyed by it), or one for the domain without selectors. Pure."""
    if facts.parent is not None:
        return [judge_parent(facts.domain, facts.parent)]
    return [judge_selector(selector, lookup) for selector, lookup in zip(facts.selectors, facts.keys, strict=True)]


def judge_parent(domain: str, lookup: TxtLookup) -> Verdict:
    """``_domainkey.<domain>`` exists: pass; NXDOMAIN: fail (RFC 8020)."""
    evidence: dict[str, Any] = {"domain": domain, "name": lookup.name, "answer": lookup.outcome.value}
    if lookup.outcome is Outcome.FAILED:
        assert lookup.failure is not None
        return Verdict(Status.ERROR, dns_failed([lookup.failure]), evidence)
    if lookup.outcome is Outcome.NXDOMAIN:
        absent = say(
            "mail.dkim.no_domainkey",
            "{name} does not exist (NXDOMAIN): {domain} publishes no DKIM key under any selector (RFC 8020)",
            name=lookup.name,
            domain=domain,
        )
        return Verdict(Status.FAIL, absent, evidence)
    present = say(
        "mail.dkim.domainkey_exists",
        "{name} exists, so {domain} publishes DKIM keys; list the selectors in dkim_selectors to have each key judged",
        name=lookup.name,
        domain=domain,
    )
    return Verdict(Status.PASS, present, evidence)


def judge_selector(selector: str, lookup: TxtLookup) -> Verdict:
    """The key at ``<selector>._domainkey.<domain>``: present, readable, not revoked, RSA of at least
    1024 bits (warn below 2048) or Ed25519."""
    evidence: dict[str, Any] = {"selector": selector, "name": lookup.name, "answer": lookup.outcome.value}
    name = lookup.name
    if lookup.outcome is Outcome.FAILED:
        assert lookup.failure is not None
        return Verdict(Status.ERROR, dns_failed([lookup.failure]), evidence, key=selector)
    if lookup.outcome is not Outcome.ANSWER or not lookup.records:
        missing = say("mail.dkim.missing", "No DKIM key record at {name}", name=name)
        return Verdict(Status.FAIL, missing, evidence, key=selector)
    evidence["records"] = clip((shorten(r, 120) for r in lookup.records), 5)
    verdicts = [_judge_key(selector, name, read_key(record), evidence) for record in lookup.records]
    # Verifiers may use any of several key records (RFC 6376 6.1.2): the worst one counts.
    return max(verdicts, key=lambda v: _BADNESS[v.status])


_BADNESS = {Status.PASS: 0, Status.SKIP: 0, Status.WARN: 1, Status.ERROR: 2, Status.FAIL: 3}


def _judge_key(selector: str, name: str, key: DkimKey, evidence: dict[str, Any]) -> Verdict:
    evidence = {**evidence, "key_type": key.key_type}
    if key.bits is not None:
        evidence["bits"] = key.bits
    if key.testing:
        evidence["testing"] = True
    if key.revoked:
        revoked = say("mail.dkim.revoked", "The DKIM key at {name} is revoked (empty p=)", name=name)
        return Verdict(Status.FAIL, revoked, evidence, key=selector)
    if key.problem is not None:
        invalid = say(
            "mail.dkim.invalid", "The DKIM record at {name} is invalid: {problem}", name=name, problem=key.problem
        )
        return Verdict(Status.FAIL, invalid, evidence, key=selector)
    if key.bits is not None and key.bits < MIN_RSA_BITS:
        weak = say(
            "mail.dkim.rsa_weak",
            "The DKIM key at {name} is {bits}-bit RSA: keys below {minimum} bits can be factored, and verifiers "
            "reject them (RFC 8301)",
            name=name,
            bits=key.bits,
            minimum=MIN_RSA_BITS,
        )
        return Verdict(Status.FAIL, weak, evidence, severity=Severity.HIGH, key=selector)
    if key.bits is not None and key.bits < GOOD_RSA_BITS:
        short = say(
            "mail.dkim.rsa_short",
            "The DKIM key at {name} is {bits}-bit RSA, below the {good} bits signers should use (RFC 8301)",
            name=name,
            bits=key.bits,
            good=GOOD_RSA_BITS,
        )
        return Verdict(Status.WARN, short, evidence, key=selector)
    if key.key_type == "ed25519":
        good = say("mail.dkim.ed25519_ok", "The DKIM key at {name} is an Ed25519 key (RFC 8463)", name=name)
    else:
        good = say("mail.dkim.rsa_ok", "The DKIM key at {name} is {bits}-bit RSA", name=name, bits=key.bits or 0)
    return Verdict(Status.PASS, good, evidence, key=selector)
