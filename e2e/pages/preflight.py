"""The PC test page (`/preflight`): run the checks, answer the speaker question, read rows and the report id."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect


class PreflightPage:
    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        self.url = url.rstrip("/")

    def open(self) -> PreflightPage:
        self.page.goto(f"{self.url}/preflight")
        expect(self.page.locator("body[data-ready='1'][data-state='idle']")).to_be_visible()
        return self

    def run(self, timeout_ms: float = 90_000) -> None:
        """Start the test, confirm the speaker played, wait until every check has an answer."""
        self.page.get_by_test_id("preflight-run").click()
        self.page.get_by_test_id("preflight-speaker-yes").click(timeout=timeout_ms)
        expect(self.page.locator("body[data-state='done']")).to_be_visible(timeout=timeout_ms)

    def row(self, name: str) -> Locator:
        """One check's row; `data-status` is pass, warn, fail or unknown."""
        return self.page.get_by_test_id(f"preflight-check-{name}")

    @property
    def overall(self) -> Locator:
        return self.page.get_by_test_id("preflight-overall")

    @property
    def report_id(self) -> Locator:
        return self.page.get_by_test_id("preflight-report-id")
