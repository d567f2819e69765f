"""The desk's event loop while another process holds the database's write lock (a CLI `agents add`, a backup).

One desk in this process (aiohttp on a free loopback port, its own PKI and database), one agent (Web eID login,
/ws, an aiortc peer) and our SIP user agent as the caller. A ticker task measures the loop's stalls (it sleeps 5 ms
and notes how late it wakes). For `--seconds`, first with nobody else on the database (the machine's own noise),
then while a separate Python process holds `BEGIN IMMEDIATE` on it, the agent works without pause: state changes
over /ws (round trip timed), `GET /api/me` (timed), and whole calls (dial, offer, answer, connected, hang up).
Printed per phase: the loop's worst and p99 stall of its own (leaving out the time its thread was ready but waited
for a CPU: on a shared machine other processes cause that), the raw worst stall, the worst /ws round trip and GET,
calls done, and, for the locked phase, how long after the release every write made meanwhile had landed (none may
be lost). Last, the same stalls while a supervisor downloads the complaints CSV of `--export-rows` complaints.

    unshare -n sh -c 'ip link set lo up && exec .venv/bin/python bench/store_lock.py [--seconds 5]'

To measure another source tree (the code before a change), put it first: `--src /tmp/old-tree` (its own tests/
helpers are used for the agent and the lock; copy tests/helpers/sqlite_lock.py there if it has none).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from datetime import date
from pathlib import Path

CYCLE_S = 0.25


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0


async def _work(desk, agent, caller, uri: str, seconds: float, started_calls: list[str]) -> dict:
    """The agent's work for `seconds`: state changes, GETs and calls, one after the other."""
    from tests.web.test_routing import _state

    ws_rtt, gets, calls = [], [], 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        cycle = time.monotonic()
        for state in ("break", "available"):
            t0 = time.perf_counter()
            await agent.ws.send_json({"type": "agent.state", "state": state, "reason": "bench"})
            await agent.next("agent.state", within=30)
            ws_rtt.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        async with agent.http.get(f"{desk.url}/api/me") as response:
            await response.read()
        gets.append(time.perf_counter() - t0)
        leg = await caller.dial(uri, ring_timeout_s=30)
        offered = await agent.next("call.offered", within=30)
        started_calls.append(offered["call_id"])
        await agent.ws.send_json({"type": "call.answer", "call_id": offered["call_id"]})
        await agent.call_state("connected", within=30)
        await _state(leg, "connected", within=30)
        await leg.hangup()
        await agent.call_state("ended", within=30)
        calls += 1
        await agent.ws.send_json({"type": "agent.state", "state": "available", "reason": "bench"})
        await agent.next("agent.state", within=30)
        # A busy agent's pace, not a flood: the stalls measured are the desk's, not our load generator's.
        await asyncio.sleep(max(0.0, CYCLE_S - (time.monotonic() - cycle)))
    return {"ws": ws_rtt, "get": gets, "calls": calls}


def _landed(db_path: Path, call_ids: list[str]) -> tuple[int, int]:
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        marks = ",".join("?" * len(call_ids)) or "''"
        ended = conn.execute(
            f"SELECT COUNT(*) FROM calls WHERE id IN ({marks}) AND ended IS NOT NULL", call_ids
        )
        return ended.fetchone()[0], len(call_ids)


def _seed_complaints(db_path: Path, count: int) -> None:
    row = (1, "personal", '{"name": "Burger", "phone": "0471 23 45 67"}', "Wachttijd " * 20, "2026-01-01")
    with contextlib.closing(sqlite3.connect(db_path)) as conn, conn:
        conn.executemany(
            "INSERT INTO complaints (agent_id, kind, citizen, description, received, due, status, created)"
            " VALUES (?, ?, ?, ?, ?, ?, 'open', '2026-01-01T00:00:00.000Z')",
            [(*row, "2026-02-15")] * count,
        )


async def run(seconds: float, export_rows: int) -> None:
    from aiohttp import web

    from agent_desktop.app import create_app
    from agent_desktop.cli import enrol_certificate
    from agent_desktop.config import load_config
    from agent_desktop.eid.nrn import make_test_nrn
    from agent_desktop.eid.pki import create_pki, issue_auth_cert
    from agent_desktop.sip.endpoint import EndpointConfig, SipEndpoint
    from agent_desktop.web import keys
    from tests.helpers.net import free_port
    from tests.helpers.sqlite_lock import LoopLag, write_lock_held
    from tests.web.conftest import Card, Desk, write_config
    from tests.web.test_routing import AgentClient

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pki = create_pki()
        cert, key = issue_auth_cert(
            pki, given_name="Els", surname="Maes", nrn=make_test_nrn(date(1985, 3, 2), 17), key_type="ec"
        )
        port = free_port()
        config = load_config(write_config(folder, pki, port))
        enrol_certificate(config, cert, ["agent", "supervisor"], [])
        app = create_app(config)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        db_path = config.path(config.database.path)
        caller = SipEndpoint(
            EndpointConfig("127.0.0.1", 0, rtp_ports=(47100, 47199), caller_id="0470111222"), lambda c: None
        )
        await caller.start()
        try:
            desk = Desk(config, None, f"http://127.0.0.1:{port}", {"agent": Card(cert, key, "")})  # type: ignore[arg-type]
            uri = f"sip:1700@127.0.0.1:{app[keys.CALLS].endpoint.port}"
            async with AsyncExitStack() as stack:
                agent = await AgentClient(desk, "agent").start(stack)
                await agent.available()
                print(
                    f"{'phase':<18}{'own worst':>11}{'own p99':>10}{'worst stall':>13}{'worst /ws':>11}"
                    f"{'worst GET':>11}{'calls':>7}  writes"
                )
                for phase in ("no lock", "write lock held"):
                    call_ids: list[str] = []
                    async with LoopLag() as lag:
                        if phase == "no lock":
                            work = await _work(desk, agent, caller, uri, seconds, call_ids)
                            landed = ""
                        else:
                            async with write_lock_held(db_path, seconds):
                                work = await _work(desk, agent, caller, uri, seconds * 0.8, call_ids)
                            released = time.monotonic()
                            while True:
                                done, total = _landed(db_path, call_ids)
                                if done == total or time.monotonic() - released > 30:
                                    break
                                await asyncio.sleep(0.01)
                            landed = f"{done}/{total} calls recorded {time.monotonic() - released:.2f} s after release"
                    print(
                        f"{phase:<18}{lag.own_worst * 1000:>8.1f} ms{_percentile(lag.own_samples, 0.99) * 1000:>7.1f} ms"
                        f"{lag.worst * 1000:>10.1f} ms{max(work['ws']) * 1000:>8.0f} ms{max(work['get']) * 1000:>8.0f} ms"
                        f"{work['calls']:>7}  {landed}"
                    )
                if export_rows:
                    _seed_complaints(db_path, export_rows)
                    async with LoopLag() as lag:
                        t0 = time.perf_counter()
                        async with agent.http.get(f"{desk.url}/api/complaints.csv") as response:
                            size = len(await response.read())
                        took = time.perf_counter() - t0
                    print(
                        f"{'CSV export':<18}{lag.own_worst * 1000:>8.1f} ms"
                        f"{_percentile(lag.own_samples, 0.99) * 1000:>7.1f} ms{lag.worst * 1000:>10.1f} ms"
                        f"  {export_rows} complaints, {size / 1e6:.1f} MB in {took:.2f} s"
                    )
        finally:
            await caller.stop()
            await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="how long the other process holds the lock"
    )
    parser.add_argument(
        "--export-rows",
        type=int,
        default=100_000,
        help="complaints in the CSV export measured last (0: none)",
    )
    parser.add_argument("--src", type=Path, help="source tree to measure (default: this one)")
    args = parser.parse_args()
    root = args.src or Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root.resolve()))
    asyncio.run(run(args.seconds, args.export_rows))


if __name__ == "__main__":
    main()
