"""Whether the chain a server sent leads to a trust anchor, with the host name and the dates set aside.

Trust is separated into its own questions, because sslyze's verdict mixes them (its verifier checks
the host name and the current time as well as the path):

* does a chain from the leaf to an anchor exist at all (names and signatures; ``TrustFacts.path_found``),
* would a strict RFC 5280 verifier accept that chain, with the host name and expiry set aside
  (``TrustFacts.strict_ok``; verified for no host name, at a time inside the chain's validity),
* does the host name match (``certificates.hostname_matches``) and is the time right (the dates are facts).

The search is bounded (``MAX_CHAIN_DEPTH``, ``MAX_CHAIN_CERTS``) because a server chooses what it sends.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

from checks.tls.certificate_parser import is_ca, issued_by, rfc4514_name
from checks.tls.facts import TrustFacts
from scanner.evidence import shorten
from scanner.messages import Message, Text, say

#: The longest path to an anchor that is searched for, in certificates (leaf included).
MAX_CHAIN_DEPTH = 10
#: ``TrustFacts.strict_error`` when the path's certificates share no moment of validity, so the strict verifier
#: (which always checks the time) cannot judge the other rules; the path itself was found by names and signatures.
NO_COMMON_VALIDITY = say(
    "tls.strict.no_common_validity",
    "not run: the certificates on the path share no moment of validity, and the strict verifier always checks "
    "the time (the dates are judged by tls.cert_expired and tls.cert_not_yet_valid)",
)
#: Only the first this many certificates a server sends are considered for paths (a server may send
#: dozens of look-alike CA certificates; each one multiplies the paths a naive search walks).
MAX_CHAIN_CERTS = 20


class _SentChain:
    """The certificates a server sent, with each issuer check computed once.

    Only the first ``MAX_CHAIN_CERTS`` take part in paths: a server that sends many CA certificates with
    the same name and key (each of which verifies every other) would otherwise cost a path search time
    that grows with the factorial of their number.
    """

    def __init__(self, certs: Sequence[x509.Certificate]) -> None:
        self.certs = list(certs)
        self.size = min(len(self.certs), MAX_CHAIN_CERTS)
        self._issued: dict[tuple[int, int], bool] = {}
        self._ca: dict[int, bool] = {}

    def issued_by(self, child: int, issuer: int) -> bool:
        """Whether sent certificate ``issuer`` issued sent certificate ``child`` (see ``issued_by``)."""
        key = (child, issuer)
        known = self._issued.get(key)
        if known is None:
            known = self._issued[key] = issued_by(self.certs[child], self.certs[issuer])
        return known

    def is_ca(self, index: int) -> bool:
        known = self._ca.get(index)
        if known is None:
            known = self._ca[index] = is_ca(self.certs[index])
        return known


def _sent_path(chain: _SentChain) -> tuple[int, ...]:
    """Follow issuer links from the leaf through the sent certificates (next one preferred)."""
    path = [0]
    while len(path) < chain.size:
        current = path[-1]
        if chain.issued_by(current, current):
            break
        candidates = [current + 1, *(i for i in range(chain.size) if i != current + 1)]
        found = next((i for i in candidates if i < chain.size and i not in path and chain.issued_by(current, i)), None)
        if found is None:
            break
        path.append(found)
    return tuple(path)


def _same_key_and_subject(a: x509.Certificate, b: x509.Certificate) -> bool:
    try:
        return a.subject == b.subject and a.public_key() == b.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return False


def assess_trust(
    certs: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate], now: dt.datetime
) -> TrustFacts:
    """Does the sent chain lead to one of ``anchors``, host name and validity dates aside?"""
    return _assess_trust(_SentChain(certs), anchors, now)


def follow_chain(
    certs: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate], now: dt.datetime
) -> tuple[tuple[int, ...], TrustFacts]:
    """The leaf's path through the sent certificates (``Deployment.sent_path``) and ``assess_trust``'s answer,
    sharing one cache of issuer checks."""
    chain = _SentChain(certs)
    return _sent_path(chain), _assess_trust(chain, anchors, now)


def _assess_trust(chain: _SentChain, anchors: Sequence[x509.Certificate], now: dt.datetime) -> TrustFacts:
    by_subject: dict[bytes, list[x509.Certificate]] = {}
    for anchor in anchors:
        try:
            by_subject.setdefault(anchor.subject.public_bytes(), []).append(anchor)
        except ValueError:
            continue

    def anchor_for(cert: x509.Certificate) -> x509.Certificate | None:
        """The anchor ``cert`` is (same subject and key), or the anchor that issued it."""
        try:
            own = by_subject.get(cert.subject.public_bytes(), [])
            issuers = by_subject.get(cert.issuer.public_bytes(), [])
        except ValueError:
            return None
        for anchor in own:
            if _same_key_and_subject(cert, anchor):
                return anchor
        for anchor in issuers:
            if issued_by(cert, anchor):
                return anchor
        return None

    def search() -> _PathSearch:
        """Breadth first from the leaf over sent CA certificates, each visited once: the shortest path
        (at most ``MAX_CHAIN_DEPTH`` certificates) to an anchor."""
        parent: dict[int, int | None] = {0: None}
        level = [0]
        depth = 1
        while level:
            for index in level:
                found = anchor_for(chain.certs[index])
                if found is not None:
                    path = [index]
                    while (up := parent[path[-1]]) is not None:
                        path.append(up)
                    return _PathSearch(tuple(reversed(path)), found)
            below = _sent_issuers(chain, level, parent)
            if below and depth >= MAX_CHAIN_DEPTH:
                return _PathSearch(limit=_depth_limit(len(chain.certs)))
            level = below
            depth += 1
        return _PathSearch(limit=_issuer_beyond_considered(chain, parent))

    outcome = search()
    if outcome.anchor is None:
        path_indices = _sent_path(chain)
        reason = outcome.limit or _no_path_reason(chain, path_indices)
    else:
        path_indices = outcome.path
        reason = None

    # The strict verifier, with the host name and time taken out of the question. It is given the path
    # found and nothing else: its own path builder tries every combination of the certificates it gets
    # (n ** 8 for n look-alike CA certificates), and it cannot find a path our search missed, since it
    # links certificates the same way (names, signatures, CA flag) under stricter rules.
    path_certs = [chain.certs[i] for i in path_indices]
    validated_at = _time_inside_validity(path_certs, now)
    strict_error: Text | None
    if not anchors:
        strict_error = say("tls.strict.no_anchors", "no trust anchors available")
    elif outcome.anchor is None:
        strict_error = say("tls.strict.no_path", "not run: no chain of signatures leads to a trust anchor")
    elif not _share_validity(path_certs):
        # The verifier has no switch to set time aside, and no moment exists at which it could agree: the
        # dates are tls.cert_expired's and tls.cert_not_yet_valid's finding, not a trust one.
        strict_error = NO_COMMON_VALIDITY
    else:
        strict_error = _strict_verify(path_certs, anchors, validated_at)

    return TrustFacts(
        path_found=outcome.anchor is not None,
        strict_ok=strict_error is None,
        anchor=rfc4514_name(outcome.anchor, "subject") if outcome.anchor is not None else None,
        path=path_indices,
        reason=reason,
        strict_error=strict_error,
        validated_at=validated_at,
        anchors=len(anchors),
        search_limited=outcome.limit is not None,
    )


@dataclass(frozen=True)
class _PathSearch:
    """How the search for a path from the leaf to an anchor ended.

    Attributes:
        path: the path found (indices in the sent chain, leaf first); empty if none.
        anchor: the anchor it ends at; None if no path was found.
        limit: when no path was found within platscan's limits but the chain goes on beyond them, a sentence
            naming the limit.
    """

    path: tuple[int, ...] = ()
    anchor: x509.Certificate | None = None
    limit: Message | None = None


def _sent_issuers(chain: _SentChain, level: Sequence[int], parent: dict[int, int | None]) -> list[int]:
    """The sent CA certificates not visited yet that issued a certificate of ``level``; marks them visited
    (``parent``: each one's child)."""
    found = []
    for index in level:
        for candidate in range(chain.size):
            if candidate not in parent and chain.is_ca(candidate) and chain.issued_by(index, candidate):
                parent[candidate] = index
                found.append(candidate)
    return found


def _depth_limit(sent: int) -> Message:
    return say(
        "tls.chain.depth_limit",
        "The chain is longer than {limit} certificates, platscan's path-length limit; platscan does not follow it "
        "further (the server sends {sent}), so whether it leads to a trusted anchor is not known.",
        limit=MAX_CHAIN_DEPTH,
        sent=sent,
    )


def _issuer_beyond_considered(chain: _SentChain, visited: Mapping[int, int | None]) -> Message | None:
    """A sentence naming ``MAX_CHAIN_CERTS`` if the issuer of a certificate the search reached is among the sent
    certificates beyond that limit (by name: the search stops there, so a signature is not checked)."""
    ignored = chain.certs[chain.size :]
    for index in visited:
        cert = chain.certs[index]
        try:
            beyond = any(cert.issuer == other.subject for other in ignored)
        except ValueError:
            continue
        if beyond:
            label: Text = rfc4514_name(cert, "subject") or say("tls.chain.nth", "certificate {n}", n=index + 1)
            return say(
                "tls.chain.beyond_considered",
                "The issuer of '{label}' is among the {ignored} certificates the server sends after the first "
                "{limit}, and platscan considers only the first {limit}; whether the chain leads to a trusted "
                "anchor is not known.",
                label=label,
                ignored=len(ignored),
                limit=MAX_CHAIN_CERTS,
            )
    return None


def _no_path_reason(chain: _SentChain, sent: tuple[int, ...]) -> Message:
    """Why the sent path leads to no anchor, as a sentence."""
    end = chain.certs[sent[-1]]
    end_label: Text = rfc4514_name(end, "subject") or say("tls.chain.last", "the last certificate")
    if chain.issued_by(sent[-1], sent[-1]):
        return say(
            "tls.chain.self_signed_end",
            "The chain ends at the self-signed certificate '{label}', which is not a trusted anchor.",
            label=end_label,
        )
    return say(
        "tls.chain.unknown_issuer",
        "The issuer '{issuer}' of '{label}' is neither among the certificates sent nor a trusted anchor.",
        issuer=rfc4514_name(end, "issuer"),
        label=end_label,
    )


def _share_validity(certs: Sequence[x509.Certificate]) -> bool:
    """Whether some moment lies inside every certificate's validity (a leaf that expired before its issuer's
    current certificate began has none)."""
    return max(c.not_valid_before_utc for c in certs) <= min(c.not_valid_after_utc for c in certs)


def _time_inside_validity(certs: Sequence[x509.Certificate], now: dt.datetime) -> dt.datetime:
    """``now`` if every certificate is valid then, else the nearest moment when they all are."""
    start = max(c.not_valid_before_utc for c in certs)
    end = min(c.not_valid_after_utc for c in certs)
    if start > end:
        return now
    return min(max(now, start), end)


def _server_auth_eku(policy: verification.Policy, cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None) -> None:
    """An end-entity's EKU, if present, must allow TLS server authentication (as the server verifier demands)."""
    if eku is not None and ExtendedKeyUsageOID.SERVER_AUTH not in eku:
        raise ValueError("the certificate's extended key usage does not allow TLS server authentication")


def _ca_server_auth_eku(policy: verification.Policy, cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None) -> None:
    """A CA's EKU, if present, must allow TLS server authentication or any purpose (as the server verifier demands)."""
    if eku is not None and not {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE} & set(eku):
        raise ValueError("a CA certificate's extended key usage does not allow TLS server authentication")


def _nameless_verifier(
    anchors: Sequence[x509.Certificate], when: dt.datetime, leaf_has_san: bool
) -> verification.ClientVerifier:
    """cryptography's strict web-PKI verifier with the host name taken out of the question.

    Its server verifier always matches a subject name, and refuses names it cannot parse (an underscore, which
    DNS and browsers allow, makes it raise), so the name would leak into the trust verdict. Its client verifier
    matches none; given the server verifier's extended-key-usage rule instead of the client one, it applies the
    same web-PKI rules. A leaf without subjectAltName matches no host name: that is the host-name check's finding,
    so the extension is not required here (when present, the default rules for it apply)."""
    ee_policy = verification.ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.ExtendedKeyUsage, verification.Criticality.AGNOSTIC, _server_auth_eku
    )
    if not leaf_has_san:
        ee_policy = ee_policy.may_be_present(x509.SubjectAlternativeName, verification.Criticality.AGNOSTIC, None)
    ca_policy = verification.ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, verification.Criticality.AGNOSTIC, _ca_server_auth_eku
    )
    return (
        verification.PolicyBuilder()
        .store(verification.Store(list(anchors)))
        .time(when)
        .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
        .build_client_verifier()
    )


def _has_san(cert: x509.Certificate) -> bool:
    try:
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return False
    except (x509.DuplicateExtension, ValueError):
        return True  # malformed: let the verifier's own rules refuse it
    return True


def _strict_verify(
    certs: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate], when: dt.datetime
) -> str | None:
    try:
        _nameless_verifier(anchors, when, _has_san(certs[0])).verify(certs[0], list(certs[1:]))
    except verification.VerificationError as exc:
        # "AlgorithmIdentifier { oid: ..., params: RsaWithSha1(Some(())) }" -> "RsaWithSha1"
        return shorten(re.sub(r"AlgorithmIdentifier \{ oid: .*?params: (\w+)\(.*?\) \}", r"\1", str(exc)))
    except (ValueError, TypeError) as exc:
        return shorten(f"{type(exc).__name__}: {exc}")
    return None
