"""PKCS#11 access to the eID card: reader/card status, the Authentication certificate, and the Web eID login
signature over `hash(origin) ‖ hash(nonce)`.

Synchronous and blocking (PyKCS11 holds the GIL for a whole call, PIN pad waits included): the bridge runs these
functions only inside `token_worker`'s child process. The token is chosen by its label (`BELPIC` on a Belgian
eID card), never by slot index, and the key by the Belgian middleware's label "Authentication" (falling back to
the certificate's CKA_ID); the "Signature" key (qualified signatures) is never used.

Error mapping decisions (codes of DESIGN.md §6):

- no slot at all, or a module that cannot be loaded → `no_reader`; slots but no token with the label, or a token
  without an Authentication certificate/key → `no_card`.
- a missing or empty PIN (no PIN pad) → `bad_request`: nothing is sent to the card, so no try is spent.
- CKR_PIN_INCORRECT / CKR_PIN_INVALID / CKR_PIN_LEN_RANGE → `pin_incorrect` (the user typed a wrong PIN; a
  length the card refuses is still a wrong PIN to them). `details.tries_left` is 1 when the token raises
  CKF_USER_PIN_FINAL_TRY; CKF_USER_PIN_COUNT_LOW says "fewer than the maximum", not a number, so it is not
  reported.
- CKR_PIN_LOCKED, or CKF_USER_PIN_LOCKED on the token → `pin_blocked`.
- CKR_FUNCTION_CANCELED (cancel pressed on a PIN pad reader) → `pin_incorrect` with `details.cancelled`.
- the card or reader going away mid-operation → `card_removed`; any other PKCS#11 failure → `no_card` naming the
  CKR constant (never anything read from the card).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import PyKCS11
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .errors import EidError

logger = logging.getLogger(__name__)

TOKEN_FORMAT = "web-eid:1.0"
DEFAULT_LABEL = "BELPIC"
AUTH_LABEL = "Authentication"
SIGNATURE_LABEL = "Signature"

# DER prefix of DigestInfo{sha256, NULL} (RFC 8017 §9.2 note 1): CKM_RSA_PKCS pads but does not hash, and
# real eID cards and SoftHSM both accept a ready DigestInfo, where CKM_SHA256_RSA_PKCS support varies.
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")

# JWS algorithm and its hash for each EC curve a card may carry (Belgian applet 1.8: P-384).
_EC_ALGORITHMS: dict[str, tuple[str, str]] = {
    "secp256r1": ("ES256", "sha256"),
    "secp384r1": ("ES384", "sha384"),
    "secp521r1": ("ES512", "sha512"),
}

_REMOVED = frozenset(
    {
        PyKCS11.CKR_DEVICE_REMOVED,
        PyKCS11.CKR_TOKEN_NOT_PRESENT,
        PyKCS11.CKR_SESSION_HANDLE_INVALID,
        PyKCS11.CKR_SESSION_CLOSED,
        PyKCS11.CKR_DEVICE_ERROR,
        PyKCS11.CKR_TOKEN_NOT_RECOGNIZED,
        PyKCS11.CKR_SLOT_ID_INVALID,
    }
)
_WRONG_PIN = frozenset({PyKCS11.CKR_PIN_INCORRECT, PyKCS11.CKR_PIN_INVALID, PyKCS11.CKR_PIN_LEN_RANGE})


@dataclass(frozen=True)
class TokenStatus:
    """What the reader side looks like: for `/status` and the hardware check's eid_reader row."""

    readers: int
    token_present: bool
    pinpad: bool
    label: str | None
    has_auth_cert: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "readers": self.readers,
            "token_present": self.token_present,
            "pinpad": self.pinpad,
            "label": self.label,
            "has_auth_cert": self.has_auth_cert,
        }


class LibraryCache:
    """PKCS#11 modules loaded once per process and kept loaded (C_Initialize is slow on real middleware and
    must not race). The worker process owns one; a caller without one gets a load for the call only."""

    def __init__(self) -> None:
        self._libs: dict[str, PyKCS11.PyKCS11Lib] = {}

    def get(self, module_path: str) -> PyKCS11.PyKCS11Lib:
        lib = self._libs.get(module_path)
        if lib is None:
            try:
                lib = PyKCS11.PyKCS11Lib().load(module_path)
            except PyKCS11.PyKCS11Error as exc:
                logger.warning("PKCS#11 module %s could not be loaded: %s", module_path, exc)
                raise EidError(
                    "no_reader", "the eID middleware (PKCS#11 module) could not be loaded"
                ) from None
            self._libs[module_path] = lib
        return lib

    def close(self) -> None:
        libs, self._libs = self._libs, {}
        for lib in libs.values():
            lib.unload()


def version() -> str:
    """The bridge's version for `appVersion`."""
    try:
        return metadata.version("agent-desktop")
    except metadata.PackageNotFoundError:
        return "0"


def app_version() -> str:
    return f"https://agent-desktop/eid-bridge/{version()}"


def map_pkcs11_error(exc: PyKCS11.PyKCS11Error, token_flags: int | None = None) -> EidError:
    """The contract's error for a PKCS#11 failure; `token_flags` (CK_TOKEN_INFO.flags read after a failed
    login) adds `tries_left` when the token tells it exactly."""
    rv = exc.value
    name = PyKCS11.CKR.get(rv, f"0x{rv & 0xFFFFFFFF:08X}") if isinstance(rv, int) else "unknown"
    flags = token_flags or 0
    if rv == PyKCS11.CKR_PIN_LOCKED or flags & PyKCS11.CKF_USER_PIN_LOCKED:
        return EidError("pin_blocked", "the eID PIN is blocked; unblock it with the PUK at the town hall")
    if rv in _WRONG_PIN:
        details: dict[str, Any] = {}
        if flags & PyKCS11.CKF_USER_PIN_FINAL_TRY:
            details["tries_left"] = 1
        message = "the PIN has a length the card refuses" if rv == PyKCS11.CKR_PIN_LEN_RANGE else "wrong PIN"
        return EidError("pin_incorrect", message, details)
    if rv == PyKCS11.CKR_FUNCTION_CANCELED:
        return EidError("pin_incorrect", "PIN entry was cancelled on the reader", {"cancelled": True})
    if rv in _REMOVED:
        return EidError("card_removed", f"the eID card was removed or stopped answering ({name})")
    if rv == PyKCS11.CKR_TOKEN_NOT_INITIALIZED:
        return EidError("no_card", "the card in the reader is not an initialised eID card")
    return EidError("no_card", f"the eID card refused the operation ({name})")


def _label(text: str) -> str:
    # CK_TOKEN_INFO.label is blank-padded to 32 bytes; some middleware pads with NULs.
    return text.rstrip(" \x00")


def _find_slot(lib: PyKCS11.PyKCS11Lib, label: str) -> int:
    """The slot holding the token labelled `label`; EidError no_reader / no_card."""
    slots = lib.getSlotList(tokenPresent=False)
    if not slots:
        raise EidError("no_reader", "no card reader found")
    for slot in lib.getSlotList(tokenPresent=True):
        try:
            info = lib.getTokenInfo(slot)
        except PyKCS11.PyKCS11Error:
            continue  # a reader whose card went away between the two calls
        if _label(info.label) == label:
            return slot
    raise EidError("no_card", "no eID card in the reader")


@contextmanager
def _session(lib: PyKCS11.PyKCS11Lib, slot: int) -> Iterator[PyKCS11.Session]:
    session = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION)
    try:
        yield session
    finally:
        try:
            session.closeSession()
        except PyKCS11.PyKCS11Error:
            pass  # the card went away: its session is gone with it


def _attr_bytes(session: PyKCS11.Session, obj: Any, attribute: int) -> bytes | None:
    value = session.getAttributeValue(obj, [attribute], allAsBinary=True)[0]
    return bytes(value) if value is not None else None


def _attr_text(session: PyKCS11.Session, obj: Any) -> str:
    raw = _attr_bytes(session, obj, PyKCS11.CKA_LABEL) or b""
    return raw.decode("utf-8", "replace")


def _is_auth_usage(der: bytes) -> bool:
    """Whether a certificate looks like an authentication one: digitalSignature without nonRepudiation (the
    Belgian Signature certificate carries nonRepudiation only)."""
    try:
        usage = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(x509.KeyUsage).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    return usage.digital_signature and not usage.content_commitment


def _find_auth_cert(session: PyKCS11.Session) -> tuple[bytes, bytes | None]:
    """(DER, CKA_ID) of the Authentication certificate; EidError no_card when the token has none."""
    base = [(PyKCS11.CKA_CLASS, PyKCS11.CKO_CERTIFICATE), (PyKCS11.CKA_CERTIFICATE_TYPE, PyKCS11.CKC_X_509)]
    found = session.findObjects([*base, (PyKCS11.CKA_LABEL, AUTH_LABEL)])
    if not found:
        # Middleware with other labels: take the one certificate that is neither a CA nor the Signature one.
        found = [
            obj
            for obj in session.findObjects(base)
            if _attr_text(session, obj) != SIGNATURE_LABEL
            and _is_auth_usage(_attr_bytes(session, obj, PyKCS11.CKA_VALUE) or b"")
        ]
    if len(found) != 1:
        raise EidError("no_card", "the card holds no (single) Authentication certificate")
    der = _attr_bytes(session, found[0], PyKCS11.CKA_VALUE)
    if not der:
        raise EidError("no_card", "the card's Authentication certificate is empty")
    return der, _attr_bytes(session, found[0], PyKCS11.CKA_ID)


def _find_auth_key(session: PyKCS11.Session, cert_id: bytes | None) -> Any:
    """The Authentication private key: by label, else by the certificate's CKA_ID, never the Signature key."""
    base = [(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY)]
    keys = session.findObjects([*base, (PyKCS11.CKA_LABEL, AUTH_LABEL)])
    if len(keys) > 1 and cert_id is not None:
        keys = [key for key in keys if _attr_bytes(session, key, PyKCS11.CKA_ID) == cert_id]
    if not keys and cert_id:
        keys = [
            key
            for key in session.findObjects([*base, (PyKCS11.CKA_ID, cert_id)])
            if _attr_text(session, key) != SIGNATURE_LABEL
        ]
    if len(keys) != 1:
        raise EidError("no_card", "the card holds no (single) Authentication key")
    return keys[0]


def _algorithm(cert_der: bytes) -> tuple[str, str, x509.Certificate]:
    """(JWS algorithm, hashlib name, certificate) for the card's key type."""
    try:
        cert = x509.load_der_x509_certificate(cert_der)
        public_key = cert.public_key()
    except ValueError:
        raise EidError("no_card", "the card's Authentication certificate cannot be read") from None
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RS256", "sha256", cert
    if isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.name in _EC_ALGORITHMS:
        algorithm, hash_name = _EC_ALGORITHMS[public_key.curve.name]
        return algorithm, hash_name, cert
    raise EidError("no_card", "the card's key type is not supported")


@contextmanager
def _pkcs11_errors(lib: PyKCS11.PyKCS11Lib, slot: int | None = None) -> Iterator[None]:
    """Turn PyKCS11 errors into EidError; re-read the token flags for PIN errors (they carry the tries)."""
    try:
        yield
    except PyKCS11.PyKCS11Error as exc:
        flags = None
        if slot is not None and exc.value in (_WRONG_PIN | {PyKCS11.CKR_PIN_LOCKED}):
            try:
                flags = lib.getTokenInfo(slot).flags
            except PyKCS11.PyKCS11Error:
                pass
        raise map_pkcs11_error(exc, flags) from None


def token_status(
    module_path: str, label: str = DEFAULT_LABEL, *, libraries: LibraryCache | None = None
) -> TokenStatus:
    """Readers, card and PIN pad as the middleware sees them. "No reader" and "no card" are reported, not
    raised; an unloadable module reads as zero readers."""
    cache = libraries or LibraryCache()
    readers = 0
    try:
        lib = cache.get(module_path)
        with _pkcs11_errors(lib):
            readers = len(lib.getSlotList(tokenPresent=False))
            slot = _find_slot(lib, label)
            info = lib.getTokenInfo(slot)
            pinpad = bool(info.flags & PyKCS11.CKF_PROTECTED_AUTHENTICATION_PATH)
            try:
                with _session(lib, slot) as session:
                    _find_auth_cert(session)
                has_cert = True
            except EidError:
                has_cert = False
            return TokenStatus(readers, True, pinpad, _label(info.label), has_cert)
    except EidError:
        # no_reader, no_card, or a card pulled out between two calls: all read as "no card here".
        return TokenStatus(readers, False, False, None, False)
    finally:
        if libraries is None:
            cache.close()


def read_auth_certificate(
    module_path: str, label: str = DEFAULT_LABEL, *, libraries: LibraryCache | None = None
) -> bytes:
    """DER of the card's Authentication certificate (no PIN needed)."""
    cache = libraries or LibraryCache()
    try:
        lib = cache.get(module_path)
        with _pkcs11_errors(lib):
            slot = _find_slot(lib, label)
            with _session(lib, slot) as session:
                der, _ = _find_auth_cert(session)
                return der
    finally:
        if libraries is None:
            cache.close()


def signed_data(origin: str, nonce: str, hash_name: str) -> bytes:
    """`hash(origin) ‖ hash(nonce)` (UTF-8): what Web eID has the card sign (hashed once more by the signature)."""
    return (
        hashlib.new(hash_name, origin.encode("utf-8")).digest()
        + hashlib.new(hash_name, nonce.encode("utf-8")).digest()
    )


def _signature_matches(cert: x509.Certificate, hash_name: str, signature: bytes, data: bytes) -> bool:
    digest = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}[hash_name]()
    public_key = cert.public_key()
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), digest)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            width = (public_key.curve.key_size + 7) // 8
            if len(signature) != 2 * width:
                return False
            r, s = int.from_bytes(signature[:width], "big"), int.from_bytes(signature[width:], "big")
            public_key.verify(encode_dss_signature(r, s), data, ec.ECDSA(digest))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _sign(session: PyKCS11.Session, key: Any, algorithm: str, hash_name: str, data: bytes) -> bytes:
    digest = hashlib.new(hash_name, data).digest()
    if algorithm == "RS256":
        return bytes(session.sign(key, _SHA256_DIGEST_INFO + digest, PyKCS11.Mechanism(PyKCS11.CKM_RSA_PKCS)))
    # CKM_ECDSA returns raw r ‖ s, which is exactly the Web eID encoding: no DER round trip.
    return bytes(session.sign(key, digest, PyKCS11.Mechanism(PyKCS11.CKM_ECDSA)))


def authenticate(
    module_path: str,
    label: str,
    pin: str | None,
    origin: str,
    nonce: str,
    *,
    libraries: LibraryCache | None = None,
    on_pinpad: Callable[[], None] | None = None,
) -> dict[str, str]:
    """Sign the Web eID authentication data with the card's Authentication key; returns the token
    `{unverifiedCertificate, algorithm, signature, format, appVersion}`.

    On a PIN pad reader (CKF_PROTECTED_AUTHENTICATION_PATH) `pin` is ignored and the reader asks for it;
    `on_pinpad` is called just before that wait (the worker uses it to allow the longer PIN pad timeout)."""
    cache = libraries or LibraryCache()
    try:
        lib = cache.get(module_path)
        with _pkcs11_errors(lib):
            slot = _find_slot(lib, label)
        with _pkcs11_errors(lib, slot):
            flags = lib.getTokenInfo(slot).flags
            if flags & PyKCS11.CKF_USER_PIN_LOCKED:
                raise EidError(
                    "pin_blocked", "the eID PIN is blocked; unblock it with the PUK at the town hall"
                )
            pinpad = bool(flags & PyKCS11.CKF_PROTECTED_AUTHENTICATION_PATH)
            if not pinpad and not pin:
                raise EidError("bad_request", "a PIN is required")
            with _session(lib, slot) as session:
                cert_der, cert_id = _find_auth_cert(session)
                algorithm, hash_name, cert = _algorithm(cert_der)
                data = signed_data(origin, nonce, hash_name)
                if pinpad and on_pinpad is not None:
                    on_pinpad()
                session.login(None if pinpad else pin)
                try:
                    key = _find_auth_key(session, cert_id)
                    signature = _sign(session, key, algorithm, hash_name, data)
                finally:
                    try:
                        session.logout()
                    except PyKCS11.PyKCS11Error:
                        pass  # card gone or session closed: nothing stays logged in either way
    finally:
        if libraries is None:
            cache.close()
    # A key that does not belong to the certificate would only fail at the server, with a misleading reason.
    if not _signature_matches(cert, hash_name, signature, data):
        raise EidError("no_card", "the card's Authentication key does not match its certificate")
    return {
        "unverifiedCertificate": base64.b64encode(cert_der).decode("ascii"),
        "algorithm": algorithm,
        "signature": base64.b64encode(signature).decode("ascii"),
        "format": TOKEN_FORMAT,
        "appVersion": app_version(),
    }
