"""Runs the CLI's checks in order and builds the Report. The CLI covers what a native program can see:
cpu, memory, screen, audio devices, eID reader and (with a desk URL) the network; `browser` and `mic_test`
are the browser page's own checks and are left out of CLI reports rather than reported as `unknown`."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from hardware_check.checks.audio import check_audio
from hardware_check.checks.base import guarded, unknown
from hardware_check.checks.cpu import check_cpu
from hardware_check.checks.eid_reader import check_eid_reader
from hardware_check.checks.memory import check_memory
from hardware_check.checks.network import NetworkOptions, Progress, check_network, not_run
from hardware_check.checks.screen import check_screen
from hardware_check.report import CheckResult, Report, utc_now

NETWORK_NAMES = [
    "network_rtt",
    "network_jitter",
    "network_loss",
    "throughput_down",
    "throughput_up",
    "webrtc",
]


@dataclass(frozen=True)
class RunOptions:
    server: str | None = None
    module: str | None = None
    token_label: str = "BELPIC"
    eid_timeout_s: float = 20.0
    network: NetworkOptions = NetworkOptions()
    network_budget_s: float = 120.0


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


async def _guarded_async(
    names: list[str], coro: Coroutine[Any, Any, list[CheckResult]], budget_s: float
) -> list[CheckResult]:
    try:
        async with asyncio.timeout(budget_s):
            return await coro
    except TimeoutError:
        return [unknown(n, f"check did not finish within {budget_s:g} s") for n in names]
    except Exception as exc:  # noqa: BLE001 - a check never ends the run
        return [unknown(n, f"check could not run: {type(exc).__name__}: {exc}") for n in names]


async def run_checks(opts: RunOptions, progress: Progress = _no_progress) -> Report:
    started = utc_now()
    rows: list[CheckResult] = []
    rows += guarded(["cpu"], check_cpu)
    rows += guarded(["memory"], check_memory)
    # Screen and audio may call helper tools (xrandr, pactl, system_profiler): keep them off the event loop.
    rows += await asyncio.to_thread(guarded, ["screen"], check_screen)
    rows += await asyncio.to_thread(guarded, ["microphone", "speaker", "headset"], check_audio)
    rows += await _guarded_async(
        ["eid_reader"],
        check_eid_reader(opts.module, opts.token_label, opts.eid_timeout_s),
        opts.eid_timeout_s + 5,
    )
    if opts.server:
        rows += await _guarded_async(
            NETWORK_NAMES, check_network(opts.server, opts.network, progress), opts.network_budget_s
        )
    else:
        rows += not_run("no desk address given (--server URL): network not tested")
    return Report(source="cli", started=started, finished=utc_now(), checks=rows)
