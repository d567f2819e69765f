"""The desk after login: the topbar (name, state, language, logout) and its panels."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from e2e.pages.phone import PhonePanel
from e2e.pages.queue import QueuePanel
from e2e.pages.scripts import ScriptsPanel
from e2e.pages.wrapup import WrapupPanel


class DeskPage:
    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        self.url = url.rstrip("/")
        self.phone = PhonePanel(page)
        self.queue = QueuePanel(page)
        self.scripts = ScriptsPanel(page)
        self.wrapup = WrapupPanel(page)

    def expect_connected(self) -> None:
        expect(self.page.get_by_test_id("desk-connection")).to_have_attribute("data-status", "open")

    @property
    def agent_name(self) -> Locator:
        return self.page.get_by_test_id("agent-name")

    @property
    def state(self) -> Locator:
        """The state selector; `data-state` is the desk's state (available, on_call, wrap_up, …)."""
        return self.page.get_by_test_id("agent-state")

    def set_state(self, state: str) -> None:
        self.state.select_option(state)
        self.expect_state(state)

    def expect_state(self, state: str) -> None:
        expect(self.state).to_have_attribute("data-state", state)

    def switch_language(self, lang: str) -> None:
        self.page.get_by_test_id("lang-switch").select_option(lang)

    def ready_for_calls(self) -> None:
        """Audio connected and available: what an agent does before the first call."""
        self.phone.expect_audio_connected()
        self.set_state("available")

    def log_out(self) -> None:
        self.page.get_by_test_id("logout").click()
        expect(self.page.get_by_test_id("login-eid")).to_be_visible()
