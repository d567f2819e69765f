"""The scripts panel: search the knowledge base, the tabs, open an item."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect


class ScriptsPanel:
    def __init__(self, page: Page) -> None:
        self.page = page

    def search(self, text: str) -> None:
        self.page.get_by_test_id("kb-search").fill(text)
        expect(self.page.get_by_test_id("kb-results")).to_have_attribute("data-query", text)

    @property
    def results(self) -> Locator:
        return self.page.get_by_test_id("kb-result")

    def result(self, item_id: str) -> Locator:
        return self.page.locator(f'[data-testid="kb-result"][data-id="{item_id}"]')

    def tab(self, name: str) -> Locator:
        """articles, faq, escalations, organisations; `data-count` holds the hits."""
        return self.page.get_by_test_id(f"kb-tab-{name}")

    def open(self, item_id: str) -> Locator:
        self.result(item_id).click()
        article = self.page.get_by_test_id("kb-article")
        expect(article).to_be_visible()
        return article
