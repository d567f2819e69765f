"""The caller's orders in the incoming call (caller_orders.js), in Chromium from disk: the line that tells the agent
what came of the desk's last call names every outcome a call records, the automatic ones included. The module is
served through Playwright's router (tests/helpers/static_page.py); the journey against the real desk is
e2e/test_orders_e2e.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from tests.helpers.static_page import static_page


@pytest.fixture
def page(chromium) -> Iterator[Page]:
    with static_page(chromium()) as page:
        yield page


def test_a_declined_call_is_named_in_the_citizens_ring_back(page: Page) -> None:
    """603 records `declined` by itself (CONTRACT: Call orders): the citizen who turned the call down and rings
    back is shown 'We called on …: Declined on the phone', not a call with no outcome."""
    got = page.evaluate(
        """async () => {
            document.body.innerHTML = `
              <div id="call-incoming"><section id="call-orders" hidden><ul id="call-orders-list"></ul></section>
                <div class="row"></div></div>
              <p id="call-status"></p>`;
            const i18n = await import("/static/js/i18n.js");
            const { setTimeZone } = await import("/static/js/format.js");
            setTimeZone("Europe/Brussels");
            await i18n.loadLang("en");
            const { initCallerOrders } = await import("/static/js/caller_orders.js");
            initCallerOrders();
            const order = (id, outcome) => ({ order_id: id, list: "vaccin", name: "An", note: "", state: "pending",
                kind: "priority", contact: false, outcome, last_called: "2026-03-29T08:05:00Z" });
            document.dispatchEvent(new CustomEvent("desk:call.offered", { detail: { call_id: "c1",
                orders: [order(1, "declined"), order(2, "busy")] } }));
            return [...document.querySelectorAll("[data-testid=call-order-last]")].map((el) => el.textContent);
        }"""
    )
    # 08:05 UTC on the day summer time starts is 10:05 in Brussels.
    assert got == [
        "We called on 29/03/2026, 10:05: Declined on the phone · still open",
        "We called on 29/03/2026, 10:05: Busy · still open",
    ], got
