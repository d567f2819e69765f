"""One logged-in session looping the HTTP API, and what the desk and the other agents feel meanwhile.

A desk is started as its own process (throw-away PKI, config and database, free loopback ports). One honest agent
logs in and, every 100 ms, asks `GET /api/me` and a KB search (what a desk does as the agent types). After a quiet
phase, one session (a page in a loop, or a script holding its cookie) asks `--route` with `--parallel` requests in
flight for `--seconds`, never waiting before a retry. Printed: the honest agent's latencies quiet and during the
flood, the desk's CPU time during the flood, the flood's requests served and refused (429). Run it in a
loopback-only namespace like the tests, before/after with `--desk-src` (a `git archive` of the other commit):

    unshare -n sh -c 'ip link set lo up && exec .venv/bin/python bench/http_flood.py [--desk-src OLD_TREE]'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench_common import Desk, client_session, load_card, login, make_pki_and_cards, pct, write_cards  # noqa: E402
from cryptography import x509  # noqa: E402

from agent_desktop.cli import enrol_certificate  # noqa: E402
from agent_desktop.config import load_config  # noqa: E402

QUIET_S = 4.0  # the honest agent alone first


async def honest(
    url: str, card: Path, marks: dict[str, float], out: list[tuple[float, float, float]]
) -> None:
    """(when, /api/me ms, KB search ms) every 100 ms until `marks["end"]`."""
    cert, key = load_card(card)
    async with client_session(url) as session:
        await login(session, url, cert, key)
        i = 0
        while time.monotonic() < marks["end"]:
            i += 1
            started = time.monotonic()
            async with session.get(f"{url}/api/me") as response:
                assert response.status == 200, response.status
                await response.read()
            me = time.monotonic() - started
            kb_started = time.monotonic()
            async with session.get(f"{url}/api/kb/search", params={"q": "vaccin"[: 1 + i % 6]}) as response:
                assert response.status == 200, response.status
                await response.read()
            out.append((started, me * 1000, (time.monotonic() - kb_started) * 1000))
            await asyncio.sleep(0.1)


async def flood_child(spec: dict) -> None:
    """The flooding session, in a process of its own: sharing the honest agent's loop, its hot loop would delay
    the honest agent's reads and the figure would be the bench's, not the desk's."""
    url, marks, route = spec["url"], spec["marks"], spec["route"]
    counts: dict[str, int] = {}
    cert, key = load_card(Path(spec["card"]))
    async with client_session(url) as session:
        await login(session, url, cert, key)
        await asyncio.sleep(max(0.0, marks["start"] - time.monotonic()))

        async def loop() -> None:
            while time.monotonic() < marks["stop"]:
                async with session.get(url + route) as response:
                    await response.read()
                    counts[str(response.status)] = counts.get(str(response.status), 0) + 1

        await asyncio.gather(*(loop() for _ in range(spec["parallel"])))
    print(json.dumps(counts))


def summary(name: str, rows: list[tuple[float, float, float]]) -> str:
    if not rows:
        return f"{name:<6} no samples"
    me = [r[1] for r in rows]
    kb = [r[2] for r in rows]
    return (
        f"{name:<6}{len(rows):>5}  /api/me p50 {pct(me, 50):6.1f} p99 {pct(me, 99):6.1f} max {max(me):6.1f}"
        f"   KB search p50 {pct(kb, 50):6.1f} p99 {pct(kb, 99):6.1f} max {max(kb):6.1f} ms"
    )


async def run(route: str, parallel: int, seconds: float, src: Path | None) -> None:
    pki, cards = make_pki_and_cards(2)
    with tempfile.TemporaryDirectory(prefix="bench-http-flood-") as tmp:
        folder = Path(tmp)
        desk = Desk(folder, pki, cards, src=src)
        # The flooding session is a supervisor's: the report queries and exports are theirs.
        enrol_certificate(
            load_config(desk.config_path),
            x509.load_pem_x509_certificate(cards[1].cert_pem),
            ["supervisor"],
            [],
        )
        desk.start()
        paths = write_cards(folder, cards)
        now = time.monotonic()
        marks = {"start": now + QUIET_S, "stop": now + QUIET_S + seconds, "end": now + QUIET_S + 1 + seconds}
        samples: list[tuple[float, float, float]] = []
        try:
            spec = {
                "url": desk.url,
                "marks": marks,
                "card": str(paths[1]),
                "route": route,
                "parallel": parallel,
            }
            child = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--flood-child", json.dumps(spec), stdout=asyncio.subprocess.PIPE
            )

            cpu, _, (stdout, _) = await asyncio.gather(
                desk.cpu_between(marks["start"], marks["stop"]),
                honest(desk.url, paths[0], marks, samples),
                child.communicate(),
            )
            counts = json.loads(stdout)
        finally:
            desk.stop()
    quiet = [s for s in samples if s[0] < marks["start"]]
    flood = [s for s in samples if marks["start"] <= s[0] < marks["stop"]]
    print(
        f"desk: {src or 'this tree'}; one session looping GET {route} ({parallel} in flight) for {seconds:g} s"
    )
    print(summary("quiet", quiet))
    print(summary("flood", flood))
    total = sum(counts.values())
    print(
        f"flood: {total} requests ({total / seconds:.0f}/s), {counts.get('200', 0)} served, "
        f"{counts.get('429', 0)} refused 429, other { ({k: v for k, v in counts.items() if k not in ('200', '429')}) }; "
        f"desk CPU {cpu[1] - cpu[0]:.1f} s in {seconds:g} s ({100 * (cpu[1] - cpu[0]) / seconds:.0f} % of one core)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--route", default="/api/me", help="what the session loops on (default /api/me)")
    parser.add_argument("--parallel", type=int, default=8, help="its requests in flight at once (default 8)")
    parser.add_argument("--seconds", type=float, default=10, help="how long it floods (default 10)")
    parser.add_argument("--desk-src", type=Path, help="run the desk from this source tree (before/after)")
    parser.add_argument("--flood-child", help=argparse.SUPPRESS)  # the flooding session's own process
    args = parser.parse_args()
    if args.flood_child:
        asyncio.run(flood_child(json.loads(args.flood_child)))
    else:
        asyncio.run(run(args.route, args.parallel, args.seconds, args.desk_src))
