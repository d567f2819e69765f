"""Shared fixtures of the eID verifier tests: test PKIs (built once per session), a real OCSP responder on
127.0.0.1 (free port), an HTTP client session, and helpers that issue certificates and sign Web eID tokens in
software."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from agent_desktop.eid.nrn import make_test_nrn
from agent_desktop.eid.ocsp_responder import start_responder
from agent_desktop.eid.pki import Pki, create_pki, issue_auth_cert

ORIGIN = "https://desk.example.be"
HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


@pytest.fixture(scope="session")
def pki() -> Pki:
    return create_pki()


@pytest.fixture(scope="session")
def other_pki() -> Pki:
    """A second, unrelated PKI: its certificates must never be accepted by a desk trusting `pki`."""
    return create_pki()


@pytest.fixture(scope="session")
def nrn() -> str:
    return make_test_nrn(date(1990, 1, 1), 1)


@pytest.fixture(scope="session")
def rsa_card(pki: Pki, nrn: str) -> tuple[x509.Certificate, Any]:
    """An applet 1.7 style card (RSA-2048) without OCSP URL."""
    return issue_auth_cert(pki, given_name="Jan", surname="Peeters", nrn=nrn, key_type="rsa")


@pytest.fixture(scope="session")
def ec_card(pki: Pki) -> tuple[x509.Certificate, Any]:
    """An applet 1.8 style card (EC P-384), holder born after 2000."""
    return issue_auth_cert(
        pki, given_name="Lotte", surname="Janssens", nrn=make_test_nrn(date(2003, 7, 14), 42), key_type="ec"
    )


def sign_web_eid(key: Any, algorithm: str, origin: str, nonce: str) -> bytes:
    """What a card and the Web eID app produce: a signature over hash(origin) ‖ hash(nonce), raw r‖s for ES*."""
    digest = HASHES[algorithm[2:]]
    name = digest.name
    data = hashlib.new(name, origin.encode()).digest() + hashlib.new(name, nonce.encode()).digest()
    if algorithm.startswith("ES"):
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest())))
        width = (key.curve.key_size + 7) // 8
        return r.to_bytes(width, "big") + s.to_bytes(width, "big")
    assert isinstance(key, rsa.RSAPrivateKey)
    if algorithm.startswith("PS"):
        return key.sign(data, padding.PSS(padding.MGF1(digest()), digest().digest_size), digest())
    return key.sign(data, padding.PKCS1v15(), digest())


def make_token(
    cert: x509.Certificate, key: Any, nonce: str, *, algorithm: str | None = None, origin: str = ORIGIN
) -> dict[str, str]:
    algorithm = algorithm or ("ES384" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256")
    return {
        "unverifiedCertificate": base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode(),
        "algorithm": algorithm,
        "signature": base64.b64encode(sign_web_eid(key, algorithm, origin, nonce)).decode(),
        "format": "web-eid:1.0",
        "appVersion": "https://web-eid.eu/web-eid-app/releases/2.5.0",
    }


@pytest.fixture(scope="session")
def token_for() -> Callable[..., dict[str, str]]:
    """`token_for(cert, key, nonce, algorithm=None, origin=ORIGIN)` → a Web eID token signed in software."""
    return make_token


@pytest.fixture
def revoked() -> set[int]:
    """Serial numbers the test responder reports as revoked; tests add to it."""
    return set()


@pytest.fixture
async def ocsp_url(pki: Pki, revoked: set[int]) -> AsyncIterator[str]:
    """URL of a real OCSP responder for `pki` on 127.0.0.1 (free port)."""
    running = await start_responder(pki, "127.0.0.1", 0, revoked)
    try:
        yield running.url + "ocsp"
    finally:
        await running.close()


@pytest.fixture
def pki_with_ocsp(pki: Pki, ocsp_url: str) -> Pki:
    """`pki` whose newly issued certificates point at the running test responder."""
    return dataclasses.replace(pki, ocsp_url=ocsp_url)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
