"""The KB JSON API on a real aiohttp server, and HttpKnowledgeBase against it giving the local answers."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from kb_client.errors import KbError
from kb_client.http_api import add_kb_routes, bearer_token_auth, make_kb_routes
from kb_client.http_backend import HttpKnowledgeBase
from kb_client.importer import import_folder
from kb_client.sqlite_backend import SqliteKnowledgeBase

DEMO = Path(__file__).resolve().parents[2] / "kb_client" / "demo"
TOKEN = "s3cret-token"

Serve = Callable[[web.Application], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """serve(app) starts it on 127.0.0.1, a free port, and returns its base URL."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def demo_kb(tmp_path: Path) -> AsyncIterator[SqliteKnowledgeBase]:
    kb = SqliteKnowledgeBase(tmp_path / "central.db")
    assert import_folder(kb, DEMO).ok
    yield kb
    await kb.close()


@pytest.fixture
async def central(demo_kb: SqliteKnowledgeBase, serve: Serve) -> str:
    app = web.Application()
    add_kb_routes(app, lambda _request: demo_kb, auth=bearer_token_auth([TOKEN, "other-desk"]))
    return await serve(app)


@pytest.fixture
async def remote(central: str) -> AsyncIterator[HttpKnowledgeBase]:
    kb = HttpKnowledgeBase(central, TOKEN, timeout_s=5)
    yield kb
    await kb.close()


@pytest.mark.parametrize(
    ("q", "tab", "skill"),
    [
        ("", "articles", None),
        ("", "faq", "vaccination"),
        ("afspraak", "articles", None),
        ("afspr", "faq", None),
        ("klacht", "escalations", "info"),
        ("", "organisations", None),
        ("reeel", "articles", None),
        ('NOT "(*', "articles", None),
    ],
)
async def test_remote_search_equals_local(
    demo_kb: SqliteKnowledgeBase, remote: HttpKnowledgeBase, q: str, tab: str, skill: str | None
) -> None:
    local = await demo_kb.search(q, tab=tab, skill=skill, limit=10)
    assert await remote.search(q, tab=tab, skill=skill, limit=10) == local


async def test_remote_get_equals_local(demo_kb: SqliteKnowledgeBase, remote: HttpKnowledgeBase) -> None:
    for item_id in ("afspraak-maken", "esc-mobiliteitsdienst", "org-vaccinatiecentrum"):
        item = await remote.get(item_id)
        assert item is not None
        assert item == await demo_kb.get(item_id)
    assert await remote.get("bestaat-niet") is None


async def test_remote_use_changes_the_empty_query_order(
    demo_kb: SqliteKnowledgeBase, remote: HttpKnowledgeBase
) -> None:
    before = await remote.search("", skill="vaccination")
    assert before.results[0].id != "privacy"
    await remote.record_use("privacy", agent_id=3, skill="vaccination")
    after = await remote.search("", skill="vaccination")
    assert after.results[0].id == "privacy"
    assert after == await demo_kb.search("", skill="vaccination")
    with pytest.raises(KbError) as unknown:
        await remote.record_use("bestaat-niet")
    assert unknown.value.code == "not_found"


async def test_remote_feedback_is_stored(demo_kb: SqliteKnowledgeBase, remote: HttpKnowledgeBase) -> None:
    feedback_id = await remote.feedback("privacy", "Telefoonnummer ontbreekt.", agent_id=9)
    assert isinstance(feedback_id, int)
    with sqlite3.connect(demo_kb.path) as conn:
        row = conn.execute(
            "SELECT item_id, agent_id, text FROM kb_feedback WHERE id = ?", (feedback_id,)
        ).fetchone()
    assert row == ("privacy", 9, "Telefoonnummer ontbreekt.")
    with pytest.raises(KbError) as empty:
        await remote.feedback("privacy", " ")
    assert empty.value.code == "bad_request"


async def test_wrong_token_is_a_clear_error(central: str) -> None:
    kb = HttpKnowledgeBase(central, "wrong-token", timeout_s=5)
    try:
        with pytest.raises(KbError) as refused:
            await kb.search("afspraak")
        assert refused.value.code == "unauthorized"
        assert refused.value.status == 401
        assert "refused the token" in refused.value.message
        assert "wrong-token" not in str(refused.value)
    finally:
        await kb.close()


async def test_api_answers_json_errors(central: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{central}/api/kb/search?q=x") as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert (await response.json())["error"]["code"] == "unauthorized"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        for url, code in [
            ("/api/kb/search?tab=recipes", "bad_request"),
            ("/api/kb/search?limit=abc", "bad_request"),
            ("/api/kb/search?limit=100000", "bad_request"),
            ("/api/kb/items/nope", "not_found"),
        ]:
            async with session.get(central + url, headers=headers) as response:
                body = await response.json()
                assert (response.status, body["error"]["code"]) == (
                    {"bad_request": 400, "not_found": 404}[code],
                    code,
                )
        async with session.post(f"{central}/api/kb/feedback", data=b"{not json", headers=headers) as response:
            assert response.status == 400
        async with session.post(
            f"{central}/api/kb/feedback", json={"item_id": "privacy"}, headers=headers
        ) as response:
            assert (await response.json())["error"]["code"] == "bad_request"
        async with session.post(
            f"{central}/api/kb/feedback", json={"item_id": "privacy", "text": "x" * 20000}, headers=headers
        ) as response:
            assert response.status == 413
        async with session.post(f"{central}/api/kb/items/privacy/used", headers=headers) as response:
            assert response.status == 204


async def test_desk_auth_hook_supplies_the_agent_and_can_forbid(
    demo_kb: SqliteKnowledgeBase, serve: Serve
) -> None:
    def desk_auth(request: web.Request) -> int:
        role = request.headers.get("X-Role")
        if role is None:
            raise web.HTTPUnauthorized()
        if role != "agent":
            raise web.HTTPForbidden()
        return 42

    app = web.Application()
    app.add_routes(make_kb_routes(demo_kb, auth=desk_auth))
    base = await serve(app)
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{base}/api/kb/feedback",
            json={"item_id": "privacy", "text": "ok", "agent_id": 1},
            headers={"X-Role": "agent"},
        ) as response:
            feedback_id = (await response.json())["id"]
        async with session.get(f"{base}/api/kb/search", headers={"X-Role": "helpdesk"}) as response:
            assert response.status == 403
            assert (await response.json())["error"]["code"] == "forbidden"
    with sqlite3.connect(demo_kb.path) as conn:
        # the session's agent wins over an agent_id in the body
        assert conn.execute("SELECT agent_id FROM kb_feedback WHERE id = ?", (feedback_id,)).fetchone() == (
            42,
        )
    forbidden = HttpKnowledgeBase(base, TOKEN)
    try:
        with pytest.raises(KbError) as no_role:
            await forbidden.get("privacy")
        assert no_role.value.code == "unauthorized"
    finally:
        await forbidden.close()


async def test_async_auth_hook_is_awaited(demo_kb: SqliteKnowledgeBase, serve: Serve) -> None:
    async def auth(request: web.Request) -> None:
        await asyncio.sleep(0)
        raise web.HTTPForbidden()

    app = web.Application()
    app.add_routes(make_kb_routes(demo_kb, auth=auth))
    kb = HttpKnowledgeBase(await serve(app), TOKEN)
    try:
        with pytest.raises(KbError) as forbidden:
            await kb.search("")
        assert forbidden.value.code == "forbidden"
    finally:
        await kb.close()


async def test_timeouts_server_errors_and_foreign_answers(serve: Serve) -> None:
    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.json_response({})

    async def broken(_request: web.Request) -> web.Response:
        return web.Response(status=502, text="bad gateway")

    async def html(_request: web.Request) -> web.Response:
        return web.Response(text="<html>login</html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/slow/api/kb/search", slow)
    app.router.add_get("/broken/api/kb/search", broken)
    app.router.add_get("/html/api/kb/search", html)
    base = await serve(app)
    for prefix, code in [("slow", "timeout"), ("broken", "unavailable"), ("html", "bad_response")]:
        kb = HttpKnowledgeBase(f"{base}/{prefix}", TOKEN, timeout_s=0.3)
        try:
            with pytest.raises(KbError) as failure:
                await kb.search("x")
            assert failure.value.code == code, prefix
        finally:
            await kb.close()


async def test_nobody_listening_is_unavailable() -> None:
    # A port that was just free: bind, note, close.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with aiohttp.ClientSession() as session:
        kb = HttpKnowledgeBase(f"http://127.0.0.1:{port}", TOKEN, session=session, timeout_s=2)
        with pytest.raises(KbError) as down:
            await kb.get("x")
        assert down.value.code == "unavailable"
        await kb.close()
        assert not session.closed  # a session handed in belongs to the caller


@pytest.mark.timeout(30)
async def test_feedback_sent_in_two_tcp_segments_is_read_whole(
    demo_kb: SqliteKnowledgeBase, central: str
) -> None:
    """A desk on a WAN link: the body arrives in two segments 300 ms apart and is still one whole JSON object."""
    host, port = central.removeprefix("http://").split(":")
    body = b'{"item_id": "privacy", "text": "' + b"Tekst in twee stukken. " * 20 + b'"}'
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    writer.write(
        f"POST /api/kb/feedback HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body[:100]
    )
    await writer.drain()
    await asyncio.sleep(0.3)
    writer.write(body[100:])
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 2"), answer[:300]
    with sqlite3.connect(demo_kb.path) as conn:
        texts = [row[0] for row in conn.execute("SELECT text FROM kb_feedback WHERE item_id = 'privacy'")]
    assert any(text.startswith("Tekst in twee stukken.") and len(text) > 400 for text in texts)
