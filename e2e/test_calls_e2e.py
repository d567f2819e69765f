"""The softphone end to end, with real peers only: Debian's baresip calls the demo desk, Chromium (fake
microphone fed from a WAV with a 600 Hz tone) answers; baresip's 1 kHz tone is detected in the page with a
WebAudio analyser and the page's 600 Hz tone in what baresip recorded. Then DTMF, hold, hang-up, and the agent
calling baresip (auto-answer) through the desk's trunk. Runs in the loopback-only namespace of `make test`."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from e2e.citizen import AGENT_TONE, CALLER_TONE, CITIZEN, Citizen
from e2e.conftest import DEMO_QUEUE_NUMBER, call_rows, login


@pytest.fixture(scope="module")
def demo_trunk_uri(citizen: Citizen) -> str:
    return citizen.trunk_uri


def test_citizen_calls_agent_answers_audio_both_ways(page: Page, demo_desk, citizen: Citizen, artifacts):
    desk = login(page, demo_desk)
    desk.ready_for_calls()
    citizen.call(demo_desk)

    expect(desk.phone.incoming).to_be_visible()
    expect(desk.phone.caller).to_have_text(CITIZEN)
    page.screenshot(path=str(artifacts / "call-incoming.png"))
    desk.phone.answer()
    desk.expect_state("on_call")
    desk.phone.expect_hears(CALLER_TONE)

    desk.phone.press("5")
    citizen.wait_log("received event: '5' (end=1)")

    desk.phone.hold()
    desk.phone.expect_call_state("held")
    desk.phone.hold()
    desk.phone.expect_call_state("connected")
    expect(page.get_by_test_id("call-quality")).not_to_have_attribute("data-mos", "")
    page.screenshot(path=str(artifacts / "call-connected.png"))

    page.wait_for_timeout(1500)  # let baresip record the agent's tone after the unhold
    desk.phone.hang_up()
    desk.expect_state("wrap_up")
    citizen.wait_log("terminated")
    assert citizen.heard(AGENT_TONE)

    row = call_rows(demo_desk)[-1]
    assert (
        row["direction"] == "inbound"
        and row["from_number"] == CITIZEN
        and row["to_number"] == DEMO_QUEUE_NUMBER
    )
    assert row["answered"] and row["ended"] and row["end_cause"] == "local_bye"


def test_page_reload_mid_call_restores_the_call_and_its_audio(page: Page, demo_desk, citizen: Citizen):
    """The agent's page goes away mid-call (a reload, a crashed tab, a network blip): the call stays up on the
    SIP side, and the page that comes back gets it, with audio, on its new peer."""
    desk = login(page, demo_desk)
    desk.ready_for_calls()
    citizen.call(demo_desk)
    desk.phone.answer()
    page.wait_for_timeout(3000)
    page.reload()
    desk.phone.expect_call_state("connected")
    # The call timer carries on from the desk's clock instead of starting again at 00:00.
    expect(page.get_by_test_id("call-timer")).to_have_text(re.compile(r"00:0[3-9]"))
    desk.phone.expect_audio_connected()
    desk.phone.expect_hears(CALLER_TONE)
    desk.phone.hang_up()
    assert call_rows(demo_desk)[-1]["end_cause"] == "local_bye"


def test_caller_hanging_up_while_ringing_clears_the_page(page: Page, demo_desk, citizen: Citizen):
    desk = login(page, demo_desk)
    desk.ready_for_calls()
    citizen.call(demo_desk)
    expect(desk.phone.incoming).to_be_visible()
    citizen.hang_up()
    expect(desk.phone.incoming).to_be_hidden()
    desk.expect_state("available")
    assert call_rows(demo_desk)[-1]["end_cause"] == "abandoned"  # §9: the caller left before an answer


def test_agent_calls_out_and_the_citizen_hangs_up(page: Page, demo_desk, citizen: Citizen):
    desk = login(page, demo_desk)
    desk.ready_for_calls()
    desk.phone.dial("0499 12 34 56")
    desk.phone.expect_call_state("connected")
    # On a call, whichever way it goes (§11): `outbound` is the state of working call orders.
    desk.expect_state("on_call")
    desk.phone.expect_hears(CALLER_TONE)
    citizen.hang_up()
    desk.phone.expect_call_state("ended")
    desk.expect_state("wrap_up")
    row = call_rows(demo_desk)[-1]
    assert row["direction"] == "outbound" and row["to_number"] == CITIZEN
    assert row["end_cause"] == "remote_bye" and row["answered"]
