"""OCSP: the client (check_revocation) and the verifier's policy (required / optional / off) against a real
responder (make_ocsp_app on 127.0.0.1, free port), plus the responder's own behaviour."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import web
from cryptography.x509 import ocsp

from agent_desktop.eid.errors import EidError
from agent_desktop.eid.ocsp import build_request, check_revocation, parse_response, url_allowed
from agent_desktop.eid.ocsp_responder import (
    make_ocsp_app,
    revocations_from_file,
    start_responder,
)
from agent_desktop.eid.pki import Pki, create_pki, issue_auth_cert
from agent_desktop.eid.verify import VerifyPolicy, verify_token

ORIGIN = "https://desk.example.be"
NONCE = base64.b64encode(os.urandom(32)).decode()
LOCAL = ("http://127.0.0.1:",)


def policy(pki: Pki, mode: str, responders: tuple[str, ...] = LOCAL, timeout_s: float = 2.0) -> VerifyPolicy:
    return VerifyPolicy(
        origin=ORIGIN,
        trust_anchors=(pki.root_cert, pki.ca_cert),
        ocsp=mode,  # type: ignore[arg-type]
        ocsp_responders=responders,
        ocsp_timeout_s=timeout_s,
    )


def free_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the port was free a moment ago and is closed again)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/ocsp"


@pytest.fixture
def card(pki_with_ocsp, nrn):
    return issue_auth_cert(pki_with_ocsp, given_name="Jan", surname="Peeters", nrn=nrn)


# --- the client ----------------------------------------------------------------------------------------------


async def test_good_certificate(pki, card, http):
    cert, _ = card
    assert await check_revocation(cert, pki.ca_cert, responders_allowed=LOCAL, session=http) == "good"


async def test_revoked_certificate(pki, card, revoked, http):
    cert, _ = card
    revoked.add(cert.serial_number)
    assert await check_revocation(cert, pki.ca_cert, responders_allowed=LOCAL, session=http) == "revoked"


async def test_responder_not_allowed(pki, card, http):
    cert, _ = card
    with pytest.raises(EidError) as info:
        await check_revocation(
            cert, pki.ca_cert, responders_allowed=("http://ocsp.eid.belgium.be",), session=http
        )
    assert info.value.code == "ocsp_unavailable"


async def test_certificate_without_ocsp_url(pki, rsa_card, http):
    cert, _ = rsa_card  # issued by a PKI without OCSP URL
    with pytest.raises(EidError) as info:
        await check_revocation(cert, pki.ca_cert, responders_allowed=LOCAL, session=http)
    assert info.value.code == "ocsp_unavailable"


def test_url_allowed_respects_boundaries():
    allowed = ("http://ocsp.eid.belgium.be", "http://127.0.0.1:")
    assert url_allowed("http://ocsp.eid.belgium.be", allowed)
    assert url_allowed("http://ocsp.eid.belgium.be/", allowed)
    assert url_allowed("HTTP://OCSP.eid.belgium.be/x", allowed)
    assert url_allowed("http://127.0.0.1:4567/ocsp", allowed)
    assert not url_allowed("http://ocsp.eid.belgium.be.evil.com/", allowed)
    assert not url_allowed("http://ocsp.eid.belgium.be@evil.com/", allowed)
    assert not url_allowed("ldap://ocsp.eid.belgium.be/", ("ldap://ocsp.eid.belgium.be",))
    assert not url_allowed("http://127.0.0.2/", allowed)


async def test_responder_for_another_issuer_is_unavailable(pki, other_pki, ocsp_url, http, nrn):
    """Our responder answers `unauthorized` about another CA's certificates: no usable answer."""
    cert, _ = issue_auth_cert(
        dataclasses.replace(other_pki, ocsp_url=ocsp_url), given_name="A", surname="B", nrn=nrn
    )
    with pytest.raises(EidError) as info:
        await check_revocation(cert, other_pki.ca_cert, responders_allowed=LOCAL, session=http)
    assert info.value.code == "ocsp_unavailable"
    assert "unauthorized" in info.value.message


async def test_response_signed_by_an_unauthorised_key_is_refused(pki, other_pki, http, nrn):
    """A responder that answers for our CA but signs with a certificate our CA did not issue."""
    impostor = dataclasses.replace(pki, ocsp_cert=other_pki.ocsp_cert, ocsp_key=other_pki.ocsp_key)
    running = await start_responder(impostor, "127.0.0.1", 0, set())
    try:
        cert, _ = issue_auth_cert(
            dataclasses.replace(pki, ocsp_url=running.url), given_name="A", surname="B", nrn=nrn
        )
        with pytest.raises(EidError) as info:
            await check_revocation(cert, pki.ca_cert, responders_allowed=LOCAL, session=http)
        assert info.value.code == "ocsp_unavailable"
        assert "not signed by" in info.value.message
    finally:
        await running.close()


async def test_response_from_a_responder_cert_without_ocsp_signing_is_refused(pki, http, nrn):
    """A certificate of our own CA, but not an OCSP signer (here: a card's), cannot sign responses."""
    card_cert, card_key = issue_auth_cert(pki, given_name="A", surname="B", nrn=nrn, key_type="ec")
    impostor = dataclasses.replace(pki, ocsp_cert=card_cert, ocsp_key=card_key)
    running = await start_responder(impostor, "127.0.0.1", 0, set())
    try:
        cert, _ = issue_auth_cert(
            dataclasses.replace(pki, ocsp_url=running.url), given_name="A", surname="B", nrn=nrn
        )
        with pytest.raises(EidError) as info:
            await check_revocation(cert, pki.ca_cert, responders_allowed=LOCAL, session=http)
        assert info.value.code == "ocsp_unavailable"
    finally:
        await running.close()


async def test_response_signed_by_the_issuer_itself_is_accepted(pki, http, nrn):
    issuer_signed = dataclasses.replace(pki, ocsp_cert=pki.ca_cert, ocsp_key=pki.ca_key)
    running = await start_responder(issuer_signed, "127.0.0.1", 0, set())
    try:
        cert, _ = issue_auth_cert(
            dataclasses.replace(pki, ocsp_url=running.url), given_name="A", surname="B", nrn=nrn
        )
        assert await check_revocation(cert, pki.ca_cert, responders_allowed=LOCAL, session=http) == "good"
    finally:
        await running.close()


async def test_stale_and_future_responses_are_refused(pki, card, ocsp_url, http):
    cert, _ = card
    nonce = os.urandom(16)
    async with http.post(ocsp_url, data=build_request(cert, pki.ca_cert, nonce)) as reply:
        der = await reply.read()
    assert parse_response(der, cert, pki.ca_cert, nonce=nonce) == "good"
    for now, what in (
        (datetime.now(UTC) + timedelta(hours=3), "old"),  # past nextUpdate and max age
        (datetime.now(UTC) - timedelta(hours=1), "future"),
    ):
        with pytest.raises(EidError) as info:
            parse_response(der, cert, pki.ca_cert, nonce=nonce, now=now)
        assert info.value.code == "ocsp_unavailable" and what in info.value.message
    with pytest.raises(EidError):
        parse_response(der, cert, pki.ca_cert, nonce=os.urandom(16))  # replayed exchange
    other, _ = issue_auth_cert(pki, given_name="C", surname="D", nrn="85073003328")
    with pytest.raises(EidError) as info:
        parse_response(der, other, pki.ca_cert, nonce=nonce)  # answers about another certificate
    assert "does not cover" in info.value.message
    with pytest.raises(EidError):
        parse_response(b"\x30\x03garbage", cert, pki.ca_cert)


async def test_slow_responder_times_out(pki, nrn, http):
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await asyncio.wait_for(release.wait(), 10)
        return web.Response()

    app = web.Application()
    app.router.add_post("/{tail:.*}", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
        cert, _ = issue_auth_cert(
            dataclasses.replace(pki, ocsp_url=url), given_name="A", surname="B", nrn=nrn
        )
        started = time.monotonic()
        with pytest.raises(EidError) as info:
            await check_revocation(cert, pki.ca_cert, responders_allowed=LOCAL, session=http, timeout_s=0.3)
        assert info.value.code == "ocsp_unavailable"
        assert time.monotonic() - started < 2
    finally:
        release.set()
        await runner.cleanup()


# --- the responder -------------------------------------------------------------------------------------------


async def test_responder_answers_get_requests(pki, card, ocsp_url, revoked, http):
    cert, _ = card
    revoked.add(cert.serial_number)
    encoded = quote(base64.b64encode(build_request(cert, pki.ca_cert)).decode(), safe="")
    async with http.get(f"{ocsp_url}/{encoded}") as reply:
        assert reply.content_type == "application/ocsp-response"
        der = await reply.read()
    assert parse_response(der, cert, pki.ca_cert) == "revoked"


async def test_responder_refuses_malformed_requests(ocsp_url, http):
    async with http.post(ocsp_url, data=b"not a request") as reply:
        response = ocsp.load_der_ocsp_response(await reply.read())
    assert response.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


async def test_file_revocations_are_reread(pki, tmp_path: Path, http, nrn):
    path = tmp_path / "revoked.txt"
    source = revocations_from_file(path)
    cert, _ = issue_auth_cert(pki, given_name="A", surname="B", nrn=nrn)
    assert not source(cert.serial_number)  # missing file: nothing revoked
    path.write_text(f"# demo revocations\n{cert.serial_number}\nnot-a-serial\n")
    assert source(cert.serial_number)
    path.write_text("12345\n")
    assert not source(cert.serial_number) and source(12345)
    path.write_text(f"0x{cert.serial_number:x}\n")
    assert source(cert.serial_number)
    app = make_ocsp_app(pki, source)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
        issued = dataclasses.replace(pki, ocsp_url=url)
        card, _ = issue_auth_cert(issued, given_name="A", surname="B", nrn=nrn)
        assert await check_revocation(card, pki.ca_cert, responders_allowed=LOCAL, session=http) == "good"
        path.write_text(f"{card.serial_number:x}\n")
        assert await check_revocation(card, pki.ca_cert, responders_allowed=LOCAL, session=http) == "revoked"
    finally:
        await runner.cleanup()


# --- the verifier's policy -----------------------------------------------------------------------------------


async def test_good_certificate_under_required(pki, card, token_for, http):
    cert, key = card
    identity = await verify_token(token_for(cert, key, NONCE), NONCE, policy(pki, "required"), http)
    assert identity.revocation == "good"


@pytest.mark.parametrize("mode", ["required", "optional"])
async def test_revoked_certificate_is_refused(pki, card, revoked, token_for, http, mode):
    cert, key = card
    revoked.add(cert.serial_number)
    with pytest.raises(EidError) as info:
        await verify_token(token_for(cert, key, NONCE), NONCE, policy(pki, mode), http)
    assert info.value.code == "cert_revoked"


async def test_revoked_certificate_passes_when_ocsp_is_off(pki, card, revoked, token_for, http):
    cert, key = card
    revoked.add(cert.serial_number)
    identity = await verify_token(token_for(cert, key, NONCE), NONCE, policy(pki, "off"), http)
    assert identity.revocation == "unchecked"


async def test_revoked_es384_card(pki_with_ocsp, pki, revoked, token_for, http, nrn):
    cert, key = issue_auth_cert(pki_with_ocsp, given_name="A", surname="B", nrn=nrn, key_type="ec")
    assert (
        await verify_token(token_for(cert, key, NONCE), NONCE, policy(pki, "required"), http)
    ).revocation == "good"
    revoked.add(cert.serial_number)
    with pytest.raises(EidError) as info:
        await verify_token(token_for(cert, key, NONCE), NONCE, policy(pki, "required"), http)
    assert info.value.code == "cert_revoked"


async def test_responder_down(pki, token_for, http, nrn):
    cert, key = issue_auth_cert(
        dataclasses.replace(pki, ocsp_url=free_port_url()), given_name="A", surname="B", nrn=nrn
    )
    token = token_for(cert, key, NONCE)
    with pytest.raises(EidError) as info:
        await verify_token(token, NONCE, policy(pki, "required"), http)
    assert info.value.code == "ocsp_unavailable"
    identity = await verify_token(token, NONCE, policy(pki, "optional"), http)
    assert identity.revocation == "unavailable"


async def test_responder_not_in_allow_list(pki, card, token_for, http):
    cert, key = card
    token = token_for(cert, key, NONCE)
    belgian_only = ("http://ocsp.eid.belgium.be",)
    with pytest.raises(EidError) as info:
        await verify_token(token, NONCE, policy(pki, "required", belgian_only), http)
    assert info.value.code == "ocsp_unavailable"
    assert (
        await verify_token(token, NONCE, policy(pki, "optional", belgian_only), http)
    ).revocation == "unavailable"


async def test_ocsp_is_not_asked_about_untrusted_certificates(pki, other_pki, ocsp_url, token_for, http, nrn):
    """Chain first, network second: an untrusted certificate is refused as such, not as unavailable."""
    cert, key = issue_auth_cert(
        dataclasses.replace(other_pki, ocsp_url=ocsp_url), given_name="A", surname="B", nrn=nrn
    )
    with pytest.raises(EidError) as info:
        await verify_token(token_for(cert, key, NONCE), NONCE, policy(pki, "required"), http)
    assert info.value.code == "cert_untrusted"


async def test_rsa_keyed_responder(http, nrn):
    """A PKI with RSA CA and responder keys (as Belgium Root CA4): the RSA branch of response checking."""
    rsa_pki = create_pki(key_type="rsa")
    assert rsa_pki.ocsp_key.key_size == 2048
    serials: set[int] = set()
    running = await start_responder(rsa_pki, "127.0.0.1", 0, serials)
    try:
        cert, _ = issue_auth_cert(
            dataclasses.replace(rsa_pki, ocsp_url=running.url), given_name="A", surname="B", nrn=nrn
        )
        check = check_revocation(cert, rsa_pki.ca_cert, responders_allowed=LOCAL, session=http)
        assert await check == "good"
        serials.add(cert.serial_number)
        assert (
            await check_revocation(cert, rsa_pki.ca_cert, responders_allowed=LOCAL, session=http) == "revoked"
        )
    finally:
        await running.close()


async def test_unknown_status_is_refused_as_revoked(pki, nrn, token_for, http):
    """A responder of our CA that does not know the certificate: refused (as Web eID validators do)."""
    from agent_desktop.eid.ocsp_responder import OcspResponder, ocsp_app

    responder = OcspResponder(pki.ca_cert, pki.ocsp_cert, pki.ocsp_key, known=lambda serial: False)
    runner = web.AppRunner(ocsp_app(responder))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
        cert, key = issue_auth_cert(
            dataclasses.replace(pki, ocsp_url=url), given_name="A", surname="B", nrn=nrn
        )
        assert await check_revocation(cert, pki.ca_cert, responders_allowed=LOCAL, session=http) == "unknown"
        for mode in ("required", "optional"):
            with pytest.raises(EidError) as info:
                await verify_token(token_for(cert, key, NONCE), NONCE, policy(pki, mode), http)
            assert info.value.code == "cert_revoked" and info.value.details == {"ocsp_status": "unknown"}
    finally:
        await runner.cleanup()


async def test_revoked_refusal_has_no_unknown_details(pki, card, revoked, token_for, http):
    cert, key = card
    revoked.add(cert.serial_number)
    with pytest.raises(EidError) as info:
        await verify_token(token_for(cert, key, NONCE), NONCE, policy(pki, "required"), http)
    assert info.value.code == "cert_revoked" and info.value.details == {}


async def test_response_past_next_update_is_refused(pki, card, ocsp_url, http):
    cert, _ = card
    async with http.post(ocsp_url, data=build_request(cert, pki.ca_cert)) as reply:
        der = await reply.read()
    # The test responder's nextUpdate is thisUpdate + 10 min; 20 min later it is stale even with skew.
    later = datetime.now(UTC) + timedelta(minutes=20)
    with pytest.raises(EidError) as info:
        parse_response(der, cert, pki.ca_cert, now=later, max_age_s=86_400)
    assert "nextUpdate" in info.value.message


async def test_redirects_are_not_followed(pki, ocsp_url, http, nrn):
    """An allowed responder URL must not lead elsewhere by redirect."""

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(ocsp_url)

    app = web.Application()
    app.router.add_post("/{tail:.*}", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/ocsp"
        cert, _ = issue_auth_cert(
            dataclasses.replace(pki, ocsp_url=url), given_name="A", surname="B", nrn=nrn
        )
        with pytest.raises(EidError) as info:
            await check_revocation(cert, pki.ca_cert, responders_allowed=(url,), session=http)
        assert info.value.code == "ocsp_unavailable" and "307" in info.value.message
    finally:
        await runner.cleanup()
