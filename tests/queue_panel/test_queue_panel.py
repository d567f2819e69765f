"""The phone panel's queue side in Chromium, before the queue itself exists: the pure formatting of
queue_format.js / format.js, and queue_panel.js driven by the messages of DESIGN.md §9 (`queue.stats`,
`callback.offered`, `call.state … callback_id`) in the desk's real phone-panel markup, i18n and CSS.

The page is the phone section of templates/desk.html with the static files served from disk through Playwright's
router; the WebSocket is a recorder (what the panel sends is checked) and `POST /api/callbacks` answers as the
contract says (201 {id}, or an error body). The journey against a running desk is the e2e suite's, once the core
queue sends these messages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect

ROOT = Path(__file__).resolve().parents[2] / "agent_desktop"
ORIGIN = "http://desk.test"
VIEWPORT = {"width": 1280, "height": 720}

HARNESS = """
import { loadLang } from "/static/js/i18n.js";
import { initQueuePanel } from "/static/js/queue_panel.js";
await loadLang(new URLSearchParams(location.search).get("lang") || "nl");
window.sent = [];
window.toasts = [];
window.inCall = null;
const socket = { send: (m) => (window.sent.push(m), true) };
const rtc = new EventTarget();
rtc.live = true;
rtc.setInCall = async (on) => { window.inCall = on; };
initQueuePanel(socket, (text) => window.toasts.push(text), { rtc, ringer: null });
window.desk = (type, body = {}) =>
  document.dispatchEvent(new CustomEvent(`desk:${type}`, { detail: { type, ...body } }));
window.desk("hello", { calls: [] });
document.body.dataset.ready = "1";
"""


def _page_html() -> str:
    desk = (ROOT / "templates" / "desk.html").read_text()
    phone = re.search(r'  <section class="panel phone".*?\n  </section>\n', desk, re.S)
    assert phone, "the phone panel's markup moved: update this harness"
    return (
        '<!doctype html><html lang="nl"><head><meta charset="utf-8">'
        '<link rel="stylesheet" href="/static/css/desk.css"></head>'
        f'<body class="desk-page"><header class="topbar"></header><main class="desk">{phone.group(0)}</main>'
        '<div class="toast" id="toast" hidden></div>'
        '<script type="module" src="/harness.js"></script></body></html>'
    )


class Desk:
    """What the page asked of the desk over HTTP, and what the next `POST /api/callbacks` answers."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.answer: tuple[int, dict] = (201, {"id": 42})

    def route(self, route: Route) -> None:
        path = route.request.url.removeprefix(ORIGIN).split("?")[0]
        if path == "/":
            route.fulfill(status=200, content_type="text/html", body=_page_html())
        elif path == "/harness.js":
            route.fulfill(status=200, content_type="text/javascript", body=HARNESS)
        elif path == "/api/callbacks" and route.request.method == "POST":
            self.posts.append(json.loads(route.request.post_data or "null"))
            status, body = self.answer
            route.fulfill(status=status, content_type="application/json", body=json.dumps(body))
        elif path.startswith("/static/") and (ROOT / path.lstrip("/")).is_file():
            file = ROOT / path.lstrip("/")
            types = {".js": "text/javascript", ".css": "text/css", ".json": "application/json"}
            route.fulfill(
                status=200, content_type=types.get(file.suffix, "text/plain"), body=file.read_bytes()
            )
        else:
            route.fulfill(status=404, body="not here")


@pytest.fixture
def desk() -> Desk:
    return Desk()


@pytest.fixture
def page(chromium, desk: Desk) -> Iterator[Page]:
    context = chromium().new_context(viewport=VIEWPORT, locale="nl-BE", timezone_id="Europe/Brussels")
    context.route("**/*", desk.route)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def _open(page: Page, lang: str = "nl") -> None:
    page.goto(f"{ORIGIN}/?lang={lang}")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")


# -- the pure part ---------------------------------------------------------------------------------------------


def test_durations_counters_and_numbers(page: Page) -> None:
    _open(page)
    got = page.evaluate(
        """async () => {
            const f = await import("/static/js/format.js");
            const q = await import("/static/js/queue_format.js");
            const i18n = await import("/static/js/i18n.js");
            const out = {};
            for (const lang of ["nl", "fr", "en"]) {
                await i18n.loadLang(lang);
                out[lang] = [0, 7, 59.9, 60, 135, 3599, 3600, 3735, -4, NaN].map(f.formatDuration);
            }
            const t0 = 1_000_000;
            let known = q.mergeStats(new Map(), [
                { name: "vaccinatie", waiting: 3, longest_wait_s: 75, callbacks_pending: 1 },
                { name: "algemeen", waiting: 0, longest_wait_s: 0, callbacks_pending: 0 },
                { waiting: 9 },  // no name: ignored
            ], t0);
            // A later message with one queue only: the other keeps its figures.
            known = q.mergeStats(known, [{ name: "algemeen", waiting: 2, longest_wait_s: 10 }], t0 + 4000);
            out.live = [
                q.liveLongestWait(known.get("vaccinatie"), t0 + 2500),
                q.liveLongestWait(known.get("algemeen"), t0 + 5000),
                q.liveLongestWait({ waiting: 0, longest_wait_s: 50, receivedAt: t0 }, t0 + 9000),
                q.liveLongestWait(known.get("vaccinatie"), t0 - 1000),  // a clock step back never counts down
            ];
            out.totals = q.totals(known, t0 + 5000);
            out.callbacks_pending = known.get("algemeen").callbacks_pending;
            out.numbers = ["0470 12 34 56", "+32 2/555.00.00", "(02) 555-00-00", "anonymous", "12", "", null,
                           "+32470123456789012345678"].map(q.callbackNumber);
            out.overdue = [q.isOverdue("2026-12-07T22:59:59Z", Date.parse("2026-12-08T08:00:00Z")),
                           q.isOverdue("2026-12-09T22:59:59Z", Date.parse("2026-12-08T08:00:00Z")),
                           q.isOverdue("not a date", 0)];
            return out;
        }"""
    )
    clock = ["0:00", "0:07", "0:59", "1:00", "2:15", "59:59", "1:00:00", "1:02:15", "0:00", "–"]
    assert got["nl"] == got["fr"] == got["en"] == clock
    assert got["live"] == [77.5, 11, 0, 75]
    assert got["totals"] == {"waiting": 5, "longest": 80, "callbacks": 1}
    assert got["callbacks_pending"] == 0
    assert got["numbers"] == ["0470123456", "+3225550000", "025550000", None, None, None, None, None]
    assert got["overdue"] == [True, False, False]


# -- the panel -------------------------------------------------------------------------------------------------


def test_queue_figures_count_on_and_follow_a_language_switch(page: Page) -> None:
    _open(page)
    stats = page.get_by_test_id("queue-stats")
    expect(stats).to_be_hidden()  # an agent who serves no queue sees nothing
    page.evaluate(
        """() => desk("queue.stats", { queues: [
            { name: "vaccinatie", waiting: 2, longest_wait_s: 64, callbacks_pending: 1 },
            { name: "algemeen", waiting: 0, longest_wait_s: 0, callbacks_pending: 0 } ] })"""
    )
    expect(stats).to_be_visible()
    vacc = page.locator('[data-testid="queue-stat"][data-queue="vaccinatie"]')
    alg = page.locator('[data-testid="queue-stat"][data-queue="algemeen"]')
    expect(vacc).to_have_attribute("data-waiting", "2")
    expect(vacc.locator("th")).to_have_text("Vaccinatie")
    expect(vacc.locator("td.longest")).to_have_text(re.compile(r"^1:0[4-6]$"))
    expect(alg.locator("td.longest")).to_have_text("–")
    expect(stats).to_have_attribute("data-waiting", "2")
    # Between two messages the longest wait keeps counting, by the second.
    expect(vacc.locator("td.longest")).to_have_text(re.compile(r"^1:0[6-9]$"), timeout=5000)
    assert int(vacc.get_attribute("data-longest-wait") or 0) >= 66
    # A message for one queue leaves the other as it was; the waiting count goes down as callers are answered.
    for waiting in (1, 0):
        page.evaluate(
            f"""() => desk("queue.stats", {{ queues: [
                {{ name: "vaccinatie", waiting: {waiting}, longest_wait_s: {5 * waiting}, callbacks_pending: 1 }} ] }})"""
        )
        expect(vacc).to_have_attribute("data-waiting", str(waiting))
    expect(vacc.locator("td.longest")).to_have_text("–")
    expect(alg).to_have_attribute("data-waiting", "0")
    page.evaluate("""() => import("/static/js/i18n.js").then((m) => m.loadLang("fr"))""")
    expect(vacc.locator("th")).to_have_text("Vaccination")
    expect(stats.locator("thead")).to_contain_text("En attente")
    expect(alg.locator("th")).to_have_text("Général")


def test_a_callback_offer_is_shown_like_a_call_and_accepted_or_rejected(page: Page, artifacts: Path) -> None:
    _open(page, "en")
    offer = page.get_by_test_id("callback-offer")
    expect(offer).to_be_hidden()
    page.evaluate(
        """() => desk("callback.offered", { callback_id: 7, number: "0470123456", queue: "vaccinatie",
                                           requested_at: "2026-12-07T09:15:00Z", due: "2099-12-09T22:59:59Z" })"""
    )
    expect(offer).to_be_visible()
    expect(offer).to_have_attribute("data-callback-id", "7")
    expect(page.get_by_test_id("callback-number")).to_have_text("0470123456")
    expect(page.get_by_test_id("callback-queue")).to_have_text("Queue Vaccination")
    # Times in the agent's locale and time zone, 24-hour: 09:15 UTC is 10:15 in Brussels.
    expect(page.get_by_test_id("callback-times")).to_have_text(
        "Requested 07/12/2026, 10:15 · due 09/12/2099, 23:59"
    )
    expect(offer).to_have_attribute("data-overdue", "0")
    page.evaluate(
        """() => desk("queue.stats", { queues: [
            { name: "vaccinatie", waiting: 0, longest_wait_s: 0, callbacks_pending: 1 },
            { name: "algemeen", waiting: 3, longest_wait_s: 131, callbacks_pending: 0 } ] })"""
    )
    page.get_by_test_id("queue-stats").scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "queue-panel-callback-offer-en.png")
    page.get_by_test_id("callback-accept").click()
    page.wait_for_function("window.sent.length === 1")
    assert page.evaluate("window.sent") == [{"type": "callback.accept", "callback_id": 7}]
    assert page.evaluate("window.inCall") is True  # the microphone is on the peer before the citizen answers
    expect(page.get_by_test_id("callback-accept")).to_be_disabled()  # no second accept while the desk dials
    page.evaluate(
        """() => desk("call.state", { call_id: "c1", state: "dialing", direction: "outbound",
                                     number: "0470123456", callback_id: 7 })"""
    )
    expect(offer).to_be_hidden()
    # The dialled callback belongs to its queue: a callback booked during it is prefilled with that queue.
    page.evaluate(
        """() => desk("call.state", { call_id: "c1", state: "connected", direction: "outbound",
                                     number: "0470123456", callback_id: 7 })"""
    )
    page.get_by_test_id("callback-book").click()
    expect(page.get_by_test_id("callback-book-queue")).to_have_value("vaccinatie")
    page.get_by_test_id("callback-book-cancel").click()

    page.evaluate(
        """() => desk("callback.offered", { callback_id: 8, number: "025550000", queue: "algemeen",
                                           requested_at: "2020-12-01T09:15:00Z", due: "2020-12-03T22:59:59Z" })"""
    )
    expect(offer).to_have_attribute("data-overdue", "1")
    expect(page.get_by_test_id("callback-accept")).to_be_disabled()  # this agent is on a call
    page.get_by_test_id("callback-reject").click()
    expect(offer).to_be_hidden()
    assert page.evaluate("window.sent")[-1] == {"type": "callback.reject", "callback_id": 8}


def test_a_callback_is_booked_during_a_call_and_bad_input_is_kept(page: Page, desk: Desk) -> None:
    _open(page)
    book = page.get_by_test_id("callback-book")
    page.evaluate(
        """() => { desk("queue.stats", { queues: [
                       { name: "vaccinatie", waiting: 0, longest_wait_s: 0, callbacks_pending: 0 },
                       { name: "algemeen", waiting: 0, longest_wait_s: 0, callbacks_pending: 0 } ] });
                   desk("call.offered", { call_id: "c9", from: "0470 99 88 77", queue: "algemeen", waited_s: 3 });
                   desk("call.state", { call_id: "c9", state: "ringing", direction: "inbound",
                                        number: "0470 99 88 77", queue: "algemeen" }); }"""
    )
    expect(book).to_be_hidden()  # only during a call
    page.evaluate(
        """() => desk("call.state", { call_id: "c9", state: "connected", direction: "inbound",
                                     number: "0470 99 88 77", queue: "algemeen" })"""
    )
    book.click()
    expect(page.get_by_test_id("callback-book-number")).to_have_value("0470998877")
    expect(page.get_by_test_id("callback-book-queue")).to_have_value("algemeen")
    page.get_by_test_id("callback-book-note").fill("Vraagt naar de uitslag van zijn test")
    # The call ends while the agent types: the form and its text stay.
    page.evaluate(
        """() => desk("call.state", { call_id: "c9", state: "ended", direction: "inbound",
                                     number: "0470 99 88 77", cause: "remote_bye" })"""
    )
    expect(page.get_by_test_id("callback-book-form")).to_be_visible()
    page.get_by_test_id("callback-book-number").fill("bel mij")
    page.get_by_test_id("callback-book-submit").click()
    expect(page.get_by_test_id("callback-book-error")).to_contain_text("Geef een telefoonnummer in")
    assert desk.posts == []
    page.get_by_test_id("callback-book-number").fill("0470 99 88 77")
    desk.answer = (400, {"error": {"code": "bad_request", "message": "queue: not one of yours"}})
    page.get_by_test_id("callback-book-submit").click()
    expect(page.get_by_test_id("callback-book-error")).to_have_text("Ongeldige aanvraag.")
    expect(page.get_by_test_id("callback-book-note")).to_have_value("Vraagt naar de uitslag van zijn test")
    desk.answer = (201, {"id": 42})
    page.get_by_test_id("callback-book-submit").click()
    status = page.get_by_test_id("callback-book-status")
    expect(status).to_have_text("Terugbelafspraak 42 geboekt: 0470998877, wachtrij Algemeen")
    expect(page.get_by_test_id("callback-book-form")).to_be_hidden()
    assert desk.posts[-1] == {
        "number": "0470998877",
        "queue": "algemeen",
        "note": "Vraagt naar de uitslag van zijn test",
    }
    assert len(desk.posts) == 2
    page.evaluate("""() => import("/static/js/i18n.js").then((m) => m.loadLang("fr"))""")
    expect(status).to_have_text("Rappel 42 enregistré : 0470998877, file Général")
