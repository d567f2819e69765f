"""The supervisor's wall and reports in Chromium against a running desk: a real SIP caller waiting in a queue and
an agent's state change show on the wall within a second; the report page draws the day's chart; screenshots of
both at 1280×720 go to test-artifacts/. Sync module: Playwright owns the main thread's loop, the desk, the agent's
client (WebSocket and aiortc peer) and the SIP caller run on a loop thread."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import closing

import pytest
from playwright.sync_api import Page, expect

from agent_desktop.web.wall_ws import WALL_SOCKETS
from tests.web.desk_scene import DeskScene, logged_in_page
from tests.web.queue_desk import desk_uri, more_caller, queue_desk, wait_state
from tests.web.test_routing import AgentClient
from tests.web.test_wall_ws import QUEUE


class Scene(DeskScene):
    """The desk, the agent's client and a SIP caller, all on the loop thread."""

    def __init__(self, tmp_path, web_pki, cards) -> None:
        super().__init__()

        async def start():
            desk = await self.stack.enter_async_context(queue_desk(tmp_path, web_pki, cards, QUEUE))
            agent = await AgentClient(desk, "agent").start(self.stack)
            caller = await more_caller(self.stack, "0470111222", (47100, 47199))
            return desk, agent, caller

        self.desk, self.agent, self.caller = self.loop.run(start())
        self.leg = None

    def set_state(self, state: str) -> None:
        async def go():
            await self.agent.ws.send_json({"type": "agent.state", "state": state})
            assert (await self.agent.next("agent.state"))["state"] == state

        self.loop.run(go())

    def dial(self) -> None:
        async def go():
            self.leg = await self.caller.dial(desk_uri(self.desk, "1702"), ring_timeout_s=10)
            await wait_state(self.leg, "connected")  # queued: answered with music

        self.loop.run(go())

    def hang_up(self) -> None:
        if self.leg is not None:
            self.loop.run(self.leg.hangup())

    def drop_walls(self) -> None:
        async def go():
            for ws in list(self.desk.server.app[WALL_SOCKETS]):
                await ws.close(code=1011, message=b"test")

        self.loop.run(go())


@pytest.fixture
def scene(tmp_path, web_pki, cards) -> Iterator[Scene]:
    with closing(Scene(tmp_path, web_pki, cards)) as scene:
        yield scene


@pytest.fixture
def page(chromium, scene: Scene) -> Iterator[Page]:
    with logged_in_page(chromium, scene, "supervisor", locale="nl-BE", timezone_id="Europe/Brussels") as page:
        yield page


def _within(page: Page, selector: str, limit_s: float, since: float) -> float:
    page.wait_for_selector(selector, timeout=5000)
    return time.monotonic() - since


@pytest.mark.timeout(90)
def test_the_wall_shows_a_waiting_caller_and_a_state_change_within_a_second(page, scene, artifacts):
    scene.set_state("break")  # logged in, not free: a caller will wait
    page.goto(f"{scene.desk.url}/supervisor")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(page.get_by_test_id("wall-connection")).to_have_attribute("data-status", "open")
    agent = page.locator('[data-testid="wall-agent"][data-agent-id="1"]')
    expect(agent).to_have_attribute("data-state", "break")
    expect(agent).to_contain_text("Els Maes")

    time.sleep(1.1)  # past the last update: the next change is sent at once
    sent = time.monotonic()
    scene.set_state("lunch")
    took = _within(page, '[data-testid="wall-agent"][data-agent-id="1"][data-state="lunch"]', 1.0, sent)
    assert took < 1.0, f"the state change showed after {took:.2f} s"

    time.sleep(1.1)
    queue = page.locator('[data-testid="wall-queue"][data-queue="algemeen"]')
    expect(queue).to_have_attribute("data-waiting", "0")
    scene.dial()
    answered = time.monotonic()
    took = _within(page, '[data-testid="wall-queue"][data-queue="algemeen"][data-waiting="1"]', 1.0, answered)
    assert took < 1.0, f"the waiting caller showed after {took:.2f} s"
    expect(queue).to_contain_text("0:0")  # the longest wait counts on the page
    time.sleep(2.2)
    page.screenshot(path=str(artifacts / "supervisor-wall.png"))

    # A reconnect: the desk drops the wall's socket; the caller leaves meanwhile; the page comes back (back-off
    # from 0.5 s) and its snapshot has the line empty.
    scene.drop_walls()
    expect(page.get_by_test_id("wall-connection")).to_have_attribute("data-status", "closed")
    scene.hang_up()
    expect(page.get_by_test_id("wall-connection")).to_have_attribute("data-status", "open", timeout=5000)
    expect(queue).to_have_attribute("data-waiting", "0", timeout=3000)
    expect(agent).to_have_attribute("data-state", "lunch")


@pytest.mark.timeout(90)
def test_the_reports_page_draws_todays_chart(page, scene, artifacts):
    scene.set_state("break")
    scene.dial()
    time.sleep(1.5)
    scene.hang_up()  # abandoned in the queue: one offered, one abandoned today
    page.goto(f"{scene.desk.url}/supervisor/reports")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(page.locator("body")).to_have_attribute("data-chart", "1")
    chart = page.get_by_test_id("report-chart")
    expect(chart).to_have_attribute("data-points", "1")
    expect(chart.locator("rect.bar-abandoned[data-value]")).to_have_count(1)
    row = page.get_by_test_id("report-row")
    expect(row).to_have_count(1)
    expect(row.locator('[data-col="abandoned"]')).to_have_text("1")
    expect(row.locator('[data-col="survey_avg"]')).to_have_text("—")
    # Numbers in the page's locale: the y axis' top label is a Dutch number, the right axis percentages.
    expect(chart.locator("text[data-pct='1']")).to_have_text(re.compile(r"^100\s%$"))  # nl-BE: "100 %"
    page.get_by_test_id("report-chart-box").screenshot(path=str(artifacts / "report-chart.png"))
    page.screenshot(path=str(artifacts / "supervisor-reports.png"))
