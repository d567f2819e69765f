"""The one verification path of an eID login: a Web eID authentication token (`web-eid:1.*`, from our bridge
or the public Web eID app) in, a `VerifiedIdentity` out, or an EidError carrying the contract's code.

Order: token shape → claimed origin → signature over `hash(our origin) ‖ hash(stored nonce)` → certificate
dates, key usage and purpose → path to a configured anchor → national number → OCSP. Local checks come first so
the network is asked only about certificates that would otherwise pass.

The path is built by a small explicit builder rather than `cryptography.x509.verification`: that verifier's
client profile demands the clientAuth EKU (some Belgian cards carry no EKU at all) and applies Web PKI
profile rules that the Belgian eID hierarchy was not issued under. The builder follows RFC 5280's basic path
checks: each signature, each validity period, basicConstraints CA and pathLenConstraint, keyCertSign, and no
unhandled critical extension. Only configured certificates ever enter a path: the token carries the leaf alone.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from .errors import EidError
from .nrn import nrn_hash, validate_nrn
from .ocsp import check_revocation

log = logging.getLogger(__name__)

OcspPolicy = Literal["required", "optional", "off"]

BELGIAN_OCSP_RESPONDERS = ("http://ocsp.eid.belgium.be",)
# A token is a few kB (certificate ≈ 1.5 kB); anything much larger is not one.
MAX_FIELD_CHARS = 16_384
MAX_PATH_LENGTH = 6

# JWS algorithm → (hash used for the signed data and the signature, family).
_ALGORITHMS: dict[str, tuple[type[hashes.HashAlgorithm], str]] = {
    "RS256": (hashes.SHA256, "RS"),
    "RS384": (hashes.SHA384, "RS"),
    "RS512": (hashes.SHA512, "RS"),
    "PS256": (hashes.SHA256, "PS"),
    "PS384": (hashes.SHA384, "PS"),
    "PS512": (hashes.SHA512, "PS"),
    "ES256": (hashes.SHA256, "ES"),
    "ES384": (hashes.SHA384, "ES"),
    "ES512": (hashes.SHA512, "ES"),
}
# RFC 7518 §3.4: each ES algorithm names its curve.
_ES_CURVES = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}

# Critical extensions this verifier understands; any other critical one makes a certificate unusable.
_HANDLED_CRITICAL = {
    ExtensionOID.BASIC_CONSTRAINTS,
    ExtensionOID.KEY_USAGE,
    ExtensionOID.EXTENDED_KEY_USAGE,
    ExtensionOID.SUBJECT_KEY_IDENTIFIER,
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
    ExtensionOID.CERTIFICATE_POLICIES,
    ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
}

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_origin(url: str) -> str:
    """`scheme://host[:port]` of an http(s) URL: lower-case scheme and host, default port dropped, no path.

    Raises ValueError for anything else."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"not an http(s) origin: {url!r}") from None
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        raise ValueError(f"not an http(s) origin: {url!r}")
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def load_trust_anchors(path: Path) -> tuple[x509.Certificate, ...]:
    """Certificates from a PEM file (one or many) or a folder of certificate files (PEM, or DER as the Belgian
    repository publishes them). ValueError when nothing usable is found."""
    path = Path(path)
    files = (
        sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if path.is_dir()
        else [path]
    )
    certs: list[x509.Certificate] = []
    for file in files:
        data = file.read_bytes()
        try:
            if b"-----BEGIN CERTIFICATE-----" in data:
                certs.extend(x509.load_pem_x509_certificates(data))
            elif file.suffix.lower() in {".der", ".crt", ".cer"}:
                certs.append(x509.load_der_x509_certificate(data))
        except ValueError as exc:
            raise ValueError(f"{file}: not a certificate file ({exc})") from None
    if not certs:
        raise ValueError(f"{path}: no certificates found")
    unique = {c.fingerprint(hashes.SHA256()): c for c in certs}
    return tuple(unique.values())


@dataclass(frozen=True)
class VerifyPolicy:
    """What a login must satisfy. `origin` is normalised on construction."""

    origin: str
    trust_anchors: tuple[x509.Certificate, ...]
    ocsp: OcspPolicy = "required"
    ocsp_responders: tuple[str, ...] = BELGIAN_OCSP_RESPONDERS
    ocsp_timeout_s: float = 5.0
    ocsp_max_age_s: int = 3600
    # Signature checks between configured certificates never change: remembered per policy, as (issued, issuer)
    # fingerprints → verdict, so a login pays only for the one link the client supplies.
    _anchor_links: dict[tuple[bytes, bytes], bool] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "origin", normalise_origin(self.origin))
        object.__setattr__(self, "trust_anchors", tuple(self.trust_anchors))
        object.__setattr__(self, "ocsp_responders", tuple(self.ocsp_responders))
        if self.ocsp not in ("required", "optional", "off"):
            raise ValueError(f"ocsp must be required, optional or off, not {self.ocsp!r}")
        if self.ocsp_timeout_s <= 0:
            raise ValueError("ocsp_timeout_s must be positive")


@dataclass(frozen=True)
class VerifiedIdentity:
    """The holder of a verified eID authentication certificate. `nrn` stays out of repr: hash it with
    `hashed_nrn` and drop this object; never log or store it."""

    nrn: str = field(repr=False)
    given_name: str
    surname: str
    cert_fingerprint: str  # SHA-256 hex of the DER certificate
    not_after: datetime | None = None
    # "good" (OCSP said so), "unchecked" (policy off) or "unavailable" (policy optional, no answer).
    revocation: str = "unchecked"

    def display_name(self) -> str:
        return f"{self.given_name} {self.surname}".strip()

    def hashed_nrn(self, key: bytes) -> str:
        return nrn_hash(self.nrn, key)


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    if not values:
        return ""
    value = values[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def identity_from_certificate(cert: x509.Certificate) -> VerifiedIdentity:
    """Holder of a Belgian eID authentication certificate (`serialNumber` = national number, GN, SN).

    Does not verify the certificate. EidError(cert_untrusted) when the serialNumber is not a valid national
    number; the message never repeats it."""
    if not isinstance(cert, x509.Certificate):
        raise EidError("bad_request", "not a certificate")
    subject = cert.subject
    nrn = _attribute(subject, NameOID.SERIAL_NUMBER)
    if not validate_nrn(nrn):
        raise EidError("cert_untrusted", "certificate carries no valid national register number")
    given = _attribute(subject, NameOID.GIVEN_NAME)
    surname = _attribute(subject, NameOID.SURNAME)
    if not (given or surname):
        given = _attribute(subject, NameOID.COMMON_NAME).removesuffix("(Authentication)").strip()
    return VerifiedIdentity(
        nrn=nrn,
        given_name=given,
        surname=surname,
        cert_fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
        not_after=cert.not_valid_after_utc,
    )


# --- token ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    certificate: x509.Certificate
    algorithm: str
    signature: bytes


def _b64(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or not value or len(value) > MAX_FIELD_CHARS:
        raise EidError("bad_request", f"token field {name!r} missing or not a string")
    # Web eID sends standard base64; accept the URL-safe alphabet too, as some clients use it.
    text = value.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise EidError("bad_request", f"token field {name!r} is not base64") from None


def _parse_token(token: Any, origin: str) -> _Token:
    if not isinstance(token, Mapping):
        raise EidError("bad_request", "token must be a JSON object")
    fmt = token.get("format")
    # Web eID validators accept any 1.x: the major version fixes the signed-data layout.
    if not isinstance(fmt, str) or not (fmt == "web-eid:1" or fmt.startswith("web-eid:1.")):
        raise EidError("bad_request", "token format is not web-eid:1")
    algorithm = token.get("algorithm")
    if not isinstance(algorithm, str) or algorithm not in _ALGORITHMS:
        raise EidError("bad_request", "unsupported signature algorithm")
    app_version = token.get("appVersion", "")
    if not isinstance(app_version, str) or len(app_version) > 200:
        raise EidError("bad_request", "token field 'appVersion' is not a short string")
    claimed = token.get("origin")
    if claimed is not None:
        try:
            matches = isinstance(claimed, str) and normalise_origin(claimed) == origin
        except ValueError:
            matches = False
        if not matches:
            raise EidError("origin_mismatch", "the token was made for another site")
    der = _b64(token.get("unverifiedCertificate"), "unverifiedCertificate")
    signature = _b64(token.get("signature"), "signature")
    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError:
        raise EidError("bad_request", "token certificate is not a DER certificate") from None
    return _Token(certificate, algorithm, signature)


def signed_data(origin: str, nonce: str, algorithm: str) -> bytes:
    """The bytes a Web eID login signs: `hash(origin) ‖ hash(nonce)` (UTF-8), hash chosen by `algorithm`."""
    hash_cls = _ALGORITHMS[algorithm][0]
    name = hash_cls.name
    return (
        hashlib.new(name, origin.encode("utf-8")).digest() + hashlib.new(name, nonce.encode("utf-8")).digest()
    )


def _signature_valid(public_key: Any, algorithm: str, signature: bytes, data: bytes) -> bool:
    hash_cls, family = _ALGORITHMS[algorithm]
    digest = hash_cls()
    try:
        if family == "ES":
            if (
                not isinstance(public_key, ec.EllipticCurvePublicKey)
                or public_key.curve.name != _ES_CURVES[algorithm]
            ):
                return False
            width = (public_key.curve.key_size + 7) // 8
            if len(signature) != 2 * width:
                return False
            der = encode_dss_signature(
                int.from_bytes(signature[:width], "big"), int.from_bytes(signature[width:], "big")
            )
            public_key.verify(der, data, ec.ECDSA(digest))
        elif family == "RS":
            if not isinstance(public_key, rsa.RSAPublicKey):
                return False
            public_key.verify(signature, data, padding.PKCS1v15(), digest)
        else:
            if not isinstance(public_key, rsa.RSAPublicKey):
                return False
            # RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
            public_key.verify(signature, data, padding.PSS(padding.MGF1(digest), digest.digest_size), digest)
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):
        return False
    return True


# --- certificate and path ------------------------------------------------------------------------------------


def _extension(cert: x509.Certificate, cls: type[Any]) -> Any:
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def _unhandled_critical(cert: x509.Certificate) -> bool:
    return any(ext.critical and ext.oid not in _HANDLED_CRITICAL for ext in cert.extensions)


def _check_leaf(cert: x509.Certificate, now: datetime) -> None:
    if now < cert.not_valid_before_utc:
        raise EidError("cert_expired", "the card's certificate is not valid yet")
    if now > cert.not_valid_after_utc:
        raise EidError("cert_expired", "the card's certificate has expired")
    key_usage = _extension(cert, x509.KeyUsage)
    if key_usage is None or not key_usage.digital_signature:
        raise EidError("cert_untrusted", "certificate is not for digital signatures")
    eku = _extension(cert, x509.ExtendedKeyUsage)
    # Some real cards have no EKU; when there is one, it must allow client authentication.
    if (
        eku is not None
        and ExtendedKeyUsageOID.CLIENT_AUTH not in eku
        and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku
    ):
        raise EidError("cert_untrusted", "certificate is not for client authentication")
    constraints = _extension(cert, x509.BasicConstraints)
    if constraints is not None and constraints.ca:
        raise EidError("cert_untrusted", "a CA certificate cannot log in")
    if _unhandled_critical(cert):
        raise EidError("cert_untrusted", "certificate has a critical extension this desk does not handle")


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


class _LinkCache:
    def __init__(self, store: dict[tuple[bytes, bytes], bool] | None) -> None:
        self._store = store

    def issued_by(self, cert: x509.Certificate, issuer: x509.Certificate, *, configured: bool) -> bool:
        if self._store is None or not configured:
            return _issued_by(cert, issuer)
        key = (cert.fingerprint(hashes.SHA256()), issuer.fingerprint(hashes.SHA256()))
        verdict = self._store.get(key)
        if verdict is None:
            verdict = self._store[key] = _issued_by(cert, issuer)
        return verdict


def _usable_ca(cert: x509.Certificate, now: datetime, cas_below: int) -> bool:
    """Whether `cert` may issue the certificate under it, with `cas_below` CA certificates between it and the leaf."""
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        return False
    constraints = _extension(cert, x509.BasicConstraints)
    if constraints is None or not constraints.ca:
        return False
    if constraints.path_length is not None and cas_below > constraints.path_length:
        return False
    key_usage = _extension(cert, x509.KeyUsage)
    if key_usage is not None and not key_usage.key_cert_sign:
        return False
    return not _unhandled_critical(cert)


def build_path(
    leaf: x509.Certificate,
    anchors: tuple[x509.Certificate, ...],
    now: datetime,
    link_cache: dict[tuple[bytes, bytes], bool] | None = None,
) -> list[x509.Certificate]:
    """A certification path [leaf, issuer, …, self-signed anchor] made only of configured certificates.

    EidError(cert_untrusted) when there is none. Non-self-signed configured certificates act as intermediates.
    `link_cache` remembers signature checks between configured certificates (never the leaf's)."""
    links = _LinkCache(link_cache)
    by_subject: dict[bytes, list[x509.Certificate]] = {}
    for cert in anchors:
        by_subject.setdefault(cert.subject.public_bytes(), []).append(cert)

    def extend(path: list[x509.Certificate]) -> list[x509.Certificate] | None:
        current = path[-1]
        if len(path) > MAX_PATH_LENGTH:
            return None
        for candidate in by_subject.get(current.issuer.public_bytes(), []):
            if candidate in path:
                continue
            if not _usable_ca(candidate, now, cas_below=len(path) - 1):
                continue
            if not links.issued_by(current, candidate, configured=len(path) > 1):
                continue
            if candidate.subject == candidate.issuer and links.issued_by(
                candidate, candidate, configured=True
            ):
                return [*path, candidate]
            found = extend([*path, candidate])
            if found is not None:
                return found
        return None

    found = extend([leaf])
    if found is None:
        raise EidError("cert_untrusted", "certificate does not chain to a trusted eID root")
    return found


# --- the verifier --------------------------------------------------------------------------------------------


async def verify_token(
    token: Mapping[str, Any],
    nonce: str,
    policy: VerifyPolicy,
    session: aiohttp.ClientSession,
    now: datetime | None = None,
) -> VerifiedIdentity:
    """Verify a Web eID authentication token against the nonce this desk issued (taken from its own store,
    never from the client) and this desk's own origin. Returns the holder or raises EidError."""
    now = now or datetime.now(UTC)
    parsed = _parse_token(token, policy.origin)
    data = signed_data(policy.origin, nonce, parsed.algorithm)
    try:
        public_key = parsed.certificate.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise EidError("cert_untrusted", "certificate holds an unsupported public key") from None
    if not _signature_valid(public_key, parsed.algorithm, parsed.signature, data):
        raise EidError("signature_invalid", "the login signature does not verify")
    return await verify_certificate(parsed.certificate, policy, session, now=now)


async def verify_certificate(
    cert: x509.Certificate,
    policy: VerifyPolicy,
    session: aiohttp.ClientSession,
    now: datetime | None = None,
) -> VerifiedIdentity:
    """The certificate half of `verify_token`, also for a TLS client certificate a proxy vouches for: dates,
    key usage, purpose, path to a configured anchor, national number, OCSP per policy."""
    now = now or datetime.now(UTC)
    try:
        # Parsed lazily by cryptography: a malformed extension or name surfaces here as ValueError.
        _ = cert.extensions, cert.subject, cert.issuer
    except ValueError:
        raise EidError("cert_untrusted", "certificate cannot be parsed") from None
    _check_leaf(cert, now)
    path = build_path(cert, policy.trust_anchors, now, policy._anchor_links)
    identity = identity_from_certificate(cert)
    if policy.ocsp == "off":
        return identity
    try:
        status = await check_revocation(
            cert,
            path[1],
            responders_allowed=policy.ocsp_responders,
            session=session,
            timeout_s=policy.ocsp_timeout_s,
            max_age_s=policy.ocsp_max_age_s,
            now=now,
        )
    except EidError as exc:
        if policy.ocsp == "required":
            raise
        log.warning(
            "OCSP unavailable, login accepted by policy (cert %s): %s",
            identity.cert_fingerprint[:16],
            exc.message,
        )
        return dataclasses.replace(identity, revocation="unavailable")
    if status == "revoked":
        raise EidError("cert_revoked", "the card's certificate has been revoked")
    if status != "good":
        # The CA's own responder does not know a certificate that chains to that CA: treat it as Web eID's
        # validators do, as revoked.
        raise EidError(
            "cert_revoked", "the card's certificate is unknown to its OCSP responder", {"ocsp_status": status}
        )
    return dataclasses.replace(identity, revocation="good")
