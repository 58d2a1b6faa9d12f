"""A small test PKI: a root, an intermediate, a rogue root, and leaves with every flaw the TLS checks look for.

Everything written here is strictly valid by RFC 5280 unless a flaw is asked for, because sslyze 6
validates with cryptography's strict verifier (non-critical SAN with a non-empty subject, critical
BasicConstraints and KeyUsage, serverAuth EKU, SKI/AKI, positive serials below 2**159).

Usage::

    pki = Pki.create(directory)
    leaf = pki.issue("good", LeafSpec(hosts=("good.fleet.test",)))
    chain = pki.write_chain(leaf, ChainLayout.FULL)          # leaf + intermediate, for a server
    staple = pki.write_ocsp_response(leaf, OcspStatus.GOOD)   # DER, for nginx's ssl_stapling_file
    pki.bundle_path                                           # the root, for a scan's ca_bundle

SHA-1 signatures: cryptography refuses to build SHA-1 signed certificates, so a SHA-1 leaf is built
with SHA-256 and then re-signed: the two RSA AlgorithmIdentifiers have the same DER length, so the
TBS bytes are patched in place and signed again with PKCS#1 v1.5 / SHA-1. The certificate keeps
exactly the extensions and dates of its SHA-256 twin, and no ``openssl`` subprocess is needed.
A negative serial number (which cryptography refuses to build too) is patched in the same way, and
``resign`` lets a test sign TBS bytes it patched itself (encodings cryptography refuses to load).
"""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dh, ec, padding, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

__all__ = [
    "DEFAULT_CA_ISSUERS_URL",
    "DEFAULT_OCSP_URL",
    "EXPIRED",
    "EXPIRING",
    "LONG_LIFETIME",
    "NORMAL",
    "NOT_YET_VALID",
    "Authority",
    "ChainLayout",
    "IssuedCert",
    "IssuerKind",
    "KeyPool",
    "KeyType",
    "LeafSpec",
    "OcspStatus",
    "Pki",
    "PrivateKey",
    "SignatureHash",
    "Validity",
    "resign",
    "write_dh_params",
]

DEFAULT_CA_ISSUERS_URL = "http://pki.test/int.crt"
DEFAULT_OCSP_URL = "http://ocsp.pki.test/"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class KeyType(enum.StrEnum):
    RSA_2048 = "rsa-2048"
    RSA_1024 = "rsa-1024"
    EC_P256 = "ec-p256"
    EC_P384 = "ec-p384"

    def generate(self) -> PrivateKey:
        if self is KeyType.RSA_2048:
            return rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if self is KeyType.RSA_1024:
            return rsa.generate_private_key(public_exponent=65537, key_size=1024)
        if self is KeyType.EC_P256:
            return ec.generate_private_key(ec.SECP256R1())
        return ec.generate_private_key(ec.SECP384R1())


class IssuerKind(enum.StrEnum):
    """Who signs a leaf."""

    INTERMEDIATE = "intermediate"  # the normal case: root -> intermediate -> leaf
    ROOT = "root"  # directly under the trusted root
    ROGUE = "rogue"  # directly under a root that is not in the bundle
    SELF = "self"  # self-signed


class SignatureHash(enum.StrEnum):
    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA1 = "sha1"


class ChainLayout(enum.StrEnum):
    """Which certificates a chain file holds, in order. The leaf always comes first: a TLS server
    (OpenSSL, nginx) takes the first certificate of the file as the one matching its key."""

    LEAF = "leaf"  # leaf only (incomplete when the leaf is issued by an intermediate)
    FULL = "full"  # leaf + intermediates: what a server should send
    WITH_ROOT = "with-root"  # leaf + intermediates + the anchor
    OUT_OF_ORDER = "out-of-order"  # leaf, then the anchor, then the intermediates (wrong order)
    EXTRA = "extra"  # leaf + intermediates + an unrelated certificate


class OcspStatus(enum.StrEnum):
    GOOD = "good"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Validity:
    """A validity window as day offsets from the PKI's creation time (negative is in the past)."""

    not_before_days: float
    not_after_days: float

    def __post_init__(self) -> None:
        if self.not_after_days <= self.not_before_days:
            raise ValueError("not_after must come after not_before")

    def window(self, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        return (
            now + dt.timedelta(days=self.not_before_days),
            now + dt.timedelta(days=self.not_after_days),
        )

    @property
    def lifetime_days(self) -> float:
        return self.not_after_days - self.not_before_days


NORMAL = Validity(-1, 89)  # a 90-day certificate issued yesterday
EXPIRED = Validity(-100, -10)
NOT_YET_VALID = Validity(10, 100)
EXPIRING = Validity(-80, 10)  # 10 days left
LONG_LIFETIME = Validity(-1, 799)  # 800 days


@dataclass(frozen=True)
class LeafSpec:
    """What to put in an end-entity certificate.

    Attributes:
        hosts: DNS names and IP literals for the SAN (IP literals become IP SANs); the first is the CN.
        issuer: who signs it.
        validity: the validity window.
        key_type: the leaf's key type and size.
        signature_hash: the hash of the issuer's signature (SHA-1 needs an RSA issuer).
        ca_issuers_url: AIA caIssuers URL, or None for no caIssuers entry.
        ocsp_url: AIA OCSP URL, or None for no OCSP entry.
        must_staple: add the TLS feature extension (status_request).
        client: a client-authentication certificate (EKU clientAuth) instead of a server one.
        common_name: the subject CN, when it should differ from ``hosts[0]`` (at most 64 characters;
            any text: reports must show a hostile CN such as ``<script>`` as text). The SAN keeps ``hosts``.
        padding_bytes: add a non-critical private extension of about this many bytes (0: none), to make
            a certificate list larger than a client accepts (OpenSSL's limit is 100 KiB).
        negative_serial: give the certificate a negative serial number, which RFC 5280 (4.1.2.2) forbids:
            OpenSSL accepts it, cryptography warns (and will refuse it in a future release). Needs an
            RSA issuer.
    """

    hosts: tuple[str, ...]
    issuer: IssuerKind = IssuerKind.INTERMEDIATE
    validity: Validity = NORMAL
    key_type: KeyType = KeyType.RSA_2048
    signature_hash: SignatureHash = SignatureHash.SHA256
    ca_issuers_url: str | None = DEFAULT_CA_ISSUERS_URL
    ocsp_url: str | None = DEFAULT_OCSP_URL
    must_staple: bool = False
    client: bool = False
    common_name: str | None = None
    padding_bytes: int = 0
    negative_serial: bool = False

    def __post_init__(self) -> None:
        if not self.hosts:
            raise ValueError("a leaf needs at least one host name")


@dataclass(frozen=True)
class Authority:
    """A certificate authority of the test PKI.

    Attributes:
        name: short name ("root", "intermediate", "rogue").
        cert: its certificate.
        key: its private key.
        cert_path: PEM file of the certificate.
        key_path: PEM file of the key (PKCS#8, unencrypted).
        parent: the authority that signed it, or None for a root.
    """

    name: str
    cert: x509.Certificate
    key: PrivateKey
    cert_path: Path
    key_path: Path
    parent: Authority | None = None

    @property
    def anchor(self) -> Authority:
        return self if self.parent is None else self.parent.anchor


@dataclass(frozen=True)
class IssuedCert:
    """A leaf certificate and what is needed to serve it.

    Attributes:
        name: the file stem it was written under.
        spec: what was asked for.
        cert: the certificate.
        key: its private key.
        cert_path: PEM file of the leaf alone.
        key_path: PEM file of the key.
        issuer: the signing authority, or None for a self-signed leaf.
        intermediates: the certificates between the leaf and the anchor, leaf-side first.
        anchor: the root its chain ends at (the leaf itself when self-signed).
    """

    name: str
    spec: LeafSpec
    cert: x509.Certificate
    key: PrivateKey
    cert_path: Path
    key_path: Path
    issuer: Authority | None
    intermediates: tuple[x509.Certificate, ...]
    anchor: x509.Certificate


@dataclass
class KeyPool:
    """Reuses private keys by (type, slot): one RSA-2048 key for every leaf is harmless in tests and
    saves most of the PKI's creation time. Share one pool between PKIs to save more."""

    _keys: dict[tuple[KeyType, str], PrivateKey] = field(default_factory=dict)

    def get(self, key_type: KeyType, slot: str = "leaf") -> PrivateKey:
        key = self._keys.get((key_type, slot))
        if key is None:
            key = key_type.generate()
            self._keys[(key_type, slot)] = key
        return key


@dataclass(frozen=True)
class Pki:
    """A root CA, an intermediate under it, and a rogue root, written to ``directory``.

    Attributes:
        directory: where every file goes.
        root: the trusted root (the only certificate in ``bundle_path``).
        intermediate: the issuing CA under ``root``.
        rogue: a root that is not trusted.
        bundle_path: PEM file with the trusted root: a scan's ``ca_bundle``.
        now: the reference time the validity offsets count from.
        keys: the key pool used for leaves.
    """

    directory: Path
    root: Authority
    intermediate: Authority
    rogue: Authority
    bundle_path: Path
    now: dt.datetime
    keys: KeyPool = field(repr=False)
    organization: str = "Platscan Test PKI"

    @classmethod
    def create(
        cls,
        directory: Path,
        *,
        organization: str = "Platscan Test PKI",
        keys: KeyPool | None = None,
        now: dt.datetime | None = None,
    ) -> Pki:
        directory.mkdir(parents=True, exist_ok=True)
        pool = keys if keys is not None else KeyPool()
        moment = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        ca_validity = Validity(-730, 3650)
        root = _make_ca(directory, "root", f"{organization} Root CA", organization, None, pool, moment, ca_validity)
        intermediate = _make_ca(
            directory,
            "intermediate",
            f"{organization} Issuing CA",
            organization,
            root,
            pool,
            moment,
            Validity(-365, 1825),
        )
        rogue = _make_ca(directory, "rogue", "Rogue Root CA", "Not Trusted Ltd", None, pool, moment, ca_validity)
        bundle = directory / "bundle.pem"
        _write_certs(bundle, [root.cert])
        return cls(
            directory=directory,
            root=root,
            intermediate=intermediate,
            rogue=rogue,
            bundle_path=bundle,
            now=moment,
            keys=pool,
            organization=organization,
        )

    @property
    def _leaf_dir(self) -> Path:
        path = self.directory / "certs"
        path.mkdir(exist_ok=True)
        return path

    def authority(self, kind: IssuerKind) -> Authority | None:
        """The authority that signs leaves of ``kind`` (None for self-signed)."""
        return {
            IssuerKind.INTERMEDIATE: self.intermediate,
            IssuerKind.ROOT: self.root,
            IssuerKind.ROGUE: self.rogue,
            IssuerKind.SELF: None,
        }[kind]

    def ladder(self, count: int, name: str = "rung") -> Authority:
        """``count`` CAs under the trusted root, each issuing the next, without path-length constraints;
        returns the last. A leaf issued ``under`` it has a chain of ``count`` intermediates."""
        node = self.root
        for index in range(1, count + 1):
            node = _make_ca(
                self.directory,
                f"{name}{index}",
                f"{self.organization} CA {index}",
                self.organization,
                node,
                self.keys,
                self.now,
                Validity(-365, 1825),
                path_length=None,
            )
        return node

    def issue(self, name: str, spec: LeafSpec, *, under: Authority | None = None) -> IssuedCert:
        """Create a leaf certificate and write ``<name>.pem`` (leaf alone) and ``<name>.key``.

        ``under``: the authority that signs it, instead of the one ``spec.issuer`` names (see ``ladder``).
        """
        key = self.keys.get(spec.key_type)
        issuer = under if under is not None else self.authority(spec.issuer)
        subject = _name(spec.common_name or spec.hosts[0], self.organization)
        not_before, not_after = spec.validity.window(self.now)
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        aki = (
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
            if issuer is None
            else _aki_for(issuer.cert)
        )
        is_rsa = isinstance(key, rsa.RSAPrivateKey)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject if issuer is None else issuer.cert.subject)
            .public_key(key.public_key())
            .serial_number(_negatable_serial() if spec.negative_serial else x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=is_rsa,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.CLIENT_AUTH if spec.client else ExtendedKeyUsageOID.SERVER_AUTH]
                ),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName([_san(h) for h in spec.hosts]), critical=False)
            .add_extension(ski, critical=False)
            .add_extension(aki, critical=False)
        )
        access: list[x509.AccessDescription] = []
        if spec.ocsp_url:
            access.append(
                x509.AccessDescription(
                    AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(spec.ocsp_url)
                )
            )
        if spec.ca_issuers_url:
            access.append(
                x509.AccessDescription(
                    AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(spec.ca_issuers_url)
                )
            )
        if access:
            builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
        if spec.must_staple:
            builder = builder.add_extension(x509.TLSFeature([x509.TLSFeatureType.status_request]), critical=False)
        if spec.padding_bytes:
            padding_value = x509.UnrecognizedExtension(_PADDING_OID, _der(0x04, bytes(spec.padding_bytes)))
            builder = builder.add_extension(padding_value, critical=False)

        signing_key = key if issuer is None else issuer.key
        if spec.signature_hash is SignatureHash.SHA384:
            cert = builder.sign(signing_key, hashes.SHA384())
        else:
            cert = builder.sign(signing_key, hashes.SHA256())
        if spec.signature_hash is SignatureHash.SHA1 or spec.negative_serial:
            cert = _tampered(cert, signing_key, spec.signature_hash, negate=spec.negative_serial)

        if not _SAFE_NAME.fullmatch(name):
            raise ValueError(f"leaf name {name!r} must be letters, digits, '_' or '-'")
        cert_path = self._leaf_dir / f"{name}.pem"
        key_path = self._leaf_dir / f"{name}.key"
        _write_certs(cert_path, [cert])
        _write_key(key_path, key)
        intermediates: list[x509.Certificate] = []
        anchor = cert
        node = issuer
        while node is not None:
            if node.parent is None:
                anchor = node.cert
            else:
                intermediates.append(node.cert)
            node = node.parent
        return IssuedCert(
            name=name,
            spec=spec,
            cert=cert,
            key=key,
            cert_path=cert_path,
            key_path=key_path,
            issuer=issuer,
            intermediates=tuple(intermediates),
            anchor=anchor,
        )

    def chain(self, leaf: IssuedCert, layout: ChainLayout = ChainLayout.FULL) -> list[x509.Certificate]:
        """The certificates a server sends for ``layout``, in order."""
        has_anchor = leaf.anchor != leaf.cert
        if layout is ChainLayout.LEAF:
            return [leaf.cert]
        if layout is ChainLayout.FULL:
            return [leaf.cert, *leaf.intermediates]
        if layout is ChainLayout.WITH_ROOT:
            return [leaf.cert, *leaf.intermediates, *([leaf.anchor] if has_anchor else [])]
        if layout is ChainLayout.OUT_OF_ORDER:
            if not has_anchor or not leaf.intermediates:
                raise ValueError("an out-of-order chain needs a leaf issued by an intermediate")
            return [leaf.cert, leaf.anchor, *reversed(leaf.intermediates)]
        unrelated = self.rogue.cert if leaf.anchor != self.rogue.cert else self.root.cert
        return [leaf.cert, *leaf.intermediates, unrelated]

    def write_chain(self, leaf: IssuedCert, layout: ChainLayout = ChainLayout.FULL) -> Path:
        """Write the chain file ``<name>.<layout>.pem`` for a server's certificate option."""
        path = self._leaf_dir / f"{leaf.name}.{layout.value}.pem"
        _write_certs(path, self.chain(leaf, layout))
        return path

    def write_ocsp_response(self, leaf: IssuedCert, status: OcspStatus = OcspStatus.GOOD) -> Path:
        """Write ``<name>.ocsp-<status>.der``: a successful OCSP response for ``leaf`` signed by its
        issuing CA (which is included in the response so a client can chain it to the root)."""
        if leaf.issuer is None:
            raise ValueError("a self-signed certificate has no issuer to sign an OCSP response")
        issuer = leaf.issuer
        this_update = self.now - dt.timedelta(hours=1)
        builder = ocsp.OCSPResponseBuilder()
        if status is OcspStatus.REVOKED:
            builder = builder.add_response(
                cert=leaf.cert,
                issuer=issuer.cert,
                algorithm=hashes.SHA1(),
                cert_status=ocsp.OCSPCertStatus.REVOKED,
                this_update=this_update,
                next_update=this_update + dt.timedelta(days=7),
                revocation_time=self.now - dt.timedelta(days=1),
                revocation_reason=x509.ReasonFlags.key_compromise,
            )
        else:
            builder = builder.add_response(
                cert=leaf.cert,
                issuer=issuer.cert,
                algorithm=hashes.SHA1(),
                cert_status=ocsp.OCSPCertStatus.GOOD,
                this_update=this_update,
                next_update=this_update + dt.timedelta(days=7),
                revocation_time=None,
                revocation_reason=None,
            )
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.cert).certificates([issuer.cert])
        response = builder.sign(issuer.key, hashes.SHA256())
        path = self._leaf_dir / f"{leaf.name}.ocsp-{status.value}.der"
        path.write_bytes(response.public_bytes(serialization.Encoding.DER))
        return path

    def write_dh_params(self, bits: int = 1024) -> Path:
        """Write ``dh<bits>.pem`` with a well-known MODP group (see :func:`write_dh_params`)."""
        return write_dh_params(self.directory / f"dh{bits}.pem", bits)


# RFC 2409 section 6.2, "Second Oakley Group" (1024-bit MODP), generator 2.
_MODP_1024 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF",
    16,
)
# RFC 3526 section 3, group 14 (2048-bit MODP), generator 2.
_MODP_2048 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF",
    16,
)
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")

_MODP_GROUPS = {1024: _MODP_1024, 2048: _MODP_2048}


def write_dh_params(path: Path, bits: int = 1024) -> Path:
    """Write PKCS#3 DH parameters of a fixed, well-known group (no slow generation): 1024 bits is
    RFC 2409's Oakley group 2 (weak on purpose), 2048 bits is RFC 3526's group 14."""
    prime = _MODP_GROUPS.get(bits)
    if prime is None:
        raise ValueError(f"no built-in DH group of {bits} bits (have {sorted(_MODP_GROUPS)})")
    params = dh.DHParameterNumbers(prime, 2).parameters()
    path.write_bytes(params.parameter_bytes(serialization.Encoding.PEM, serialization.ParameterFormat.PKCS3))
    return path


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
        ]
    )


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _aki_for(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _make_ca(
    directory: Path,
    name: str,
    common_name: str,
    organization: str,
    parent: Authority | None,
    pool: KeyPool,
    now: dt.datetime,
    validity: Validity,
    *,
    path_length: int | None = 0,
) -> Authority:
    """A CA certificate and key; ``path_length`` constrains a CA with a ``parent`` (roots have none)."""
    key = pool.get(KeyType.RSA_2048, slot=f"ca:{name}")
    subject = _name(common_name, organization)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    not_before, not_after = validity.window(now)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if parent is None else parent.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.BasicConstraints(ca=True, path_length=None if parent is None else path_length), critical=True
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
            if parent is None
            else _aki_for(parent.cert),
            critical=False,
        )
    )
    cert = builder.sign(key if parent is None else parent.key, hashes.SHA256())
    (directory / "ca").mkdir(exist_ok=True)
    cert_path = directory / "ca" / f"{name}.pem"
    key_path = directory / "ca" / f"{name}.key"
    _write_certs(cert_path, [cert])
    _write_key(key_path, key)
    return Authority(name=name, cert=cert, key=key, cert_path=cert_path, key_path=key_path, parent=parent)


# AlgorithmIdentifier DER of sha256WithRSAEncryption and sha1WithRSAEncryption (NULL parameters):
# the same length, so one can replace the other inside a TBSCertificate without touching any length.
_ALG_SHA256_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
_ALG_SHA1_RSA = bytes.fromhex("300d06092a864886f70d0101050500")
_ALG_SHA384_RSA = bytes.fromhex("300d06092a864886f70d01010c0500")
_RSA_ALGORITHMS: dict[SignatureHash, tuple[bytes, hashes.HashAlgorithm]] = {
    SignatureHash.SHA256: (_ALG_SHA256_RSA, hashes.SHA256()),
    SignatureHash.SHA384: (_ALG_SHA384_RSA, hashes.SHA384()),
    SignatureHash.SHA1: (_ALG_SHA1_RSA, hashes.SHA1()),
}
#: The padding extension's OID, under the private enterprise number RFC 5612 reserves for documentation.
_PADDING_OID = x509.ObjectIdentifier("1.3.6.1.4.1.32473.1")
#: A negatable serial has 16 bytes and starts with this byte: setting its top bit makes it negative while
#: keeping the DER length and a minimal encoding (0xC0 is neither 0x00 nor 0xFF).
_SERIAL_LEAD = 0x40
_SERIAL_BYTES = 16


def resign(tbs: bytes, issuer_key: PrivateKey, signature_hash: SignatureHash = SignatureHash.SHA256) -> bytes:
    """The DER certificate made of ``tbs`` (whose signature field must name ``signature_hash`` with RSA)
    signed by ``issuer_key`` with PKCS#1 v1.5: for TBS bytes patched after cryptography built them."""
    if not isinstance(issuer_key, rsa.RSAPrivateKey):
        raise ValueError("patched certificates are only made with an RSA issuer")
    algorithm, digest = _RSA_ALGORITHMS[signature_hash]
    signature = issuer_key.sign(tbs, padding.PKCS1v15(), digest)
    return _der(0x30, tbs + algorithm + _der(0x03, b"\x00" + signature))


def _replace_once(tbs: bytes, old: bytes, new: bytes, purpose: str) -> bytes:
    if tbs.count(old) != 1:
        raise ValueError(f"unexpected TBSCertificate layout: cannot {purpose}")
    return tbs.replace(old, new)


def _negatable_serial() -> int:
    return int.from_bytes(bytes([_SERIAL_LEAD]) + os.urandom(_SERIAL_BYTES - 1), "big")


def _tampered(
    cert: x509.Certificate, issuer_key: PrivateKey, signature_hash: SignatureHash, *, negate: bool
) -> x509.Certificate:
    """``cert`` re-signed with ``signature_hash`` (built with SHA-256 when that is SHA-1, which cryptography
    does not sign), with its serial number (from ``_negatable_serial``) made negative if ``negate``."""
    tbs = cert.tbs_certificate_bytes
    if signature_hash is SignatureHash.SHA1:
        tbs = _replace_once(tbs, _ALG_SHA256_RSA, _ALG_SHA1_RSA, "switch its signature algorithm")
    if negate:
        serial = cert.serial_number.to_bytes(_SERIAL_BYTES, "big")
        header = bytes([0x02, _SERIAL_BYTES])
        tbs = _replace_once(tbs, header + serial, header + bytes([serial[0] | 0x80]) + serial[1:], "negate its serial")
    der = resign(tbs, issuer_key, signature_hash)
    with warnings.catch_warnings():
        # cryptography warns that it will refuse a negative serial some day: here it is asked for.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return x509.load_der_x509_certificate(der)


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def _write_certs(path: Path, certs: Sequence[x509.Certificate]) -> None:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))


def _write_key(path: Path, key: PrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
