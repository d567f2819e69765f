# ruff: noqa: F811  (`scene` is a pytest fixture imported from test_wall_chromium)
"""Listen-in from the supervisor's desk page in Chromium (DESIGN.md §10): a real SIP caller talks to an agent
with an aiortc peer; the supervisor's own desk page (its socket and its WebRTC peer) lists the agent on a call in
the listen panel, listens in, whispers and stops with its buttons; the desk's own answers drive the panel's state,
and the session exists in the desk (routing counts the supervisor busy, the audit log has the start and the
whisper). The audio itself is checked by content in tests/web/test_listen.py."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from agent_desktop.store import audit
from agent_desktop.web import keys
from tests.web.queue_desk import desk_uri, wait_state
from tests.web.test_wall_chromium import Scene, page, scene  # noqa: F401 (fixtures)

AGENT_ID, SUPERVISOR_ID = 1, 2  # as the desk fixtures enrol them


def _answered_call(scene: Scene) -> str:
    scene.set_state("available")

    async def answer() -> str:
        scene.leg = await scene.caller.dial(desk_uri(scene.desk, "1702"), ring_timeout_s=10)
        offered = await scene.agent.next("call.offered", 10)
        await scene.agent.ws.send_json({"type": "call.answer", "call_id": offered["call_id"]})
        await scene.agent.call_state("connected")
        await wait_state(scene.leg, "connected")
        return offered["call_id"]

    return scene.loop.run(answer())


@pytest.mark.timeout(90)
def test_the_supervisor_listens_whispers_and_stops_from_the_desk_page(page, scene, artifacts):
    page.goto(f"{scene.desk.url}/")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(page.get_by_test_id("rtc-status")).to_have_attribute("data-status", "connected", timeout=10000)
    page.select_option("#lang-switch", "nl")
    panel = page.get_by_test_id("listen-panel")
    expect(panel).to_be_visible()
    status = page.get_by_test_id("listen-status")
    expect(status).to_have_attribute("data-state", "idle")
    expect(page.get_by_test_id("listen-start")).to_have_count(0)
    expect(page.get_by_test_id("listen-whisper")).to_be_disabled()

    call_id = _answered_call(scene)
    start = page.locator(f'[data-testid="listen-start"][data-agent-id="{AGENT_ID}"]')
    expect(start).to_be_visible(timeout=3000)  # the wall feed brings the agent's call within a second
    expect(panel).to_contain_text("Els Maes")
    start.click()
    expect(status).to_have_attribute("data-state", "listening")
    expect(status).to_have_attribute("data-agent-id", str(AGENT_ID))
    expect(status).to_have_text("U luistert mee met Els Maes")
    assert SUPERVISOR_ID in scene.desk.server.app[keys.CALLS].also_busy()

    whisper = page.get_by_test_id("listen-whisper")
    whisper.click()
    expect(status).to_have_attribute("data-state", "whispering")
    expect(whisper).to_have_attribute("aria-pressed", "true")
    page.screenshot(path=str(artifacts / "desk-listen-in.png"))
    whisper.click()
    expect(status).to_have_attribute("data-state", "listening")
    expect(whisper).to_have_attribute("aria-pressed", "false")

    page.get_by_test_id("listen-stop").click()
    expect(status).to_have_attribute("data-state", "idle")
    expect(page.get_by_test_id("listen-stop")).to_be_disabled()
    assert SUPERVISOR_ID not in scene.desk.server.app[keys.CALLS].also_busy()
    rows = scene.loop.run(scene.desk.server.app[keys.STORE].read(audit.recent))
    rows = [r for r in rows if r["action"].startswith("supervisor.")]
    assert [(r["action"], r["agent_id"]) for r in rows] == [
        ("supervisor.whisper", SUPERVISOR_ID),
        ("supervisor.listen", SUPERVISOR_ID),
    ]
    assert json.loads(rows[1]["detail"]) == {"call_id": call_id, "target_agent_id": AGENT_ID}

    # Listening again, then the caller hangs up: the desk ends the session and the panel shows it.
    start.click()
    expect(status).to_have_attribute("data-state", "listening")
    scene.hang_up()
    expect(status).to_have_attribute("data-state", "idle", timeout=5000)
    expect(start).to_have_count(0, timeout=3000)
