"""A running desk for end-to-end tests: the demo itself (`python -m agent_desktop.demo`, what `make run` runs),
in a temporary folder on free ports, so QA drives exactly what a new user gets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.net import free_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class RunningDesk:
    url: str
    bridge_port: int
    pin: str
    directory: Path
    config: Path
    cert: Path
    log: Path


@pytest.fixture(scope="module")
def demo_desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDesk]:
    base = tmp_path_factory.mktemp("demo")
    desk_port, bridge_port, ocsp_port, sip_port = free_port(), free_port(), free_port(), free_port()
    log = base / "demo.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agent_desktop.demo",
                "--dir",
                str(base / "demo"),
                "--json",
                "--desk-port",
                str(desk_port),
                "--bridge-port",
                str(bridge_port),
                "--ocsp-port",
                str(ocsp_port),
                "--sip-port",
                str(sip_port),
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its children (desk, bridge, PKCS#11 worker) go with it
        )
    try:
        deadline = time.monotonic() + 120
        info = None
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            if info is None:
                line = next((s for s in text.splitlines() if s.startswith('{"config"')), None)
                info = json.loads(line) if line else None
            if "READY" in text.splitlines():
                break
            if proc.poll() is not None:
                pytest.fail(f"demo exited with {proc.returncode}:\n{text[-3000:]}")
            time.sleep(0.2)
        else:
            pytest.fail(f"demo not ready in 120 s:\n{log.read_text(errors='replace')[-3000:]}")
        yield RunningDesk(
            f"http://127.0.0.1:{desk_port}",
            bridge_port,
            info["pin"],
            base / "demo",
            Path(info["config"]),
            Path(info["cert"]),
            log,
        )
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
