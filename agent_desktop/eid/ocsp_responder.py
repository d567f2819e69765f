"""A small OCSP responder (RFC 6960, POST and GET) for the test PKI of `pki.py`: the demo runs the production
OCSP check against it (`ocsp = "required"`), and tests use it to revoke a card.

It answers for the certificates of one issuing CA, signs with the CA's delegated OCSP-signing certificate,
echoes the request nonce, and reads revocations from a set or predicate of serial numbers (`make_ocsp_app`),
such as a plain text file of serials (`revocations_from_file`), so a card can be revoked by editing that file
while the desk runs.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from .ocsp import public_key_bits
from .pki import Pki, PrivateKey

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 16_384
OCSP_RESPONSE_TYPE = "application/ocsp-response"

RevokedSource = Callable[[int], bool] | set[int] | frozenset[int]


class Revocations(Protocol):
    def revoked_at(self, serial: int) -> dt.datetime | None: ...


class OcspResponder:
    """Builds signed OCSP responses about the certificates of `issuer`."""

    def __init__(
        self,
        issuer: x509.Certificate,
        signer_cert: x509.Certificate,
        signer_key: PrivateKey,
        revocations: Revocations | None = None,
        *,
        known: Callable[[int], bool] | None = None,
        validity: dt.timedelta = dt.timedelta(minutes=10),
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        """`known(serial)`, when given, makes serials it rejects "unknown" (default: every serial is known).
        nextUpdate is thisUpdate + `validity`."""
        self.issuer = issuer
        self.signer_cert = signer_cert
        self.signer_key = signer_key
        self.revocations = revocations or _PredicateRevocations(frozenset())
        self._known = known
        self._validity = validity
        self._clock = clock

    @classmethod
    def for_pki(cls, pki: Pki, revocations: Revocations | None = None) -> OcspResponder:
        return cls(pki.ca_cert, pki.ocsp_cert, pki.ocsp_key, revocations)

    def respond(self, request_der: bytes) -> bytes:
        """DER response to a DER request; malformedRequest / unauthorized for what it cannot answer."""
        try:
            request = ocsp.load_der_ocsp_request(request_der)
        except ValueError:
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        algorithm = request.hash_algorithm
        name_hash = _digest(algorithm, self.issuer.subject.public_bytes())
        key_hash = _digest(algorithm, public_key_bits(self.issuer.public_key()))
        if (request.issuer_name_hash, request.issuer_key_hash) != (name_hash, key_hash):
            return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        now = self._clock().replace(microsecond=0)
        serial = request.serial_number
        revoked_at = self.revocations.revoked_at(serial)
        if revoked_at is not None:
            status, reason = ocsp.OCSPCertStatus.REVOKED, x509.ReasonFlags.key_compromise
        elif self._known is not None and not self._known(serial):
            status, reason = ocsp.OCSPCertStatus.UNKNOWN, None
        else:
            status, reason = ocsp.OCSPCertStatus.GOOD, None
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                issuer_name_hash=name_hash,
                issuer_key_hash=key_hash,
                serial_number=serial,
                algorithm=algorithm,
                cert_status=status,
                this_update=now,
                next_update=now + self._validity,
                revocation_time=revoked_at,
                revocation_reason=reason,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, self.signer_cert)
            .certificates([self.signer_cert])
        )
        try:
            builder = builder.add_extension(
                request.extensions.get_extension_for_class(x509.OCSPNonce).value, critical=False
            )
        except x509.ExtensionNotFound:
            pass
        digest = (
            hashes.SHA384() if isinstance(self.signer_key, ec.EllipticCurvePrivateKey) else hashes.SHA256()
        )
        return builder.sign(self.signer_key, digest).public_bytes(serialization.Encoding.DER)


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)


def ocsp_app(responder: OcspResponder) -> web.Application:
    """aiohttp application: `POST /<any path>` with the DER request as body, or `GET /<any path>/<base64>`."""

    async def post(request: web.Request) -> web.Response:
        body = await request.read()
        return web.Response(body=responder.respond(body), content_type=OCSP_RESPONSE_TYPE)

    async def get(request: web.Request) -> web.Response:
        # RFC 6960 A.1: the last path segment is the URL-encoded base64 request; split the raw path, since a
        # decoded %2F would look like a separator.
        encoded = unquote(request.raw_path.split("?", 1)[0].rsplit("/", 1)[-1])
        try:
            der = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError):
            der = b""
        return web.Response(body=responder.respond(der), content_type=OCSP_RESPONSE_TYPE)

    # client_max_size answers 413 to larger bodies before the handler runs.
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app.router.add_post("/{tail:.*}", post)
    app.router.add_get("/{tail:.*}", get)
    return app


def _parse_serial(text: str) -> int:
    value = text.strip().lower().replace(":", "")
    if value.startswith("0x"):
        return int(value[2:], 16)
    return int(value) if value.isdigit() else int(value, 16)


class FileRevocations:
    """Revoked serial numbers from a text file, one per line (decimal, or hex with or without 0x and colons;
    `#` starts a comment), read again whenever its modification time or size changes. A missing file
    revokes nothing. Callable as a predicate, and a `Revocations` source."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._stamp: tuple[int, int] | None = None
        self._serials: frozenset[int] = frozenset()

    def _refresh(self) -> None:
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            self._stamp, self._serials = None, frozenset()
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        serials: set[int] = set()
        for number, line in enumerate(self._path.read_text("utf-8").splitlines(), start=1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            try:
                serials.add(_parse_serial(text))
            except ValueError:
                log.warning("%s:%d: not a serial number, ignored", self._path, number)
        self._stamp, self._serials = stamp, frozenset(serials)

    def __call__(self, serial: int) -> bool:
        self._refresh()
        return serial in self._serials

    def revoked_at(self, serial: int) -> dt.datetime | None:
        return _now() if self(serial) else None


def revocations_from_file(path: Path) -> FileRevocations:
    """A revocation source backed by the text file `path` (see FileRevocations)."""
    return FileRevocations(path)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class _PredicateRevocations:
    # Sets and predicates carry no revocation dates; "now" is what a fresh revocation looks like.
    def __init__(self, revoked: RevokedSource) -> None:
        self._revoked = revoked

    def revoked_at(self, serial: int) -> dt.datetime | None:
        hit = serial in self._revoked if isinstance(self._revoked, set | frozenset) else self._revoked(serial)
        return _now() if hit else None


def make_ocsp_app(pki: Pki, revoked: RevokedSource) -> web.Application:
    """An OCSP responder application for `pki`'s Citizen CA; `revoked` is a set of serial numbers (looked up at
    each request, so a test may add to it later) or a predicate such as `revocations_from_file(path)`."""
    return ocsp_app(OcspResponder.for_pki(pki, _PredicateRevocations(revoked)))


@dataclass
class RunningResponder:
    """A responder serving on `url` until `close()`."""

    url: str
    runner: web.AppRunner

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_responder(pki: Pki, host: str, port: int, revoked: RevokedSource) -> RunningResponder:
    """Serve `make_ocsp_app` on host:port (port 0: a free one; see `.url`)."""
    runner = web.AppRunner(make_ocsp_app(pki, revoked), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound = runner.addresses[0][1]
    return RunningResponder(url=f"http://{host}:{bound}/", runner=runner)


async def run_responder(pki: Pki, host: str, port: int, revoked: RevokedSource) -> None:
    """Serve until cancelled (the demo responder of `make run`)."""
    running = await start_responder(pki, host, port, revoked)
    log.info("OCSP responder on %s", running.url)
    try:
        await asyncio.Event().wait()
    finally:
        await running.close()
