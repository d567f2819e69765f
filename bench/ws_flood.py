"""Pages flooding `/ws` with valid actions, and what the other agents feel meanwhile.

A desk is started as its own process (throw-away PKI, config and database, free loopback ports). One honest agent
logs in, opens /ws and, every 100 ms, changes its state (timed to the desk's echo) and fetches `GET /api/me`.
After a quiet phase, `--flooders` authenticated pages send valid actions (`agent.state` back and forth,
`call.dtmf`, `call.hold`, `call.dial`) as fast as their sockets take them for `--seconds`; a page the desk closes
opens a new socket at once (a hostile script ignores the page's back-off). Printed: the honest agent's latencies
quiet and during the flood, the desk's CPU time, the flooders' actions sent and refused, sockets closed, and the
state rows the flood wrote. Run it in a loopback-only namespace like the tests:

    unshare -n sh -c 'ip link set lo up && exec .venv/bin/python bench/ws_flood.py [--desk-src OLD_TREE]'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench_common import Desk, client_session, load_card, login, make_pki_and_cards, pct, write_cards  # noqa: E402

STATES = ("available", "break")
STALL_S = 10.0  # the honest agent's echo and /api/me together not within this: counted as a stall


def flood_message(i: int) -> str:
    return json.dumps(
        (
            {"type": "agent.state", "state": STATES[i // 4 % 2]},
            {"type": "call.dtmf", "call_id": "c-1", "digits": "5"},
            {"type": "call.hold", "call_id": "c-1", "on": True},
            {"type": "call.dial", "number": "0471123456"},
        )[i % 4]
    )


async def honest(
    url: str, card: Path, marks: dict[str, float], out: dict[str, list[tuple[float, float, float]]]
):
    """(when, state echo ms, /api/me ms) every 100 ms until `marks["end"]`."""
    cert, key = load_card(card)
    async with client_session(url) as session:
        await login(session, url, cert, key)
        async with session.ws_connect(f"{url}/ws") as ws:
            while (await ws.receive_json())["type"] != "hello":
                pass
            i = 0
            while time.monotonic() < marks["end"]:
                i += 1
                state = STATES[i % 2]
                started = time.monotonic()
                try:
                    async with asyncio.timeout(STALL_S):
                        await ws.send_json({"type": "agent.state", "state": state})
                        while True:
                            message = await ws.receive_json()
                            if message["type"] == "ping":
                                await ws.send_json({"type": "pong"})
                            elif message["type"] == "agent.state" and message["state"] == state:
                                break
                        echo = time.monotonic() - started
                        me_started = time.monotonic()
                        async with session.get(f"{url}/api/me") as response:
                            assert response.status == 200
                        me = time.monotonic() - me_started
                except TimeoutError:
                    out["stalls"].append(started)
                    continue
                out["samples"].append((started, echo * 1000, me * 1000))
                await asyncio.sleep(0.1)


async def flooder(url: str, card: Path, marks: dict[str, float], counts: dict[str, int]) -> None:
    cert, key = load_card(card)
    async with client_session(url) as session:
        await login(session, url, cert, key)
        await asyncio.sleep(max(0.0, marks["start"] - time.monotonic()))
        i = 0
        while time.monotonic() < marks["stop"]:
            try:
                ws = await session.ws_connect(f"{url}/ws", timeout=aiohttp.ClientWSTimeout(ws_close=2))
            except aiohttp.WSServerHandshakeError as e:
                counts[f"handshake {e.status}"] = counts.get(f"handshake {e.status}", 0) + 1
                continue  # at once: the script ignores the page's back-off
            async with ws:
                counts["sockets"] += 1

                async def read(ws=ws) -> None:
                    async for msg in ws:
                        if '"rate_limited"' in msg.data:
                            counts["refused"] += 1

                reader = asyncio.create_task(read())
                try:
                    # A desk that stops reading blocks the send: the flood ends at the mark regardless.
                    async with asyncio.timeout(max(0.0, marks["stop"] - time.monotonic())):
                        while not ws.closed:
                            await ws.send_str(flood_message(i))
                            i += 1
                            counts["sent"] += 1
                            if i % 50 == 0:
                                await asyncio.sleep(0)  # let the reader take what the desk answered
                except (ConnectionError, RuntimeError, TimeoutError):
                    pass
                if ws.closed:
                    counts["closed"] += 1
                    counts[f"close {ws.close_code}"] = counts.get(f"close {ws.close_code}", 0) + 1
                reader.cancel()
                await asyncio.wait([reader], timeout=5)
            # Leaving the block closes the socket; a desk still busy with the backlog may not answer the close.


def summary(name: str, rows: list[tuple[float, float, float]]) -> str:
    echo = [r[1] for r in rows]
    me = [r[2] for r in rows]
    if not rows:
        return f"{name:<10} no samples"
    return (
        f"{name:<10}{len(rows):>5}  echo p50 {pct(echo, 50):7.1f} p99 {pct(echo, 99):7.1f} max {max(echo):7.1f}"
        f"   /api/me p50 {pct(me, 50):7.1f} p99 {pct(me, 99):7.1f} max {max(me):7.1f}"
    )


async def run(flooders: int, seconds: float, src: Path | None) -> None:
    pki, cards = make_pki_and_cards(1 + flooders)
    with tempfile.TemporaryDirectory(prefix="bench-ws-flood-") as tmp:
        folder = Path(tmp)
        desk = Desk(folder, pki, cards, src=src)
        desk.start()
        paths = write_cards(folder, cards)
        now = time.monotonic()
        marks = {"start": now + 6.0, "stop": now + 6.0 + seconds, "end": now + 8.0 + seconds}
        out: dict[str, list] = {"samples": [], "stalls": []}
        try:
            # The flooders in a process of their own: sharing this loop, their hot loops would delay the honest
            # agent's own reads and the figure would be the bench's, not the desk's.
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--flood-child",
                json.dumps({"url": desk.url, "marks": marks, "cards": [str(p) for p in paths[1:]]}),
                stdout=asyncio.subprocess.PIPE,
            )

            cpu, _, (stdout, _) = await asyncio.gather(
                desk.cpu_between(marks["start"], marks["stop"]),
                honest(desk.url, paths[0], marks, out),
                child.communicate(),
            )
            counts = json.loads(stdout)
        finally:
            desk.stop()
        with sqlite3.connect(folder / "desk.db") as db:
            rows = db.execute("SELECT COUNT(*) FROM agent_state_changes WHERE agent_id > 1").fetchone()[0]
    samples = out["samples"]
    quiet = [s for s in samples if s[0] < marks["start"]]
    flood = [s for s in samples if marks["start"] <= s[0] < marks["stop"]]
    print(
        f"desk: {src or 'this tree'}; {flooders} flooding pages for {seconds:g} s, one honest agent every 100 ms"
    )
    print(summary("quiet", quiet))
    print(summary("flood", flood))
    if out["stalls"]:
        print(f"honest agent: {len(out['stalls'])} stall(s) of {STALL_S:g} s or more (no echo or /api/me)")
    print(
        f"flood: {counts['sent']} actions sent ({counts['sent'] / seconds:.0f}/s), {counts['refused']} refused, "
        f"{counts['sockets']} sockets opened, {counts['closed']} closed by the desk "
        f"({', '.join(f'{k}: {v}' for k, v in counts.items() if k.startswith('close '))}), "
        f"{sum(v for k, v in counts.items() if k.startswith('handshake '))} handshakes refused; "
        f"desk CPU {cpu[1] - cpu[0]:.1f} s in {seconds:g} s; state rows written by the flooders {rows}"
    )


async def flood_child(spec: dict) -> None:
    counts = {"sent": 0, "refused": 0, "sockets": 0, "closed": 0}
    await asyncio.gather(*(flooder(spec["url"], Path(p), spec["marks"], counts) for p in spec["cards"]))
    print(json.dumps(counts))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flooders", type=int, default=4, help="flooding pages (default 4)")
    parser.add_argument("--seconds", type=float, default=10, help="how long they flood (default 10)")
    parser.add_argument("--desk-src", type=Path, help="run the desk from this source tree (before/after)")
    parser.add_argument("--flood-child", help=argparse.SUPPRESS)  # the flooders' own process
    args = parser.parse_args()
    if args.flood_child:
        asyncio.run(flood_child(json.loads(args.flood_child)))
    else:
        asyncio.run(run(args.flooders, args.seconds, args.desk_src))
