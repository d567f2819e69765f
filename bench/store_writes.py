"""The store's writer under a burst: how fast posted writes land, and how long the event loop waits for them.

A real database file in a throw-away folder, `--agents` enrolled agents, then `--writes` agent-state rows posted
at once from the event loop (what a restart or a wall stress test does: every agent's state at the same moment)
and awaited with `Store.settled()`. Printed per run: writes per second, the transactions used (group commit puts
what queued meanwhile in one), and the time `close()` then takes. `--batch 1` runs the writer as it was before
group commit (one transaction per write), for comparison on the same machine.

    .venv/bin/python bench/store_writes.py [--writes 60000] [--batch 200]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent_desktop.store import agent_states  # noqa: E402
from agent_desktop.store import store as store_module  # noqa: E402


def _enrol(db, agents: int) -> None:
    db["agents"].insert_all(
        {"id": i, "nrn_hash": f"bench-{i}", "given_name": "Agent", "surname": str(i), "created": "2026-01-01"}
        for i in range(1000, 1000 + agents)
    )


async def run(writes: int, agents: int, batch: int) -> None:
    store_module.MAX_BATCH = batch
    with tempfile.TemporaryDirectory() as folder:
        store = store_module.Store(Path(folder) / "desk.db")
        await store.write(_enrol, agents)
        before = store.transactions
        started = time.perf_counter()
        for i in range(writes):
            store.post(agent_states.record, 1000 + i % agents, ("break", "available")[i % 2], "bench")
        posted = time.perf_counter() - started
        await store.settled()
        landed = time.perf_counter() - started
        closing = time.perf_counter()
        await store.close()
        print(
            f"batch {batch:>4}: {writes} writes posted in {posted:.2f} s, landed after {landed:.2f} s "
            f"({writes / landed:,.0f}/s) in {store.transactions - before} transactions; close {time.perf_counter() - closing:.3f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=60_000, help="agent-state rows posted at once")
    parser.add_argument("--agents", type=int, default=300, help="agents enrolled (the rows' owners)")
    parser.add_argument(
        "--batch",
        type=int,
        action="append",
        help="jobs per transaction at most (repeat to compare; default 1 and 200)",
    )
    args = parser.parse_args()
    print(
        f"{platform.node()}: {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    for batch in args.batch or [1, 200]:
        asyncio.run(run(args.writes, args.agents, batch))


if __name__ == "__main__":
    main()
