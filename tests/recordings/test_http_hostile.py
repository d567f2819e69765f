"""HTTP endpoints built since issue 9 under attack, over real HTTP: every route of the app (read from its router,
so a new one is covered) refuses a stranger with 401 and a user without its role with 403; dates at the ends of
the calendar and year-long ranges get a clear 400 on every dated list; a recording's Range header is answered 206,
416 or the whole file, never an error or a byte past the file; recording ids that climb out of the folder are 404."""

from __future__ import annotations

import re

import pytest

from agent_desktop.web import keys
from tests.recordings.test_recordings_api import EARLY_16TH, _seed

PUBLIC = {
    ("GET", "/"),
    ("GET", "/ws"),  # checks the session itself (tests/web/test_ws_hub.py)
    ("POST", "/api/login/challenge"),
    ("POST", "/api/login"),
    (
        "POST",
        "/api/login/tls",
    ),  # 404 unless [eid] client_cert_header; trusts only the proxy (tests/web/test_tls_login.py)
    ("GET", "/api/preflight/ws"),
    ("GET", "/api/preflight/download"),
    ("POST", "/api/preflight/upload"),
    ("POST", "/api/preflight/rtc"),
    ("GET", "/api/preflight/requirements"),
    ("POST", "/api/preflight/reports"),
    ("GET", "/preflight"),
}
DATED = (
    "/api/reports/queues",
    "/api/reports/agents",
    "/api/reports/surveys",
    "/api/surveys",
    "/api/recordings",
    "/api/reports/chart.svg",
)


def _routes(desk) -> list[tuple[str, str, tuple | None]]:
    out = []
    for route in desk.server.app.router.routes():
        if route.resource is None or route.method == "HEAD" or route.resource.canonical.startswith("/static"):
            continue
        out.append((route.method, route.resource.canonical, route.handler.required_roles))
    return out


async def test_every_route_refuses_strangers_and_users_without_its_role(desk):
    routes = _routes(desk)
    assert {
        (m, p) for m, p, roles in routes if roles is None
    } == PUBLIC  # a new public route must be named here
    assert len(routes) > 50
    async with desk.client() as anon, desk.client() as agent:
        await desk.login(agent, "agent")  # roles: agent only
        for method, path, roles in routes:
            if roles is None:
                continue
            url = desk.url + re.sub(r"\{[^}]+\}", "1", path)
            response = await anon.request(method, url, data=b"{}", allow_redirects=False)
            # Pages send a stranger to the login page; the API answers 401.
            expected = {401} if path.startswith("/api/") else {302, 303, 401}
            assert response.status in expected, (method, path, response.status)
            if roles and "agent" not in roles:
                response = await agent.request(method, url, data=b"{}")
                assert response.status == 403, (method, path, roles)


@pytest.mark.parametrize(
    "query, field",
    [
        ("from=9999-12-31&to=9999-12-31", "from"),
        ("from=2026-01-01&to=9999-12-31", "to"),
        ("from=0001-01-01&to=0001-01-01", "from"),
        ("from=0000-01-01&to=0000-01-01", "from"),
        ("from=2025-01-01&to=2026-12-31", "to"),  # 730 days
        ("from=2026-02-30&to=2026-03-01", "from"),
        ("from=2026-01-01&to=2025-12-31", "to"),
        ("from=%F0%9F%98%80&to=2026-01-01", "from"),
        ("from=2026-01-01&to=2026-01-01&from=1", None),
    ],
)
async def test_dates_out_of_range_get_a_clear_400_on_every_dated_list(desk, query, field):
    async with desk.client() as sup:
        await desk.login(sup, "supervisor")
        for path in DATED:
            response = await sup.get(f"{desk.url}{path}?{query}&metric=service_level")
            if field is None:
                assert response.status in (200, 400), (path, query)
                continue
            assert response.status == 400, (path, query, response.status, await response.text())
            error = (await response.json())["error"]
            assert error["code"] == "bad_request" and error["details"]["field"] == field, (path, error)


@pytest.mark.parametrize(
    "header, status",
    [
        ("bytes=0-0,5-9", {200, 206, 416}),
        ("bytes=" + ",".join(f"{i}-{i}" for i in range(500)), {200, 206, 416}),
        ("bytes=99999999999999999999999-", {416}),
        ("bytes=-99999999999999999999999", {200, 206}),
        ("bytes=5-1", {200, 416}),
        ("bytes=-0", {200, 206, 416}),
        ("bytes=abc", {200, 416}),
        ("items=0-10", {200, 416}),
        ("bytes=0-" + "9" * 4000, {206}),
    ],
)
async def test_range_attacks_on_a_recording(desk, header, status):
    data = await _seed(desk)
    async with desk.client() as sup:
        await desk.login(sup, "supervisor")
        url = f"{desk.url}/api/recordings/{EARLY_16TH}/audio"
        response = await sup.get(url, headers={"Range": header})
        assert response.status in status, (header, response.status)
        body = await response.read()
        assert len(body) <= len(data)
        if response.status == 200:
            assert body == data
        if response.status == 206:
            assert body in data
        assert (await sup.get(url, headers={"Range": "bytes=0-3"})).status == 206  # the desk still serves


@pytest.mark.parametrize(
    "rec_id",
    [
        "..%2F..%2Fdesk.db",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "aaaaaaaaaaaaaaa2%00",
        "aaaaaaaaaaaaaaa2.ogg",
        "..%5c..%5cdesk.db",
        "aaaaaaaaaaaaaaa2%2F..%2F..%2Fdesk.db",
        "AAAAAAAAAAAAAAA2",
    ],
)
async def test_recording_ids_that_climb_out_are_404(desk, rec_id):
    await _seed(desk)
    (desk.server.app[keys.CONFIG].path("desk.db"))  # the database next to the recordings' folder
    async with desk.client() as sup:
        await desk.login(sup, "supervisor")
        for suffix in ("/audio", "/scores"):
            response = await sup.get(f"{desk.url}/api/recordings/{rec_id}{suffix}")
            assert response.status == 404, (rec_id, suffix, response.status)
