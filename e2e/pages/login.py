"""The login page: eID through the local bridge, the PIN, the refusal the desk explains."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect


class LoginPage:
    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        self.url = url.rstrip("/")

    def open(self) -> LoginPage:
        self.page.goto(self.url)
        expect(self.page.locator("body[data-ready='1']")).to_be_visible()
        return self

    def start(self) -> LoginPage:
        """Click "log in with eID": the page asks the bridge for the card and shows the PIN field."""
        self.page.get_by_test_id("login-eid").click()
        expect(self.page.get_by_test_id("pin-input")).to_be_visible()
        return self

    def submit_pin(self, pin: str) -> None:
        self.page.get_by_test_id("pin-input").fill(pin)
        self.page.get_by_test_id("login-submit").click()

    @property
    def error(self) -> Locator:
        """The refusal; its `data-code` is the contract's code (pin_incorrect, cert_revoked, …)."""
        return self.page.get_by_test_id("login-error")

    def expect_refused(self, code: str) -> None:
        expect(self.error).to_be_visible()
        expect(self.error).to_have_attribute("data-code", code)

    def log_in(self, pin: str):
        """The whole login; returns the desk, its WebSocket connected."""
        from e2e.pages.desk import DeskPage

        self.open().start().submit_pin(pin)
        desk = DeskPage(self.page, self.url)
        desk.expect_connected()
        return desk
