"""The supervisor's pages: the live wall, the reports and the call lists (what a supervisor opens from the topbar)."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

# Every page of the topbar a supervisor (with the helpdesk role, as the demo agent) opens, by path.
SUPERVISOR_PAGES = (
    "/",
    "/preflight",
    "/helpdesk",
    "/complaints",
    "/supervisor",
    "/supervisor/reports",
    "/supervisor/orders",
)

# What a user at this window size cannot see without scrolling sideways: the page wider than the window, the
# topbar's controls (links, language, logout) outside it, and labels or cells cut short (their text wider than
# their box, hidden or ellipsised). Content marked translate="no" (KB snippets, citizens' names) may be ellipsised.
CUT_OFF = """() => {
  const width = document.documentElement.clientWidth;
  const cut = [];
  if (document.documentElement.scrollWidth > width) cut.push(`page ${document.documentElement.scrollWidth}px wide`);
  for (const el of document.querySelectorAll(".topbar a, .topbar select, .topbar button")) {
    const r = el.getBoundingClientRect();
    if (r.width && (r.right > width || r.left < 0)) cut.push(`topbar ${el.dataset.testid || el.textContent.trim()}`);
  }
  for (const el of document.querySelectorAll("th, td, label, legend, button, a, h2, .status, [role=status]")) {
    if (!el.getClientRects().length || el.closest('[translate="no"]')) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility === "hidden") continue;
    const r = el.getBoundingClientRect();
    if (r.right > width + 1) { cut.push(`outside: ${el.tagName} ${el.textContent.trim().slice(0, 40)}`); continue; }
    // A cell clipped by a parent that hides its overflow (a table wider than its panel).
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const ps = getComputedStyle(p);
      if (/(hidden|clip)/.test(ps.overflowX)) {
        const pr = p.getBoundingClientRect();
        if (r.right > pr.right + 1 && r.left < pr.right) cut.push(`clipped: ${el.tagName} ${el.textContent.trim().slice(0, 40)}`);
        break;
      }
      if (/(auto|scroll)/.test(ps.overflowX)) break;
    }
    if (el.scrollWidth > el.clientWidth + 1 && /(hidden|clip)/.test(cs.overflowX) && el.textContent.trim())
      cut.push(`ellipsis: ${el.tagName} ${el.textContent.trim().slice(0, 40)}`);
  }
  // The reports chart's legend: no label runs into the next one.
  const legend = [...document.querySelectorAll(".chart text[data-i18n]")].map((t) => [t.textContent, t.getBoundingClientRect()]);
  for (let i = 1; i < legend.length; i++) {
    const [name, r] = legend[i], [before, q] = legend[i - 1];
    if (r.top < q.bottom && q.top < r.bottom && r.left < q.right) cut.push(`legend: ${before} runs into ${name}`);
  }
  return cut;
}"""


class SupervisorPages:
    """The wall, the reports and the call lists of one desk, opened in one page."""

    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        self.url = url.rstrip("/")

    def open(self, path: str) -> None:
        self.page.goto(f"{self.url}{path}")
        expect(self.page.locator("body[data-ready='1']")).to_be_visible()

    def switch_language(self, lang: str) -> None:
        self.page.get_by_test_id("lang-switch").select_option(lang)
        expect(self.page.locator("html")).to_have_attribute("lang", lang)

    def cut_off(self) -> list[str]:
        """What does not fit the window (see CUT_OFF); empty when everything can be read."""
        return self.page.evaluate(CUT_OFF)

    @property
    def wall_queues(self) -> Locator:
        return self.page.get_by_test_id("wall-queue")

    @property
    def wall_agents(self) -> Locator:
        return self.page.get_by_test_id("wall-agent")

    # -- opening now (the wall's override controls; CONTRACT.md "Opening now on the wall") ----------------------

    def wall_queue(self, name: str) -> Locator:
        return self.page.locator(f"[data-testid='wall-queue'][data-queue='{name}']")

    def ask_override(self, queue: str, mode: str) -> Locator:
        """Press the queue's "Open now" / "Close now" / "Back to the opening hours"; the confirmation dialog."""
        testid = {
            "open": "wall-override-open",
            "closed": "wall-override-close",
            "auto": "wall-override-auto",
        }[mode]
        self.wall_queue(queue).get_by_test_id(testid).click()
        dialog = self.page.get_by_test_id("override-dialog")
        expect(dialog).to_be_visible()
        expect(dialog).to_have_attribute("data-mode", mode)
        return dialog

    # -- the call lists (/supervisor/orders) ---------------------------------------------------------------------

    def call_list(self, name: str) -> Locator:
        """A list's row (`data-failed`, `data-orders`, …)."""
        return self.page.locator(f"[data-testid='orders-list'][data-list='{name}']")

    def ask_reopen(self, name: str) -> Locator:
        """Press the list's "Reopen failed orders"; the confirmation dialog (its `orders-reopen-count` says how
        many, `data-n`)."""
        self.call_list(name).get_by_test_id("orders-reopen").click()
        dialog = self.page.get_by_test_id("orders-reopen-confirm")
        expect(dialog).to_be_visible()
        return dialog

    def confirm_override(self, until: str = "") -> None:
        """Confirm the open dialog, with an end time ("14/07/2026 18:00", the centre's clock) or none."""
        if until:
            self.page.get_by_test_id("override-until").fill(until)
        self.page.get_by_test_id("override-confirm").click()
