"""Shared plumbing of the checks: the never-raise guard, a bounded subprocess runner, and row helpers."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

from hardware_check.report import MAX_DETAIL, CheckResult
from hardware_check.requirements import evaluate, load_requirements


def row(name: str, value: object, detail: str = "", status: str | None = None) -> CheckResult:
    """A result judged against the requirements (unless `status` is forced), with the requirement's unit."""
    unit = load_requirements().get(name).unit
    judged = status if status is not None else evaluate(name, value)
    return CheckResult(name=name, status=judged, value=value, unit=unit, detail=clip(detail))  # type: ignore[arg-type]


def unknown(name: str, reason: str) -> CheckResult:
    try:
        unit = load_requirements().get(name).unit
    except Exception:  # noqa: BLE001 - the fallback row of a failed check must not fail itself
        unit = ""
    return CheckResult(name=name, status="unknown", value=None, unit=unit, detail=clip(reason))


def clip(text: str, limit: int = MAX_DETAIL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def guarded(names: list[str], fn: Callable[[], list[CheckResult]]) -> list[CheckResult]:
    """Run a check; any exception becomes `unknown` rows for `names` so one broken probe never ends the run."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - the whole point is to never raise out of a check
        return [unknown(n, f"check could not run: {type(exc).__name__}: {exc}") for n in names]


def run_tool(args: list[str], timeout: float = 5.0) -> str | None:
    """stdout of a helper tool, or None when it is missing, fails or times out (the caller says why)."""
    if shutil.which(args[0]) is None:
        return None
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None
