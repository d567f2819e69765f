"""Date and date-time fields in the page's locale, in a Chromium whose own language is en-US (mm/dd/yyyy, 12-hour
clock): the reports page in nl, fr and en shows and takes 05/03/2026 as 5 March 2026 and shows that day's report;
a date that is no day gets the page's own message and nothing is asked of the desk; on the wall, an override's end
typed as dd/mm/yyyy hh:mm lands as that moment on the centre's clock (`data-timezone`, Brussels) for a queue that
keeps its own zone (London, an hour behind). Sync module: Playwright owns the main thread's loop; the desk runs on
a loop thread."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import closing
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from agent_desktop.store.clock import parse_iso
from agent_desktop.web import keys
from tests.helpers.call_seed import on_store, seed_call
from tests.web.desk_scene import DeskScene, logged_in_page
from tests.web.queue_desk import BRUSSELS, crisis_queues, queue_desk

MESSAGES = {
    "nl": "Geen geldige datum: typ dag/maand/jaar, bv. 31/12/2026.",
    "fr": "Date non valable : tapez jour/mois/année, p. ex. 31/12/2026.",
    "en": "Not a valid date: type day/month/year, e.g. 31/12/2026.",
}
PLACEHOLDERS = {"nl": "dd/mm/jjjj", "fr": "jj/mm/aaaa", "en": "dd/mm/yyyy"}


class Scene(DeskScene):
    """A desk with two queues: `crisis` on London's clock (closed today), `algemeen` on Brussels' (the centre's:
    the queues' zones differ, so `Config.timezone` is Brussels)."""

    def __init__(self, tmp_path, web_pki, cards) -> None:
        super().__init__()
        config = crisis_queues('timezone = "Europe/London"\nwelcome = "welcome.wav"\n', "")

        async def start():
            return await self.stack.enter_async_context(queue_desk(tmp_path, web_pki, cards, config))

        self.desk = self.loop.run(start())

    def seed(self) -> None:
        """One call offered in `algemeen` on 5 March 2026, two on 3 May 2026 (the day 05/03 is in the US)."""

        async def go():
            store = self.desk.server.app[keys.STORE]
            run = on_store(store)
            for call_id, at in (
                ("m5", "2026-03-05T10:00"),
                ("y3a", "2026-05-03T10:00"),
                ("y3b", "2026-05-03T11:00"),
            ):
                offset = "+01:00" if at.startswith("2026-03") else "+02:00"
                seed_call(
                    run, call_id, "algemeen", f"{at}:00{offset}", ended=f"{at}:30{offset}", cause="abandoned"
                )
            await store.read(lambda db: None)  # the writes have landed

        self.loop.run(go())


@pytest.fixture
def scene(tmp_path, web_pki, cards) -> Iterator[Scene]:
    with closing(Scene(tmp_path, web_pki, cards)) as scene:
        yield scene


@pytest.fixture
def page(chromium, scene: Scene) -> Iterator[Page]:
    # The browser's own language and clock are the US's: the fields must not follow them.
    with logged_in_page(
        chromium, scene, "supervisor", locale="en-US", timezone_id="America/New_York"
    ) as page:
        page.set_default_timeout(10_000)
        yield page


def _type(page: Page, testid: str, text: str) -> None:
    field = page.get_by_test_id(testid)
    field.click()
    field.press("Control+a")
    field.press("Delete")
    field.press_sequentially(text)


@pytest.mark.timeout(120)
def test_the_report_dates_are_day_month_year_in_every_language(page, scene, artifacts):
    scene.seed()
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/reports/queues" in r.url else None)
    page.goto(f"{scene.desk.url}/supervisor/reports?interval=day")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    row = page.locator('[data-testid="report-row"]').filter(has=page.locator('[data-queue="algemeen"]'))
    for lang in ("nl", "fr", "en"):
        page.select_option("#lang-switch", lang)
        expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(page.get_by_test_id("report-from")).to_have_attribute("placeholder", PLACEHOLDERS[lang])
        _type(page, "report-from", "05/03/2026")
        _type(page, "report-to", "05/03/2026")
        page.get_by_test_id("report-to").press("Enter")  # the keyboard's way: Enter shows the report
        expect(row.locator('[data-col="offered"]')).to_have_text("1")  # 5 March's call, not 3 May's two
        expect(row.locator("td").nth(1)).to_have_text("05/03/2026")
        assert "from=2026-03-05&to=2026-03-05" in asked[-1], asked[-1]
        expect(page.get_by_test_id("report-from")).to_have_value("05/03/2026")
        expect(page.get_by_test_id("report-from")).to_have_attribute("data-iso", "2026-03-05")

        # A day that does not exist: the page's message under the field, nothing asked of the desk.
        before = len(asked)
        _type(page, "report-from", "31/02/2026")
        page.get_by_test_id("report-show").click()
        error = page.get_by_test_id("report-from-error")
        expect(error).to_be_visible()
        expect(error).to_have_text(MESSAGES[lang])
        expect(page.get_by_test_id("report-from")).to_have_attribute("aria-invalid", "true")
        page.wait_for_timeout(300)
        assert len(asked) == before, asked[before:]
        expect(row.locator('[data-col="offered"]')).to_have_text("1")  # the report shown stays 5 March's
        if lang == "fr":
            page.screenshot(path=str(artifacts / "report-date-error-fr.png"))
        _type(page, "report-from", "05/03/2026")
        expect(error).to_be_hidden()  # fixed while typing


@pytest.mark.timeout(120)
def test_an_override_end_typed_on_the_wall_is_the_centres_clock(page, scene, artifacts):
    page.goto(f"{scene.desk.url}/supervisor")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(page.locator("html")).to_have_attribute("data-timezone", "Europe/Brussels")
    crisis = page.locator('[data-testid="wall-queue"][data-queue="crisis"]')
    crisis.get_by_test_id("wall-override-open").click()
    dialog = page.get_by_test_id("override-dialog")
    expect(dialog).to_be_visible()
    expect(page.get_by_test_id("override-until-hint")).to_contain_text("Europe/Brussels")

    # First a time that is no time: the page's message (the supervisor's card is French), nothing sent.
    _type(page, "override-until", "31/12/2026 25:00")
    page.get_by_test_id("override-confirm").click()
    expect(page.get_by_test_id("override-until-error")).to_contain_text("Date et heure non valables")
    expect(crisis).to_have_attribute("data-override", "auto")

    day = dt.datetime.now(BRUSSELS).date() + dt.timedelta(days=2)
    _type(page, "override-until", f"{day:%d/%m/%Y} 14:30")
    expect(page.get_by_test_id("override-until-error")).to_be_hidden()
    dialog.screenshot(path=str(artifacts / "override-until-fr.png"))
    page.get_by_test_id("override-confirm").click()
    expect(dialog).to_be_hidden()
    expect(crisis).to_have_attribute("data-override", "open")
    # The wall says the end as typed (the centre's clock)…
    expect(crisis.get_by_test_id("wall-override-by")).to_contain_text(f"{day:%d/%m/%Y} 14:30")
    # …and the desk keeps that instant: 14:30 in Brussels, not 14:30 in London (15:30 in Brussels).
    queues = page.request.get(f"{scene.desk.url}/api/queues").json()
    until = parse_iso(next(q for q in queues if q["name"] == "crisis")["override_until"])
    assert until == dt.datetime.combine(day, dt.time(14, 30), BRUSSELS), until.astimezone(BRUSSELS)
    assert until.astimezone(ZoneInfo("Europe/London")).hour == 13


@pytest.mark.timeout(60)
def test_the_field_reads_the_ways_a_day_is_typed_and_steps_with_the_arrows(page, scene):
    page.goto(f"{scene.desk.url}/supervisor/reports")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    parsed = page.evaluate(
        """async () => {
            const { parseDate, parseDateTime } = await import("/static/js/date_field.js");
            const days = ["05/03/2026", "5/3/2026", "5-3-2026", "5.3.2026", " 05 / 03 / 2026 ", "05032026",
                          "2026-03-05", "29/02/2028", "29/02/2026", "31/04/2026", "00/01/2026", "03/13/2026",
                          "05/03/26", "05/03/1899", "", "morgen"];
            const times = ["05/03/2026 14:30", "5/3/2026 9:05", "05/03/2026 14.30", "05/03/2026 14h30",
                           "2026-03-05T14:30", "05/03/2026 24:00", "05/03/2026 14:60", "05/03/2026 2:30 PM",
                           "05/03/2026"];
            return { days: days.map(parseDate), times: times.map(parseDateTime) };
        }"""
    )
    assert parsed["days"] == [
        "2026-03-05", "2026-03-05", "2026-03-05", "2026-03-05", "2026-03-05", "2026-03-05",
        "2026-03-05", "2028-02-29", None, None, None, None,
        None, None, None, None,
    ]  # fmt: skip
    assert parsed["times"] == [
        "2026-03-05T14:30", "2026-03-05T09:05", "2026-03-05T14:30", "2026-03-05T14:30",
        "2026-03-05T14:30", None, None, None,
        None,
    ]  # fmt: skip

    # The keyboard: ArrowUp a day later, across the month's end; the field tidies what was typed on leaving it.
    field = page.get_by_test_id("report-from")
    _type(page, "report-from", "28/2/2026")
    field.press("ArrowUp")
    expect(field).to_have_value("01/03/2026")
    field.press("ArrowDown")
    expect(field).to_have_value("28/02/2026")
    _type(page, "report-from", "5-3-2026")
    field.press("Tab")
    expect(field).to_have_value("05/03/2026")
    expect(field).to_have_attribute("data-iso", "2026-03-05")
