"""How long a supervisor waits for a month's reports of a busy line, and what it costs the event loop.

A throw-away database gets `--calls` inbound calls spread over one month (office-hour peaks, four queues, the
outcomes of a busy crisis line: answered after an exponential wait, abandoned, overflowed, callbacks, closed),
their contacts and wrap-ups, and the agents' state changes; `--other-months` months of the same traffic before
it make the table as long as a desk's after a while (the report must read the month by index, not
scan the year). Rows are inserted in bulk with the columns the queue writes (QUEUE_PLAN.md), then each report
runs `--runs` times through `Store.read_big`, as the API runs it, while a 5 ms ticker on the event loop notes
its worst stall. Printed: median and worst time per report, rows out, the loop's worst stall.

    .venv/bin/python bench/reports.py [--calls 100000] [--other-months 2] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent_desktop.store import reports  # noqa: E402
from agent_desktop.store.clock import iso  # noqa: E402
from agent_desktop.store.db import open_db  # noqa: E402
from agent_desktop.store.store import Store  # noqa: E402
from agent_desktop.web.reports_api import queue_csv  # noqa: E402

QUEUES = ("vaccinatie", "algemeen", "crisis", "D2")
AGENTS = 60
MONTH = date(2026, 3, 1)  # March 2026 holds the spring DST change; the other months come before it
# Share of calls per local hour (Brussels): a helpdesk's day, quiet at night.
HOUR_WEIGHT = [1, 1, 1, 1, 1, 2, 4, 10, 30, 40, 38, 34, 26, 30, 34, 30, 24, 14, 8, 5, 4, 3, 2, 1]


def _month_days(first: date) -> list[date]:
    nxt = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return [first + timedelta(days=n) for n in range((nxt - first).days)]


def _calls(rng: random.Random, days: list[date], count: int, prefix: str):
    """Yield call rows and (call id, agent, acw) for wrap-ups."""
    hours = list(range(24))
    for n in range(count):
        day = rng.choice(days)
        hour = rng.choices(hours, HOUR_WEIGHT)[0]
        offered = datetime(day.year, day.month, day.day, hour, tzinfo=UTC) + timedelta(
            seconds=rng.uniform(0, 3600) - 3600  # Brussels is UTC+1/+2: near enough for a load
        )
        queue = rng.choice(QUEUES)
        outcome = rng.random()
        wait = rng.expovariate(1 / 35)
        agent = rng.randrange(1, AGENTS + 1)
        row = {
            "id": f"{prefix}{n:07d}",
            "sip_call_id": f"{prefix}{n}@bench",
            "direction": "inbound",
            "from_number": "0470000000",
            "to_number": "1700",
            "queue": queue,
            "agent_id": None,
            "state": "ended",
            "offered": iso(offered),
            "created": iso(offered),
            "queued": None,
            "answered": None,
            "ended": None,
            "end_cause": None,
            "overflow_tries": 0,
        }
        if outcome < 0.05:
            row.update(ended=iso(offered + timedelta(seconds=12)), end_cause="closed")
        else:
            if wait > 8:
                row["queued"] = iso(offered + timedelta(seconds=6))
            if outcome < 0.80:
                answered = offered + timedelta(seconds=wait)
                row.update(
                    agent_id=agent,
                    answered=iso(answered),
                    ended=iso(answered + timedelta(seconds=rng.expovariate(1 / 240))),
                    end_cause=rng.choice(("remote_bye", "local_bye")),
                )
                if rng.random() < 0.7:
                    yield row, (row["id"], agent, int(rng.expovariate(1 / 45)))
                    continue
            elif outcome < 0.88:
                row.update(ended=iso(offered + timedelta(seconds=wait)), end_cause="abandoned")
            elif outcome < 0.92:
                row.update(
                    overflow_tries=1, ended=iso(offered + timedelta(seconds=180)), end_cause="overflowed"
                )
            else:
                row.update(ended=iso(offered + timedelta(seconds=150 + wait)), end_cause="callback_requested")
        yield row, None


def seed(path: Path, calls: int, other_months: int, seed_value: int) -> None:
    rng = random.Random(seed_value)
    db = open_db(path)
    conn = db.conn
    conn.execute("BEGIN")
    for n in range(1, AGENTS + 1):
        conn.execute(
            "INSERT INTO agents (id, nrn_hash, given_name, surname, roles, skills, lang, enabled, created)"
            " VALUES (?, ?, 'Agent', ?, '[\"agent\"]', '[]', 'nl', 1, ?)",
            [n, f"h{n}", f"Nr {n}", iso()],
        )
    months = [MONTH]
    for _ in range(other_months):
        months.insert(0, (months[0] - timedelta(days=1)).replace(day=1))
    for m, month in enumerate(months):
        made = sorted(_calls(rng, _month_days(month), calls, f"m{m}-"), key=lambda made: made[0]["offered"])
        # In order of the INVITE, as the desk writes them (rowids then follow `offered`, as in a real table).
        columns = list(made[0][0])
        sql = f"INSERT INTO calls ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        conn.executemany(sql, ([row[c] for c in columns] for row, _ in made))
        wrap = [(wrapup, row["ended"]) for row, wrapup in made if wrapup]
        for (call_id, agent, acw), ended in wrap:
            cur = conn.execute(
                "INSERT INTO contacts (agent_id, call_id, source, number, opened, closed) VALUES (?, ?, 'call', '', ?, ?)",
                [agent, call_id, ended, ended],
            )
            conn.execute(
                "INSERT INTO wrapups (contact_id, agent_id, updated, submitted, acw_s) VALUES (?, ?, ?, ?, ?)",
                [cur.lastrowid, agent, ended, ended, acw],
            )
        # Each agent: a shift a day with breaks, as state changes.
        states = []
        for day in _month_days(month):
            for agent in range(1, AGENTS + 1):
                at = datetime(day.year, day.month, day.day, 7, tzinfo=UTC) + timedelta(
                    minutes=rng.uniform(0, 60)
                )
                for state, minutes in (
                    ("available", 120),
                    ("break", 15),
                    ("available", 150),
                    ("lunch", 30),
                    ("available", 100),
                    ("wrap_up", 3),
                    ("available", 60),
                    ("offline", 0),
                ):
                    states.append((agent, state, iso(at)))
                    at += timedelta(minutes=minutes * rng.uniform(0.8, 1.2))
        conn.executemany(
            "INSERT INTO agent_state_changes (agent_id, state, reason, at) VALUES (?, ?, '', ?)", states
        )
    conn.execute("COMMIT")
    db.close()


async def _ticker(stalls: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t0 = loop.time()
        await asyncio.sleep(0.005)
        stalls.append(loop.time() - t0 - 0.005)


async def measure(path: Path, runs: int) -> None:
    store = Store(path)
    first, last = MONTH, _month_days(MONTH)[-1]
    settings = {q: reports.QueueSettings("Europe/Brussels", 20) for q in QUEUES}
    now = datetime(2027, 1, 1, tzinfo=UTC)
    jobs = [
        ("queues, day", reports.queue_report, (first, last, "day", settings)),
        ("queues, hour", reports.queue_report, (first, last, "hour", settings)),
        ("queues, hour, CSV", queue_csv, (first, last, "hour", settings)),
        ("agents", reports.agent_report, (first, last, "Europe/Brussels", now)),
    ]
    print(f"{'report':<20} {'median':>8} {'worst':>8} {'rows':>6} {'loop stall':>11}")
    for name, fn, args in jobs:
        times, out = [], None
        stalls: list[float] = []
        stop = asyncio.Event()
        ticker = asyncio.create_task(_ticker(stalls, stop))
        for _ in range(runs):
            t0 = time.perf_counter()
            out = await store.read_big(fn, *args)
            times.append(time.perf_counter() - t0)
        stop.set()
        await ticker
        size = len(out) if isinstance(out, list) else out.count(b"\n") - 1
        print(
            f"{name:<20} {statistics.median(times) * 1000:7.0f}ms {max(times) * 1000:7.0f}ms {size:>6}"
            f" {max(stalls) * 1000:9.1f}ms"
        )
    await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000, help="calls in the reported month")
    parser.add_argument("--other-months", type=int, default=2, help="months of the same traffic besides it")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        path = Path(tmp) / "desk.db"
        t0 = time.perf_counter()
        seed(path, args.calls, args.other_months, args.seed)
        size = path.stat().st_size + (
            path.with_suffix(".db-wal").stat().st_size if path.with_suffix(".db-wal").exists() else 0
        )
        print(
            f"seeded {args.calls} calls in {MONTH:%B %Y} + {args.other_months} other month(s) of as many,"
            f" {AGENTS} agents' shifts, {size / 1e6:.0f} MB, in {time.perf_counter() - t0:.1f} s"
        )
        asyncio.run(measure(path, args.runs))


if __name__ == "__main__":
    main()
