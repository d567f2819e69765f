"""QA's journeys, written with the page objects of e2e/pages, against the suite's own demo or against a desk of
one's own (`make e2e URL=…`, see e2e/conftest.py): log in with the test card (a wrong PIN first), change state,
reload, log out; take a call from a SIP test caller with audio checked by content both ways, hang up, wrap-up.

Everything the desk is asked goes through the browser or SIP, as an agent and a citizen would: no database, no
files of the desk, so the same steps prove a test or acceptance desk."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from agent_desktop.sip.demo_caller import demo_call, probe
from e2e.citizen import AGENT_TONE, CALLER_TONE
from e2e.conftest import RunningDesk
from e2e.pages import DeskPage, LoginPage
from tests.helpers.loop_thread import LoopThread
from tests.sip.audio import has_tone, tone_pcm, write_wav

pytestmark = pytest.mark.e2e_remote


@pytest.fixture(scope="module")
def caller_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_wav(tmp_path_factory.mktemp("journey-audio") / "caller.wav", tone_pcm(CALLER_TONE, 20))


def test_login_journey(page: Page, demo_desk: RunningDesk) -> None:
    login = LoginPage(page, demo_desk.url).open().start()
    # One wrong PIN (a real card counts it; the right PIN next resets the counter).
    login.submit_pin("0000" if demo_desk.pin != "0000" else "1111")
    login.expect_refused("pin_incorrect")
    login.submit_pin(demo_desk.pin)
    desk = DeskPage(page, demo_desk.url)
    desk.expect_connected()
    expect(desk.agent_name).not_to_be_empty()

    desk.set_state("available")
    desk.set_state("break")
    page.reload()  # the desk, not the page, holds the state
    desk.expect_state("break")
    desk.expect_connected()
    desk.set_state("offline")

    desk.log_out()
    assert page.request.get(f"{demo_desk.url}/api/me").status == 401


def test_call_journey(page: Page, demo_desk: RunningDesk, loop: LoopThread, caller_wav: Path) -> None:
    target = demo_desk.sip_uri
    desk = LoginPage(page, demo_desk.url).log_in(demo_desk.pin)
    desk.ready_for_calls()

    local = loop.run(probe(target)).local_host  # also: the desk answers SIP at all, said in seconds
    heard: list[bytes] = []
    call = asyncio.run_coroutine_threadsafe(
        demo_call(target, wav=caller_wav, listen_host=local, max_seconds=90, ring_timeout_s=30, heard=heard),
        loop.loop,
    )
    try:
        expect(desk.phone.incoming).to_be_visible()
        desk.phone.answer()
        desk.expect_state("on_call")
        desk.phone.expect_hears(CALLER_TONE)
        page.wait_for_timeout(1000)  # let the caller hear the agent for a while
        desk.phone.hang_up()
        assert call.result(15) == "remote_bye"
    finally:
        call.cancel()
    desk.expect_state("wrap_up")
    spoken = b"".join(heard[25:])  # after the first half second
    assert has_tone(spoken, AGENT_TONE), f"the agent's {AGENT_TONE:g} Hz did not reach the caller"
