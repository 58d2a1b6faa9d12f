"""Reading the certificates a server sends, with cryptography, into ``CertificateFacts``.

Servers send malformed certificates, and cryptography refuses some and warns about others; this module
turns both into facts (``CertificateParseError`` with a sentence for a report, ``parse_warnings``)
instead of letting them end a scan. The questions about one certificate that the trust path asks as well
(who issued it, is it a CA, its names as text) live here, so that both ask them the same way.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID, NameOID

from checks.tls.facts import CertificateFacts, rfc5280_serial
from scanner.evidence import shorten
from scanner.messages import Message, Text, say

_WEAK_SIGNATURE_OIDS = {
    "1.2.840.113549.1.1.2": "md2",
    "1.2.840.113549.1.1.4": "md5",
    "1.2.840.113549.1.1.5": "sha1",
    "1.2.840.10045.4.1": "sha1",
    "1.2.840.10040.4.3": "sha1",
}


class CertificateParseError(ValueError):
    """cryptography refuses to parse a certificate; ``reason`` says why: cryptography's own words, or (from
    ``load_chain``) a sentence for a report that names the certificate."""

    def __init__(self, reason: Text) -> None:
        super().__init__(str(reason))
        self.reason = reason


@dataclass(frozen=True)
class ParsedCertificate:
    """A certificate as cryptography parsed it, with what it warned about.

    Attributes:
        cert: the certificate.
        serial: its serial number, read once here: cryptography warns on every read of a negative one.
        warnings: cryptography's deprecation warnings about it (a negative serial number, for one).
    """

    cert: x509.Certificate
    serial: int
    warnings: tuple[str, ...] = ()


def _parse_pem(pem: bytes) -> ParsedCertificate:
    cert = x509.load_pem_x509_certificate(pem)
    return ParsedCertificate(cert, cert.serial_number)


def load_certificate(pem: bytes) -> ParsedCertificate:
    """Parse one PEM certificate. Raises ``CertificateParseError`` if cryptography refuses it.

    cryptography warns (on stderr, by default) about encodings it means to refuse in a future release, such
    as a negative serial number. Here such a warning is raised as an exception and caught, so that it becomes
    a fact (``ParsedCertificate.warnings``), and the certificate is parsed again with the warning silenced.
    Once cryptography refuses such certificates, that second parse raises like any malformed one. (Warning
    filters are process-wide; collectors run one to a process, so no other thread's warnings are caught.)
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", CryptographyDeprecationWarning)
            return _parse_pem(pem)
    except CryptographyDeprecationWarning as warning:
        concern = str(warning)
    except ValueError as exc:
        raise CertificateParseError(str(exc)) from exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        try:
            parsed = _parse_pem(pem)
        except ValueError as exc:
            raise CertificateParseError(str(exc)) from exc
    return ParsedCertificate(parsed.cert, parsed.serial, (concern,))


def load_chain(pems: Sequence[str]) -> list[ParsedCertificate]:
    parsed = []
    for index, pem in enumerate(pems):
        try:
            parsed.append(load_certificate(pem.encode("ascii")))
        except CertificateParseError as exc:
            which = (
                say("tls.certificate.first", "The certificate")
                if index == 0
                else say("tls.certificate.nth", "Certificate {n} of the {count}", n=index + 1, count=len(pems))
            )
            raise CertificateParseError(unparseable_sentence(which, str(exc))) from exc
    return parsed


def certificate_facts(parsed: ParsedCertificate) -> CertificateFacts:
    """Parse one certificate into facts; tolerant of malformed fields."""
    cert = parsed.cert
    subject = rfc4514_name(cert, "subject")
    issuer = rfc4514_name(cert, "issuer")
    common_name = None
    try:
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if cns:
            value = cns[0].value
            common_name = value if isinstance(value, str) else value.decode("utf-8", "replace")
    except ValueError:
        pass

    san_dns: tuple[str, ...] = ()
    san_ip: tuple[str, ...] = ()
    has_san = False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        has_san = True
        san_dns = tuple(san.get_values_for_type(x509.DNSName))
        san_ip = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        pass

    key_type, key_size, key_curve = _key_info(cert)

    signature_hash: str | None
    try:
        algorithm = cert.signature_hash_algorithm
        signature_hash = algorithm.name if algorithm is not None else None
    except UnsupportedAlgorithm:
        signature_hash = _WEAK_SIGNATURE_OIDS.get(cert.signature_algorithm_oid.dotted_string, "unknown")

    ca = is_ca(cert)

    ocsp_urls: list[str] = []
    ca_issuers: list[str] = []
    try:
        aia = cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS).value
        assert isinstance(aia, x509.AuthorityInformationAccess)
        for description in aia:
            if isinstance(description.access_location, x509.UniformResourceIdentifier):
                if description.access_method == AuthorityInformationAccessOID.OCSP:
                    ocsp_urls.append(description.access_location.value)
                elif description.access_method == AuthorityInformationAccessOID.CA_ISSUERS:
                    ca_issuers.append(description.access_location.value)
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        pass

    must_staple = False
    try:
        features = cert.extensions.get_extension_for_class(x509.TLSFeature).value
        must_staple = x509.TLSFeatureType.status_request in features
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        pass

    return CertificateFacts(
        subject=subject,
        common_name=common_name,
        issuer=issuer,
        serial=format(parsed.serial, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        san_dns=san_dns,
        san_ip=san_ip,
        has_san=has_san,
        key_type=key_type,
        key_size=key_size,
        key_curve=key_curve,
        signature_hash=signature_hash,
        self_signed=issued_by(cert, cert),
        is_ca=ca,
        ocsp_urls=tuple(ocsp_urls),
        ca_issuers_urls=tuple(ca_issuers),
        must_staple=must_staple,
        sha256=cert.fingerprint(hashes.SHA256()).hex(),
        parse_warnings=parsed.warnings,
    )


def rfc4514_name(cert: x509.Certificate, which: str) -> str:
    try:
        name: x509.Name = cert.subject if which == "subject" else cert.issuer
        return name.rfc4514_string()
    except ValueError:
        return ""


def _key_info(cert: x509.Certificate) -> tuple[str, int | None, str | None]:
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return "unknown", None, None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size, key.curve.name
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", None, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", None, None
    return type(key).__name__, None, None


def issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    """``issuer``'s subject is ``child``'s issuer and ``issuer``'s key verifies ``child``'s signature.

    Legacy signatures (SHA-1, MD5) that cryptography's ``verify_directly_issued_by`` refuses are
    verified by hand: whether a chain is weak is ``tls.cert_weak_signature``'s question, not this one's.
    """
    try:
        if child.issuer != issuer.subject:
            return False
        child.verify_directly_issued_by(issuer)
    except InvalidSignature:
        return False
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return _legacy_signature_ok(child, issuer)
    return True


def _legacy_signature_ok(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        algorithm = child.signature_hash_algorithm
        key = issuer.public_key()
        if algorithm is None:
            return False
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(child.signature, child.tbs_certificate_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(algorithm))
        elif isinstance(key, dsa.DSAPublicKey):
            key.verify(child.signature, child.tbs_certificate_bytes, algorithm)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        return False


def unparseable_sentence(which: Text, error: str) -> Message:
    """Why a certificate the server sent could not be judged, as a sentence; ``which`` starts it."""
    if "serial" in error.lower():
        return say(
            "tls.certificate.unparseable_serial",
            "{which} the server sent cannot be parsed: the cryptography library refuses it ({error}). Its serial "
            "number is malformed or not positive, which {rule}.",
            which=which,
            error=shorten(error),
            rule=rfc5280_serial(),
        )
    return say(
        "tls.certificate.unparseable",
        "{which} the server sent cannot be parsed: the cryptography library refuses it ({error}).",
        which=which,
        error=shorten(error),
    )
