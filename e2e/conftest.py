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

from tests.helpers.net import free_port, free_udp_tcp_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class RunningDesk:
    url: str
    bridge_port: int
    sip_port: int
    pin: str
    directory: Path
    config: Path
    cert: Path
    log: Path

    @property
    def database(self) -> Path:
        return self.directory.parent / "desk.db"


@pytest.fixture(scope="module")
def demo_trunk_uri() -> str:
    """Where the demo desk sends outbound calls; a module may override this fixture (e.g. with its baresip)."""
    return ""


@pytest.fixture(scope="module")
def demo_smtp_port() -> int:
    """The SMTP port on 127.0.0.1 the demo desk mails to; 0 keeps the demo's default. A module may override it."""
    return 0


@pytest.fixture(scope="module")
def demo_extra_config() -> str:
    """TOML appended to the demo's config (tables it does not write, e.g. `[webrtc]`); a module may override it."""
    return ""


@pytest.fixture(scope="module")
def demo_env() -> dict[str, str]:
    """Extra environment of the demo (and so of its desk), e.g. a secret named by the config."""
    return {}


@pytest.fixture(scope="module")
def demo_desk(
    tmp_path_factory: pytest.TempPathFactory,
    demo_trunk_uri: str,
    demo_smtp_port: int,
    demo_extra_config: str,
    demo_env: dict[str, str],
) -> Iterator[RunningDesk]:
    base = tmp_path_factory.mktemp("demo")
    desk_port, bridge_port, ocsp_port = free_port(), free_port(), free_port()
    sip_port = free_udp_tcp_port()
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
                "--trunk-uri",
                demo_trunk_uri,
                *(["--smtp-port", str(demo_smtp_port)] if demo_smtp_port else []),
                *(["--extra-config", demo_extra_config] if demo_extra_config else []),
            ],
            env={**os.environ, **demo_env},
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
            sip_port,
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


def login(page, desk: RunningDesk) -> None:
    """Log the demo agent in through the page, the running bridge and the SoftHSM card."""
    from playwright.sync_api import expect

    page.goto(desk.url)
    expect(page.locator("body[data-ready='1']")).to_be_visible()
    page.get_by_test_id("login-eid").click()
    page.get_by_test_id("pin-input").fill(desk.pin)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("desk-connection")).to_have_attribute("data-status", "open")
