"""Stopping a subprocess a test started: SIGTERM, a grace period, then SIGKILL; by its process group when it was
started with `start_new_session=True` (its children go with it)."""

from __future__ import annotations

import os
import signal
import subprocess


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
