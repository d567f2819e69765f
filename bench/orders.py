"""Call orders at scale (DESIGN.md §11): importing a 100 000-row file, then taking the next order with 50 agents
asking at once.

1. Writes a CSV of `--rows` orders (Belgian numbers in national format, a note, two extra columns, a national
   register number in one column of every 10th row, which the import masks) and runs the real command,
   `agent-desktop orders import FILE --list bench --kind reserve`, as a subprocess: wall time, parse included.
2. Opens the desk's store on that database and an `OrderDesk`; `--agents` agents ask for their next order at the
   same moment (a round), `--rounds` times; after each answer the agent records an outcome (reached, or
   no_answer for every 5th), as a wrap-up would. Each ask is timed from the call to the offer in hand. Every
   order offered is checked against all others offered: never the same order twice.
3. The same again after `--not-due` orders at the head of the list were tried and wait for their retry (the
   claim must walk past them), and once with every agent's claim as its own transaction (`claim_next` per
   agent, no shared write) to show what the shared write buys.

    .venv/bin/python bench/orders.py [--rows 100000] [--agents 50] [--rounds 20] [--not-due 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent_desktop.acd.orders import OrderDesk, _Eligible  # noqa: E402
from agent_desktop.eid.nrn import make_test_nrn  # noqa: E402
from agent_desktop.store import call_orders  # noqa: E402
from agent_desktop.store.clock import iso  # noqa: E402
from agent_desktop.store.store import Store  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0


def write_csv(path: Path, rows: int) -> None:
    nrn = make_test_nrn(date(1985, 3, 2), 17)
    with path.open("w", encoding="utf-8") as f:
        f.write("number;name;note;gemeente;dossier\n")
        for i in range(rows):
            dossier = f"rrn {nrn}" if i % 10 == 0 else f"D-{i}"
            f.write(
                f"0470 {i // 10000 % 100:02d} {i // 100 % 100:02d} {i % 100:02d};Persoon {i};reserve {i};Gent;{dossier}\n"
            )


def run_import(folder: Path, csv_path: Path) -> float:
    config = folder / "desk.toml"
    config.write_text('[database]\npath = "desk.db"\n[eid]\nnrn_key_file = "secrets/nrn.key"\n')
    t0 = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent_desktop.cli",
            "orders",
            "import",
            str(csv_path),
            "--list",
            "bench",
            "--kind",
            "reserve",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    elapsed = time.perf_counter() - t0
    if result.returncode != 0:
        raise SystemExit(f"import failed: {result.stderr[-2000:]}")
    print(
        f"import: {result.stdout.strip()} in {elapsed:.1f} s (the whole command, parse and checks included)"
    )
    return elapsed


async def rounds(store: Store, agents: int, count: int, shared: bool, seen: set[int]) -> list[float]:
    desk = OrderDesk(store)
    latencies: list[float] = []

    async def ask(agent_id: int, start: asyncio.Event) -> None:
        await start.wait()
        t0 = time.perf_counter()
        if shared:
            offer = await desk.next_for(agent_id, ())
            order_id = offer.order_id if offer else None
        else:
            now = datetime.now(UTC)
            row = await store.write(call_orders.claim_next, agent_id, _Eligible((), now, {}), now)
            order_id = row["id"] if row else None
        latencies.append((time.perf_counter() - t0) * 1000)
        if order_id is None:
            raise SystemExit("ran out of orders")
        if order_id in seen:
            raise SystemExit(f"order {order_id} offered twice")
        seen.add(order_id)
        outcome = "no_answer" if order_id % 5 == 0 else "reached"
        await desk.outcome(agent_id, order_id, outcome)

    for _ in range(count):
        start = asyncio.Event()
        tasks = [asyncio.create_task(ask(a, start)) for a in range(1, agents + 1)]
        await asyncio.sleep(0)
        start.set()
        await asyncio.gather(*tasks)
    return latencies


def park_head(db_path: Path, not_due: int) -> None:
    """The first `not_due` pending orders were tried and wait for their retry (an hour from now)."""
    later = iso(datetime.now(UTC) + timedelta(hours=1))
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute(
            "UPDATE call_orders SET attempts = 1, outcome = 'no_answer', fresh = 0, next_try = ? WHERE id IN"
            " (SELECT id FROM call_orders WHERE state = 'pending' ORDER BY seq LIMIT ?)",
            [later, not_due],
        )
    conn.close()


def report(name: str, latencies: list[float], seen: int) -> None:
    print(
        f"{name:<44} asks {len(latencies):>5}  p50 {percentile(latencies, 0.5):6.2f} ms  "
        f"p99 {percentile(latencies, 0.99):6.2f} ms  max {max(latencies):6.2f} ms  distinct orders {seen}"
    )


async def claims(db_path: Path, args: argparse.Namespace) -> None:
    store = Store(db_path)
    seen: set[int] = set()
    try:
        await rounds(store, args.agents, 2, True, seen)  # warm-up: caches, first pages
        report(
            "50 agents at once, shared write",
            await rounds(store, args.agents, args.rounds, True, seen),
            len(seen),
        )
        park_head(db_path, args.not_due)
        report(
            f"same, {args.not_due} not-due orders at the head",
            await rounds(store, args.agents, args.rounds, True, seen),
            len(seen),
        )
        report(
            "one transaction per agent (no shared write)",
            await rounds(store, args.agents, args.rounds, False, seen),
            len(seen),
        )
    finally:
        await store.close()
    conn = sqlite3.connect(db_path)
    offered_twice = conn.execute(
        "SELECT COUNT(*) FROM (SELECT order_id FROM call_order_attempts GROUP BY order_id HAVING COUNT(*) > 1)"
    ).fetchone()[0]
    conn.close()
    print(f"orders with more than one outcome recorded: {offered_twice} (must be 0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--not-due", type=int, default=5000)
    args = parser.parse_args()
    random.seed(1)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="orders-bench-") as tmp:
        folder = Path(tmp)
        csv_path = folder / "orders.csv"
        write_csv(csv_path, args.rows)
        print(f"file: {args.rows} rows, {csv_path.stat().st_size / 1e6:.1f} MB")
        run_import(folder, csv_path)
        asyncio.run(claims(folder / "desk.db", args))
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
