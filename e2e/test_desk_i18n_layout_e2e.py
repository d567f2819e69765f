"""Language, number formats and layout of every page at 1280×720 in Chromium, against the demo desk.

- A live language switch during a call (nl → fr → en, and after the wrap-up nl → fr) leaves no string of the
  Dutch dictionary on the desk: the page's text, placeholders, titles and labels are checked against nl.json
  (content marked `translate="no"` — KB texts, names, numbers typed by the agent — is not UI text).
- Numbers and dates follow the agent's locale (nl-BE, fr-BE, en-GB; 24-hour clock).
- No placeholder is cut off (its text measured with the input's own font against the input's inner width), no
  button wraps, the PC test's rows are not hidden in an inner scroll area.
- The scripts panel: a readable skill label, the agent's language first (others behind a filter), snippets in
  plain text, the article title once.
- One topbar on the desk, PC test, helpdesk and complaints pages (agent's name, links, language, logout).
Screenshots of the desk in nl, fr and en during a call are saved as test artefacts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from agent_desktop.sip.demo_caller import demo_call
from e2e.conftest import DEMO_QUEUE_NUMBER, RunningDesk, login, window_page
from tests.helpers.loop_thread import LoopThread

ROOT = Path(__file__).resolve().parent.parent
I18N = ROOT / "agent_desktop" / "static" / "i18n"
DICTS = {lang: json.loads((I18N / f"{lang}.json").read_text()) for lang in ("nl", "fr", "en")}

# The fragments of the nl strings (split at their {placeholders}) that no string of `target` contains, found
# in the page's UI text: text nodes, placeholders, titles, aria-labels — everything outside translate="no".
FOREIGN_STRINGS = """([source, target]) => {
  const targetText = Object.values(target).join("\\n");
  const fragments = new Set();
  for (const value of Object.values(source)) {
    for (const part of value.split(/\\{\\w+\\}/)) {
      const f = part.trim();
      if (f.length >= 4 && /\\p{L}{3}/u.test(f) && !targetText.includes(f)) fragments.add(f);
    }
  }
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.parentElement.closest('[translate="no"], script, style')) texts.push(node.data);
  }
  for (const el of document.body.querySelectorAll("[placeholder], [title], [aria-label]")) {
    if (el.closest('[translate="no"]')) continue;
    for (const name of ["placeholder", "title", "aria-label"]) if (el.getAttribute(name)) texts.push(el.getAttribute(name));
  }
  const text = texts.join("\\n");
  return [...fragments].filter((f) => text.includes(f));
}"""

# Visible inputs whose placeholder is wider than the room inside the input (measured with the input's font).
CUT_PLACEHOLDERS = """() => {
  const ctx = document.createElement("canvas").getContext("2d");
  const cut = [];
  for (const el of document.querySelectorAll("input[placeholder]")) {
    if (!el.placeholder || !el.getClientRects().length || getComputedStyle(el).visibility === "hidden") continue;
    const cs = getComputedStyle(el);
    ctx.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
    const needed = ctx.measureText(el.placeholder).width;
    const room = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight)
      - (el.type === "search" ? 16 : 0);  // the clear button Chromium shows once the agent types
    if (needed > room || el.scrollWidth > el.clientWidth) {
      cut.push({ id: el.id || el.dataset.testid, placeholder: el.placeholder, needed: Math.round(needed), room: Math.round(room) });
    }
  }
  return cut;
}"""

# Visible buttons (and links styled as buttons) whose label runs over more than one line.
WRAPPED_BUTTONS = """() => {
  const wrapped = [];
  for (const el of document.querySelectorAll("button, a.button, .topbar a")) {
    if (!el.getClientRects().length || !el.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(el);
    const rects = [...range.getClientRects()].filter((r) => r.width > 0);
    // Two boxes one above the other (not merely on different baselines) = a second line.
    if (rects.some((r) => rects.some((q) => r.top >= q.bottom - 1))) wrapped.push(el.id || el.dataset.testid || el.textContent.trim());
  }
  return wrapped;
}"""

# Elements that scroll inside the page (more content than room, overflow auto/scroll).
INNER_SCROLLERS = """(selector) => [...document.querySelectorAll(selector)]
  .filter((el) => el.scrollHeight > el.clientHeight + 1 && /(auto|scroll)/.test(getComputedStyle(el).overflowY))
  .map((el) => el.className || el.id)"""


@pytest.fixture
def page(chromium, demo_desk: RunningDesk) -> Iterator[Page]:
    with window_page(chromium) as page:
        yield page


def switch_language(page: Page, lang: str) -> None:
    page.get_by_test_id("lang-switch").select_option(lang)
    expect(page.locator("html")).to_have_attribute("lang", lang)


def assert_no_foreign_strings(page: Page, source: str, target: str) -> None:
    """Waits (re-renders are asynchronous) until no `source` string is left, then says which ones stayed."""
    try:
        page.wait_for_function(
            f"(pair) => !({FOREIGN_STRINGS})(pair).length", arg=[DICTS[source], DICTS[target]], timeout=5000
        )
    except Exception:
        left = page.evaluate(FOREIGN_STRINGS, [DICTS[source], DICTS[target]])
        raise AssertionError(f"{source} strings left after switching to {target}: {left}") from None


def assert_fits(page: Page) -> None:
    assert page.evaluate(CUT_PLACEHOLDERS) == []
    assert page.evaluate(WRAPPED_BUTTONS) == []


def place_call(loop: LoopThread, desk: RunningDesk) -> Future:
    return asyncio.run_coroutine_threadsafe(
        demo_call(f"sip:{DEMO_QUEUE_NUMBER}@127.0.0.1:{desk.sip_port}", max_seconds=90), loop.loop
    )


@pytest.mark.timeout(240)
def test_live_language_switch_during_a_call(page: Page, demo_desk: RunningDesk, loop: LoopThread, artifacts):
    login(page, demo_desk)
    switch_language(page, "nl")
    expect(page.get_by_test_id("rtc-status")).to_have_attribute("data-status", "connected")
    page.get_by_test_id("agent-state").select_option("available")
    expect(page.get_by_test_id("agent-state")).to_have_attribute("data-state", "available")
    call = place_call(loop, demo_desk)
    try:
        page.get_by_test_id("call-answer").click()
        expect(page.get_by_test_id("call-status")).to_have_attribute("data-state", "connected")
        expect(page.get_by_test_id("call-quality")).not_to_have_attribute("data-mos", "")
        # Texts made while the desk speaks Dutch: an article with its date, a saved draft, the audio status.
        page.get_by_test_id("kb-search").fill("openingsuren")
        page.locator('[data-testid="kb-result"][data-id="openingsuren"]').click()
        expect(page.get_by_test_id("kb-article")).to_contain_text("Bijgewerkt op")
        page.get_by_test_id("wrapup-notes").fill("Vraagt de openingsuren.")
        expect(page.get_by_test_id("wrapup-status")).to_contain_text("Concept bewaard om")
        assert_fits(page)
        page.screenshot(path=str(artifacts / "desk-call-nl.png"))
        assert re.search(r"4,5 ·.* \d+,\d\s?%", page.get_by_test_id("call-quality").inner_text())

        switch_language(page, "fr")
        assert_no_foreign_strings(page, "nl", "fr")
        expect(page.get_by_test_id("kb-article")).to_contain_text("Mis à jour le 8 janvier 2024")
        assert re.search(r"\d,\d+/4,5 .* \d+,\d\s%", page.get_by_test_id("call-quality").inner_text())
        assert_fits(page)
        page.screenshot(path=str(artifacts / "desk-call-fr.png"))

        switch_language(page, "en")
        assert_no_foreign_strings(page, "nl", "en")
        assert_no_foreign_strings(page, "fr", "en")
        expect(page.get_by_test_id("kb-article")).to_contain_text("Updated 8 January 2024")
        assert re.search(r"\d\.\d/4\.5 .* \d+\.\d%", page.get_by_test_id("call-quality").inner_text())
        assert re.search(r"\b\d{2}:\d{2}:\d{2}\b", page.get_by_test_id("wrapup-status").inner_text())
        assert_fits(page)
        page.screenshot(path=str(artifacts / "desk-call-en.png"))

        page.get_by_test_id("call-hangup").click()
        expect(page.get_by_test_id("call-status")).to_have_attribute("data-state", "ended")
        assert call.result(30) in ("remote_bye", "local_bye")
    finally:
        if not call.done():  # a failed step: the caller hangs up, its endpoint closes on the loop
            call.cancel()
            loop.run(asyncio.sleep(1))

    # After the call, in Dutch: the wrap-up is submitted ("Contact #N afgesloten.", "Nog geen script geopend").
    switch_language(page, "nl")
    page.get_by_test_id("wrapup-outcome").select_option("answered")
    page.get_by_test_id("wrapup-save").click()
    expect(page.get_by_test_id("wrapup-status")).to_contain_text("afgesloten")
    switch_language(page, "fr")
    assert_no_foreign_strings(page, "nl", "fr")


def test_scripts_panel_skill_label_language_filter_plain_snippets(page: Page, demo_desk: RunningDesk):
    login(page, demo_desk)
    switch_language(page, "nl")  # the agent's language is stored: another test may have left it
    heading = page.get_by_test_id("kb-heading")
    expect(heading).to_have_text("Meest gebruikt voor Vaccinatie")
    results = page.get_by_test_id("kb-result")
    expect(results.first).to_be_visible()
    # Only Dutch items (and items without a language) until the agent asks for the others.
    langs = {r.get_attribute("data-lang") for r in results.all()}
    assert langs <= {"nl", ""}, langs
    toggle = page.get_by_test_id("kb-lang-filter")
    expect(toggle).to_have_attribute("data-others", "3")
    toggle.click()
    expect(page.locator('[data-testid="kb-result"][data-lang="fr"]')).to_have_count(3)
    order = [r.get_attribute("data-lang") for r in results.all()]
    last_dutch = max(i for i, lang in enumerate(order) if lang == "nl")
    assert order.index("fr") > last_dutch, order  # the agent's language first

    snippet = page.locator('[data-testid="kb-result"][data-id="openingsuren"] .kb-result-snippet')
    expect(snippet).not_to_contain_text("|")
    expect(snippet).not_to_contain_text("---")

    page.locator('[data-testid="kb-result"][data-id="fr-certificat"]').click()
    article = page.get_by_test_id("kb-article")
    expect(page.get_by_test_id("kb-article-title")).to_have_text("Certificat de vaccination")
    assert article.inner_text().count("Certificat de vaccination") == 1
    page.get_by_test_id("kb-back").click()
    page.locator('[data-testid="kb-result"][data-id="openingsuren"]').click()
    expect(article.locator("table")).to_be_visible()
    expect(article.locator("table td").first).to_have_text("maandag–vrijdag")
    assert "|" not in article.inner_text()

    switch_language(page, "fr")
    expect(heading).to_have_text("Les plus utilisés pour Vaccination")
    page.get_by_test_id("kb-back").click()
    expect(page.locator('[data-testid="kb-result"][data-lang="nl"]')).to_have_count(0)
    expect(page.locator('[data-testid="kb-result"][data-lang="fr"]').first).to_be_visible()
    expect(toggle).to_have_attribute("data-others", re.compile(r"^1\d$"))


@pytest.mark.timeout(180)
def test_one_topbar_and_nothing_cut_off_on_every_page(page: Page, demo_desk: RunningDesk, artifacts):
    login(page, demo_desk)
    # A report for the helpdesk's list: its date must read the same in every language (day first, 24 h).
    started = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
    answer = page.request.post(
        f"{demo_desk.url}/api/preflight/reports",
        data={
            "source": "browser",
            "started": f"{started:%Y-%m-%dT%H:%M:%SZ}",
            "finished": f"{started + dt.timedelta(seconds=30):%Y-%m-%dT%H:%M:%SZ}",
            "overall": "pass",
            "checks": [{"name": "cpu", "status": "pass", "value": 4, "unit": "cores", "detail": ""}],
        },
    )
    assert answer.ok, answer.text()
    shapes = {}
    for path in ("/", "/preflight", "/helpdesk", "/complaints"):
        page.goto(f"{demo_desk.url}{path}")
        expect(page.locator("body[data-ready='1']")).to_be_visible()
        bar = page.locator("header.topbar")
        expect(bar.get_by_test_id("agent-name")).to_have_text("An Peeters")
        expect(bar.get_by_test_id("logout")).to_be_visible()
        shapes[path] = bar.evaluate(
            "(bar) => [...bar.querySelectorAll('[data-testid]')].map((e) => e.dataset.testid)"
            ".filter((id) => !['agent-state', 'agent-state-reason', 'agent-state-since', 'desk-connection'].includes(id))"
        )
        for lang in ("fr", "en", "nl"):
            switch_language(page, lang)
            assert_fits(page)
            if path == "/helpdesk":
                when = page.locator('[data-testid="helpdesk-report-row"] td').nth(2)
                expect(when).to_have_text(re.compile(r"^\d{2}/\d{2}/\d{4},? \d{2}:\d{2}$"))
            for other in {"nl", "fr", "en"} - {lang}:
                assert_no_foreign_strings(page, other, lang)
        page.screenshot(path=str(artifacts / f"topbar{path.replace('/', '-') or '-desk'}.png"))
    assert len({tuple(s) for s in shapes.values()}) == 1, shapes

    # The PC test: every row on the page, none behind an inner scroll bar.
    page.goto(f"{demo_desk.url}/preflight")
    expect(page.locator("body[data-ready='1'][data-state='idle']")).to_be_visible()
    page.get_by_test_id("preflight-run").click()
    page.get_by_test_id("preflight-speaker-yes").click(timeout=30_000)
    expect(page.locator("body[data-state='done']")).to_be_visible(timeout=90_000)
    assert page.evaluate(INNER_SCROLLERS, ".table-wrap, main, main > section") == []
    page.screenshot(path=str(artifacts / "preflight-done-1280x720.png"), full_page=True)

    # Logout from a page other than the desk.
    page.goto(f"{demo_desk.url}/complaints")
    expect(page.locator("body[data-ready='1']")).to_be_visible()
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-eid")).to_be_visible()
