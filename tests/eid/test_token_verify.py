"""End to end without a browser: a test PKI's eID certificates (RSA-2048 and EC P-384) on SoftHSM2 cards, a
token from the real bridge and worker over HTTP, checked by the server's one verification path
(`verify.verify_token`, OCSP off): accepted for the desk's own origin, refused for any other."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from agent_desktop.eid.bridge import make_bridge_app
from agent_desktop.eid.errors import EidError
from agent_desktop.eid.nrn import make_test_nrn
from agent_desktop.eid.pki import Pki, create_pki, issue_auth_cert
from agent_desktop.eid.softhsm import provision_token
from agent_desktop.eid.token_worker import TokenWorker
from agent_desktop.eid.verify import VerifyPolicy, verify_token
from tests.eid.token_fixtures import PIN, SO_PIN, new_nonce

pytestmark = pytest.mark.timeout(60)

DESK = "https://desk.example.be"
OTHER_DESK = "https://other-desk.example.be"


@pytest.fixture(scope="module")
def test_pki() -> Pki:
    return create_pki()


@pytest.fixture
async def verifier_http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def _token_from_bridge(
    tmp_path: Path, pki: Pki, key_type: str, nrn: str, page_origin: str, nonce: str
) -> dict[str, str]:
    cert, key = issue_auth_cert(pki, given_name="An", surname="Claes", nrn=nrn, key_type=key_type)  # type: ignore[arg-type]
    card = provision_token(
        tmp_path, pin=PIN, so_pin=SO_PIN, auth_key=key, auth_cert=cert, ca_certs=(pki.ca_cert, pki.root_cert)
    )
    async with TokenWorker(card.module_path, card.label, env=card.env()) as worker:
        app = make_bridge_app(worker, [DESK, OTHER_DESK])
        async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
            response = await client.post(
                "/authenticate",
                json={"nonce": nonce, "origin": page_origin, "pin": PIN},
                headers={"Origin": page_origin},
            )
            assert response.status == 200, await response.text()
            return await response.json()


@pytest.mark.parametrize(("key_type", "algorithm"), [("rsa", "RS256"), ("ec", "ES384")])
async def test_bridge_token_is_accepted_by_the_verifier(
    tmp_path: Path, test_pki: Pki, verifier_http: aiohttp.ClientSession, key_type: str, algorithm: str
):
    nrn = make_test_nrn(date(1985, 3, 2), 17)
    nonce = new_nonce()
    token = await _token_from_bridge(tmp_path, test_pki, key_type, nrn, DESK, nonce)
    assert token["algorithm"] == algorithm

    policy = VerifyPolicy(DESK, trust_anchors=(test_pki.root_cert, test_pki.ca_cert), ocsp="off")
    identity = await verify_token(token, nonce, policy, verifier_http)
    assert (identity.given_name, identity.surname) == ("An", "Claes")
    assert identity.nrn == nrn

    # The same token does not log in with another nonce.
    with pytest.raises(EidError) as replay:
        await verify_token(token, new_nonce(), policy, verifier_http)
    assert replay.value.code == "signature_invalid"


@pytest.mark.parametrize("key_type", ["rsa", "ec"])
async def test_token_made_for_another_origin_is_refused(
    tmp_path: Path, test_pki: Pki, verifier_http: aiohttp.ClientSession, key_type: str
):
    nonce = new_nonce()
    token = await _token_from_bridge(
        tmp_path, test_pki, key_type, make_test_nrn(date(2001, 12, 31), 3), OTHER_DESK, nonce
    )
    policy = VerifyPolicy(DESK, trust_anchors=(test_pki.root_cert, test_pki.ca_cert), ocsp="off")
    with pytest.raises(EidError) as refused:
        await verify_token(token, nonce, policy, verifier_http)
    assert refused.value.code == "signature_invalid"
    # Accepted where it was made for: the refusal is the origin, not a broken token.
    other = VerifyPolicy(OTHER_DESK, trust_anchors=(test_pki.root_cert, test_pki.ca_cert), ocsp="off")
    assert (await verify_token(token, nonce, other, verifier_http)).surname == "Claes"


async def test_card_from_an_untrusted_pki_is_refused(
    tmp_path: Path, test_pki: Pki, verifier_http: aiohttp.ClientSession
):
    nonce = new_nonce()
    stranger = create_pki()
    token = await _token_from_bridge(
        tmp_path, stranger, "ec", make_test_nrn(date(1970, 6, 6), 99), DESK, nonce
    )
    policy = VerifyPolicy(DESK, trust_anchors=(test_pki.root_cert, test_pki.ca_cert), ocsp="off")
    with pytest.raises(EidError) as refused:
        await verify_token(token, nonce, policy, verifier_http)
    assert refused.value.code == "cert_untrusted"
