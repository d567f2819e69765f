"""CPU check: logical cores as the OS reports them (what the browser's navigator.hardwareConcurrency shows)."""

from __future__ import annotations

import os

from hardware_check.checks.base import row, unknown
from hardware_check.report import CheckResult


def check_cpu(count: int | None = None) -> list[CheckResult]:
    # The machine's cores, not this process's affinity mask: the requirement is about the PC.
    cores = os.cpu_count() if count is None else count
    if not cores:
        return [unknown("cpu", "the operating system does not report its number of processor cores")]
    return [row("cpu", cores, f"{cores} logical core(s)")]
