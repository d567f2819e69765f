"""Call set-up latency through the desk: INVITE -> `call.offered` and `call.answer` -> 200 OK.

A desk is started as its own process (`python -m agent_desktop.cli serve`, throw-away PKI, config and database,
free loopback ports). One agent logs in with a software-signed Web eID token, opens /ws, goes `available` and
negotiates its persistent aiortc peer (PCMU). A SIP UAC (our SipEndpoint) then places `--calls` calls one after
the other; for each:

  - offer latency:  the UAC sends the INVITE  ->  the agent's WebSocket receives `call.offered`;
  - answer latency: the agent sends `call.answer`  ->  the UAC receives the 200 OK (its leg turns `connected`).

The UAC hangs up, the agent goes back to `available`, next call. Both clients run in this process (one host
clock, CLOCK_MONOTONIC), which is otherwise idle. Run it in a loopback-only namespace like the tests:

    unshare -n sh -c 'ip link set lo up && exec .venv/bin/python bench/setup.py [--calls 30]'
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench_common import BrowserAgent, Desk, make_pki_and_cards, pct, write_cards  # noqa: E402

from agent_desktop.sip.endpoint import EndpointConfig, SipEndpoint  # noqa: E402


async def wait_for(agent: BrowserAgent, predicate, timeout: float = 10.0) -> tuple[int, dict]:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while True:
        t, m = await asyncio.wait_for(agent.events.get(), max(0.01, deadline - time.monotonic()))
        if predicate(m):
            return t, m


async def run(count: int, src: Path | None) -> None:
    pki, cards = make_pki_and_cards(1)
    with tempfile.TemporaryDirectory(prefix="bench-setup-") as tmp:
        folder = Path(tmp)
        desk = Desk(folder, pki, cards, src=src)
        desk.start()
        agent = BrowserAgent(desk.url, write_cards(folder, cards)[0], stream_id=1, auto_answer=False)
        ep = SipEndpoint(
            EndpointConfig(
                listen_host="127.0.0.1", listen_port=0, caller_id="0470000001", rtp_ports=(42000, 42999)
            ),
            lambda call: None,
        )
        offer_ms: list[float] = []
        answer_ms: list[float] = []
        try:
            await agent.start()
            await ep.start()
            if agent.state != "available":
                await wait_for(agent, lambda m: m["type"] == "agent.state" and m["state"] == "available")
            await asyncio.sleep(0.5)
            for _ in range(count):
                while not agent.events.empty():
                    agent.events.get_nowait()
                connected = asyncio.Event()
                at: dict[str, int] = {}

                def on_state(leg, at=at, connected=connected) -> None:
                    if leg.state == "connected" and "connected" not in at:
                        at["connected"] = time.monotonic_ns()
                        connected.set()
                    elif leg.state == "ended":
                        connected.set()

                t_invite = time.monotonic_ns()
                call = await ep.dial(desk.sip_uri, ring_timeout_s=10)
                call.on_state = on_state
                t_offered, offered = await wait_for(agent, lambda m: m["type"] == "call.offered")
                t_answer = time.monotonic_ns()
                await agent.send({"type": "call.answer", "call_id": offered["call_id"]})
                await asyncio.wait_for(connected.wait(), 10)
                if "connected" not in at:
                    raise RuntimeError(f"call ended before 200 OK: {call.cause}")
                offer_ms.append((t_offered - t_invite) / 1e6)
                answer_ms.append((at["connected"] - t_answer) / 1e6)
                await asyncio.sleep(0.2)
                await call.hangup()
                await wait_for(agent, lambda m: m["type"] == "call.state" and m["state"] == "ended")
                await agent.send({"type": "agent.state", "state": "available"})
                await wait_for(agent, lambda m: m["type"] == "agent.state" and m["state"] == "available")
                await asyncio.sleep(0.1)
        finally:
            await ep.stop()
            await agent.close()
            desk.stop()
    print(f"calls: {count} (one at a time, one agent logged in with a live aiortc peer)")
    print(f"{'latency':<28}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    for name, values in (("INVITE -> call.offered", offer_ms), ("call.answer -> 200 OK", answer_ms)):
        print(f"{name:<28}{pct(values, 50):>9.1f}{pct(values, 95):>9.1f}{max(values):>9.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30, help="calls to place (default 30)")
    parser.add_argument("--desk-src", type=Path, help="run the desk from this source tree (A/B prototypes)")
    args = parser.parse_args()
    asyncio.run(run(args.calls, args.desk_src))
