"""Helpers of the token, worker and bridge tests: software keys and self-signed certificates, a SoftHSM2 card
per test (own SOFTHSM2_CONF in tmp_path), and an independent check of a Web eID signature with `cryptography`."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

from agent_desktop.eid.softhsm import SoftToken, provision_token

PIN = "1234"
SO_PIN = "87654321"
ORIGIN = "https://desk.example.be"


@cache
def software_key(kind: str, slot: int = 0) -> Any:
    """A key per (kind, slot), made once per test process: RSA-2048 generation is the slow part."""
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP384R1())


def self_signed(key: Any, common_name: str, *, non_repudiation: bool = False) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.KeyUsage(
                digital_signature=not non_repudiation,
                content_commitment=non_repudiation,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )


def make_card(directory: Path, kind: str, *, with_signature_key: bool = False, **kwargs: Any) -> SoftToken:
    """A SoftHSM card holding an Authentication key of `kind` ("rsa" | "ec") and its certificate."""
    key = kwargs.pop("auth_key", None) or software_key(kind)
    cert = kwargs.pop("auth_cert", None) or self_signed(key, "Test Holder (Authentication)")
    if with_signature_key:
        sig_key = software_key(kind, 1)
        kwargs["signature_key"] = sig_key
        kwargs["signature_cert"] = self_signed(sig_key, "Test Holder (Signature)", non_repudiation=True)
    return provision_token(directory, pin=PIN, so_pin=SO_PIN, auth_key=key, auth_cert=cert, **kwargs)


def new_nonce() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def check_web_eid_signature(token: dict[str, str], origin: str, nonce: str) -> x509.Certificate:
    """Verify a token's signature with `cryptography` alone (not with the code under test); returns its
    certificate. Raises InvalidSignature / AssertionError when it does not hold."""
    cert = x509.load_der_x509_certificate(base64.b64decode(token["unverifiedCertificate"]))
    signature = base64.b64decode(token["signature"])
    public_key = cert.public_key()
    if token["algorithm"] == "RS256":
        assert isinstance(public_key, rsa.RSAPublicKey)
        data = hashlib.sha256(origin.encode()).digest() + hashlib.sha256(nonce.encode()).digest()
        public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert token["algorithm"] == "ES384"
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        assert len(signature) == 96, "ES384 must be raw r||s, 48 bytes each"
        data = hashlib.sha384(origin.encode()).digest() + hashlib.sha384(nonce.encode()).digest()
        der = encode_dss_signature(
            int.from_bytes(signature[:48], "big"), int.from_bytes(signature[48:], "big")
        )
        public_key.verify(der, data, ec.ECDSA(hashes.SHA384()))
    return cert
