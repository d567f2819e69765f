"""OCSP client: asks the responder named in a certificate whether it is revoked, and checks the answer.

The responder URL comes from the certificate's AIA and must start with an allowed prefix (an attacker's
certificate must not make the desk call arbitrary URLs). The response must be signed by the issuer itself or by
a delegated responder certificate, carried in the response, issued by that issuer with EKU OCSPSigning; it must
name the certificate asked about and be fresh. Any failure to get such an answer is EidError(ocsp_unavailable);
what that means for a login is the caller's policy (see verify.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

import aiohttp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from .errors import EidError

RevocationStatus = Literal["good", "revoked", "unknown"]

MAX_RESPONSE_BYTES = 64 * 1024
CLOCK_SKEW = timedelta(minutes=5)
NONCE_BYTES = 16

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def _unavailable(message: str) -> EidError:
    return EidError("ocsp_unavailable", message)


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    """The OCSP responder URLs in the certificate's Authority Information Access extension, in order."""
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [
        d.access_location.value
        for d in aia
        if d.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    ]


def url_allowed(url: str, prefixes: Sequence[str]) -> bool:
    """Whether `url` is http(s) and starts with one of `prefixes` at a boundary.

    The boundary matters: prefix "http://ocsp.eid.belgium.be" must not admit "http://ocsp.eid.belgium.be.evil"
    nor "http://ocsp.eid.belgium.be@evil"."""
    lowered = url.lower()
    if not lowered.startswith(("http://", "https://")):
        return False
    for prefix in prefixes:
        p = prefix.lower()
        if not p or not lowered.startswith(p):
            continue
        # A prefix ending in "/" or ":" (any port) delimits itself.
        if p.endswith(("/", ":")) or len(lowered) == len(p) or lowered[len(p)] in "/?:":
            return True
    return False


def public_key_bits(public_key: object) -> bytes:
    """The subjectPublicKey BIT STRING contents, as OCSP's issuerKeyHash hashes them (RFC 6960 §4.1.1)."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    if isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raise ValueError("unsupported public key type")


def _verify_signed(
    public_key: object, signature: bytes, data: bytes, hash_alg: hashes.HashAlgorithm | None
) -> None:
    """Raises InvalidSignature (or ValueError) unless `signature` over `data` verifies."""
    if isinstance(public_key, rsa.RSAPublicKey) and hash_alg is not None:
        public_key.verify(signature, data, padding.PKCS1v15(), hash_alg)
    elif isinstance(public_key, ec.EllipticCurvePublicKey) and hash_alg is not None:
        public_key.verify(signature, data, ec.ECDSA(hash_alg))
    elif isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        public_key.verify(signature, data)
    else:
        raise InvalidSignature("unsupported signature scheme")


def _identifies(response: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    """Whether the response's ResponderID names `cert` (by name or by SHA-1 key hash)."""
    if response.responder_name is not None:
        return response.responder_name == cert.subject
    key_hash = response.responder_key_hash
    return key_hash is not None and key_hash == hashlib.sha1(public_key_bits(cert.public_key())).digest()


def _valid_at(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc - CLOCK_SKEW <= now <= cert.not_valid_after_utc + CLOCK_SKEW


def _has_ocsp_signing(cert: x509.Certificate) -> bool:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.OCSP_SIGNING in eku


def _response_signer(
    response: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime
) -> x509.Certificate:
    """The certificate whose key must have signed the response: the issuer, or a delegated responder."""
    if _identifies(response, issuer):
        return issuer
    for candidate in response.certificates:
        if not _identifies(response, candidate):
            continue
        try:
            candidate.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            continue
        if _has_ocsp_signing(candidate) and _valid_at(candidate, now):
            return candidate
    raise _unavailable("OCSP response is not signed by the issuer or an authorised responder")


def _cert_id_matches(
    single: ocsp.OCSPSingleResponse, cert: x509.Certificate, issuer: x509.Certificate
) -> bool:
    hash_cls = _HASHES.get(single.hash_algorithm.name)
    if hash_cls is None:
        return False
    name = hashlib.new(single.hash_algorithm.name, issuer.subject.public_bytes()).digest()
    key = hashlib.new(single.hash_algorithm.name, public_key_bits(issuer.public_key())).digest()
    return (
        single.serial_number == cert.serial_number
        and secrets.compare_digest(single.issuer_name_hash, name)
        and secrets.compare_digest(single.issuer_key_hash, key)
    )


def parse_response(
    der: bytes,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    nonce: bytes | None = None,
    now: datetime | None = None,
    max_age_s: int = 3600,
) -> RevocationStatus:
    """Check a DER OCSP response about `cert` (issued by `issuer`) and return its status.

    EidError(ocsp_unavailable) unless the response is successful, signed by an authorised key, names `cert`,
    echoes `nonce` when it carries one, and is fresh at `now`."""
    now = now or datetime.now(UTC)
    try:
        response = ocsp.load_der_ocsp_response(der)
    except ValueError:
        raise _unavailable("OCSP response is malformed") from None
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise _unavailable(f"OCSP responder answered {response.response_status.name.lower()}")
    signer = _response_signer(response, issuer, now)
    try:
        _verify_signed(
            signer.public_key(),
            response.signature,
            response.tbs_response_bytes,
            response.signature_hash_algorithm,
        )
    except (InvalidSignature, ValueError, TypeError):
        raise _unavailable("OCSP response signature does not verify") from None

    if nonce is not None:
        # Responders serving pre-produced answers (as large CAs do) may omit the nonce; one that echoes a
        # different nonce is replaying another exchange.
        try:
            echoed = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound:
            echoed = None
        if echoed is not None and echoed != nonce:
            raise _unavailable("OCSP response nonce does not match the request")

    for single in response.responses:
        if not _cert_id_matches(single, cert, issuer):
            continue
        this_update = single.this_update_utc
        next_update = single.next_update_utc
        if this_update > now + CLOCK_SKEW:
            raise _unavailable("OCSP response is dated in the future")
        if this_update < now - timedelta(seconds=max_age_s) - CLOCK_SKEW:
            raise _unavailable("OCSP response is too old")
        if next_update is not None and next_update < now - CLOCK_SKEW:
            raise _unavailable("OCSP response is past its nextUpdate")
        status = single.certificate_status
        if status == ocsp.OCSPCertStatus.GOOD:
            return "good"
        if status == ocsp.OCSPCertStatus.REVOKED:
            return "revoked"
        return "unknown"
    raise _unavailable("OCSP response does not cover the certificate")


def build_request(cert: x509.Certificate, issuer: x509.Certificate, nonce: bytes | None = None) -> bytes:
    """A DER OCSP request for `cert` (SHA-1 CertID, as every responder understands), with an optional nonce."""
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


async def _read_capped(stream: aiohttp.StreamReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream.iter_chunked(16 * 1024):
        size += len(chunk)
        if size > limit:
            raise _unavailable("OCSP response too large")
        chunks.append(chunk)
    return b"".join(chunks)


async def check_revocation(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    responders_allowed: Sequence[str],
    session: aiohttp.ClientSession,
    timeout_s: float = 5.0,
    max_age_s: int = 3600,
    now: datetime | None = None,
) -> RevocationStatus:
    """Ask the certificate's own OCSP responder (when allowed) about `cert`; see `parse_response`."""
    urls = ocsp_urls(cert)
    if not urls:
        raise _unavailable("certificate names no OCSP responder")
    url = next((u for u in urls if url_allowed(u, responders_allowed)), None)
    if url is None:
        raise _unavailable("certificate's OCSP responder is not an allowed one")
    nonce = secrets.token_bytes(NONCE_BYTES)
    body = build_request(cert, issuer, nonce)
    try:
        async with asyncio.timeout(timeout_s):
            async with session.post(
                url,
                data=body,
                headers={"Content-Type": "application/ocsp-request", "Accept": "application/ocsp-response"},
                # A redirect could lead outside the allow-list.
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as reply:
                if reply.status != 200:
                    raise _unavailable(f"OCSP responder answered HTTP {reply.status}")
                der = await _read_capped(reply.content, MAX_RESPONSE_BYTES)
    except (TimeoutError, aiohttp.ClientError, OSError):
        raise _unavailable("OCSP responder unreachable or too slow") from None
    try:
        return parse_response(der, cert, issuer, nonce=nonce, now=now, max_age_s=max_age_s)
    except (ValueError, TypeError):
        # cryptography parses parts of a response lazily; whatever it cannot read is no usable answer.
        raise _unavailable("OCSP response cannot be parsed") from None
