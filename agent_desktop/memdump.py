"""A bench-only memory dump: with $AGENT_DESKTOP_MEMDUMP set to a file, SIGUSR1 appends to it the live objects
counted by type and (when `tracemalloc` traces, e.g. PYTHONTRACEMALLOC=1) the allocation sites that grew, both
as differences from the first dump.

It exists so that `bench/queue_soak.py --memdump` can tell a leak from a plateau in a desk run as its own process.
No HTTP route, no socket: only the signal of a process the bench started, and only when the variable is set.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import time
import tracemalloc
from collections import Counter
from pathlib import Path

ENV = "AGENT_DESKTOP_MEMDUMP"
TOP = 25
# Per-call objects, always counted: after the run and the SIP timers (64 × T1) every one should be gone.
WATCH = ("CallSession", "Call", "Dialog", "RtpStream", "ServerTransaction", "ClientTransaction", "Task")


class MemDump:
    """The first dump is the baseline; every later one prints what grew since it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._types: Counter[str] | None = None
        self._snapshot: tracemalloc.Snapshot | None = None
        self._count = 0

    def dump(self) -> None:
        gc.collect()
        types = Counter(type(o).__qualname__ for o in gc.get_objects())
        lines = [
            f"== dump {self._count} at {time.time():.0f}: {sum(types.values())} gc-tracked objects",
            "  per call: " + ", ".join(f"{name} {types.get(name, 0)}" for name in WATCH),
        ]
        lines += _holders(("CallSession", "Call", "RtpStream"))
        if self._types is None:
            self._types = types
            lines += [f"  {n:8d}  {name}" for name, n in types.most_common(TOP)]
        else:
            grown = Counter({k: types[k] - self._types.get(k, 0) for k in types})
            lines.append("  types grown since dump 0:")
            lines += [f"  {n:+8d}  {name} (now {types[name]})" for name, n in grown.most_common(TOP) if n > 0]
        if tracemalloc.is_tracing():
            snapshot = tracemalloc.take_snapshot().filter_traces(
                (tracemalloc.Filter(False, tracemalloc.__file__),)
            )
            if self._snapshot is None:
                self._snapshot = snapshot
            else:
                lines.append("  allocation sites grown since dump 0 (tracemalloc):")
                # By line, not by traceback: grouping a desk's whole heap by tracebacks takes it tens of seconds
                # at 10 calls/s, and the bench's next signal comes before it is done.
                for stat in snapshot.compare_to(self._snapshot, "lineno")[:TOP]:
                    if stat.size_diff > 0:
                        lines.append(
                            f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  {stat.traceback[0]}"
                        )
        self._count += 1
        with self.path.open("a") as out:
            out.write("\n".join(lines) + "\n")


def _holders(names: tuple[str, ...], most: int = 3) -> list[str]:
    """Who keeps the first few live objects of each type in `names`: their referrers' types, two levels up (a
    per-call object alive long after its call names the table or closure that forgot it)."""
    out = []
    for name in names:
        found = [o for o in gc.get_objects() if type(o).__qualname__ == name][:most]
        for obj in found:
            chains = []
            refs = gc.get_referrers(obj)
            for ref in refs:
                if ref is found or type(ref).__name__ == "frame":
                    continue
                ups = sorted(
                    {_describe(r) for r in gc.get_referrers(ref) if r is not refs and r is not found}
                )[:4]
                chains.append(f"{_describe(ref)} <- {', '.join(ups)}")
            out.append(
                f"  held: {name} {getattr(obj, 'id', '') or getattr(obj, 'call_id', '')}: "
                + " | ".join(chains[:6])
            )
    return out


def _describe(obj: object) -> str:
    if isinstance(obj, dict):
        return f"dict({', '.join(sorted(map(str, obj))[:3])})"
    if callable(obj) and hasattr(obj, "__qualname__"):
        return f"{type(obj).__name__} {obj.__qualname__}"
    return type(obj).__qualname__


async def on_startup(app: object) -> None:  # noqa: ARG001 - an aiohttp on_startup hook
    """Installs the SIGUSR1 handler on the running loop; does nothing unless $AGENT_DESKTOP_MEMDUMP is set."""
    target = os.environ.get(ENV)
    if not target:
        return
    dumper = MemDump(Path(target))
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dumper.dump)
