"""The bench's memory dump (agent_desktop/memdump.py): SIGUSR1 appends object counts only when the desk was started
with $AGENT_DESKTOP_MEMDUMP; otherwise no handler is installed (a desk in production has none)."""

from __future__ import annotations

import asyncio
import os
import signal

from agent_desktop import memdump


async def test_sigusr1_appends_counts_and_what_grew(tmp_path, monkeypatch) -> None:
    target = tmp_path / "dump.txt"
    monkeypatch.setenv(memdump.ENV, str(target))
    loop = asyncio.get_running_loop()
    await memdump.on_startup(None)
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        await asyncio.sleep(0.2)
        kept = [[] for _ in range(3000)]  # grown between the two dumps
        os.kill(os.getpid(), signal.SIGUSR1)
        await asyncio.sleep(0.2)
    finally:
        assert loop.remove_signal_handler(signal.SIGUSR1)
    text = target.read_text()
    assert "== dump 0" in text and "== dump 1" in text
    assert text.count("per call: CallSession") == 2
    grown = {
        line.split()[1]: int(line.split()[0])
        for line in text.split("== dump 1", 1)[1].splitlines()
        if line.strip().startswith("+") and "(now" in line
    }
    assert grown.get("list", 0) >= len(kept), grown


async def test_no_handler_without_the_variable(monkeypatch) -> None:
    monkeypatch.delenv(memdump.ENV, raising=False)
    await memdump.on_startup(None)
    assert not asyncio.get_running_loop().remove_signal_handler(signal.SIGUSR1)
