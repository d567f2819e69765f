"""A development and test PKI shaped like the Belgian eID one: a self-signed test root, a "Citizen CA"
intermediate that issues authentication certificates, and a delegated OCSP signing certificate.

Used by the tests, the benchmark and `make run`; production trusts Belgium Root CA4/CA6 and never this code.
Authentication certificates follow the eID card profile: subject C=BE, CN="<given> <surname> (Authentication)",
SN, GN and serialNumber=<national register number>; key usage digitalSignature (critical); extended key
usage clientAuth (optional, some real cards carry none); AIA with OCSP and caIssuers URLs; RSA-2048 (applet
1.7) or EC P-384 (applet 1.8) keys.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from .nrn import make_test_nrn, validate_nrn

__all__ = [
    "Pki",
    "PrivateKey",
    "create_pki",
    "generate_key",
    "issue_auth_cert",
    "load_pki",
    "make_test_nrn",
    "save_pki",
]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

_FILES = ("root", "ca", "ocsp")
_META = "pki.json"


@dataclass
class Pki:
    """A test root → test Citizen CA → authentication certificates; plus the CA's delegated OCSP signer."""

    root_cert: x509.Certificate
    root_key: PrivateKey
    ca_cert: x509.Certificate
    ca_key: PrivateKey
    ocsp_cert: x509.Certificate
    ocsp_key: PrivateKey
    ocsp_url: str | None = None


def generate_key(key_type: Literal["rsa", "ec"]) -> PrivateKey:
    """RSA-2048 (eID applet 1.7) or EC P-384 (applet 1.8)."""
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP384R1())
    raise ValueError(f"unknown key type {key_type!r}")


def _signing_hash(key: PrivateKey) -> hashes.HashAlgorithm:
    return hashes.SHA384() if isinstance(key, ec.EllipticCurvePrivateKey) else hashes.SHA256()


def _serial() -> int:
    # Positive, at most 20 octets (RFC 5280 §4.1.2.2), random so two test PKIs never collide.
    return secrets.randbits(127) | 1


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: object,
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _signature_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _aia(ocsp_url: str | None, ca_issuers_url: str | None) -> x509.AuthorityInformationAccess | None:
    descriptions = []
    if ocsp_url:
        descriptions.append(
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
            )
        )
    if ca_issuers_url:
        descriptions.append(
            x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(ca_issuers_url)
            )
        )
    return x509.AuthorityInformationAccess(descriptions) if descriptions else None


def _ca_issuers_url(ocsp_url: str | None) -> str | None:
    # The real cards point caIssuers at http://certs.eid.belgium.be/<ca>.crt; the test PKI points it next to
    # its responder, which serves nothing there: verifiers must never fetch issuers from a client's hint.
    return ocsp_url.rstrip("/") + "/citizenca.crt" if ocsp_url else None


def create_pki(ocsp_url: str | None = None, *, key_type: Literal["rsa", "ec"] = "ec") -> Pki:
    """A fresh test PKI. CA keys are EC P-384 by default (as Belgium Root CA6, and cheap to make)."""
    now = datetime.now(UTC).replace(microsecond=0)
    not_before = now - timedelta(days=1)
    tag = secrets.token_hex(3)

    root_key = generate_key(key_type)
    root_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Agent Desktop test"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Agent Desktop Test Root CA {tag}"),
        ]
    )
    root_ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public_key())
    root_cert = (
        _builder(root_name, root_name, root_key.public_key(), not_before, now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(root_ski, critical=False)
        .sign(root_key, _signing_hash(root_key))
    )

    ca_key = generate_key(key_type)
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Agent Desktop Test Citizen CA {tag}"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "202601"),
        ]
    )
    ca_cert = (
        _builder(ca_name, root_name, ca_key.public_key(), not_before, now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski), critical=False
        )
        .sign(root_key, _signing_hash(root_key))
    )

    ocsp_key = generate_key(key_type)
    ocsp_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Agent Desktop Test OCSP Responder {tag}"),
        ]
    )
    ocsp_cert = (
        _builder(ocsp_name, ca_name, ocsp_key.public_key(), not_before, now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_signature_key_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        # RFC 6960 §4.2.2.2.1: the responder's own certificate need not be checked for revocation.
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, _signing_hash(ca_key))
    )
    return Pki(root_cert, root_key, ca_cert, ca_key, ocsp_cert, ocsp_key, ocsp_url)


def issue_auth_cert(
    pki: Pki,
    *,
    given_name: str,
    surname: str,
    nrn: str,
    key_type: Literal["rsa", "ec"] = "rsa",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    with_eku: bool = True,
    key: PrivateKey | None = None,
    eku: list[x509.ObjectIdentifier] | None = None,
) -> tuple[x509.Certificate, PrivateKey]:
    """An eID authentication certificate for the holder, signed by the test Citizen CA.

    `key` lets a caller certify a key that lives in a token (only its public half is used); `eku` overrides
    the extended key usage (tests of a certificate made for another purpose)."""
    if not validate_nrn(nrn):
        raise ValueError("nrn is not a valid national register number")
    if key is None:
        key = generate_key(key_type)
    now = datetime.now(UTC).replace(microsecond=0)
    not_before = not_before or now - timedelta(hours=1)
    not_after = not_after or now + timedelta(days=3650)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{given_name} {surname} (Authentication)"),
            x509.NameAttribute(NameOID.SURNAME, surname),
            x509.NameAttribute(NameOID.GIVEN_NAME, given_name),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, nrn),
        ]
    )
    builder = (
        _builder(subject, pki.ca_cert.subject, key.public_key(), not_before, not_after)
        .add_extension(_signature_key_usage(), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(pki.ca_key.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    elif with_eku:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    aia = _aia(pki.ocsp_url, _ca_issuers_url(pki.ocsp_url))
    if aia is not None:
        builder = builder.add_extension(aia, critical=False)
    cert = builder.sign(pki.ca_key, _signing_hash(pki.ca_key))
    return cert, key


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 from the start (no window in which the key is world-readable), replaced when present.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, 0o600)


def save_pki(pki: Pki, directory: Path) -> None:
    """Write `<name>.pem` (certificate) and `<name>.key` (PKCS#8 key, mode 0600) for root, ca and ocsp, plus
    pki.json holding the OCSP URL."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    pairs = {
        "root": (pki.root_cert, pki.root_key),
        "ca": (pki.ca_cert, pki.ca_key),
        "ocsp": (pki.ocsp_cert, pki.ocsp_key),
    }
    for name, (cert, key) in pairs.items():
        (directory / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_private(
            directory / f"{name}.key",
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )
    (directory / _META).write_text(json.dumps({"ocsp_url": pki.ocsp_url}) + "\n", "utf-8")


def load_pki(directory: Path) -> Pki:
    """Read a PKI written by `save_pki`."""
    directory = Path(directory)
    parts: list[object] = []
    for name in _FILES:
        parts.append(x509.load_pem_x509_certificate((directory / f"{name}.pem").read_bytes()))
        key = serialization.load_pem_private_key((directory / f"{name}.key").read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError(f"{directory / name}.key is neither an RSA nor an EC key")
        parts.append(key)
    meta_path = directory / _META
    ocsp_url = json.loads(meta_path.read_text("utf-8")).get("ocsp_url") if meta_path.exists() else None
    return Pki(*parts, ocsp_url=ocsp_url)  # type: ignore[arg-type]


def default_test_nrn() -> str:
    """The demo agent's national number: valid, born 1 January 1990, counter 1."""
    return make_test_nrn(date(1990, 1, 1), 1)
