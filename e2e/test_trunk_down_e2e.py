"""A trunk outage as the people at the desk see it (CONTRACT.md "Call orders", trunk watch), in Chromium against
the demo desk whose trunk's name does not resolve (`sip:trunk.invalid`) and which calls the trunk down after one
such failure. A second agent's typed call fails; the agent holding a call order loses the offer and is told why
in the offer notice (nl/fr/en), the orders panel says the line is down instead of "no order" (also after a
reload: `hello.outbound_paused`), and the supervisor's wall names the reason in words, not the desk's code.
Nothing is cut off at 1280×720."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from agent_desktop.app import STATIC
from e2e.conftest import agent_page, enrol_agent, log_in_with_card, login
from e2e.pages import DeskPage
from e2e.pages.supervisor import SupervisorPages

pytestmark = pytest.mark.timeout(180)
TEXTS = {lang: json.loads((STATIC / "i18n" / f"{lang}.json").read_text()) for lang in ("nl", "fr", "en")}
NOTICE = "phone.withdrawn.trunk_down"
# The wall's alert in each language: the reason said of the trunk (`unresolved`), never the code.
WALL_REASON = {
    "en": "the trunk's address does not resolve",
    "fr": "l'adresse du trunk est introuvable",
    "nl": "het adres van de trunk is onbekend",
}
WALL_START = {
    "en": "Outbound calls failing since ",
    "fr": "Les appels sortants échouent depuis ",
    "nl": "Uitgaande oproepen mislukken sinds ",
}


@pytest.fixture(scope="module")
def demo_trunk_uri() -> str:
    return "sip:trunk.invalid"  # RFC 2606: never resolves, so every outbound call fails `unresolved` at once


@pytest.fixture(scope="module")
def demo_extra_config() -> str:
    # One failure puts the trunk down; the probe (which fails too) waits long enough to keep it down meanwhile.
    return "[acd]\ntrunk_down_after = 1\ntrunk_probe_s = 600\n"


def test_an_outage_tells_the_agent_holding_an_order_and_the_wall_says_why(
    page: Page, chromium, agent_wav, demo_desk, artifacts
):
    desk = login(page, demo_desk)
    answer = page.request.post(
        f"{demo_desk.url}/api/call-lists/storing-e2e/import?kind=reserve",
        data="number,name\n0471 00 00 51,Els Storing\n",
        headers={"Content-Type": "text/csv"},
    )
    assert answer.ok, answer.text()
    desk.phone.expect_audio_connected()
    desk.set_state("outbound")
    expect(desk.phone.order_offer).to_be_visible()
    expect(desk.phone.order_idle).to_be_hidden()

    # A colleague's typed call fails on the network: the trunk is down, the offer is taken back.
    other = agent_page(chromium, agent_wav)
    try:
        colleague = log_in_with_card(other, demo_desk, *enrol_agent(demo_desk, "Storm", 43, []))
        colleague.phone.expect_audio_connected()
        colleague.phone.dial("0471000052")
        expect(colleague.phone.status).to_have_attribute("data-failure", "unresolved")
    finally:
        other.context.close()

    expect(desk.phone.order_offer).to_be_hidden()
    desk.phone.expect_notice(NOTICE)
    expect(desk.phone.notice).to_have_text(TEXTS["nl"][NOTICE])
    expect(desk.phone.order_idle).to_have_attribute("data-paused", "1")
    expect(desk.phone.order_idle).to_have_text(TEXTS["nl"]["order.paused"])
    for lang in ("fr", "en"):
        desk.switch_language(lang)
        expect(desk.phone.notice).to_have_text(TEXTS[lang][NOTICE])
        expect(desk.phone.order_idle).to_have_text(TEXTS[lang]["order.paused"])
        for testid in ("offer-notice", "order-idle"):
            assert desk.phone.cut_text_in(testid) == [], (lang, testid)
    page.screenshot(path=str(artifacts / "trunk-down-desk.png"))
    desk.expect_state("outbound")  # the agent's choice stays; only the offers stop

    # A page loaded while it is down knows at once (`hello.outbound_paused`).
    page.reload()
    DeskPage(page, demo_desk.url).expect_connected()
    expect(desk.phone.order_idle).to_have_attribute("data-paused", "1")
    expect(desk.phone.order_idle).to_have_text(TEXTS["en"]["order.paused"])

    # The wall: the alert with its reason in the supervisor's language.
    sup = SupervisorPages(page, demo_desk.url)
    sup.open("/supervisor")
    alert = page.locator("[data-testid='wall-alert'][data-kind='outbound_failing']")
    for lang in ("en", "fr", "nl"):
        sup.switch_language(lang)
        expect(alert).to_contain_text(WALL_REASON[lang])
        text = alert.inner_text()
        assert text.startswith(WALL_START[lang]) and "unresolved" not in text, text
        assert sup.cut_off() == [], lang
    page.screenshot(path=str(artifacts / "trunk-down-wall.png"))
