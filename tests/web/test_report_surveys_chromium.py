# ruff: noqa: F811  (`scene` and `page` are pytest fixtures imported from test_wall_chromium)
"""The reports page shows the survey per queue, agent and question (DESIGN.md §10) in Chromium, in the page's
locale: surveys seeded through their repository on the running desk's store, the page opened on their day."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from agent_desktop.web import keys
from tests.web.test_report_surveys import _seed
from tests.web.test_wall_chromium import page, scene  # noqa: F401 (fixtures)


@pytest.mark.timeout(90)
def test_the_reports_page_shows_the_survey_per_queue_agent_and_question(page, scene, artifacts):
    async def seed():
        _seed(scene.desk)
        await scene.desk.server.app[keys.STORE].read(lambda db: None)  # the writes have landed

    scene.loop.run(seed())
    page.goto(f"{scene.desk.url}/supervisor/reports?from=2026-01-15&to=2026-01-15&interval=hour")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    row = (
        page.locator('[data-testid="report-row"]').filter(has=page.locator('[data-queue="vaccinatie"]')).first
    )
    expect(page.locator("body")).to_have_attribute("data-lang", "fr")  # the supervisor's card: French
    expect(row.locator('[data-col="survey_avg"]')).to_have_text("7,4")  # fr-BE decimal comma

    table = page.get_by_test_id("survey-table")
    expect(table.locator("thead th")).to_have_count(2 + 1 + 4)
    expect(table.locator("thead th").nth(3)).to_have_text("Question 1")
    total = table.locator('[data-testid="survey-row"][data-kind="total"]')
    expect(total.locator('[data-col="surveys"]')).to_have_text("3")
    expect(total.locator('[data-col="avg"]')).to_have_text("7,2")
    vaccinatie = table.locator('[data-testid="survey-row"][data-kind="queue"][data-key="vaccinatie"]')
    expect(vaccinatie.locator('[data-col="q2"]')).to_have_text("10")
    expect(vaccinatie.locator('[data-col="q3"]')).to_have_text("—")  # nobody answered it
    els = table.locator('[data-testid="survey-row"][data-kind="agent"][data-key="1"]')
    expect(els).to_contain_text("Els Maes")
    expect(els.locator('[data-col="q1"]')).to_have_text("6,3")

    expect(total.locator("td").first).to_have_text("Toutes")

    page.select_option("#lang-switch", "nl")
    expect(table.locator("thead th").nth(3)).to_have_text("Vraag 1")
    expect(total.locator("td").first).to_have_text("Alle")
    table.screenshot(path=str(artifacts / "report-survey.png"))
