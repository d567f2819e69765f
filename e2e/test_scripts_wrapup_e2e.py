"""The scripts panel and the wrap-up in the real demo (Chromium): search the demo KB, tabs with counts, open an
article and see its instructions, then wrap up a contact opened by hand with notes, the script, an outcome, an
escalation (the mail arrives at an SMTP server this test runs) and a complaint; a reload mid-typing keeps the
draft; the complaint appears in the supervisors' register."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import RunningDesk, login
from tests.wrapup.desks import SmtpSink


@pytest.fixture(scope="module")
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture(scope="module")
def demo_smtp_port(smtp_sink: SmtpSink) -> int:
    return smtp_sink.port


@pytest.fixture
def page(chromium, demo_desk: RunningDesk) -> Iterator[Page]:
    context = chromium().new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def _wait_mail(sink: SmtpSink, count: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while len(sink.messages) < count:
        assert time.monotonic() < deadline, "the escalation mail did not arrive"
        time.sleep(0.1)


def test_search_tabs_article_and_keyboard(page: Page, demo_desk: RunningDesk) -> None:
    login(page, demo_desk)
    # Empty box: the most used items for the agent's skill.
    expect(page.get_by_test_id("kb-result").first).to_be_visible()
    search = page.get_by_test_id("kb-search")
    search.fill("thuis vaccin")
    expect(page.get_by_test_id("kb-results")).to_have_attribute("data-query", "thuis vaccin")
    expect(page.locator('[data-testid="kb-result"][data-id="vaccinatie-aan-huis"]')).to_be_visible()
    articles = page.get_by_test_id("kb-tab-articles")
    assert int(articles.get_attribute("data-count")) >= 1
    page.get_by_test_id("kb-tab-escalations").click()
    expect(page.locator('[data-testid="kb-result"][data-id="esc-mobiel-team"]')).to_be_visible()
    articles.click()
    expect(page.get_by_test_id("kb-results")).to_have_attribute("data-tab", "articles")

    # Keyboard: "/" focuses the box, arrows move, Enter opens, Esc goes back.
    page.locator("body").click(position={"x": 5, "y": 700})
    page.keyboard.press("/")
    expect(search).to_be_focused()
    page.keyboard.press("Enter")
    article = page.get_by_test_id("kb-article")
    expect(article).to_be_visible()
    expect(page.get_by_test_id("kb-instructions")).to_contain_text("huisarts")
    expect(article.get_by_test_id("kb-escalation-point")).to_contain_text("Mobiel vaccinatieteam")
    expect(article.get_by_test_id("kb-handling-term").first).to_contain_text("10")
    expect(article.get_by_test_id("kb-copy").first).to_be_visible()
    expect(article.get_by_test_id("kb-faq")).to_contain_text("Wie komt er bij mij thuis vaccineren?")
    page.keyboard.press("Escape")
    expect(article).to_be_hidden()
    expect(page.get_by_test_id("kb-result").first).to_be_visible()
    # Feedback for the editors.
    page.get_by_test_id("kb-result").first.click()
    page.get_by_test_id("kb-feedback").click()
    page.get_by_test_id("kb-feedback-text").fill("De FAQ mag een vraag over de wachttijd krijgen.")
    page.get_by_test_id("kb-feedback-send").click()
    expect(page.get_by_test_id("kb-feedback-status")).not_to_be_empty()


def test_wrap_up_with_escalation_and_complaint(
    page: Page, demo_desk: RunningDesk, smtp_sink: SmtpSink, artifacts
) -> None:
    login(page, demo_desk)
    page.get_by_test_id("wrapup-new").click()
    expect(page.get_by_test_id("wrapup-contact")).to_have_attribute("data-contact-id", re.compile(r"\d+"))
    expect(page.get_by_test_id("wrapup-timer")).to_have_attribute("data-running", "1")

    page.get_by_test_id("kb-search").fill("vaccinatie aan huis")
    page.locator('[data-testid="kb-result"][data-id="vaccinatie-aan-huis"]').click()
    expect(page.get_by_test_id("kb-instructions")).to_contain_text("mobiele team")
    expect(page.get_by_test_id("wrapup-script")).to_have_attribute("data-id", "vaccinatie-aan-huis")

    notes = page.get_by_test_id("wrapup-notes")
    notes.fill("Mevrouw is bedlegerig en vraagt een vaccinatie thuis.")
    page.get_by_test_id("wrapup-outcome").select_option("escalated")
    page.get_by_test_id("wrapup-escalate").check()
    page.get_by_test_id("wrapup-esc-point").select_option("esc-mobiel-team")
    expect(page.get_by_test_id("wrapup-esc-to")).to_have_value("mobielteam@vaccinatiecentrum.example.be")
    page.get_by_test_id("wrapup-esc-name").fill("Maria Claes")
    page.get_by_test_id("wrapup-esc-phone").fill("050 12 34 56")
    page.get_by_test_id("wrapup-esc-phone-repeat").fill("050123456")
    page.get_by_test_id("wrapup-esc-address").fill("Molenstraat 4, 8000 Brugge")
    page.get_by_test_id("wrapup-esc-message").fill("Huisarts vaccineert niet aan huis.")
    page.get_by_test_id("wrapup-esc-confirmed").check()
    page.get_by_test_id("wrapup-complaint").check()
    page.get_by_test_id("wrapup-complaint-kind").select_option("personal")
    page.get_by_test_id("wrapup-complaint-name").fill("Maria Claes")
    page.get_by_test_id("wrapup-complaint-phone").fill("050 12 34 56")
    page.get_by_test_id("wrapup-complaint-description").fill("Drie keer doorverbonden zonder antwoord.")
    expect(page.get_by_test_id("wrapup-complaint-due")).to_contain_text("45")

    page.screenshot(path=str(artifacts / "scripts-wrapup.png"))
    # 1280x720: the panels scroll inside, the page itself never does.
    assert page.evaluate("document.scrollingElement.scrollHeight") <= 720
    # Reload mid-typing: the keepalive save on leaving (or the debounced one) keeps every field.
    notes.press("End")
    notes.type(" Ze woont alleen.")
    page.reload()
    expect(page.locator("body[data-wrapup-ready='1']")).to_be_attached()
    expect(page.get_by_test_id("wrapup-notes")).to_have_value(
        "Mevrouw is bedlegerig en vraagt een vaccinatie thuis. Ze woont alleen."
    )
    expect(page.get_by_test_id("wrapup-status")).not_to_be_empty()
    expect(page.get_by_test_id("wrapup-esc-point")).to_have_value("esc-mobiel-team")
    expect(page.get_by_test_id("wrapup-esc-name")).to_have_value("Maria Claes")
    expect(page.get_by_test_id("wrapup-complaint-description")).to_have_value(
        "Drie keer doorverbonden zonder antwoord."
    )
    expect(page.get_by_test_id("wrapup-script")).to_have_attribute("data-id", "vaccinatie-aan-huis")
    expect(page.get_by_test_id("wrapup-outcome")).to_have_value("escalated")

    page.get_by_test_id("wrapup-save").click()
    expect(page.get_by_test_id("wrapup-status")).to_have_attribute("data-submitted", re.compile(r"\d+"))
    expect(page.get_by_test_id("wrapup-notes")).to_have_value("")
    expect(page.get_by_test_id("wrapup-save")).to_be_disabled()

    _wait_mail(smtp_sink, 1)
    escalations = [m for m in smtp_sink.messages if m["X-Agent-Desktop-Kind"] == "escalation"]
    assert len(escalations) == 1
    text = escalations[0].get_content()
    assert escalations[0]["To"] == "mobielteam@vaccinatiecentrum.example.be"
    assert "Ze woont alleen." in text and "Maria Claes" in text and "050 12 34 56" in text
    assert "Molenstraat 4" in text and "Vaccinatie aan huis" in text

    page.goto(f"{demo_desk.url}/complaints")
    row = page.get_by_test_id("complaint-row").filter(has_text="Maria Claes")
    expect(row).to_be_visible()
    row.click()
    expect(page.get_by_test_id("complaint-description")).to_contain_text("Drie keer doorverbonden")
    page.get_by_test_id("complaint-investigation").fill("Gesprekken nagekeken.")
    page.get_by_test_id("complaint-outcome").select_option("grounded")
    # The answer's date is written day first (date_field.js); a day that does not exist saves nothing.
    answered_on = page.get_by_test_id("complaint-answered-on")
    expect(answered_on).to_have_attribute("placeholder", "dd/mm/jjjj")
    answered_on.fill("31/06/2026")
    page.get_by_test_id("complaint-save").click()
    expect(page.get_by_test_id("complaint-answered-on-error")).to_have_text(
        "Geen geldige datum: typ dag/maand/jaar, bv. 31/12/2026."
    )
    page.wait_for_timeout(300)
    expect(row).not_to_have_attribute("data-status", "answered")
    answered_on.fill("01/06/2026")
    expect(page.get_by_test_id("complaint-answered-on-error")).to_be_hidden()
    page.get_by_test_id("complaint-save").click()
    expect(row).to_have_attribute("data-status", "answered")
    # Read back from the desk (the form is filled again from the saved complaint): 1 June, shown day first.
    expect(answered_on).to_have_attribute("data-iso", "2026-06-01")
    expect(answered_on).to_have_value("01/06/2026")
