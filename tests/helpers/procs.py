"""The subprocesses a test starts (a proxy, a TURN server): waiting until one serves, and stopping it with
SIGTERM, a grace period, then SIGKILL; by its process group when it was started with `start_new_session=True`
(its children go with it)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable


def stop_process(proc: subprocess.Popen, grace_s: float, *, group: bool = True) -> None:
    """End `proc` (and its group) unless it has ended already; waits for it either way."""
    if proc.poll() is not None:
        return
    kill = os.killpg if group else os.kill
    kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        kill(proc.pid, signal.SIGKILL)
        proc.wait(5)


def wait_until_serving(
    proc: subprocess.Popen,
    ready: Callable[[], bool],
    *,
    what: str,
    log: Callable[[], str],
    timeout_s: float,
    pause_s: float = 0.0,
    group: bool = True,
) -> None:
    """Poll `ready` (`pause_s` between tries) until it holds; if `proc` exits first, or `timeout_s` passes (then it
    is stopped), raise RuntimeError with `what` and its `log`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log()}")
        if ready():
            return
        time.sleep(pause_s)
    stop_process(proc, 5, group=group)
    raise RuntimeError(f"{what} did not serve within {timeout_s} s:\n{log()}")
