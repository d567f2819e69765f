"""A call whose browser leg goes only through a real TURN server (Debian's coturn, `use-auth-secret`): the demo
desk is configured with `[webrtc] turn_secret_env` and `ice_transport_policy = "relay"`, so Chromium's peer has
relay candidates only, allocated with the agent's own time-limited credential. baresip calls in with a 1 kHz tone,
Chromium answers with a 600 Hz tone from its fake microphone; each tone is detected on the other side, and
coturn's log shows the agent's allocation and the relayed traffic."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import DEMO_QUEUE_NUMBER, login
from tests.helpers.coturn import TURNSERVER, Coturn
from tests.helpers.loop_thread import LoopThread
from tests.helpers.net import free_port
from tests.sip.audio import has_tone, read_wav, tone_pcm, write_wav
from tests.sip.peers import BARESIP, Baresip

pytestmark = [
    pytest.mark.skipif(BARESIP is None, reason="baresip is not installed (make test installs it)"),
    pytest.mark.timeout(240),
]

CITIZEN = "0499123456"
CALLER_TONE = 1000.0
AGENT_TONE = 600.0
SECRET_ENV = "AGENT_DESKTOP_TEST_TURN_SECRET"


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    if TURNSERVER is None:
        pytest.fail("turnserver not found: install Debian's coturn (make test does)")
    server = Coturn(tmp_path_factory.mktemp("coturn")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def demo_extra_config(coturn: Coturn) -> str:
    return f"""[webrtc]
ice_servers = [{{urls = "{coturn.url}"}}]
turn_secret_env = "{SECRET_ENV}"
turn_credential_ttl_s = 600
ice_transport_policy = "relay"
"""


@pytest.fixture(scope="module")
def demo_env(coturn: Coturn) -> dict[str, str]:
    return {SECRET_ENV: coturn.secret}


@pytest.fixture(scope="module")
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture(scope="module")
def baresip(tmp_path_factory: pytest.TempPathFactory, loop: LoopThread) -> Iterator[Baresip]:
    base = tmp_path_factory.mktemp("baresip")
    peer = Baresip(
        base / "home",
        free_port(),
        free_port(),
        free_port() // 2 * 2,
        wav=write_wav(base / "caller.wav", tone_pcm(CALLER_TONE, 20)),
        account=f"<sip:{CITIZEN}@127.0.0.1>;regint=0;answermode=auto;audio_codecs=PCMU,PCMA",
    )
    loop.run(peer.start())
    yield peer
    loop.run(peer.stop())


@pytest.fixture
def page(chromium, demo_desk, tmp_path: Path) -> Iterator[Page]:
    wav = write_wav(tmp_path / "agent.wav", tone_pcm(AGENT_TONE, 20, rate=48000), 48000)
    context = chromium(audio_wav=str(wav)).new_context(
        viewport={"width": 1280, "height": 720}, locale="nl-BE"
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
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


def _agent_id(desk) -> int:
    with sqlite3.connect(desk.database) as db:
        return db.execute("SELECT id FROM agents ORDER BY id LIMIT 1").fetchone()[0]


def test_call_through_the_turn_relay_with_the_agents_own_credential(
    page: Page, demo_desk, coturn: Coturn, baresip, loop, artifacts
):
    login(page, demo_desk)
    expect(page.get_by_test_id("rtc-status")).to_have_attribute("data-status", "connected")
    agent = _agent_id(demo_desk)
    # The page's only candidates are relays, allocated with "<expiry>:<agent id>".
    assert re.search(rf"user <\d+:{agent}>: incoming packet ALLOCATE processed, success", coturn.log()), (
        coturn.log()[-3000:]
    )
    page.get_by_test_id("agent-state").select_option("available")
    expect(page.get_by_test_id("agent-state")).to_have_attribute("data-state", "available")

    loop.run(baresip.command("dial", f"sip:{DEMO_QUEUE_NUMBER}@127.0.0.1:{demo_desk.sip_port}"))
    expect(page.get_by_test_id("call-incoming")).to_be_visible()
    page.get_by_test_id("call-answer").click()
    expect(page.get_by_test_id("call-status")).to_have_attribute("data-state", "connected")

    heard = page.evaluate(TONE_IN_PAGE, CALLER_TONE)
    assert heard["tone"] - heard["elsewhere"] > 20, heard
    assert heard["tone"] - heard["median"] > 20, heard
    page.wait_for_timeout(1500)  # let baresip record the agent's tone
    page.screenshot(path=str(artifacts / "call-turn-relay.png"))
    page.get_by_test_id("call-hangup").click()
    expect(page.get_by_test_id("call-status")).to_have_attribute("data-state", "ended")
    loop.run(baresip.wait_log("terminated", 5))
    assert _recorded_tone(baresip, AGENT_TONE)

    # The page bound a TURN channel to the desk's peer: its media went through the relay.
    bound = re.compile(rf"user <\d+:{agent}>: incoming packet CHANNEL_BIND processed, success")
    assert bound.search(coturn.log()), coturn.log()[-3000:]


RECORD_PEERS = """(() => {
  const Native = window.RTCPeerConnection;
  window.__peers = [];
  window.RTCPeerConnection = class extends Native {
    constructor(config) {
      super(config);
      window.__peers.push({ pc: this, config: JSON.parse(JSON.stringify(config || {})) });
    }
  };
})();"""


def _turn_user(servers: list[dict]) -> str:
    return next(s["username"] for s in servers if "username" in s)


def test_a_failed_peer_is_negotiated_again_with_fresh_turn_credentials(page: Page, demo_desk, coturn: Coturn):
    """Without a new `hello` (the WebSocket stayed up), the page asks `rtc.ice_servers` before its new offer and
    allocates with that fresh credential, not the one of the `hello` hours ago."""
    page.add_init_script(RECORD_PEERS)
    sent: list[dict] = []
    received: list[dict] = []

    def watch(ws) -> None:
        if ws.url.endswith("/ws"):
            ws.on("framesent", lambda data: sent.append(json.loads(data)))
            ws.on("framereceived", lambda data: received.append(json.loads(data)))

    page.on("websocket", watch)
    login(page, demo_desk)
    expect(page.get_by_test_id("rtc-status")).to_have_attribute("data-status", "connected")
    hello = next(m for m in received if m["type"] == "hello")
    first = page.evaluate("window.__peers[0].config")
    assert _turn_user(first["iceServers"]) == _turn_user(hello["ice_servers"])

    page.wait_for_timeout(1100)  # expiry times are whole seconds: a fresh one is later
    page.evaluate("""() => {
      const pc = window.__peers.at(-1).pc;
      Object.defineProperty(pc, "connectionState", { get: () => "failed" });
      pc.dispatchEvent(new Event("connectionstatechange"));
    }""")
    page.wait_for_function("() => window.__peers.length === 2")
    expect(page.get_by_test_id("rtc-status")).to_have_attribute("data-status", "connected")

    kinds = [m["type"] for m in sent if m["type"] != "pong"]
    assert kinds[-3:] == ["rtc.offer", "rtc.ice_servers", "rtc.offer"], kinds
    fresh = next(m for m in received if m["type"] == "rtc.ice_servers")
    second = page.evaluate("window.__peers[1].config")
    assert _turn_user(second["iceServers"]) == _turn_user(fresh["ice_servers"])
    assert _turn_user(fresh["ice_servers"]) != _turn_user(hello["ice_servers"])
    assert second["iceTransportPolicy"] == "relay"
    user = _turn_user(fresh["ice_servers"])
    assert f"user <{user}>: incoming packet ALLOCATE processed, success" in coturn.log(), coturn.log()[-3000:]
