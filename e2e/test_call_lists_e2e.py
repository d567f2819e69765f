"""The supervisor's call-lists page end to end (DESIGN.md §11) in Chromium against the demo desk (its agent is a
supervisor): a file with a bad row is refused whole, the error naming the line; the corrected file creates the
list with its settings and the progress shows it (a number already in the do-not-call register is counted
there); the export has no national numbers; the register's entry is removed after the page's confirmation.
Screenshots at 1280×720 in the artifacts folder."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from agent_desktop.eid.nrn import make_test_nrn
from e2e.conftest import login
from e2e.pages.supervisor import SupervisorPages

pytestmark = pytest.mark.timeout(120)

NRN = make_test_nrn(date(1985, 3, 2), 21)
BAD = "number,name,dossier\n0471 00 00 21,Els,A1\n12345,Jan,A2\n0471 00 00 23,Piet,A3\n"
GOOD = (
    "number,name,dossier\n"
    f"0471 00 00 21,Els,{NRN}\n"
    "0471 00 00 22,Jan,A2\n"
    "0471 00 00 23,Piet,A3\n"
    "0471 00 00 24,Lies,A4\n"
)
BARRED = "+32471000024"
LIST = "reserve-e2e"


@pytest.fixture
def page(chromium, demo_desk) -> Iterator[Page]:
    context = chromium().new_context(
        viewport={"width": 1280, "height": 720}, locale="nl-BE", accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _lists(page: Page, url: str) -> dict[str, dict]:
    return {row["name"]: row for row in page.request.get(f"{url}/api/call-lists").json()}


def test_supervisor_uploads_a_list_follows_it_exports_it_and_keeps_the_register(
    page: Page, demo_desk, artifacts, tmp_path
):
    # An agent's earlier `do_not_call` outcome, as the desk stores it.
    with contextlib.closing(sqlite3.connect(demo_desk.database)) as db, db:
        db.execute(
            "INSERT OR IGNORE INTO do_not_call (number, added, list) VALUES (?, '2026-01-12T09:30:00Z', 'oud')",
            [BARRED],
        )
    login(page, demo_desk)
    link = page.get_by_test_id("orders-link")
    expect(link).to_have_attribute("href", "/supervisor/orders")
    page.goto(f"{demo_desk.url}/supervisor/orders")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(page.get_by_test_id("orders-link")).to_have_attribute("aria-current", "page")

    # 1. A file with a bad row: refused whole, the line named.
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD)
    page.get_by_test_id("orders-upload-name").fill(LIST)
    page.get_by_test_id("orders-upload-file").set_input_files(str(bad))
    page.get_by_test_id("orders-upload-kind").select_option("reserve")
    page.get_by_test_id("orders-upload-attempts").fill("2")
    page.get_by_test_id("orders-upload-retry").fill("30")
    page.get_by_test_id("orders-upload-submit").click()
    error = page.get_by_test_id("orders-upload-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("1 foute rij(en): niets van dit bestand is opgeladen")
    expect(error.locator("li")).to_have_count(1)
    expect(error.locator("li").first).to_have_attribute("data-line", "3")
    expect(error.locator("li").first).to_contain_text("Regel 3:")
    page.screenshot(path=str(artifacts / "call-lists-1-bad-row.png"))
    assert LIST not in _lists(page, demo_desk.url)  # nothing imported, not even the list
    expect(page.get_by_test_id("orders-list").filter(has_text=LIST)).to_have_count(0)

    # 2. The corrected file: the list is made with the form's settings; the progress shows it.
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    page.get_by_test_id("orders-upload-file").set_input_files(str(good))
    page.get_by_test_id("orders-upload-submit").click()
    expect(error).to_be_hidden()
    expect(page.get_by_test_id("orders-upload-status")).to_have_text(f"Lijst {LIST}: 4 nieuw, 0 bijgewerkt.")
    row = page.locator(f'[data-testid="orders-list"][data-list="{LIST}"]')
    expect(row).to_have_attribute("data-orders", "4")
    expect(row).to_have_attribute("data-do_not_call", "1")
    expect(row).to_have_attribute("data-remaining", "3")
    expect(row.get_by_test_id("orders-progress")).to_have_attribute("aria-valuenow", "1")
    expect(row).to_contain_text("1 van 4 (25%)")
    expect(row).to_contain_text("Reservelijst")
    stored = _lists(page, demo_desk.url)[LIST]
    assert (stored["kind"], stored["max_attempts"], stored["retry_after_min"]) == ("reserve", 2, 30)
    row.get_by_test_id("orders-list-open").click()
    expect(page.get_by_test_id("orders-order")).to_have_count(4)
    page.get_by_test_id("orders-state").select_option("done")
    expect(page.get_by_test_id("orders-order")).to_have_count(1)
    # The same name again: an existing list, whose settings the form no longer sends.
    page.get_by_test_id("orders-upload-name").fill(LIST)
    expect(page.get_by_test_id("orders-upload-existing")).to_be_visible()
    expect(page.get_by_test_id("orders-upload-kind")).to_be_disabled()
    page.screenshot(path=str(artifacts / "call-lists-2-uploaded.png"))

    # 3. The export: the list as CSV, the national number masked.
    with page.expect_download() as download:
        row.get_by_test_id("orders-export").click()
    with open(download.value.path(), encoding="utf-8-sig") as exported:
        text = exported.read()
    assert text.splitlines()[0].startswith("id,number,name")
    assert "+32471000022" in text and NRN not in text and "[RRN/NN]" in text

    # 4. The register: removal after the page's confirmation (kept when cancelled).
    entry = page.locator(f'[data-testid="dnc-entry"][data-number="{BARRED}"]')
    expect(entry).to_contain_text("12/01/2026")
    entry.get_by_test_id("dnc-remove").click()
    expect(page.get_by_test_id("dnc-confirm")).to_contain_text(BARRED)
    page.get_by_test_id("dnc-confirm-no").click()
    expect(entry).to_have_count(1)
    entry.get_by_test_id("dnc-remove").click()
    page.get_by_test_id("dnc-reason").fill("verzoek van de burger")
    page.screenshot(path=str(artifacts / "call-lists-3-confirm.png"))
    page.get_by_test_id("dnc-confirm-yes").click()
    expect(entry).to_have_count(0)
    assert all(e["number"] != BARRED for e in page.request.get(f"{demo_desk.url}/api/do-not-call").json())


REOPEN_LIST = "heropen-e2e"


def test_supervisor_reopens_a_lists_failed_orders_after_saying_how_many(page: Page, demo_desk, artifacts):
    """After an outage: the list's orders failed on the network are called again (or all its failed ones), after
    a confirmation that says how many; the answer's count is shown and the figures follow. nl/fr/en, nothing cut
    off at 1280×720."""
    login(page, demo_desk)
    csv = "number,name\n" + "".join(f"0471 00 00 6{i},Burger {i}\n" for i in range(5))
    answer = page.request.post(
        f"{demo_desk.url}/api/call-lists/{REOPEN_LIST}/import?kind=reserve",
        data=csv,
        headers={"Content-Type": "text/csv"},
    )
    assert answer.ok, answer.text()
    # Three failed for good: two on the network (a long outage), one the citizen never answered.
    with contextlib.closing(sqlite3.connect(demo_desk.database)) as db, db:
        for number, outcome, failure in (
            ("+32471000060", "network_error", "refused 503"),
            ("+32471000061", "network_error", "no_response"),
            ("+32471000062", "no_answer", None),
        ):
            db.execute(
                "UPDATE call_orders SET state = 'failed', outcome = ?, dial_failure = ?, attempts = 2"
                " WHERE list = ? AND number = ?",
                [outcome, failure, REOPEN_LIST, number],
            )
    sup = SupervisorPages(page, demo_desk.url)
    sup.open("/supervisor/orders")
    row = sup.call_list(REOPEN_LIST)
    expect(row).to_have_attribute("data-failed", "3")

    # Asked, then cancelled: nothing changes.
    dialog = sup.ask_reopen(REOPEN_LIST)
    count = dialog.get_by_test_id("orders-reopen-count")
    expect(
        dialog.get_by_test_id("orders-reopen-network")
    ).to_be_checked()  # after an outage, the usual choice
    expect(count).to_have_attribute("data-n", "2")
    expect(count).to_have_text("2 opdracht(en) worden opnieuw gebeld, elk met een nieuwe reeks pogingen.")
    dialog.get_by_test_id("orders-reopen-all").check()
    expect(count).to_have_attribute("data-n", "3")
    for lang, text in (
        ("fr", "3 ordre(s) seront de nouveau appelés"),
        ("en", "3 order(s) will be called again"),
    ):
        sup.switch_language(lang)
        expect(count).to_contain_text(text)
        expect(dialog).to_contain_text(
            "Network errors only (2)" if lang == "en" else "Erreurs réseau seulement (2)"
        )
        assert sup.cut_off() == [], lang
    page.screenshot(path=str(artifacts / "call-lists-4-reopen-confirm.png"))
    dialog.get_by_test_id("orders-reopen-no").click()
    expect(dialog).to_be_hidden()
    expect(row).to_have_attribute("data-failed", "3")

    # The network's failures only: two again, the citizen's no-answer stays failed.
    dialog = sup.ask_reopen(REOPEN_LIST)
    dialog.get_by_test_id("orders-reopen-network").check()
    dialog.get_by_test_id("orders-reopen-yes").click()
    status = page.get_by_test_id("orders-reopen-status")
    expect(status).to_have_text(f"List {REOPEN_LIST}: 2 order(s) reopened.")
    expect(row).to_have_attribute("data-failed", "1")
    expect(row).to_have_attribute("data-remaining", "4")
    sup.switch_language("nl")
    expect(status).to_have_text(f"Lijst {REOPEN_LIST}: 2 opdracht(en) heropend.")
    assert sup.cut_off() == []
    page.screenshot(path=str(artifacts / "call-lists-5-reopened.png"))

    # Nothing failed on the network any more: only "all" can be chosen, and it takes the last one.
    dialog = sup.ask_reopen(REOPEN_LIST)
    expect(dialog.get_by_test_id("orders-reopen-network")).to_be_disabled()
    expect(dialog.get_by_test_id("orders-reopen-all")).to_be_checked()
    expect(dialog.get_by_test_id("orders-reopen-count")).to_have_attribute("data-n", "1")
    dialog.get_by_test_id("orders-reopen-yes").click()
    expect(status).to_have_text(f"Lijst {REOPEN_LIST}: 1 opdracht(en) heropend.")
    expect(row).to_have_attribute("data-failed", "0")
    expect(row.get_by_test_id("orders-reopen")).to_have_count(0)  # nothing left to reopen
    lists = _lists(page, demo_desk.url)[REOPEN_LIST]
    assert (lists["failed"], lists["remaining"]) == (0, 5)
