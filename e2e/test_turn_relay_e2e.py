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

import pytest
from playwright.sync_api import Page, expect

from e2e.citizen import AGENT_TONE, CALLER_TONE, Citizen
from e2e.conftest import login
from tests.helpers.coturn import TURNSERVER, Coturn

pytestmark = pytest.mark.timeout(240)

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


def _agent_id(desk) -> int:
    with sqlite3.connect(desk.database) as db:
        return db.execute("SELECT id FROM agents ORDER BY id LIMIT 1").fetchone()[0]


def test_call_through_the_turn_relay_with_the_agents_own_credential(
    page: Page, demo_desk, coturn: Coturn, citizen: Citizen, artifacts
):
    desk = login(page, demo_desk)
    desk.phone.expect_audio_connected()
    agent = _agent_id(demo_desk)
    # The page's only candidates are relays, allocated with "<expiry>:<agent id>".
    assert re.search(rf"user <\d+:{agent}>: incoming packet ALLOCATE processed, success", coturn.log()), (
        coturn.log()[-3000:]
    )
    desk.set_state("available")

    citizen.call(demo_desk)
    desk.phone.answer()
    desk.phone.expect_hears(CALLER_TONE)
    page.wait_for_timeout(1500)  # let baresip record the agent's tone
    page.screenshot(path=str(artifacts / "call-turn-relay.png"))
    desk.phone.hang_up()
    citizen.wait_log("terminated")
    assert citizen.heard(AGENT_TONE)

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
