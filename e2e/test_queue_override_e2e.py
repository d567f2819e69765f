"""Opening a queue now from the supervisor wall (DESIGN.md §9 "Opening now"), in Chromium against the demo desk with
one more queue of the centre's own: `noodlijn` on 1708, closed today by a closed date, with tone prompts (welcome
600 Hz, closing 1700 Hz) and a `label` per language. A SIP caller (our demo caller) hears the closing tone; a
supervisor opens the line from the wall (a confirmation says what callers will hear), a second supervisor's wall
shows it within a second with who did it and until when; the next caller hears the welcome; "back to the opening
hours" closes it again. A bad end time is refused in the page's language. The wall with the override fits
1280×720 in nl, fr and en, where the queue shows under the centre's own label."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from concurrent.futures import Future
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from agent_desktop.sip.demo_caller import demo_call
from e2e.citizen import CALLER_TONE
from e2e.conftest import RunningDesk, log_in_with_card, login
from e2e.pages.supervisor import SupervisorPages
from tests.helpers.loop_thread import LoopThread
from tests.sip.audio import has_tone, tone_pcm, write_wav
from tests.web.queue_desk import CLOSED, MUSIC, WELCOME

pytestmark = pytest.mark.timeout(240)

BRUSSELS = ZoneInfo("Europe/Brussels")
QUEUE, NUMBER = "noodlijn", "1708"
LABELS = {"nl": "Noodlijn", "fr": "Ligne d’urgence", "en": "Emergency line"}
VIEWPORT = {"width": 1280, "height": 720}


@pytest.fixture(scope="module")
def demo_extra_config(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The centre's own queue: closed yesterday, today and tomorrow (closed dates), tone prompts by absolute path
    (the demo's prompt folder is made by the demo itself), a label per language."""
    tones = tmp_path_factory.mktemp("tones")
    for name, freq, seconds in (("welcome", WELCOME, 1.5), ("closed", CLOSED, 1.0), ("music", MUSIC, 3.0)):
        write_wav(tones / f"{name}.wav", tone_pcm(freq, seconds))
    today = dt.datetime.now(BRUSSELS).date()
    days = ", ".join(f'"{today + dt.timedelta(days=d)}"' for d in (-1, 0, 1))
    return f"""
[[queues]]
name = "{QUEUE}"
number = "{NUMBER}"
skills = ["info"]
closed_dates = [{days}]
no_agents = "queue"
welcome = "{tones / "welcome.wav"}"
closed = "{tones / "closed.wav"}"
hold_music = "{tones / "music.wav"}"
callback_offer_after_s = 0
overflow_after_s = 0
label = {{ nl = "{LABELS["nl"]}", fr = "{LABELS["fr"]}", en = "{LABELS["en"]}" }}
"""


@pytest.fixture(scope="module")
def caller_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_wav(tmp_path_factory.mktemp("caller") / "caller.wav", tone_pcm(CALLER_TONE, 20))


@pytest.fixture
def pages(chromium, demo_desk: RunningDesk) -> Iterator[tuple[Page, Page]]:
    contexts = [
        chromium().new_context(
            viewport=VIEWPORT, screen=VIEWPORT, locale="nl-BE", timezone_id="Europe/Brussels"
        )
        for _ in range(2)
    ]
    found = []
    for context in contexts:
        page = context.new_page()
        page.set_default_timeout(15_000)
        found.append(page)
    try:
        yield found[0], found[1]
    finally:
        for context in contexts:
            context.close()


def _second_supervisor(page: Page, desk: RunningDesk) -> None:
    from agent_desktop.cli import enrol_certificate
    from agent_desktop.config import load_config
    from agent_desktop.eid.nrn import make_test_nrn
    from agent_desktop.eid.pki import issue_auth_cert, load_pki

    cert, key = issue_auth_cert(
        load_pki(desk.directory / "pki"),
        given_name="Sara",
        surname="Test",
        nrn=make_test_nrn(date(1982, 3, 3), 52),
        key_type="rsa",
    )
    enrol_certificate(load_config(desk.config), cert, ["agent", "supervisor"], ["info"])
    log_in_with_card(page, desk, cert, key)


def _call(loop: LoopThread, desk: RunningDesk, wav: Path, heard: list[bytes]) -> Future:
    return asyncio.run_coroutine_threadsafe(
        demo_call(
            f"sip:{NUMBER}@127.0.0.1:{desk.sip_port}",
            wav=wav,
            caller_id="0470000099",
            max_seconds=60,
            ring_timeout_s=20,
            heard=heard,
        ),
        loop.loop,
    )


def _tones(heard: list[bytes]) -> set[int]:
    """The prompt tones heard, frame by frame (each prompt a whole number of cycles per 20 ms frame)."""
    return {f for frame in heard for f in (WELCOME, CLOSED, MUSIC) if has_tone(frame, f)}


def _hears_closing(loop: LoopThread, desk: RunningDesk, wav: Path) -> set[int]:
    """A caller of the closed line: the desk plays its closing prompt and hangs up."""
    heard: list[bytes] = []
    assert _call(loop, desk, wav, heard).result(30) == "remote_bye"
    return _tones(heard)


def _hears_welcome(loop: LoopThread, desk: RunningDesk, wav: Path) -> set[int]:
    """A caller of the open line: the welcome, then the hold music; it hangs up after 2.5 s."""
    heard: list[bytes] = []
    call = _call(loop, desk, wav, heard)
    deadline = time.monotonic() + 20
    while len(heard) < 125 and time.monotonic() < deadline:
        time.sleep(0.1)
    call.cancel()
    return _tones(heard)


def _scrolls_sideways(page: Page) -> list[str]:
    """The wall's tables that need a sideways scroll in their panel (a column the supervisor cannot see)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.wall .table-wrap')]
          .filter((w) => w.scrollWidth > w.clientWidth + 1)
          .map((w) => `scrolls: ${w.closest('section').className} ${w.scrollWidth}px in ${w.clientWidth}px`)"""
    )


def _until_in(hours: int) -> tuple[str, str]:
    """An end `hours` from now, on the centre's clock: as typed in the field ("14/07/2026 18:00", day first, 24-hour)
    and its "HH:MM" on the wall."""
    at = (dt.datetime.now(BRUSSELS) + dt.timedelta(hours=hours)).replace(second=0, microsecond=0)
    return at.strftime("%d/%m/%Y %H:%M"), at.strftime("%H:%M")


def test_a_supervisor_opens_a_closed_line_from_the_wall_and_callers_hear_the_welcome(
    pages: tuple[Page, Page], demo_desk: RunningDesk, loop: LoopThread, caller_wav: Path, artifacts
):
    page_a, page_b = pages
    login(page_a, demo_desk)  # An Peeters, supervisor
    _second_supervisor(page_b, demo_desk)
    a, b = SupervisorPages(page_a, demo_desk.url), SupervisorPages(page_b, demo_desk.url)
    for wall in (a, b):
        wall.open("/supervisor")
        row = wall.wall_queue(QUEUE)
        expect(row).to_have_attribute("data-open", "0")
        expect(row).to_have_attribute("data-override", "auto")
        expect(row.locator("td").first).to_have_text(LABELS["nl"])  # the centre's label, not the id
        expect(row.get_by_test_id("wall-queue-state")).to_have_text("Gesloten (openingsuren)")
        expect(row.get_by_test_id("wall-override-auto")).to_have_count(0)

    # Closed by its hours: the caller hears the closing prompt.
    heard = _hears_closing(loop, demo_desk, caller_wav)
    assert CLOSED in heard and WELCOME not in heard, heard

    # An opens it until two hours from now; the confirmation says what callers will hear.
    dialog = a.ask_override(QUEUE, "open")
    expect(dialog.get_by_test_id("override-title")).to_have_text("Noodlijn nu openen?")
    expect(dialog.get_by_test_id("override-effect")).to_contain_text(
        "Nieuwe bellers horen het welkomstbericht en wachten op een medewerker."
    )
    # A bad end is refused in the page's language, and the dialog stays for a better one.
    past, _ = _until_in(-1)
    a.confirm_override(until=past)
    expect(dialog.get_by_test_id("override-error")).to_have_text(
        "Het einde ligt in het verleden. Kies een later tijdstip."
    )
    expect(dialog).to_be_visible()
    until, until_hhmm = _until_in(2)
    page_a.screenshot(path=str(artifacts / "wall-override-confirm-nl.png"))
    sent = time.monotonic()
    a.confirm_override(until=until)
    expect(dialog).to_be_hidden()
    # Every supervisor's wall shows it within a second (the wall's once-a-second pace, and the POST).
    row_b = b.wall_queue(QUEUE)
    expect(row_b).to_have_attribute("data-override", "open", timeout=2500)
    print(f"second wall shows the override {time.monotonic() - sent:.2f} s after the confirm")
    expect(row_b).to_have_attribute("data-open", "1")
    expect(row_b.get_by_test_id("wall-queue-state")).to_have_text("Manueel geopend")
    expect(row_b.get_by_test_id("wall-override-by")).to_contain_text("door An Peeters om ")
    expect(row_b.get_by_test_id("wall-override-by")).to_contain_text(f", tot {until_hhmm}")
    expect(row_b.get_by_test_id("wall-override-open")).to_have_count(0)
    expect(row_b.get_by_test_id("wall-override-close")).to_be_visible()

    # The next caller hears the welcome, then the line's music.
    heard = _hears_welcome(loop, demo_desk, caller_wav)
    assert WELCOME in heard and CLOSED not in heard, heard

    # The wall with the override fits 1280×720 in each language, the queue under its label.
    problems = {}
    for lang in ("nl", "fr", "en"):
        b.switch_language(lang)
        expect(row_b.locator("td").first).to_have_text(LABELS[lang])
        page_b.wait_for_timeout(300)
        if cut := b.cut_off() + _scrolls_sideways(page_b):
            problems[lang] = cut
        page_b.screenshot(path=str(artifacts / f"wall-override-{lang}.png"))
    expect(row_b.get_by_test_id("wall-queue-state")).to_have_text("Opened manually")
    b.switch_language("fr")
    dialog_b = b.ask_override(QUEUE, "closed")
    expect(dialog_b.get_by_test_id("override-effect")).to_contain_text(
        "Les appelants déjà en attente (0) restent dans la file et seront encore servis."
    )
    if cut := b.cut_off():
        problems["fr dialog"] = cut
    page_b.screenshot(path=str(artifacts / "wall-override-close-confirm-fr.png"))
    page_b.get_by_test_id("override-cancel").click()
    expect(dialog_b).to_be_hidden()
    assert problems == {}, problems

    # Back to the opening hours: closed again for everyone, and callers hear the closing prompt.
    dialog = a.ask_override(QUEUE, "auto")
    expect(dialog.get_by_test_id("override-effect")).to_contain_text("nu gesloten")
    a.confirm_override()
    expect(dialog).to_be_hidden()
    expect(row_b).to_have_attribute("data-override", "auto", timeout=2500)
    expect(row_b).to_have_attribute("data-open", "0")
    expect(row_b.get_by_test_id("wall-queue-state")).to_have_text("Fermée (horaires)")
    heard = _hears_closing(loop, demo_desk, caller_wav)
    assert CLOSED in heard and WELCOME not in heard, heard
