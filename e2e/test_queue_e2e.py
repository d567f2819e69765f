"""The inbound queue in Chromium against the demo desk (DESIGN.md §9, issue 11), with real peers only: two agents
(the demo's card and a second card enrolled with the skill `info`), three callers (our demo caller, a 1 kHz tone
each) ringing the `algemeen` queue while both agents are still offline. Each panel counts the callers waiting,
3 → 2 → 1 as the agents take the oldest callers first, then 0 when the last one hangs up (abandoned). During a call
an agent books a callback through the panel's form (the desk's POST /api/callbacks); with nobody waiting it is
offered to a free agent like a call: the first agent lets it go, the second takes it and the desk dials it through
the trunk, where baresip (the citizen) answers. Audio is checked by its content on every call that connects; the
panel with a queue and the callback offer are saved as screenshots at 1280×720."""

from __future__ import annotations

import asyncio
import json
import re
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from agent_desktop.sip.demo_caller import demo_call
from e2e.citizen import AGENT_TONE, CALLER_TONE, CITIZEN, Citizen
from e2e.conftest import RunningDesk, agent_page, call_rows, enrol_agent, log_in_with_card, login
from e2e.pages import DeskPage
from tests.helpers.loop_thread import LoopThread
from tests.sip.audio import has_tone, tone_pcm, write_wav

pytestmark = pytest.mark.timeout(240)

QUEUE = "algemeen"  # the demo queue the callers ring (e2e/conftest.py DEMO_QUEUE_NUMBER)
CALLERS = ("0470000001", "0470000002", "0470000003")


@pytest.fixture(scope="module")
def demo_trunk_uri(citizen: Citizen) -> str:
    return citizen.trunk_uri


@pytest.fixture(scope="module")
def caller_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_wav(tmp_path_factory.mktemp("callers") / "caller.wav", tone_pcm(CALLER_TONE, 20))


def _ring(loop: LoopThread, desk: RunningDesk, wav: Path, number: str, heard: list[bytes]) -> Future:
    """One demo caller on the queue; its future gives the call's end cause (cancel it to hang up)."""
    return asyncio.run_coroutine_threadsafe(
        demo_call(desk.sip_uri, wav=wav, caller_id=number, max_seconds=180, ring_timeout_s=30, heard=heard),
        loop.loop,
    )


def _frames_seen(page: Page) -> list[dict]:
    """Every message the desk sends the page over /ws, from now on."""
    seen: list[dict] = []

    def watch(ws) -> None:
        if ws.url.endswith("/ws"):
            ws.on("framereceived", lambda data: seen.append(json.loads(data)))

    page.on("websocket", watch)
    return seen


def _take_the_call(agent: DeskPage, caller: str, waiting_after: int, others: list[DeskPage]) -> None:
    """The agent becomes available; the desk rings it with the oldest caller; the agent answers and hears the
    caller; every panel counts one caller fewer."""
    agent.set_state("available")
    expect(agent.phone.incoming).to_be_visible()
    expect(agent.phone.caller).to_have_text(caller)
    agent.phone.answer()
    agent.expect_state("on_call")
    for panel in (agent, *others):
        panel.queue.expect_waiting(QUEUE, waiting_after)
    agent.phone.expect_hears(CALLER_TONE)


def _wrap_up(agent: DeskPage) -> None:
    agent.wrapup.fill("Vraag beantwoord", "answered")
    agent.wrapup.save()
    agent.expect_state("available")


def _brussels(utc: str) -> str:
    """An ISO-8601 UTC time as nl-BE writes it in Brussels: 07/12/2026, 10:15."""
    at = datetime.fromisoformat(utc.replace("Z", "+00:00")).astimezone(ZoneInfo("Europe/Brussels"))
    return at.strftime("%d/%m/%Y, %H:%M")


def _heard_the_agent(heard: list[bytes]) -> bool:
    """The caller heard the agent's tone in its last two seconds before the end (before that: music)."""
    return has_tone(b"".join(heard[-110:-10]), AGENT_TONE)


def test_two_agents_three_callers_and_a_callback(
    chromium, demo_desk: RunningDesk, agent_wav: Path, caller_wav: Path, citizen: Citizen, loop, artifacts
):
    second = enrol_agent(demo_desk, "Bert", 41, ["info"])
    page_a, page_b = agent_page(chromium, agent_wav), agent_page(chromium, agent_wav)
    calls: list[Future] = []
    try:
        a = login(page_a, demo_desk)
        frames_b = _frames_seen(page_b)
        b = log_in_with_card(page_b, demo_desk, *second)
        for agent in (a, b):
            agent.phone.expect_audio_connected()
            agent.expect_state("offline")  # not yet available: the callers wait
            agent.queue.expect_waiting(QUEUE, 0)
        # Each agent sees the queues whose skills it has: the demo agent both, the second one `algemeen` only.
        expect(a.queue.row("vaccinatie")).to_have_attribute("data-waiting", "0")
        expect(b.queue.row("vaccinatie")).to_have_count(0)

        heard: dict[str, list[bytes]] = {n: [] for n in CALLERS}
        for n, number in enumerate(CALLERS, start=1):  # one after the other: their order in the line is known
            calls.append(_ring(loop, demo_desk, caller_wav, number, heard[number]))
            a.queue.expect_waiting(QUEUE, n)
        b.queue.expect_waiting(QUEUE, 3)
        expect(a.queue.stats).to_have_attribute("data-waiting", "3")
        longest = a.queue.row(QUEUE).locator("td.longest")
        expect(longest).to_have_text(re.compile(r"^0:0[1-9]$"))  # counts on by the second between messages
        expect(a.queue.row("vaccinatie").locator("td.longest")).to_have_text("–")
        expect(a.queue.row(QUEUE).locator("th")).to_have_text("Algemeen")
        a.queue.stats.scroll_into_view_if_needed()
        page_a.screenshot(path=str(artifacts / "queue-panel-waiting-nl.png"))

        # The agents take the oldest callers first: 3 → 2 → 1.
        _take_the_call(a, CALLERS[0], 2, [b])
        _take_the_call(b, CALLERS[1], 1, [a])

        # During the call the first agent books a callback; the call ends while it types: the form stays.
        a.queue.open_booking()
        expect(a.queue.field("number")).to_have_value(CALLERS[0])
        expect(a.queue.field("queue")).to_have_value(QUEUE)
        a.queue.field("note").fill("Vraagt naar de uitslag van zijn test")
        a.phone.hang_up()
        assert calls[0].result(15) == "remote_bye"
        assert _heard_the_agent(heard[CALLERS[0]]), "the first caller did not hear the agent"
        expect(a.queue.form).to_be_visible()
        a.queue.field("number").fill("bel mij")
        a.queue.submit_booking()
        expect(a.queue.field("error")).to_contain_text("Geef een telefoonnummer in")
        a.queue.field("number").fill("0499 12 34 56")  # the citizen behind the trunk
        a.queue.submit_booking()
        status = a.queue.field("status")
        expect(status).to_have_text(
            re.compile(rf"^Terugbelafspraak \d+ geboekt: {CITIZEN}, wachtrij Algemeen$")
        )
        expect(a.queue.form).to_be_hidden()
        callback_id = int(status.get_attribute("data-callback-id"))

        # Someone still waits: no callback is offered. The last caller hangs up: abandoned, nobody waits.
        expect(a.queue.row(QUEUE)).to_have_attribute("data-callbacks", "1")
        calls[2].cancel()
        for agent in (a, b):
            agent.queue.expect_waiting(QUEUE, 0)
        expect(longest).to_have_text("–")
        rows = {r["from_number"]: r for r in call_rows(demo_desk, within_s=5) if r["direction"] == "inbound"}
        assert rows[CALLERS[2]]["end_cause"] == "abandoned" and rows[CALLERS[2]]["queued"], rows[CALLERS[2]]

        # The first agent wraps up and is free: the callback is offered like a call; it lets it go.
        _wrap_up(a)
        offer = a.queue.offer
        expect(offer).to_be_visible()
        expect(offer).to_have_attribute("data-callback-id", str(callback_id))
        expect(offer).to_have_attribute("data-overdue", "0")
        expect(a.page.get_by_test_id("callback-number")).to_have_text(CITIZEN)
        expect(a.page.get_by_test_id("callback-queue")).to_have_text("Wachtrij Algemeen")
        # Its times in the agent's locale and time zone, 24-hour (the desk sends UTC).
        offered = a.page.request.get(f"{demo_desk.url}/api/callbacks?state=offered").json()
        assert [c["id"] for c in offered] == [callback_id], offered
        expect(a.page.get_by_test_id("callback-times")).to_have_text(
            f"Gevraagd {_brussels(offered[0]['requested_at'])} · uiterlijk {_brussels(offered[0]['due'])}"
        )
        offer.scroll_into_view_if_needed()
        page_a.screenshot(path=str(artifacts / "queue-callback-offer-nl.png"))
        a.queue.reject()

        # The second agent hangs up and wraps up: the callback goes to it (the first let it go), it takes it and
        # the desk dials the citizen through the trunk.
        b.phone.hang_up()
        assert calls[1].result(15) == "remote_bye"
        assert _heard_the_agent(heard[CALLERS[1]]), "the second caller did not hear the agent"
        _wrap_up(b)
        expect(b.queue.offer).to_have_attribute("data-callback-id", str(callback_id))
        expect(a.queue.offer).to_be_hidden()
        b.queue.accept()
        expect(b.queue.offer).to_be_hidden()
        b.phone.expect_call_state("connected")  # baresip answered
        dialling = [m for m in frames_b if m["type"] == "call.state" and m.get("state") == "dialing"]
        assert dialling and dialling[-1].get("callback_id") == callback_id, dialling
        b.expect_state("on_call")  # any call is on_call (§11)
        b.phone.expect_hears(CALLER_TONE)
        # A callback booked during the dialled callback belongs to the callback's queue.
        b.queue.open_booking()
        expect(b.queue.field("queue")).to_have_value(QUEUE)
        b.page.get_by_test_id("callback-book-cancel").click()
        b.page.wait_for_timeout(1000)  # let baresip record the agent's tone
        b.phone.hang_up()
        citizen.wait_log("terminated")
        assert citizen.heard(AGENT_TONE)

        done = b.page.request.get(f"{demo_desk.url}/api/callbacks?state=done&queue={QUEUE}").json()
        assert [c["id"] for c in done] == [callback_id], done
        dialled = call_rows(demo_desk)[-1]
        assert dialled["direction"] == "outbound" and dialled["queue"] == QUEUE and dialled["answered"], (
            dialled
        )

        # The panel follows a language switch, figures and the booking's line alike.
        a.switch_language("fr")
        expect(a.queue.row(QUEUE).locator("th")).to_have_text("Général")
        expect(a.queue.stats.locator("thead")).to_contain_text("En attente")
        expect(status).to_have_text(f"Rappel {callback_id} enregistré : {CITIZEN}, file Général")
    finally:
        for call in calls:
            call.cancel()
        page_a.context.close()
        page_b.context.close()
