"""The login API over real HTTP: cookies, sessions, refusals, roles, and no national number anywhere."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from agent_desktop.store import agents, audit
from agent_desktop.store.db import open_db
from agent_desktop.web.auth import PRELOGIN_COOKIE, SESSION_COOKIE
from tests.helpers.webeid import make_token


def _set_cookies(response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.getall("Set-Cookie", [])}


async def test_login_sets_a_fresh_strict_httponly_session_cookie(desk):
    async with desk.client() as client:
        challenge = await client.post(f"{desk.url}/api/login/challenge", json={})
        assert challenge.status == 200
        prelogin = _set_cookies(challenge)[PRELOGIN_COOKIE]
        assert "HttpOnly" in prelogin and "SameSite=Strict" in prelogin and "Max-Age=300" in prelogin
        nonce = (await challenge.json())["nonce"]
        card = desk.cards["agent"]
        response = await client.post(
            f"{desk.url}/api/login", json=make_token(card.cert, card.key, nonce, desk.url)
        )
        assert response.status == 200, await response.text()
        body = await response.json()
        assert body == {"id": 1, "name": "Els Maes", "roles": ["agent"], "state": "offline", "lang": "nl"}
        cookies = _set_cookies(response)
        session = cookies[SESSION_COOKIE]
        assert "HttpOnly" in session and "SameSite=Strict" in session and "Path=/" in session
        assert "Secure" not in session  # plain http on loopback; https public_url turns it on
        assert 'ad_prelogin=""' in cookies[PRELOGIN_COOKIE]  # deleted, never promoted
        prelogin_value = prelogin.split("=", 1)[1].split(";")[0]
        assert prelogin_value not in session
        me = await client.get(f"{desk.url}/api/me")
        assert (await me.json())["name"] == "Els Maes"


async def test_ec_card_logs_in_and_gets_its_language(desk):
    async with desk.client() as client:
        response = await desk.login(client, "supervisor")
        assert response.status == 200
        assert (await response.json())["lang"] == "fr"


async def test_replayed_token_is_refused(desk):
    async with desk.client() as client:
        challenge = await client.post(f"{desk.url}/api/login/challenge", json={})
        nonce = (await challenge.json())["nonce"]
        card = desk.cards["agent"]
        token = make_token(card.cert, card.key, nonce, desk.url)
        assert (await client.post(f"{desk.url}/api/login", json=token)).status == 200
    async with desk.client() as thief:
        await thief.post(f"{desk.url}/api/login/challenge", json={})
        replay = await thief.post(f"{desk.url}/api/login", json=token)
        assert replay.status == 401
        assert (await replay.json())["error"]["code"] == "signature_invalid"


async def test_login_without_challenge_cookie_is_nonce_invalid(desk):
    async with desk.client() as client:
        card = desk.cards["agent"]
        response = await client.post(
            f"{desk.url}/api/login", json=make_token(card.cert, card.key, "x" * 44, desk.url)
        )
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "nonce_invalid"


async def test_token_for_another_origin_is_refused(desk):
    async with desk.client() as client:
        challenge = await client.post(f"{desk.url}/api/login/challenge", json={})
        nonce = (await challenge.json())["nonce"]
        card = desk.cards["agent"]
        token = make_token(card.cert, card.key, nonce, "https://phishing.example")
        response = await client.post(f"{desk.url}/api/login", json=token)
        assert (await response.json())["error"]["code"] in ("signature_invalid", "origin_mismatch")
        assert (await client.get(f"{desk.url}/api/me")).status == 401


async def test_unknown_agent_is_refused_and_audited_without_nrn(desk, caplog):
    caplog.set_level(logging.DEBUG)
    async with desk.client() as client:
        response = await desk.login(client, "stranger")
        assert response.status == 401
        error = (await response.json())["error"]
        assert error["code"] == "unknown_agent"
    nrn = desk.cards["stranger"].nrn
    assert nrn not in str(error) and nrn not in caplog.text
    db = open_db(desk.config.path(desk.config.database.path))
    try:
        assert any(
            r["action"] == "login_refused" and "unknown_agent" in r["detail"] for r in audit.recent(db)
        )
        dump = "\n".join(db.iterdump())
    finally:
        db.close()
    for card in desk.cards.values():
        assert card.nrn not in dump


async def test_disabled_agent_is_refused_and_loses_live_session(desk):
    async with desk.client() as client:
        assert (await desk.login(client)).status == 200
        db = open_db(desk.config.path(desk.config.database.path))
        try:
            agents.set_enabled(db, 1, False)
        finally:
            db.close()
        assert (await client.get(f"{desk.url}/api/me")).status == 401
        response = await desk.login(client)
        assert (await response.json())["error"]["code"] == "agent_disabled"


async def test_logout_kills_the_session_server_side(desk):
    async with desk.client() as client:
        await desk.login(client)
        cookie = next(c for c in client.cookie_jar if c.key == SESSION_COOKIE).value
        assert (await client.post(f"{desk.url}/api/logout", json={})).status == 200
    async with desk.client() as replayer:
        replayer.cookie_jar.update_cookies({SESSION_COOKIE: cookie})
        response = await replayer.get(f"{desk.url}/api/me")
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "unauthorized"


async def test_patch_me_language(desk):
    async with desk.client() as client:
        await desk.login(client)
        response = await client.patch(f"{desk.url}/api/me", json={"lang": "fr"})
        assert (await response.json())["lang"] == "fr"
        bad = await client.patch(f"{desk.url}/api/me", json={"lang": "de"})
        assert bad.status == 400 and (await bad.json())["error"]["code"] == "bad_request"


async def test_cross_origin_write_is_refused(desk):
    async with desk.client() as client:
        await desk.login(client)
        response = await client.post(
            f"{desk.url}/api/logout", json={}, headers={"Origin": "https://evil.example"}
        )
        assert response.status == 403
        assert (await client.get(f"{desk.url}/api/me")).status == 200


@pytest.mark.parametrize("body", [b"not json", b"[1,2]", b"{" + b" " * 20000 + b"}"])
async def test_malformed_login_bodies_get_clear_errors(desk, body):
    async with desk.client() as client:
        await client.post(f"{desk.url}/api/login/challenge", json={})
        response = await client.post(
            f"{desk.url}/api/login", data=body, headers={"Content-Type": "application/json"}
        )
        assert response.status in (400, 413)
        assert (await response.json())["error"]["code"] in ("bad_request", "too_large")


async def test_every_route_declares_its_access(desk):
    """A new endpoint must say whether it is public or which role it needs (`require` / `public`)."""
    app = desk.server.app
    undeclared = []
    for route in app.router.routes():
        if route.resource is None or route.resource.canonical.startswith("/static"):
            continue
        if route.method == "HEAD":
            continue
        if not hasattr(route.handler, "required_roles"):
            undeclared.append(f"{route.method} {route.resource.canonical}")
    assert undeclared == []


async def test_api_without_session_is_401_json(desk):
    async with desk.client() as client:
        response = await client.get(f"{desk.url}/api/me")
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "unauthorized"
        assert response.headers["Cache-Control"] == "no-store"


async def test_login_is_rate_limited_per_address(desk):
    async with desk.client() as client:
        statuses = [
            (await client.post(f"{desk.url}/api/login/challenge", json={})).status for _ in range(150)
        ]
        assert statuses[0] == 200
        assert 429 in statuses
        assert statuses.count(200) < 140  # a burst is allowed (an office's shift logging in), then it stops


async def test_trusted_proxy_forwarded_address_is_the_rate_limit_key(tmp_path, web_pki):
    """Behind the centre's TLS proxy every agent arrives from the proxy's address: the limit must count agents."""
    from aiohttp.test_utils import TestServer

    from agent_desktop.app import create_app
    from agent_desktop.config import load_config
    from tests.helpers.net import free_port
    from tests.web.conftest import write_config

    port = free_port()
    path = write_config(tmp_path, web_pki, port, server='trusted_proxies = ["127.0.0.1/32"]')
    config = load_config(path)
    server = TestServer(create_app(config), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{port}/api/login/challenge"
            origin = {"Origin": f"http://127.0.0.1:{port}"}
            first = [
                (await http.post(url, json={}, headers={**origin, "X-Forwarded-For": "198.51.100.7"})).status
                for _ in range(150)
            ]
            other = await http.post(url, json={}, headers={**origin, "X-Forwarded-For": "198.51.100.8"})
        assert 429 in first and other.status == 200  # one agent's burst does not lock out the next
    finally:
        await server.close()
