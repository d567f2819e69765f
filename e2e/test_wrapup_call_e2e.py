"""A call's wrap-up in Chromium at 1280×720 against the demo desk, with Debian's baresip as the citizen: the
offered call names its queue and the caller's wait; during the call the wrap-up of that call cannot be saved
(the button waits for the hang-up, and the desk refuses a submit with 409 `call_active`); after the hang-up it
is saved and the agent is available again. Logging out with an open wrap-up asks first, in the agent's language;
a wrap-up left open comes back at the next login, where saving it leaves the state as the agent chose."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import DEMO_QUEUE_NUMBER, RunningDesk, login
from tests.helpers.loop_thread import LoopThread
from tests.helpers.net import free_port
from tests.sip.audio import tone_pcm, write_wav
from tests.sip.peers import BARESIP, Baresip

pytestmark = pytest.mark.skipif(BARESIP is None, reason="baresip is not installed (make test installs it)")

CITIZEN = "0499765432"
SUBMIT_IN_PAGE = """async (id) => {
  const response = await fetch(`/api/wrapups/${id}/submit`, {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({notes: "Vraag over de vaccinatiebon", outcome: "answered"}),
  });
  return {status: response.status, body: await response.json()};
}"""


@pytest.fixture(scope="module")
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture(scope="module")
def citizen(tmp_path_factory: pytest.TempPathFactory, loop: LoopThread) -> Iterator[Baresip]:
    base = tmp_path_factory.mktemp("citizen")
    peer = Baresip(
        base / "home",
        free_port(),
        free_port(),
        free_port() // 2 * 2,
        wav=write_wav(base / "caller.wav", tone_pcm(1000.0, 20)),
        account=f"<sip:{CITIZEN}@127.0.0.1>;regint=0;audio_codecs=PCMU,PCMA",
    )
    loop.run(peer.start())
    yield peer
    loop.run(peer.stop())


@pytest.fixture
def page(chromium, demo_desk: RunningDesk) -> Iterator[Page]:
    context = chromium().new_context(viewport={"width": 1280, "height": 720}, locale="nl-BE")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _available(page: Page, desk: RunningDesk) -> None:
    login(page, desk)
    expect(page.get_by_test_id("rtc-status")).to_have_attribute("data-status", "connected")
    expect(page.locator("body[data-wrapup-ready='1']")).to_be_attached()
    page.get_by_test_id("agent-state").select_option("available")
    expect(page.get_by_test_id("agent-state")).to_have_attribute("data-state", "available")


def _sessions_closed(citizen: Baresip) -> int:
    return citizen.log().count("session closed")


def _wait_session_closed(citizen: Baresip, before: int, within_s: float = 25) -> None:
    """baresip's log says one more call is over (its log is one file for the whole module)."""
    deadline = time.monotonic() + within_s
    while _sessions_closed(citizen) <= before:
        assert time.monotonic() < deadline, citizen.log()[-2000:]
        time.sleep(0.05)


def _answer_a_call(page: Page, desk: RunningDesk, citizen: Baresip, loop: LoopThread) -> str:
    """The citizen calls, the agent answers; the id of the call's contact in the wrap-up panel."""
    loop.run(citizen.command("dial", f"sip:{DEMO_QUEUE_NUMBER}@127.0.0.1:{desk.sip_port}"))
    expect(page.get_by_test_id("call-incoming")).to_be_visible()
    page.get_by_test_id("call-answer").click()
    expect(page.get_by_test_id("call-status")).to_have_attribute("data-state", "connected")
    contact = page.get_by_test_id("wrapup-contact")
    expect(contact).to_contain_text(CITIZEN)
    return contact.get_attribute("data-contact-id")


def _hang_up(page: Page, citizen: Baresip) -> None:
    before = _sessions_closed(citizen)
    page.get_by_test_id("call-hangup").click()
    expect(page.get_by_test_id("call-status")).to_have_attribute("data-state", "ended")
    expect(page.get_by_test_id("agent-state")).to_have_attribute("data-state", "wrap_up")
    _wait_session_closed(citizen, before)


def test_offered_call_names_its_queue_and_the_wait(page: Page, demo_desk, citizen, loop, artifacts):
    _available(page, demo_desk)
    before = _sessions_closed(citizen)
    loop.run(citizen.command("dial", f"sip:{DEMO_QUEUE_NUMBER}@127.0.0.1:{demo_desk.sip_port}"))
    meta = page.locator("#incoming-meta")
    expect(meta).to_have_attribute("data-queue", "algemeen")
    expect(meta).to_contain_text("Wachtrij Algemeen")
    page.wait_for_timeout(2200)
    # The wait goes on while it rings, in words of the agent's language.
    expect(meta).to_have_text(re.compile(r"wacht al [2-9] seconden$"))
    assert int(meta.get_attribute("data-waited")) >= 2
    page.screenshot(path=str(artifacts / "call-offered-queue-nl.png"))
    page.get_by_test_id("call-reject").click()
    expect(page.get_by_test_id("call-incoming")).to_be_hidden()
    # No other agent here: the caller waits in the queue (§9: never turned away while staffed) until it hangs up.
    assert _sessions_closed(citizen) == before, "the desk turned the caller away"
    ended = citizen.log().count("terminate call")
    loop.run(citizen.command("hangup"))
    deadline = time.monotonic() + 10
    while citizen.log().count("terminate call") <= ended:
        assert time.monotonic() < deadline, citizen.log()[-2000:]
        time.sleep(0.05)


def test_wrap_up_waits_for_the_hang_up_then_is_saved(page: Page, demo_desk, citizen, loop, artifacts):
    _available(page, demo_desk)
    contact_id = _answer_a_call(page, demo_desk, citizen, loop)
    save = page.get_by_test_id("wrapup-save")
    page.get_by_test_id("wrapup-notes").fill("Vraag over de vaccinatiebon")
    page.get_by_test_id("wrapup-outcome").select_option("answered")
    # During the call: the button waits, and says why; the desk itself refuses too.
    expect(save).to_be_disabled()
    expect(page.get_by_test_id("wrapup-save-hint")).to_contain_text("zodra het gesprek beëindigd is")
    page.screenshot(path=str(artifacts / "wrapup-during-call-nl.png"))
    refused = page.evaluate(SUBMIT_IN_PAGE, contact_id)
    assert refused["status"] == 409 and refused["body"]["error"]["code"] == "call_active", refused
    expect(page.get_by_test_id("agent-state")).to_have_attribute("data-state", "on_call")
    expect(page.get_by_test_id("wrapup-contact")).to_have_attribute("data-contact-id", contact_id)

    _hang_up(page, citizen)
    expect(save).to_be_enabled()
    expect(save).to_have_text("Opslaan en beschikbaar")
    expect(page.get_by_test_id("wrapup-save-hint")).to_be_hidden()
    expect(page.get_by_test_id("wrapup-contact")).to_have_attribute("data-contact-id", contact_id)

    # Logging out now asks first, in Dutch; "back" keeps the agent on the desk.
    page.get_by_test_id("logout").click()
    dialog = page.get_by_test_id("confirm-dialog")
    expect(dialog).to_be_visible()
    expect(page.get_by_test_id("confirm-text")).to_contain_text(
        f"Contact #{contact_id} is nog niet afgehandeld"
    )
    page.screenshot(path=str(artifacts / "logout-confirm-nl.png"))
    page.get_by_test_id("confirm-no").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_test_id("desk-connection")).to_have_attribute("data-status", "open")

    save.click()
    expect(page.get_by_test_id("wrapup-status")).to_have_attribute("data-submitted", contact_id)
    expect(page.get_by_test_id("agent-state")).to_have_attribute("data-state", "available")
    expect(page.get_by_test_id("wrapup-contact")).not_to_have_attribute("data-contact-id", contact_id)


def test_open_wrap_up_survives_a_logout_and_saving_it_keeps_the_state(page: Page, demo_desk, citizen, loop):
    _available(page, demo_desk)
    contact_id = _answer_a_call(page, demo_desk, citizen, loop)
    _hang_up(page, citizen)
    page.get_by_test_id("wrapup-notes").fill("Wil teruggebeld worden")
    page.get_by_test_id("wrapup-outcome").select_option("answered")
    page.get_by_test_id("logout").click()
    page.get_by_test_id("confirm-yes").click()
    expect(page.get_by_test_id("login-eid")).to_be_visible()

    login(page, demo_desk)
    expect(page.locator("body[data-wrapup-ready='1']")).to_be_attached()
    # Back after a login: offline (nobody gets a call before choosing available), the contact still open, and the
    # button says it only saves.
    expect(page.get_by_test_id("agent-state")).to_have_attribute("data-state", "offline")
    expect(page.get_by_test_id("wrapup-contact")).to_have_attribute("data-contact-id", contact_id)
    expect(page.get_by_test_id("wrapup-notes")).to_have_value("Wil teruggebeld worden")
    save = page.get_by_test_id("wrapup-save")
    expect(save).to_have_text("Opslaan")
    expect(page.get_by_test_id("wrapup-save-hint")).to_contain_text("eerder gesprek")
    save.click()
    expect(page.get_by_test_id("wrapup-status")).to_have_attribute("data-submitted", contact_id)
    expect(page.get_by_test_id("agent-state")).to_have_attribute("data-state", "offline")
