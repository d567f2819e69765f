"""A call's wrap-up in Chromium at 1280×720 against the demo desk, with Debian's baresip as the citizen: the
offered call names its queue and the caller's wait; during the call the wrap-up of that call cannot be saved
(the button waits for the hang-up, and the desk refuses a submit with 409 `call_active`); after the hang-up it
is saved and the agent is available again. Logging out with an open wrap-up asks first, in the agent's language;
a wrap-up left open comes back at the next login, where saving it leaves the state as the agent chose."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from e2e.citizen import CITIZEN, Citizen
from e2e.conftest import RunningDesk, login
from e2e.pages import PhonePanel

SUBMIT_IN_PAGE = """async (id) => {
  const response = await fetch(`/api/wrapups/${id}/submit`, {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({notes: "Vraag over de vaccinatiebon", outcome: "answered"}),
  });
  return {status: response.status, body: await response.json()};
}"""


def _available(page: Page, desk: RunningDesk) -> None:
    desk_page = login(page, desk)
    desk_page.phone.expect_audio_connected()
    expect(page.locator("body[data-wrapup-ready='1']")).to_be_attached()
    desk_page.set_state("available")


def _answer_a_call(page: Page, desk: RunningDesk, citizen: Citizen) -> str:
    """The citizen calls, the agent answers; the id of the call's contact in the wrap-up panel."""
    citizen.call(desk)
    PhonePanel(page).answer()
    contact = page.get_by_test_id("wrapup-contact")
    expect(contact).to_contain_text(CITIZEN)
    return contact.get_attribute("data-contact-id")


def _hang_up(page: Page, citizen: Citizen) -> None:
    before = citizen.count("session closed")
    PhonePanel(page).hang_up()
    expect(page.get_by_test_id("agent-state")).to_have_attribute("data-state", "wrap_up")
    citizen.wait_count_above("session closed", before)


def test_offered_call_names_its_queue_and_the_wait(page: Page, demo_desk, citizen: Citizen, artifacts):
    _available(page, demo_desk)
    before = citizen.count("session closed")
    citizen.call(demo_desk)
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
    assert citizen.count("session closed") == before, "the desk turned the caller away"
    ended = citizen.count("terminate call")
    citizen.hang_up()
    citizen.wait_count_above("terminate call", ended, within_s=10)


def test_wrap_up_waits_for_the_hang_up_then_is_saved(page: Page, demo_desk, citizen: Citizen, artifacts):
    _available(page, demo_desk)
    contact_id = _answer_a_call(page, demo_desk, citizen)
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


def test_open_wrap_up_survives_a_logout_and_saving_it_keeps_the_state(
    page: Page, demo_desk, citizen: Citizen
):
    _available(page, demo_desk)
    contact_id = _answer_a_call(page, demo_desk, citizen)
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
