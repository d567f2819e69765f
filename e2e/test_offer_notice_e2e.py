"""Why a call offer stopped ringing, told to the agent in the phone panel (CONTRACT.md): the caller hung up before
the answer, or the offer rang out and goes to a colleague. Shown in the agent's language (nl, fr, en, following a
switch), for a few seconds, blocking nothing. Real peers only: baresip is the citizen calling the demo desk,
Chromium is the agent's page."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from agent_desktop.app import STATIC
from e2e.citizen import Citizen
from e2e.conftest import call_rows, login

pytestmark = pytest.mark.timeout(120)
TEXTS = {lang: json.loads((STATIC / "i18n" / f"{lang}.json").read_text()) for lang in ("nl", "fr", "en")}


@pytest.fixture(scope="module")
def demo_trunk_uri(citizen: Citizen) -> str:
    return citizen.trunk_uri


@pytest.fixture(scope="module")
def demo_extra_config() -> str:
    return "[acd]\noffer_timeout_s = 4\n"  # an offer rings out in seconds, not the demo's 20


def test_a_caller_hanging_up_while_ringing_tells_the_agent_why_in_their_language(
    page: Page, demo_desk, citizen: Citizen, artifacts
):
    desk = login(page, demo_desk)
    desk.ready_for_calls()
    desk.switch_language("en")
    citizen.call(demo_desk)
    expect(desk.phone.incoming).to_be_visible()
    citizen.hang_up()
    expect(desk.phone.incoming).to_be_hidden()
    key = "phone.withdrawn.abandoned"
    desk.phone.expect_notice(key)
    expect(desk.phone.notice).to_have_text(TEXTS["en"][key])
    expect(desk.phone.notice).to_have_attribute("role", "status")  # read out, never a dialog to dismiss
    page.screenshot(path=str(artifacts / "offer-notice.png"))
    for lang in ("fr", "nl"):
        desk.switch_language(lang)
        expect(desk.phone.notice).to_have_text(TEXTS[lang][key])
    # Nothing waits on it: the agent can dial at once, and it goes by itself.
    expect(page.get_by_test_id("dial-input")).to_be_editable()
    desk.expect_state("available")
    expect(desk.phone.notice).to_be_hidden(timeout=12_000)
    assert call_rows(demo_desk)[-1]["end_cause"] == "abandoned"


def test_an_offer_rung_out_says_it_goes_to_a_colleague(page: Page, demo_desk, citizen: Citizen):
    desk = login(page, demo_desk)
    desk.ready_for_calls()
    desk.switch_language("fr")
    citizen.call(demo_desk)
    expect(desk.phone.incoming).to_be_visible()
    key = "phone.withdrawn.no_answer"
    desk.phone.expect_notice(key)  # after `offer_timeout_s` without an answer
    expect(desk.phone.notice).to_have_text(TEXTS["fr"][key])
    expect(desk.phone.incoming).to_be_hidden()
    desk.expect_state("break")  # the desk's autopause after a rung-out offer (§9)
    citizen.hang_up()
