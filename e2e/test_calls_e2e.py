"""The softphone end to end, with real peers only: Debian's baresip calls the demo desk, Chromium (fake
microphone fed from a WAV with a 600 Hz tone) answers; baresip's 1 kHz tone is detected in the page with a
WebAudio analyser and the page's 600 Hz tone in what baresip recorded. Then DTMF, hold, hang-up, and the agent
calling baresip (auto-answer) through the desk's trunk. Runs in the loopback-only namespace of `make test`."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import DEMO_QUEUE_NUMBER, login
from tests.helpers.loop_thread import LoopThread
from tests.helpers.net import free_port
from tests.sip.audio import has_tone, read_wav, tone_pcm, write_wav
from tests.sip.peers import BARESIP, Baresip

pytestmark = pytest.mark.skipif(BARESIP is None, reason="baresip is not installed (make test installs it)")

CITIZEN = "0499123456"  # baresip's user: what the desk dials out to, and the caller's number inbound
CALLER_TONE = 1000.0
AGENT_TONE = 600.0


@pytest.fixture(scope="module")
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture(scope="module")
def baresip(tmp_path_factory: pytest.TempPathFactory, loop: LoopThread) -> Iterator[Baresip]:
    base = tmp_path_factory.mktemp("baresip")
    wav = write_wav(base / "caller.wav", tone_pcm(CALLER_TONE, 20))
    peer = Baresip(
        base / "home",
        free_port(),
        free_port(),
        free_port() // 2 * 2,
        wav=wav,
        account=f"<sip:{CITIZEN}@127.0.0.1>;regint=0;answermode=auto;audio_codecs=PCMU,PCMA",
    )
    loop.run(peer.start())
    yield peer
    loop.run(peer.stop())


@pytest.fixture(scope="module")
def demo_trunk_uri(baresip: Baresip) -> str:
    return f"sip:127.0.0.1:{baresip.sip_port}"


@pytest.fixture(scope="module")
def agent_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_wav(
        tmp_path_factory.mktemp("mic") / "agent.wav", tone_pcm(AGENT_TONE, 20, rate=48000), 48000
    )


@pytest.fixture
def page(chromium, demo_desk, agent_wav) -> Iterator[Page]:
    context = chromium(audio_wav=str(agent_wav)).new_context(
        viewport={"width": 1280, "height": 720}, locale="nl-BE"
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


TONE_IN_PAGE = """async (freq) => {
  const el = document.getElementById("remote-audio");
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 8192;
  ctx.createMediaStreamSource(el.srcObject).connect(analyser);
  await new Promise((r) => setTimeout(r, 1500));
  const bins = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(bins);
  const hz = ctx.sampleRate / analyser.fftSize;
  const at = (f) => Math.max(...[-1, 0, 1].map((d) => bins[Math.round(f / hz) + d]));
  const sorted = [...bins].sort((a, b) => a - b);
  await ctx.close();
  return { tone: at(freq), elsewhere: at(freq * 1.37), median: sorted[sorted.length >> 1] };
}"""


def _recorded_tone(peer: Baresip, freq: float) -> bool:
    for path in peer.recordings():
        pcm, rate, channels = read_wav(path)
        if channels == 1 and len(pcm) > rate and has_tone(pcm[rate // 2 :], freq, rate):
            return True
    return False


def _call_rows(desk, within_s: float = 3.0) -> list[dict]:
    """The calls table once the newest call's end has landed: the desk writes it off the event loop, a moment
    after the page hears of it."""
    deadline = time.monotonic() + within_s
    while True:
        with contextlib.closing(sqlite3.connect(desk.database)) as db:
            db.row_factory = sqlite3.Row
            rows = [dict(r) for r in db.execute("SELECT * FROM calls ORDER BY created")]
        if (rows and rows[-1]["ended"]) or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def _ready_for_calls(page: Page, desk) -> None:
    login(page, desk)
    expect(page.get_by_test_id("rtc-status")).to_have_attribute("data-status", "connected")
    page.get_by_test_id("agent-state").select_option("available")
    expect(page.get_by_test_id("agent-state")).to_have_attribute("data-state", "available")


def test_citizen_calls_agent_answers_audio_both_ways(page: Page, demo_desk, baresip, loop, artifacts):
    _ready_for_calls(page, demo_desk)
    loop.run(baresip.command("dial", f"sip:{DEMO_QUEUE_NUMBER}@127.0.0.1:{demo_desk.sip_port}"))

    incoming = page.get_by_test_id("call-incoming")
    expect(incoming).to_be_visible()
    expect(page.get_by_test_id("call-from")).to_have_text(CITIZEN)
    page.screenshot(path=str(artifacts / "call-incoming.png"))
    page.get_by_test_id("call-answer").click()
    expect(page.get_by_test_id("call-status")).to_have_attribute("data-state", "connected")
    expect(page.get_by_test_id("agent-state")).to_have_attribute("data-state", "on_call")

    heard = page.evaluate(TONE_IN_PAGE, CALLER_TONE)
    assert heard["tone"] - heard["elsewhere"] > 20, heard
    assert heard["tone"] - heard["median"] > 20, heard

    page.get_by_test_id("dtmf-pad").get_by_role("button", name="5", exact=True).click()
    loop.run(baresip.wait_log("received event: '5' (end=1)", 5))

    page.get_by_test_id("call-hold").click()
    expect(page.get_by_test_id("call-status")).to_have_attribute("data-state", "held")
    page.get_by_test_id("call-hold").click()
    expect(page.get_by_test_id("call-status")).to_have_attribute("data-state", "connected")
    expect(page.get_by_test_id("call-quality")).not_to_have_attribute("data-mos", "")
    page.screenshot(path=str(artifacts / "call-connected.png"))

    page.wait_for_timeout(1500)  # let baresip record the agent's tone after the unhold
    page.get_by_test_id("call-hangup").click()
    expect(page.get_by_test_id("call-status")).to_have_attribute("data-state", "ended")
    expect(page.get_by_test_id("agent-state")).to_have_attribute("data-state", "wrap_up")
    loop.run(baresip.wait_log("terminated", 5))
    assert _recorded_tone(baresip, AGENT_TONE)

    row = _call_rows(demo_desk)[-1]
    assert (
        row["direction"] == "inbound"
        and row["from_number"] == CITIZEN
        and row["to_number"] == DEMO_QUEUE_NUMBER
    )
    assert row["answered"] and row["ended"] and row["end_cause"] == "local_bye"


def test_page_reload_mid_call_restores_the_call_and_its_audio(page: Page, demo_desk, baresip, loop):
    """The agent's page goes away mid-call (a reload, a crashed tab, a network blip): the call stays up on the
    SIP side, and the page that comes back gets it, with audio, on its new peer."""
    _ready_for_calls(page, demo_desk)
    loop.run(baresip.command("dial", f"sip:{DEMO_QUEUE_NUMBER}@127.0.0.1:{demo_desk.sip_port}"))
    page.get_by_test_id("call-answer").click()
    expect(page.get_by_test_id("call-status")).to_have_attribute("data-state", "connected")
    page.wait_for_timeout(3000)
    page.reload()
    expect(page.get_by_test_id("call-status")).to_have_attribute("data-state", "connected")
    # The call timer carries on from the desk's clock instead of starting again at 00:00.
    expect(page.get_by_test_id("call-timer")).to_have_text(re.compile(r"00:0[3-9]"))
    expect(page.get_by_test_id("rtc-status")).to_have_attribute("data-status", "connected")
    heard = page.evaluate(TONE_IN_PAGE, CALLER_TONE)
    assert heard["tone"] - heard["elsewhere"] > 20, heard
    page.get_by_test_id("call-hangup").click()
    expect(page.get_by_test_id("call-status")).to_have_attribute("data-state", "ended")
    assert _call_rows(demo_desk)[-1]["end_cause"] == "local_bye"


def test_caller_hanging_up_while_ringing_clears_the_page(page: Page, demo_desk, baresip, loop):
    _ready_for_calls(page, demo_desk)
    loop.run(baresip.command("dial", f"sip:{DEMO_QUEUE_NUMBER}@127.0.0.1:{demo_desk.sip_port}"))
    expect(page.get_by_test_id("call-incoming")).to_be_visible()
    loop.run(baresip.command("hangup"))
    expect(page.get_by_test_id("call-incoming")).to_be_hidden()
    expect(page.get_by_test_id("agent-state")).to_have_attribute("data-state", "available")
    assert _call_rows(demo_desk)[-1]["end_cause"] == "abandoned"  # §9: the caller left before an answer


def test_agent_calls_out_and_the_citizen_hangs_up(page: Page, demo_desk, baresip, loop):
    _ready_for_calls(page, demo_desk)
    page.get_by_test_id("dial-input").fill("0499 12 34 56")
    page.get_by_test_id("dial-call").click()
    expect(page.get_by_test_id("call-status")).to_have_attribute("data-state", "connected")
    # On a call, whichever way it goes (§11): `outbound` is the state of working call orders.
    expect(page.get_by_test_id("agent-state")).to_have_attribute("data-state", "on_call")
    heard = page.evaluate(TONE_IN_PAGE, CALLER_TONE)
    assert heard["tone"] - heard["elsewhere"] > 20, heard
    loop.run(baresip.command("hangup"))
    expect(page.get_by_test_id("call-status")).to_have_attribute("data-state", "ended")
    expect(page.get_by_test_id("agent-state")).to_have_attribute("data-state", "wrap_up")
    row = _call_rows(demo_desk)[-1]
    assert row["direction"] == "outbound" and row["to_number"] == CITIZEN
    assert row["end_cause"] == "remote_bye" and row["answered"]
