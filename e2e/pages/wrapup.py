"""The wrap-up panel: the current contact, notes, outcome, save."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect


class WrapupPanel:
    def __init__(self, page: Page) -> None:
        self.page = page

    @property
    def contact(self) -> Locator:
        return self.page.get_by_test_id("wrapup-contact")

    @property
    def status(self) -> Locator:
        return self.page.get_by_test_id("wrapup-status")

    @property
    def save_button(self) -> Locator:
        return self.page.get_by_test_id("wrapup-save")

    def new_contact(self) -> None:
        """A contact taken by hand (no call)."""
        self.page.get_by_test_id("wrapup-new").click()
        expect(self.contact).to_be_visible()

    def fill(self, notes: str, outcome: str | None = None) -> None:
        self.page.get_by_test_id("wrapup-notes").fill(notes)
        if outcome is not None:
            self.page.get_by_test_id("wrapup-outcome").select_option(outcome)

    def save(self) -> None:
        """Submit: the contact closes and the agent becomes available again."""
        self.save_button.click()
