"""What the callback desk costs the event loop when a centre has months of callbacks behind it.

A Store on a throw-away SQLite file is filled with `--rows` callbacks over 3 queues (nine in ten done or failed,
the rest pending, dues spread over 60 days), then, on the event loop as the call path would use it: `next_for` +
`rejected` cycles (an agent gets free and is offered a callback; a write job each), `stats()` (every queue.stats
tick: at most once a second) and `listing(limit=1000)` (a supervisor's GET /api/callbacks, on the big-read thread).
Printed: p50/p95/max per operation, in ms.

    .venv/bin/python bench/callbacks.py [--rows 100000] [--cycles 500]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent_desktop.acd.callbacks import CallbackDesk  # noqa: E402
from agent_desktop.config import QueueConfig  # noqa: E402
from agent_desktop.store.clock import iso  # noqa: E402
from agent_desktop.store.db import open_db  # noqa: E402
from agent_desktop.store.store import Store  # noqa: E402

QUEUES = tuple(
    QueueConfig(name=name, number=str(i)) for i, name in enumerate(("vaccinatie", "algemeen", "crisis"))
)
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def fill(path: Path, rows: int) -> None:
    db = open_db(path)
    rng = random.Random(11)
    with db.conn:
        db.execute("BEGIN")
        batch = []
        for i in range(rows):
            asked = NOW - timedelta(days=rng.uniform(0, 60))
            state = "pending" if rng.random() < 0.1 else rng.choice(("done", "done", "done", "failed"))
            batch.append(
                {
                    "number": f"+3247{i:07d}",
                    "queue": rng.choice(QUEUES).name,
                    "requested_at": iso(asked),
                    "due": iso(asked + timedelta(days=2)),
                    "state": state,
                    "attempts": 0,
                    "note": "",
                    "next_try": iso(asked),
                }
            )
        db["callbacks"].insert_all(batch, batch_size=5000)
    db.close()


def summary(name: str, seconds: list[float]) -> str:
    ordered = sorted(s * 1000 for s in seconds)
    p = lambda q: ordered[min(len(ordered) - 1, int(len(ordered) * q))]  # noqa: E731
    return f"{name:<28} n={len(ordered):<5} p50 {p(0.5):6.2f} ms  p95 {p(0.95):6.2f} ms  max {ordered[-1]:6.2f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--cycles", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "desk.db"
        t0 = time.perf_counter()
        fill(path, args.rows)
        print(f"filled {args.rows} callbacks in {time.perf_counter() - t0:.1f} s")
        store = Store(path)
        desk = CallbackDesk(store, QUEUES, lambda: NOW)
        names = {q.name for q in QUEUES}
        offer, reject, stats, listing = [], [], [], []
        try:
            for i in range(args.cycles):
                t = time.perf_counter()
                callback = await desk.next_for(names, agent_id=1 + i % 20)
                offer.append(time.perf_counter() - t)
                t = time.perf_counter()
                await desk.rejected(callback.id)
                reject.append(time.perf_counter() - t)
                if i % 10 == 0:
                    t = time.perf_counter()
                    await desk.stats()
                    stats.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    await desk.listing(state="pending", limit=1000)
                    listing.append(time.perf_counter() - t)
        finally:
            await store.close()
    print(summary("next_for (offer)", offer))
    print(summary("rejected", reject))
    print(summary("stats (queue.stats tick)", stats))
    print(summary("listing 1000 (GET, thread)", listing))


if __name__ == "__main__":
    asyncio.run(main())
