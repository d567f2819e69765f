"""The bench scripts still start: each is imported as it is run (`python bench/X.py`) and prints its help.

Benches run by hand, not in CI, so a script broken by a neighbour goes unseen until someone measures — a file once
named `bench/queue.py` stood in for the standard library's `queue` in every other bench and broke their aiortc
import. Here each script is run exactly as the docs say, with the bench folder first on `sys.path`.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if not p.name.startswith("_"))


def test_no_bench_file_shadows_the_standard_library() -> None:
    shadowing = [p.name for p in BENCH.glob("*.py") if p.stem in sys.stdlib_module_names]
    assert shadowing == [], f"bench scripts named like standard modules: {shadowing}"


@pytest.mark.timeout(180)
def test_every_bench_prints_its_help() -> None:
    async def help_of(script: Path) -> tuple[str, int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            "--help",
            cwd=BENCH.parent,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 120)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return script.name, -1, "timed out"
        return script.name, proc.returncode, out.decode(errors="replace")

    async def all_helps() -> list[tuple[str, int, str]]:
        sem = asyncio.Semaphore(2)  # two cores

        async def one(script: Path) -> tuple[str, int, str]:
            async with sem:
                return await help_of(script)

        return await asyncio.gather(*(one(s) for s in SCRIPTS))

    assert SCRIPTS, "no bench scripts found"
    results = asyncio.run(all_helps())
    broken = {name: out[-600:] for name, rc, out in results if rc != 0 or "usage:" not in out}
    assert broken == {}, broken
