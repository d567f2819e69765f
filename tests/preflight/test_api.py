"""The preflight API over real HTTP: measuring endpoints and their caps, requirements, reports (validation, IDs,
access rules) and the per-address rate limits."""

from __future__ import annotations

import asyncio
import re
import time
import zlib

import aiohttp
import pytest

from agent_desktop.store.preflight_reports import ID_ALPHABET
from agent_desktop.web.preflight_api import MAX_TRANSFER, WS_MAX_MESSAGES
from hardware_check.requirements import requirements_json

ID_RE = re.compile(f"^[{ID_ALPHABET}]{{6}}$")


def report(**overrides) -> dict:
    body = {
        "source": "browser",
        "started": "2026-11-23T14:52:00Z",
        "finished": "2026-11-23T14:52:19Z",
        "overall": "fail",
        "checks": [
            {"name": "cpu", "status": "pass", "value": 4, "unit": "cores", "detail": ""},
            {"name": "screen", "status": "pass", "value": "1920x1080", "unit": "px", "detail": ""},
            {
                "name": "microphone",
                "status": "fail",
                "value": None,
                "unit": "devices",
                "detail": "no permission",
            },
            {"name": "network_rtt", "status": "warn", "value": 150.5, "unit": "ms", "detail": "median"},
        ],
    }
    body.update(overrides)
    return body


def passing_report() -> dict:
    return report(
        overall="pass",
        checks=[{"name": "cpu", "status": "pass", "value": 8, "unit": "cores", "detail": ""}],
    )


async def post_report(desk, client, body) -> aiohttp.ClientResponse:
    return await client.post(f"{desk.url}/api/preflight/reports", json=body)


# -- measuring ----------------------------------------------------------------------------------------------


async def test_requirements_come_from_hardware_check(pf_desk):
    async with pf_desk.client() as client:
        response = await client.get(f"{pf_desk.url}/api/preflight/requirements")
        assert response.status == 200
        body = await response.json()
    assert body["checks"] == requirements_json()["checks"]
    assert [c["name"] for c in body["checks"]][:4] == ["cpu", "memory", "screen", "browser"]
    assert body["network"]["pings"] == 50
    assert sum(body["network"]["sizes"]) < 5_000_000
    assert "jabra" in body["headset_hints"] and "koptelefoon" in body["headset_hints"]
    assert body["browser_trains"]["edge"] == "chrome"
    # No TURN credential for a page before login; no STUN configured here at all.
    assert body["ice_servers"] == []
    assert response.headers["Cache-Control"] == "no-store"


async def test_requirements_tell_the_browser_from_the_user_agent(pf_desk):
    ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:152.0) Gecko/20100101 Firefox/152.0"
    async with pf_desk.client() as client:
        response = await client.get(f"{pf_desk.url}/api/preflight/requirements", headers={"User-Agent": ua})
        assert (await response.json())["client"]["browser"] == {"family": "firefox", "major": 152}


async def test_websocket_echoes_and_caps_message_count(pf_desk):
    async with pf_desk.client() as client:
        async with client.ws_connect(f"{pf_desk.url}/api/preflight/ws") as ws:
            t0 = time.perf_counter()
            await ws.send_str("ping 0 123")
            assert (await ws.receive(timeout=2)).data == "ping 0 123"
            assert time.perf_counter() - t0 < 1
            for i in range(1, WS_MAX_MESSAGES):
                await ws.send_str(f"ping {i}")
                assert (await ws.receive(timeout=2)).data == f"ping {i}"
            await ws.send_str("one too many")
            msg = await ws.receive(timeout=2)
            assert msg.type == aiohttp.WSMsgType.CLOSE
            assert msg.data == 1008


async def test_websocket_refuses_oversized_messages(pf_desk):
    async with pf_desk.client() as client:
        async with client.ws_connect(f"{pf_desk.url}/api/preflight/ws") as ws:
            await ws.send_str("x" * 5000)
            msg = await ws.receive(timeout=2)
            assert msg.type == aiohttp.WSMsgType.CLOSE
            assert msg.data == 1009  # message too big


async def test_download_sends_incompressible_uncached_bytes(pf_desk):
    async with pf_desk.client() as client:
        response = await client.get(f"{pf_desk.url}/api/preflight/download", params={"bytes": "300000"})
        assert response.status == 200
        data = await response.read()
        assert len(data) == 300_000
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert "Content-Encoding" not in response.headers
        assert len(zlib.compress(data, 9)) > 0.99 * len(data)
        again = await (
            await client.get(f"{pf_desk.url}/api/preflight/download", params={"bytes": "300000"})
        ).read()
        assert again != data


async def test_download_of_exactly_5_mb_works_and_more_is_refused(pf_desk):
    async with pf_desk.client() as client:
        response = await client.get(f"{pf_desk.url}/api/preflight/download?bytes={MAX_TRANSFER}")
        assert len(await response.read()) == MAX_TRANSFER == 5_000_000
        response = await client.get(f"{pf_desk.url}/api/preflight/download?bytes={MAX_TRANSFER + 1}")
        assert response.status == 413
        assert (await response.json())["error"]["code"] == "too_large"


@pytest.mark.parametrize("value", ["", "abc", "0", "-5", "1e6"])
async def test_download_size_must_be_a_positive_whole_number(pf_desk, value):
    async with pf_desk.client() as client:
        response = await client.get(f"{pf_desk.url}/api/preflight/download?bytes={value}")
        assert response.status == 400
        error = (await response.json())["error"]
        assert error["code"] == "bad_request" and "bytes" in error["message"]


async def test_upload_reads_and_counts(pf_desk):
    async with pf_desk.client() as client:
        response = await client.post(
            f"{pf_desk.url}/api/preflight/upload",
            data=bytes(1_048_576),
            headers={"Content-Type": "application/octet-stream"},
        )
        assert response.status == 200
        body = await response.json()
        assert body["bytes"] == 1_048_576 and body["ms"] >= 0


async def test_upload_of_5_mb_passes_and_more_is_refused(pf_desk):
    async with pf_desk.client() as client:
        response = await client.post(f"{pf_desk.url}/api/preflight/upload", data=bytes(MAX_TRANSFER))
        assert (await response.json())["bytes"] == MAX_TRANSFER
        response = await client.post(f"{pf_desk.url}/api/preflight/upload", data=bytes(MAX_TRANSFER + 1))
        assert response.status == 413
        assert (await response.json())["error"]["code"] == "too_large"


async def test_upload_without_length_is_capped_while_reading(pf_desk):
    async def chunks():
        for _ in range(6):
            yield bytes(1_000_000)

    async with pf_desk.client() as client:
        try:
            response = await client.post(f"{pf_desk.url}/api/preflight/upload", data=chunks())
        except aiohttp.ClientError:
            return  # the desk may close the connection while the body still streams in: refused as well
        assert response.status == 413


# -- reports ------------------------------------------------------------------------------------------------


async def test_anonymous_report_gets_a_phone_readable_id(pf_desk):
    async with pf_desk.client() as client:
        response = await post_report(pf_desk, client, report())
        assert response.status == 201
        report_id = (await response.json())["id"]
    assert ID_RE.match(report_id)
    assert not set(report_id) & set("01OIL")


async def test_report_ids_are_unique(pf_desk):
    async with pf_desk.client() as client:
        ids = await asyncio.gather(
            *[_post_id(pf_desk, client, passing_report()) for _ in range(60)],
        )
    assert len(set(ids)) == 60
    assert all(ID_RE.match(i) for i in ids)


async def _post_id(desk, client, body) -> str:
    response = await post_report(desk, client, body)
    assert response.status == 201, await response.text()
    return (await response.json())["id"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (report(source="phone"), "source"),
        (report(overall="pass"), "overall"),
        (report(started="yesterday"), "ISO-8601"),
        (report(started="2026-11-23T14:52:00"), "time zone"),
        (report(finished="2026-11-23T14:51:00Z"), "before"),
        (report(checks=[]), "non-empty"),
        (report(checks=[{"name": "cpu", "status": "great", "value": 4, "unit": "", "detail": ""}]), "status"),
        (
            report(checks=[{"name": "gpu", "status": "pass", "value": 4, "unit": "", "detail": ""}]),
            "unknown check",
        ),
        (report(extra=1), "unknown field"),
        (report(overall="pass", checks=[{"name": "cpu", "status": "pass", "value": {"a": 1}}]), "value"),
    ],
)
async def test_invalid_reports_are_refused_with_a_clear_message(pf_desk, body, words):
    async with pf_desk.client() as client:
        response = await post_report(pf_desk, client, body)
        assert response.status == 400
        error = (await response.json())["error"]
    assert error["code"] == "bad_request"
    assert words in error["message"]


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b""])
async def test_report_body_must_be_a_json_object(pf_desk, raw):
    async with pf_desk.client() as client:
        response = await client.post(
            f"{pf_desk.url}/api/preflight/reports", data=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "bad_request"


async def test_report_over_32_kb_is_refused_and_just_under_is_read(pf_desk):
    async with pf_desk.client() as client:
        for size, status, code in ((32 * 1024 + 1, 413, "too_large"), (32 * 1024, 400, "bad_request")):
            raw = b'{"pad": "' + b"x" * (size - 11) + b'"}'
            assert len(raw) == size
            response = await client.post(
                f"{pf_desk.url}/api/preflight/reports", data=raw, headers={"Content-Type": "application/json"}
            )
            assert response.status == status
            assert (await response.json())["error"]["code"] == code


async def test_report_from_another_origin_is_refused(pf_desk):
    async with aiohttp.ClientSession(headers={"Origin": "https://evil.example"}) as client:
        response = await post_report(pf_desk, client, report())
        assert response.status == 403


async def test_helpdesk_sees_every_report_and_opens_one(pf_desk):
    async with pf_desk.client() as anonymous:
        anon_id = await _post_id(pf_desk, anonymous, report())
    async with pf_desk.client() as agent:
        assert (await pf_desk.login(agent, "agent")).status == 200
        own_id = await _post_id(pf_desk, agent, passing_report())
    async with pf_desk.client() as helpdesk:
        assert (await pf_desk.login(helpdesk, "helpdesk")).status == 200
        listing = await (await helpdesk.get(f"{pf_desk.url}/api/preflight/reports")).json()
        ids = [r["id"] for r in listing["reports"]]
        assert set(ids) == {anon_id, own_id}
        by_id = {r["id"]: r for r in listing["reports"]}
        assert by_id[anon_id]["agent"] is None
        assert by_id[own_id]["agent"]["name"] == "Els Maes"
        assert by_id[anon_id]["failing"] == ["microphone"]

        one = await helpdesk.get(f"{pf_desk.url}/api/preflight/reports/{anon_id.lower()}")
        assert one.status == 200
        body = await one.json()
        assert body["id"] == anon_id
        assert body["overall"] == "fail"
        assert [c["name"] for c in body["checks"]] == ["cpu", "screen", "microphone", "network_rtt"]
        assert body["checks"][2]["detail"] == "no permission"
        assert body["remote"] == "127.0.0.0/24"

        missing = await helpdesk.get(f"{pf_desk.url}/api/preflight/reports/ZZZZZZ")
        assert missing.status == 404
        assert (await missing.json())["error"]["code"] == "not_found"


async def test_helpdesk_filters_by_agent_id_and_failing_check(pf_desk):
    async with pf_desk.client() as anonymous:
        anon_id = await _post_id(pf_desk, anonymous, report())
    async with pf_desk.client() as agent:
        me = await (await pf_desk.login(agent, "agent")).json()
        own_fail = await _post_id(pf_desk, agent, report())
        own_pass = await _post_id(pf_desk, agent, passing_report())
    async with pf_desk.client() as helpdesk:
        await pf_desk.login(helpdesk, "helpdesk")

        async def ids(query: str) -> set[str]:
            response = await helpdesk.get(f"{pf_desk.url}/api/preflight/reports?{query}")
            assert response.status == 200, await response.text()
            return {r["id"] for r in (await response.json())["reports"]}

        assert await ids("agent=maes") == {own_fail, own_pass}
        assert await ids("agent=ELS%20M") == {own_fail, own_pass}
        assert await ids(f"agent={me['id']}") == {own_fail, own_pass}
        assert await ids("agent=nobody") == set()
        assert await ids("failing=microphone") == {anon_id, own_fail}
        assert await ids("failing=network_rtt") == set()  # it warned, it did not fail
        assert await ids("failing=any") == {anon_id, own_fail}
        assert await ids("failing=any&agent=maes") == {own_fail}
        assert await ids(f"id={anon_id}") == {anon_id}
        assert await ids(f"id={anon_id[:3].lower()}") >= {anon_id}
        assert await ids(f"id={anon_id[:3]}-{anon_id[3:]}") == {anon_id}
        response = await helpdesk.get(f"{pf_desk.url}/api/preflight/reports?failing=gpu")
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "bad_request"


async def test_agent_sees_only_own_reports(pf_desk):
    async with pf_desk.client() as anonymous:
        anon_id = await _post_id(pf_desk, anonymous, report())
    async with pf_desk.client() as other:
        await pf_desk.login(other, "supervisor")
        others_id = await _post_id(pf_desk, other, report())
    async with pf_desk.client() as agent:
        await pf_desk.login(agent, "agent")
        own_id = await _post_id(pf_desk, agent, report())
        listing = await (await agent.get(f"{pf_desk.url}/api/preflight/reports")).json()
        assert [r["id"] for r in listing["reports"]] == [own_id]
        # Filters cannot widen the view.
        for query in ("agent=luc", "failing=any", f"id={anon_id}", "agent=2"):
            listing = await (await agent.get(f"{pf_desk.url}/api/preflight/reports?{query}")).json()
            assert anon_id not in {r["id"] for r in listing["reports"]}
            assert others_id not in {r["id"] for r in listing["reports"]}
        assert (await agent.get(f"{pf_desk.url}/api/preflight/reports/{own_id}")).status == 200
        for foreign in (anon_id, others_id, "ZZZZZZ"):
            response = await agent.get(f"{pf_desk.url}/api/preflight/reports/{foreign}")
            assert response.status == 403
            assert (await response.json())["error"]["code"] == "forbidden"


async def test_anonymous_cannot_read_reports(pf_desk):
    async with pf_desk.client() as anonymous:
        report_id = await _post_id(pf_desk, anonymous, report())
        for path in ("/api/preflight/reports", f"/api/preflight/reports/{report_id}"):
            response = await anonymous.get(pf_desk.url + path)
            assert response.status == 401
            assert (await response.json())["error"]["code"] == "unauthorized"


async def test_cli_report_is_accepted(pf_desk):
    cli = report(source="cli", overall="unknown")
    cli["checks"] = [
        {"name": "cpu", "status": "pass", "value": 2, "unit": "cores", "detail": ""},
        {"name": "network_loss", "status": "unknown", "value": None, "unit": "%", "detail": "TCP"},
    ]
    async with aiohttp.ClientSession() as client:  # the CLI sends no Origin and no cookie
        response = await post_report(pf_desk, client, cli)
        assert response.status == 201


# -- pages --------------------------------------------------------------------------------------------------


async def test_preflight_page_is_open_before_login(pf_desk):
    async with pf_desk.client() as client:
        response = await client.get(f"{pf_desk.url}/preflight")
        assert response.status == 200
        html = await response.text()
    assert 'data-testid="preflight-run"' in html
    assert "/static/js/preflight.js" in html


async def test_helpdesk_page_needs_the_role(pf_desk):
    async with pf_desk.client() as anonymous:
        response = await anonymous.get(f"{pf_desk.url}/helpdesk", allow_redirects=False)
        assert response.status == 302 and response.headers["Location"] == "/"
    async with pf_desk.client() as agent:
        await pf_desk.login(agent, "agent")
        response = await agent.get(f"{pf_desk.url}/helpdesk")
        assert response.status == 403
        html = await response.text()
        assert 'data-testid="helpdesk-forbidden"' in html and "helpdesk-search" not in html
    async with pf_desk.client() as helpdesk:
        await pf_desk.login(helpdesk, "helpdesk")
        response = await helpdesk.get(f"{pf_desk.url}/helpdesk")
        assert response.status == 200
        assert 'data-testid="helpdesk-search"' in await response.text()


async def test_every_preflight_route_declares_its_access(pf_desk):
    declared = {}
    for route in pf_desk.server.app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if "preflight" in path or "helpdesk" in path:
            assert hasattr(route.handler, "required_roles"), f"{route.method} {path}"
            declared[(route.method, path)] = route.handler.required_roles
    assert declared[("GET", "/helpdesk")] == ("helpdesk",)
    assert declared[("GET", "/api/preflight/reports")] == ()
    assert declared[("POST", "/api/preflight/reports")] is None
    assert declared[("POST", "/api/preflight/rtc")] is None


# -- rate limits --------------------------------------------------------------------------------------------


async def test_report_posts_are_rate_limited_per_address(strict_desk):
    async with strict_desk.client() as client:
        statuses = [(await post_report(strict_desk, client, passing_report())).status for _ in range(15)]
    assert statuses[:10] == [201] * 10
    assert statuses[-1] == 429
    async with strict_desk.client() as client:
        response = await post_report(strict_desk, client, passing_report())
        assert (await response.json())["error"]["code"] == "rate_limited"


async def test_transfers_are_rate_limited_per_address(strict_desk):
    async with strict_desk.client() as client:
        statuses = [
            (await client.get(f"{strict_desk.url}/api/preflight/download?bytes=10")).status for _ in range(30)
        ]
    assert statuses[0] == 200 and statuses[-1] == 429


async def test_echo_socket_and_requirements_are_rate_limited(strict_desk):
    async with strict_desk.client() as client:
        statuses = [
            (await client.get(f"{strict_desk.url}/api/preflight/requirements")).status for _ in range(45)
        ]
        assert statuses[0] == 200 and statuses[-1] == 429
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(f"{strict_desk.url}/api/preflight/ws")
        assert refused.value.status == 429
