"""The phone panel's queue side: callers waiting per queue, a callback offered like a call, a callback booked
during a call."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect


class QueuePanel:
    def __init__(self, page: Page) -> None:
        self.page = page

    @property
    def stats(self) -> Locator:
        """The figures of every queue the agent serves; `data-waiting`, `data-callbacks`: totals."""
        return self.page.get_by_test_id("queue-stats")

    def row(self, queue: str) -> Locator:
        """One queue's row: `data-waiting`, `data-longest-wait` (s), `data-callbacks`; cells th, td.longest, …"""
        return self.page.locator(f'[data-testid="queue-stat"][data-queue="{queue}"]')

    def expect_waiting(self, queue: str, waiting: int) -> None:
        expect(self.row(queue)).to_have_attribute("data-waiting", str(waiting))

    @property
    def offer(self) -> Locator:
        """The callback offered to this agent: `data-callback-id`, `data-queue`, `data-overdue`."""
        return self.page.get_by_test_id("callback-offer")

    def accept(self) -> None:
        self.page.get_by_test_id("callback-accept").click()

    def reject(self) -> None:
        self.page.get_by_test_id("callback-reject").click()
        expect(self.offer).to_be_hidden()

    @property
    def form(self) -> Locator:
        return self.page.get_by_test_id("callback-book-form")

    def open_booking(self) -> None:
        """ "Book a callback" (shown during a live call): the form, prefilled with the call's number and queue."""
        self.page.get_by_test_id("callback-book").click()
        expect(self.form).to_be_visible()

    def field(self, name: str) -> Locator:
        """The booking form's `number`, `queue`, `note`, `error`; `status` after booking (`data-callback-id`)."""
        return self.page.get_by_test_id(f"callback-book-{name}")

    def submit_booking(self) -> None:
        self.page.get_by_test_id("callback-book-submit").click()
