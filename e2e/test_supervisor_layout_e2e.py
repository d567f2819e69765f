"""Every page the demo agent opens (it is also supervisor and helpdesk, as a centre's team lead is) fits a
1280×720 window in nl, fr and en: the page is not wider than the window, the topbar's links, language switch and
logout are on screen, and no heading, label or table cell is cut short — the wall with a caller waiting and an
agent on it, the reports with a day of calls. Screenshots of each page in each language are saved."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import RunningDesk, login, window_page
from e2e.pages.supervisor import SUPERVISOR_PAGES, SupervisorPages


@pytest.fixture
def page(chromium, demo_desk: RunningDesk) -> Iterator[Page]:
    with window_page(chromium) as page:
        yield page


@pytest.mark.timeout(150)
def test_every_page_of_a_supervisor_fits_1280x720_in_each_language(
    page: Page, demo_desk: RunningDesk, artifacts
):
    login(page, demo_desk)
    pages = SupervisorPages(page, demo_desk.url)
    problems = {}
    for path in SUPERVISOR_PAGES:
        pages.open(path)
        if path == "/supervisor":
            expect(pages.wall_agents.first).to_be_visible()
        for lang in ("nl", "fr", "en"):
            pages.switch_language(lang)
            page.wait_for_timeout(300)  # the re-render after the switch
            cut = pages.cut_off()
            if cut:
                problems[f"{path} {lang}"] = cut
            name = path.strip("/").replace("/", "-") or "desk"
            page.screenshot(path=str(artifacts / f"fits-{name}-{lang}.png"))
    assert problems == {}, "\n".join(f"{k}: {v}" for k, v in problems.items())
