"""The per-session limit of the logged-in `/api/` in Chromium: the desk (loaded, the KB searched as the agent types)
and the reports page (opened, "show" clicked again and again) never meet a 429; a page refused `rate_limited` (on a
desk whose allowance is set just above that page) reads why in its language. Sync module: Playwright owns the main thread's loop; the desk runs on a loop
thread."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing

import pytest
from playwright.sync_api import Page, Response, expect

from agent_desktop.cli import enrol_certificate
from agent_desktop.config import load_config
from tests.helpers.net import free_port
from tests.web.conftest import serve_desk, write_config
from tests.web.desk_scene import DeskScene, logged_in_page


class Served(DeskScene):
    """The desk alone: its agent (Dutch) and its supervisor (French)."""

    def __init__(self, tmp_path, web_pki, cards, server: str = "") -> None:
        super().__init__()
        port = free_port()
        config = load_config(write_config(tmp_path, web_pki, port, server=server))
        enrol_certificate(config, cards["agent"].cert, ["agent"], ["vaccination"], "nl")
        enrol_certificate(config, cards["supervisor"].cert, ["agent", "supervisor"], [], "fr")
        self.desk = self.loop.run(self.stack.enter_async_context(serve_desk(config, port, cards)))


@pytest.fixture
def served(tmp_path, web_pki, cards) -> Iterator[Served]:
    with closing(Served(tmp_path, web_pki, cards)) as served:
        yield served


@pytest.fixture
def tight(tmp_path, web_pki, cards) -> Iterator[Served]:
    """A desk whose allowance is just what the reports page takes to open (1 + 4 heavy × 10 + 1), refilled 5/s:
    a second "show" at once is over it, as a page in a loop would be on the real numbers."""
    with closing(Served(tmp_path, web_pki, cards, "api_burst = 50\napi_per_s = 5")) as served:
        yield served


def _watch(page: Page) -> list[tuple[int, str]]:
    """Every response the page gets, (status, url), from now on."""
    seen: list[tuple[int, str]] = []

    def on_response(response: Response) -> None:
        seen.append((response.status, response.url))

    page.on("response", on_response)
    return seen


@pytest.mark.timeout(120)
def test_the_desk_and_the_reports_page_meet_no_429(chromium, served):
    with logged_in_page(chromium, served, "agent", locale="nl-BE", timezone_id="Europe/Brussels") as desk:
        seen = _watch(desk)
        desk.goto(f"{served.desk.url}/")
        expect(desk.locator("body")).to_have_attribute("data-ready", "1")
        search = desk.get_by_test_id("kb-search")
        search.press_sequentially("vaccinatie afspraak thuis met")  # 29 keys as fast as Playwright types
        expect(desk.get_by_test_id("kb-results")).to_have_attribute(
            "data-query", "vaccinatie afspraak thuis met"
        )
        desk.reload()
        expect(desk.locator("body")).to_have_attribute("data-ready", "1")
        desk_seen = list(seen)
    with logged_in_page(
        chromium, served, "supervisor", locale="fr-BE", timezone_id="Europe/Brussels"
    ) as reports:
        seen = _watch(reports)
        reports.goto(f"{served.desk.url}/supervisor/reports")
        expect(reports.locator("body")).to_have_attribute("data-ready", "1")
        expect(reports.locator("body")).to_have_attribute("data-chart", "1")
        show = reports.get_by_test_id("report-show")
        for _ in range(10):  # an impatient supervisor
            show.click()
        reports.wait_for_load_state("networkidle")
        expect(reports.get_by_test_id("report-error")).to_be_hidden()
        reports_seen = list(seen)
    api = [s for s in desk_seen + reports_seen if "/api/" in s[1]]
    print(
        f"\n{len(api)} API responses: desk {len(desk_seen)}, reports page {len(reports_seen)} (all responses)"
    )
    assert len(api) > 30  # the pages did ask
    assert not [s for s in desk_seen + reports_seen if s[0] == 429]


@pytest.mark.timeout(90)
def test_a_page_refused_rate_limited_says_why_in_its_language(chromium, tight):
    with logged_in_page(chromium, tight, "supervisor", locale="fr-BE", timezone_id="Europe/Brussels") as page:
        seen = _watch(page)
        page.goto(f"{tight.desk.url}/supervisor/reports")
        expect(page.locator("body")).to_have_attribute("data-ready", "1")
        expect(page.locator("body")).to_have_attribute("data-lang", "fr")
        expect(page.locator("body")).to_have_attribute("data-chart", "1")
        error = page.get_by_test_id("report-error")
        expect(error).to_be_hidden()
        page.get_by_test_id("report-show").click()
        expect(error).to_be_visible(timeout=10_000)
        expect(error).to_contain_text("Cette page a sollicité le desk trop souvent")
        expect(error).to_contain_text(re.compile(r"Attendez \d+ s"))
        assert [s for s in seen if s[0] == 429]
        page.wait_for_timeout(9000)  # 45 tokens back
        page.get_by_test_id("report-show").click()
        expect(error).to_be_hidden()
        expect(page.locator("body")).to_have_attribute("data-chart", "1")


@pytest.fixture
def spent(tmp_path, web_pki, cards) -> Iterator[Served]:
    """A desk whose allowance is 10 requests, refilled one every 2 s."""
    with closing(Served(tmp_path, web_pki, cards, "api_burst = 10\napi_per_s = 0.5")) as served:
        yield served


@pytest.mark.timeout(90)
def test_the_desk_opened_while_its_session_is_refused_waits_and_loads(chromium, spent):
    cookie = spent.cookie("agent")

    async def spend() -> None:  # another tab of the same session in a loop
        async with spent.desk.client() as client:
            client.cookie_jar.update_cookies({"ad_session": cookie})
            for _ in range(30):
                async with client.get(f"{spent.desk.url}/api/me") as response:
                    if response.status == 429:
                        return
            raise AssertionError("never refused")

    spent.loop.run(spend())
    context = chromium().new_context(locale="nl-BE", timezone_id="Europe/Brussels")
    try:
        context.add_cookies([{"name": "ad_session", "value": cookie, "url": spent.desk.url}])
        page = context.new_page()
        seen = _watch(page)
        page.goto(f"{spent.desk.url}/")
        expect(page.locator("body")).to_have_attribute("data-ready", "1", timeout=20_000)
        expect(page.get_by_test_id("agent-name")).to_have_text("Els Maes", timeout=20_000)
        me = [s for s, url in seen if url.endswith("/api/me")]
        assert me[0] == 429 and me[-1] == 200, me  # refused first, asked again after the Retry-After
    finally:
        context.close()
