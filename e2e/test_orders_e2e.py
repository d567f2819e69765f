"""Call orders end to end (DESIGN.md §11, preview dialing) in Chromium against the demo desk: a reserve list
imported with `agent-desktop orders import`, an agent who chooses `outbound` works three orders — the first
citizen answers (reached, recorded in the wrap-up), the second does not (the network's 480: recorded by the call
itself, the agent goes on with one click), the third answers and asks never to be called again (do-not-call). The
trunk is our SIP user agent on loopback answering per number. Screenshots of each step in the artifacts folder."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from agent_desktop.sip.endpoint import EndpointConfig, SipEndpoint
from e2e.conftest import DEMO_QUEUE_NUMBER, login
from e2e.pages.phone import PhonePanel
from tests.helpers.loop_thread import LoopThread

pytestmark = pytest.mark.timeout(180)

BRUSSELS = ZoneInfo("Europe/Brussels")  # the demo centre's clock
REACHED, NO_ANSWER, DO_NOT_CALL = "+32471000011", "+32471000012", "+32471000013"
CSV = (
    "number,name,note,slot\n"
    "0471 00 00 11,An Peeters,Vaccin om 10u vrij,10:00\n"
    "0471 00 00 12,Bart Janssens,,10:00\n"
    "0471 00 00 13,Chris Maes,,10:00\n"
)


class Trunk:
    """The trunk's far side: answers the reached and do-not-call numbers, 480 for the one who does not."""

    def __init__(self) -> None:
        self.endpoint = SipEndpoint(
            EndpointConfig("127.0.0.1", 0, rtp_ports=(47800, 47899), caller_id="citizen"), self._incoming
        )
        self.called: list[str] = []

    async def _incoming(self, call) -> None:
        self.called.append(call.local_number)
        if call.local_number == NO_ANSWER:
            await call.reject(480)  # what a mobile network answers when nobody picks up
            return
        await call.ring()
        await asyncio.sleep(0.3)
        await call.answer()


@pytest.fixture(scope="module")
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture(scope="module")
def trunk(loop: LoopThread) -> Iterator[Trunk]:
    peer = Trunk()
    loop.run(peer.endpoint.start())
    yield peer
    loop.run(peer.endpoint.stop())


@pytest.fixture(scope="module")
def demo_trunk_uri(trunk: Trunk) -> str:
    return f"sip:127.0.0.1:{trunk.endpoint.port}"


@pytest.fixture
def page(chromium, demo_desk) -> Iterator[Page]:
    context = chromium().new_context(viewport={"width": 1280, "height": 720}, locale="nl-BE")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _orders(desk) -> dict[str, dict]:
    with contextlib.closing(sqlite3.connect(desk.database)) as db:
        db.row_factory = sqlite3.Row
        return {r["number"]: dict(r) for r in db.execute("SELECT * FROM call_orders WHERE list = 'reserve'")}


def _wrap_up(page: Page, order_outcome: str) -> None:
    page.get_by_test_id("wrapup-notes").fill("Belopdracht reservelijst")
    page.get_by_test_id("wrapup-outcome").select_option("answered")
    expect(page.get_by_test_id("wrapup-order")).to_be_visible()
    page.get_by_test_id("wrapup-order-outcome").select_option(order_outcome)
    page.get_by_test_id("wrapup-save").click()


def test_agent_works_three_orders_reached_no_answer_do_not_call(
    page: Page, demo_desk, trunk, loop, artifacts, tmp_path
):
    csv = tmp_path / "reserve.csv"
    csv.write_text(CSV)
    imported = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent_desktop.cli",
            "orders",
            "import",
            str(csv),
            "--list",
            "reserve",
            "--kind",
            "reserve",
            "--config",
            str(demo_desk.local_config),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert imported.returncode == 0, imported.stderr
    login(page, demo_desk)
    expect(page.get_by_test_id("rtc-status")).to_have_attribute("data-status", "connected")
    page.get_by_test_id("agent-state").select_option("outbound")
    state = page.get_by_test_id("agent-state")
    expect(state).to_have_attribute("data-state", "outbound")

    # 1. Reached: preview, call, talk, wrap-up with the attempt's outcome.
    offer = page.get_by_test_id("order-offer")
    expect(offer).to_be_visible()
    expect(page.get_by_test_id("order-name")).to_have_text("An Peeters")
    expect(page.get_by_test_id("order-number")).to_have_text(REACHED)
    expect(page.get_by_test_id("order-note")).to_have_text("Vaccin om 10u vrij")
    expect(page.get_by_test_id("order-meta")).to_have_text("Lijst reserve · poging 1")
    expect(page.get_by_test_id("order-fields")).to_contain_text("10:00")
    page.screenshot(path=str(artifacts / "orders-1-offered.png"))
    page.get_by_test_id("order-call").click()
    expect(page.get_by_test_id("call-status")).to_have_attribute("data-state", "connected")
    expect(state).to_have_attribute("data-state", "on_call")
    expect(offer).to_be_hidden()
    page.get_by_test_id("call-hangup").click()
    expect(state).to_have_attribute("data-state", "wrap_up")
    expect(page.get_by_test_id("wrapup-order-name")).to_contain_text("An Peeters")
    # The submit returns the agent to `outbound`, and the button says so (not "… en beschikbaar").
    expect(page.get_by_test_id("wrapup-save")).to_have_text("Opslaan, verder met belopdrachten")
    page.get_by_test_id("wrapup-notes").fill("Komt om 10u")
    page.screenshot(path=str(artifacts / "orders-1-wrapup.png"))
    _wrap_up(page, "reached")
    expect(state).to_have_attribute("data-state", "outbound")

    # 2. No answer: the call records it; one click goes on.
    expect(page.get_by_test_id("order-name")).to_have_text("Bart Janssens")
    page.get_by_test_id("order-call").click()
    status = page.get_by_test_id("order-status")
    expect(status).to_have_text("Geregistreerd: Geen antwoord.")
    expect(state).to_have_attribute("data-state", "wrap_up")
    page.screenshot(path=str(artifacts / "orders-2-no-answer.png"))
    page.get_by_test_id("order-next").click()
    expect(state).to_have_attribute("data-state", "outbound")

    # 3. Do not call: reached, and the citizen wants no more calls.
    expect(page.get_by_test_id("order-name")).to_have_text("Chris Maes")
    page.get_by_test_id("order-call").click()
    expect(page.get_by_test_id("call-status")).to_have_attribute("data-state", "connected")
    page.get_by_test_id("call-hangup").click()
    expect(state).to_have_attribute("data-state", "wrap_up")
    _wrap_up(page, "do_not_call")
    expect(state).to_have_attribute("data-state", "outbound")
    page.wait_for_timeout(1500)
    expect(offer).to_be_hidden()  # nothing due: the no-answer order waits its hour
    page.screenshot(path=str(artifacts / "orders-3-done.png"))

    orders = _orders(demo_desk)
    assert (orders[REACHED]["state"], orders[REACHED]["outcome"]) == ("done", "reached")
    assert (orders[NO_ANSWER]["state"], orders[NO_ANSWER]["outcome"], orders[NO_ANSWER]["attempts"]) == (
        "pending",
        "no_answer",
        1,
    )
    assert (orders[DO_NOT_CALL]["state"], orders[DO_NOT_CALL]["outcome"]) == ("done", "do_not_call")
    assert trunk.called == [REACHED, NO_ANSWER, DO_NOT_CALL]

    # 4. Bart, who did not answer, rings back: the incoming call says why we called, and so does the answered call.
    _rings_back_and_is_shown_why(page, demo_desk, loop, artifacts)


def _rings_back_and_is_shown_why(page: Page, demo_desk, loop: LoopThread, artifacts) -> None:
    phone = PhonePanel(page)
    state = page.get_by_test_id("agent-state")
    state.select_option("available")
    expect(state).to_have_attribute("data-state", "available")
    bart = SipEndpoint(
        EndpointConfig("127.0.0.1", 0, rtp_ports=(47900, 47949), caller_id="0471000012"), lambda c: None
    )
    loop.run(bart.start())
    try:
        leg = loop.run(
            bart.dial(f"sip:{DEMO_QUEUE_NUMBER}@127.0.0.1:{demo_desk.sip_port}", ring_timeout_s=30)
        )
        expect(phone.incoming).to_be_visible(timeout=20_000)
        orders = phone.caller_orders
        expect(orders).to_be_visible()
        assert phone.incoming.get_by_test_id("call-orders").count() == 1  # in the incoming call itself
        order = phone.caller_order("Bart Janssens")
        expect(order).to_have_attribute("data-list", "reserve")
        expect(order).to_have_attribute("data-state", "pending")
        expect(order.get_by_test_id("call-order-why")).to_have_text("Reservelijst reserve")
        last = order.get_by_test_id("call-order-last")
        expect(last).to_have_text(
            re.compile(r"^Wij belden op \d\d/\d\d/\d{4},? \d\d:\d\d: Geen antwoord · nog open$")
        )
        assert phone.cut_text_in("call-orders") == []
        page.evaluate("window.scrollTo(0, 0)")  # clicks scroll the (supervisor's, wider) page sideways
        page.screenshot(path=str(artifacts / "orders-4-rings-back.png"))

        phone.answer()
        expect(phone.incoming).to_be_hidden()
        expect(orders).to_be_visible()  # kept on the answered call
        expect(order.get_by_test_id("call-order-name")).to_have_text("Bart Janssens")
        for lang, why, called in (
            ("fr", "Liste de réserve reserve", r"^Nous avons appelé le .+ : Pas de réponse · encore ouvert$"),
            ("en", "Reserve list reserve", r"^We called on .+: No answer · still open$"),
        ):
            page.get_by_test_id("lang-switch").select_option(lang)
            expect(page.locator("html")).to_have_attribute("lang", lang)
            expect(order.get_by_test_id("call-order-why")).to_have_text(why)
            expect(last).to_have_text(re.compile(called))
            assert phone.cut_text_in("call-orders") == [], lang
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(artifacts / "orders-4-answered-en.png"))
        page.get_by_test_id("lang-switch").select_option("nl")
        phone.hang_up()
        expect(orders).to_be_hidden()  # the call is over: nothing left for the next one
        expect(state).to_have_attribute("data-state", "wrap_up")
        page.get_by_test_id("wrapup-notes").fill("Belde terug na een gemiste oproep")
        page.get_by_test_id("wrapup-outcome").select_option("answered")
        page.get_by_test_id("wrapup-save").click()
        expect(state).to_have_attribute("data-state", "available")
        assert leg.state == "ended"
    finally:
        loop.run(bart.stop())


def test_a_call_back_time_is_typed_day_first_on_the_centres_clock(
    chromium, demo_desk, trunk, tmp_path, artifacts
):
    """The wrap-up's "call back at" in a Chromium whose own language is en-US: typed 14:30 day first as the page
    writes it, a time that is no time gets the page's message and records nothing, and the order is due again at
    14:30 on the centre's clock (Brussels), whatever the PC's."""
    csv = tmp_path / "terugbel.csv"
    csv.write_text("number,name\n0471 00 00 14,Dirk Wouters\n")
    imported = subprocess.run(
        [sys.executable, "-m", "agent_desktop.cli", "orders", "import", str(csv), "--list", "terugbel",
         "--kind", "reserve", "--config", str(demo_desk.local_config)],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    context = chromium().new_context(
        viewport={"width": 1280, "height": 720}, locale="en-US", timezone_id="America/New_York"
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        login(page, demo_desk)
        expect(page.get_by_test_id("rtc-status")).to_have_attribute("data-status", "connected")
        state = page.get_by_test_id("agent-state")
        state.select_option("outbound")
        expect(page.get_by_test_id("order-name")).to_have_text("Dirk Wouters")
        page.get_by_test_id("order-call").click()
        expect(page.get_by_test_id("call-status")).to_have_attribute("data-state", "connected")
        page.get_by_test_id("call-hangup").click()
        expect(state).to_have_attribute("data-state", "wrap_up")
        page.get_by_test_id("wrapup-notes").fill("Belt liever terug overmorgen")
        page.get_by_test_id("wrapup-outcome").select_option("answered")
        page.get_by_test_id("wrapup-order-outcome").select_option("call_back_at")
        when = page.get_by_test_id("wrapup-order-when")
        expect(when).to_be_visible()
        expect(when).to_have_attribute("placeholder", "dd/mm/jjjj uu:mm")

        when.press_sequentially("31/12/2026 25:00")
        page.get_by_test_id("wrapup-save").click()
        expect(page.get_by_test_id("wrapup-order-when-error")).to_have_text(
            "Geen geldige datum en tijd: typ dag/maand/jaar uur:minuten (24 uur), bv. 31/12/2026 17:30."
        )
        expect(page.get_by_test_id("wrapup-error")).to_have_text(
            "Typ de terugbeldatum als dag/maand/jaar uur:minuten, bv. 31/12/2026 17:30."
        )
        page.wait_for_timeout(500)
        expect(state).to_have_attribute("data-state", "wrap_up")
        assert _order(demo_desk, "terugbel")["outcome"] is None  # nothing recorded

        day = dt.datetime.now(BRUSSELS).date() + dt.timedelta(days=2)
        when.fill(f"{day:%d/%m/%Y} 14:30")
        expect(page.get_by_test_id("wrapup-order-when-error")).to_be_hidden()
        page.screenshot(path=str(artifacts / "orders-call-back-at.png"))
        page.get_by_test_id("wrapup-save").click()
        expect(state).to_have_attribute("data-state", "outbound")
        order = _order(demo_desk, "terugbel")
        assert (order["state"], order["outcome"]) == ("pending", "call_back_at")
        due = dt.datetime.fromisoformat(order["next_try"].replace("Z", "+00:00"))
        assert due == dt.datetime.combine(day, dt.time(14, 30), BRUSSELS), due.astimezone(BRUSSELS)
        state.select_option("available")
        expect(state).to_have_attribute("data-state", "available")
    finally:
        context.close()


def _order(desk, list_name: str) -> dict:
    with contextlib.closing(sqlite3.connect(desk.database)) as db:
        db.row_factory = sqlite3.Row
        return dict(db.execute("SELECT * FROM call_orders WHERE list = ?", [list_name]).fetchone())
