"""The new-user walkthrough's last gaps (WALK.md), in Chromium against the demo desk at 1280×720, nl/fr/en:

- a queue reads the same everywhere a person reads it: "Algemeen" / "Général" / "General" on the wall and the
  reports page as on the desk, never its id "algemeen" (ids stay in data-* and the CSV);
- the reports table shows the `escalated` column the CSV has;
- times are the centre's clock, not the PC's: a browser in Pacific/Kiritimati (UTC+14) shows Brussels times;
- the scripts panel lists scripts with nothing typed in every language (no English scripts: the others show);
- an offer left ringing says why the agent is in Pauze, also after a reload;
- a citizen ringing back keeps "why we called" on the answered call after a reload.

The demo's offers ring 3 s here (`[acd] offer_timeout_s`), so an unanswered one pauses the agent quickly."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Iterator
from concurrent.futures import Future
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from agent_desktop.sip.demo_caller import demo_call
from agent_desktop.store.db import open_db
from e2e.conftest import DEMO_QUEUE_NUMBER, RunningDesk, login
from e2e.pages.phone import PhonePanel
from e2e.pages.scripts import ScriptsPanel
from e2e.pages.supervisor import SupervisorPages
from tests.helpers.call_seed import on_db, seed_call
from tests.helpers.loop_thread import LoopThread

pytestmark = pytest.mark.timeout(180)

VIEWPORT = {"width": 1280, "height": 720}
ALGEMEEN = {"nl": "Algemeen", "fr": "Général", "en": "General"}
PAUSED_BECAUSE = {"nl": "— oproep niet beantwoord", "fr": "— appel non décroché", "en": "— call not answered"}


@pytest.fixture(scope="module")
def demo_extra_config() -> str:
    return "[acd]\noffer_timeout_s = 3\n"


def _page(chromium, timezone_id: str = "Europe/Brussels") -> Page:
    context = chromium().new_context(
        viewport=VIEWPORT, screen=VIEWPORT, locale="nl-BE", timezone_id=timezone_id
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


@pytest.fixture
def page(chromium, demo_desk: RunningDesk) -> Iterator[Page]:
    page = _page(chromium)
    yield page
    page.context.close()


def _place_call(loop: LoopThread, desk: RunningDesk) -> Future:
    return asyncio.run_coroutine_threadsafe(
        demo_call(f"sip:{DEMO_QUEUE_NUMBER}@127.0.0.1:{desk.sip_port}", max_seconds=90), loop.loop
    )


def _end_call(loop: LoopThread, call: Future) -> None:
    if not call.done():
        call.cancel()
        loop.run(asyncio.sleep(1))


def _seed_answered_call_today(desk: RunningDesk) -> None:
    """One answered call in algemeen a few minutes ago, written as the queue writes it."""
    now = dt.datetime.now(dt.UTC)
    at = lambda s: (now - dt.timedelta(seconds=s)).isoformat()  # noqa: E731
    db = open_db(desk.database)
    try:
        seed_call(
            on_db(db),
            "walk-gaps-1",
            "algemeen",
            at(300),
            queued=at(299),
            answered=at(290),
            agent_id=1,
            ended=at(200),
            cause="remote_bye",
        )
    finally:
        db.close()


def test_queues_read_by_their_names_on_the_wall_and_the_reports(
    page: Page, demo_desk: RunningDesk, artifacts
):
    _seed_answered_call_today(demo_desk)
    login(page, demo_desk)
    pages = SupervisorPages(page, demo_desk.url)

    pages.open("/supervisor")
    queue = page.locator('[data-testid="wall-queue"][data-queue="algemeen"]')
    agent = pages.wall_agents.first
    expect(agent).to_be_visible()
    for lang in ("nl", "fr", "en"):
        pages.switch_language(lang)
        expect(queue.locator("td").first).to_have_text(ALGEMEEN[lang])
        expect(agent.locator("td.queues")).to_contain_text(ALGEMEEN[lang])
        expect(agent.locator("td.queues")).not_to_contain_text("algemeen")
        assert pages.cut_off() == [], lang

    pages.open("/supervisor/reports")
    expect(page.locator("body")).to_have_attribute("data-chart", "1")
    row = page.get_by_test_id("report-row").filter(
        has=page.locator('[data-col="queue"][data-queue="algemeen"]')
    )
    expect(row).to_have_count(1)
    for lang in ("nl", "fr", "en"):
        pages.switch_language(lang)
        expect(row.locator('[data-col="queue"]')).to_have_text(ALGEMEEN[lang])
        expect(page.locator('[data-testid="report-name"] option[value="algemeen"]')).to_have_text(
            ALGEMEEN[lang]
        )
        # The CSV's `escalated` column is in the table too, under its translated header.
        expect(row.locator('[data-col="escalated"]')).to_have_text("0")
        assert pages.cut_off() == [], lang
        page.screenshot(path=str(artifacts / f"walk-gaps-reports-{lang}.png"))
    headers = page.locator("#report-head th").all_inner_texts()
    assert "Escalated" in headers, headers


def test_times_are_the_centres_clock_on_a_pc_in_another_zone(chromium, demo_desk: RunningDesk):
    page = _page(
        chromium, timezone_id="Pacific/Kiritimati"
    )  # UTC+14: another date than Brussels half the day
    try:
        login(page, demo_desk)
        assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == "Pacific/Kiritimati"
        shown = page.evaluate(
            """async () => {
              const f = await import("/static/js/format.js");
              return {
                time: f.formatTime("2026-12-07T21:59:00Z"),
                dateTime: f.formatDateTime("2026-12-07T21:59:00Z"),
                day: f.formatDate("2026-12-07T21:59:00Z", "short"),
                calendar: f.formatDate("2026-01-12", "short"),
                iso: f.isoDate(new Date("2026-12-07T12:00:00Z")),
              };
            }"""
        )
        # A callback due 21:59 UTC is due 22:59 at the centre (the PC would say 11:59 the next day).
        assert shown["time"] == "22:59"
        assert re.fullmatch(r"07/12/2026,? 22:59", shown["dateTime"]), shown
        assert shown["day"] == "07/12/2026"
        assert shown["calendar"] == "12/01/2026"  # a calendar date stays that date on any PC
        assert shown["iso"] == "2026-12-07"  # 13:00 in Brussels, already the 8th on the PC

        page.goto(f"{demo_desk.url}/supervisor/reports")
        expect(page.locator("body")).to_have_attribute("data-ready", "1")
        today = dt.datetime.now(ZoneInfo("Europe/Brussels")).date()
        # Shown as the page writes a day (date_field.js), the ISO day the API gets in `data-iso`.
        week_ago = today - dt.timedelta(days=6)
        expect(page.get_by_test_id("report-to")).to_have_value(f"{today:%d/%m/%Y}")
        expect(page.get_by_test_id("report-to")).to_have_attribute("data-iso", today.isoformat())
        expect(page.get_by_test_id("report-from")).to_have_attribute("data-iso", week_ago.isoformat())
    finally:
        page.context.close()


def test_scripts_are_listed_with_nothing_typed_in_every_language(page: Page, demo_desk: RunningDesk):
    login(page, demo_desk)
    scripts = ScriptsPanel(page)
    for lang in ("nl", "fr", "en"):
        page.get_by_test_id("lang-switch").select_option(lang)
        expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(page.get_by_test_id("kb-search")).to_have_value("")
        expect(scripts.results.first).to_be_visible()
        expect(page.get_by_test_id("kb-empty")).to_have_count(0)
        expect(page.get_by_test_id("kb-heading")).to_be_visible()
    page.get_by_test_id("lang-switch").select_option("nl")


def test_an_offer_left_ringing_says_why_the_agent_is_paused(
    page: Page, demo_desk: RunningDesk, loop: LoopThread, artifacts
):
    desk = login(page, demo_desk)
    pages = SupervisorPages(page, demo_desk.url)
    pages.switch_language("nl")
    PhonePanel(page).expect_audio_connected()
    state = page.get_by_test_id("agent-state")
    state.select_option("available")
    expect(state).to_have_attribute("data-state", "available")
    reason = page.get_by_test_id("agent-state-reason")
    expect(reason).to_be_hidden()
    call = _place_call(loop, demo_desk)
    try:
        expect(page.get_by_test_id("call-incoming")).to_be_visible(timeout=20_000)
        # Not answered: after 3 s the offer goes and the desk pauses the agent, saying why.
        expect(state).to_have_attribute("data-state", "break", timeout=10_000)
        expect(reason).to_have_text(PAUSED_BECAUSE["nl"])
        for lang in ("fr", "en", "nl"):
            pages.switch_language(lang)
            expect(reason).to_have_text(PAUSED_BECAUSE[lang])
            assert pages.cut_off() == [], lang
            page.screenshot(path=str(artifacts / f"walk-gaps-autopause-{lang}.png"))
        # Back at the desk after a reload (or a dropped connection): still said.
        page.reload()
        desk.expect_connected()
        expect(state).to_have_attribute("data-state", "break")
        expect(reason).to_have_text(PAUSED_BECAUSE["nl"])
        # A break the agent chooses needs no explanation.
        state.select_option("lunch")
        expect(state).to_have_attribute("data-state", "lunch")
        expect(reason).to_be_hidden()
    finally:
        _end_call(loop, call)


def test_why_we_called_stays_on_the_answered_call_after_a_reload(
    page: Page, demo_desk: RunningDesk, loop: LoopThread
):
    login(page, demo_desk)
    # An order for the demo caller's own number (0470000000): a citizen we tried to reach rings back.
    answer = page.request.post(
        f"{demo_desk.url}/api/call-lists/terugbellen-walk/import?kind=reserve",
        data="number,name,note\n0470000000,Dirk Walk,Uitslag doorgeven\n",
        headers={"Content-Type": "text/csv"},
    )
    assert answer.ok, answer.text()
    phone = PhonePanel(page)
    phone.expect_audio_connected()
    state = page.get_by_test_id("agent-state")
    state.select_option("available")
    expect(state).to_have_attribute("data-state", "available")
    call = _place_call(loop, demo_desk)
    try:
        expect(phone.incoming).to_be_visible(timeout=20_000)
        expect(phone.caller_order("Dirk Walk")).to_be_visible()
        phone.answer()
        expect(phone.caller_order("Dirk Walk")).to_be_visible()

        page.reload()
        expect(page.get_by_test_id("desk-connection")).to_have_attribute("data-status", "open")
        phone.expect_call_state("connected")
        order = phone.caller_order("Dirk Walk")
        expect(order).to_be_visible()
        expect(order).to_have_attribute("data-list", "terugbellen-walk")
        expect(order.get_by_test_id("call-order-note")).to_have_text("Uitslag doorgeven")
        assert (
            phone.incoming.get_by_test_id("call-orders").count() == 0
        )  # on the call, not in an incoming box
        assert phone.cut_text_in("call-orders") == []
        phone.hang_up()
        expect(phone.caller_orders).to_be_hidden()
    finally:
        _end_call(loop, call)


IMPORT_BAD = "number,name,priority\n0471 00 00 31,Els,1\n12345,Jan,hoog\n0471 00 00 31,Piet,2\n"
IMPORT_LINES = {
    "nl": [
        "Regel 3: nummer 12345: geen telefoonnummer (een Belgisch begint met 0, een ander met + of 00); "
        "prioriteit „hoog” is geen geheel getal (±1.000.000)",
        "Regel 4: nummer +32471000031 staat al op regel 2",
    ],
    "fr": [
        "Ligne 3 : numéro 12345 : pas un numéro de téléphone (un belge commence par 0, un autre par + ou 00) ; "
        "la priorité « hoog » n'est pas un nombre entier (±1\u202f000\u202f000)",
        "Ligne 4 : le numéro +32471000031 est déjà à la ligne 2",
    ],
    "en": [
        "Line 3: number 12345: not a phone number (a Belgian one starts with 0, another with + or 00); "
        "priority “hoog” is not a whole number (±1,000,000)",
        "Line 4: number +32471000031 is already on line 2",
    ],
}


def test_an_import_files_bad_rows_are_explained_in_the_pages_language(
    page: Page, demo_desk: RunningDesk, tmp_path, artifacts
):
    login(page, demo_desk)
    pages = SupervisorPages(page, demo_desk.url)
    pages.open("/supervisor/orders")
    pages.switch_language("nl")
    bad = tmp_path / "bad.csv"
    bad.write_text(IMPORT_BAD)
    page.get_by_test_id("orders-upload-name").fill("walk-gaps-import")
    page.get_by_test_id("orders-upload-file").set_input_files(str(bad))
    page.get_by_test_id("orders-upload-submit").click()
    error = page.get_by_test_id("orders-upload-error")
    expect(error).to_be_visible()
    lines = error.locator("li")
    for lang in ("nl", "fr", "en"):
        pages.switch_language(lang)
        expect(lines).to_have_text(IMPORT_LINES[lang])
        assert pages.cut_off() == [], lang
        page.screenshot(path=str(artifacts / f"walk-gaps-import-{lang}.png"))

    # A file that is not text in an encoding we can tell: the advice in the page's language too.
    pages.switch_language("nl")
    bad.write_bytes(b"number,name\n0471000032,\x00Els\n")
    page.get_by_test_id("orders-upload-file").set_input_files(str(bad))
    page.get_by_test_id("orders-upload-submit").click()
    expect(lines).to_have_text(
        ["Regel 2: NUL-bytes: UTF-16 zonder BOM, of geen tekstbestand; bewaar het als „CSV UTF-8”"]
    )
