"""`make e2e URL=…` as QA runs it against a desk of their own: here a second desk started by hand (the demo
module on free ports, not the suite's `demo_desk` fixture), its card's PIN, module and SIP address given the way
the README says. The login and call journeys pass there, and the run leaves its traces in one folder; a failing
run leaves a screenshot of the failure there too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.conftest import DEMO_QUEUE_NUMBER
from tests.helpers.net import free_port, free_udp_tcp_port
from tests.helpers.procs import stop_process

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def second_desk(tmp_path: Path) -> Iterator[dict]:
    desk_port, bridge_port, ocsp_port, sip_port = free_port(), free_port(), free_port(), free_udp_tcp_port()
    log = tmp_path / "second-desk.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "agent_desktop.demo", "--dir", str(tmp_path / "desk"), "--json"]
            + ["--desk-port", str(desk_port), "--bridge-port", str(bridge_port)]
            + ["--ocsp-port", str(ocsp_port), "--sip-port", str(sip_port)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while "READY" not in log.read_text(errors="replace").splitlines():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the second desk did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        info = next(json.loads(s) for s in log.read_text().splitlines() if s.startswith('{"config"'))
        yield {
            "url": f"http://127.0.0.1:{desk_port}",
            "sip": f"sip:{DEMO_QUEUE_NUMBER}@127.0.0.1:{sip_port}",
            "pin": info["pin"],
            "module": info["module"],
            "softhsm2_conf": info["softhsm2_conf"],
        }
    finally:
        stop_process(proc, 15)


def _make_e2e(desk: dict, artifacts: Path, pin: str, *pytest_args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("E2E_", "PYTEST_"))}
    env["SOFTHSM2_CONF"] = desk["softhsm2_conf"]
    return subprocess.run(
        [
            "make",
            "--no-print-directory",
            "e2e",
            f"URL={desk['url']}",
            f"E2E_PIN={pin}",
            f"E2E_SIP={desk['sip']}",
            f"E2E_PKCS11_MODULE={desk['module']}",
            "E2E_TOKEN_LABEL=BELPIC",
            f"E2E_ARTIFACTS={artifacts}",
            f"PYTEST_ARGS={' '.join(pytest_args)}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.timeout(600)
def test_make_e2e_url_runs_the_journeys_against_a_desk_started_by_hand(second_desk: dict, tmp_path: Path):
    artifacts = tmp_path / "run"
    result = _make_e2e(second_desk, artifacts, second_desk["pin"])
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-5000:]
    assert "2 passed" in out and "failed" not in out, out[-3000:]
    traces = sorted(p.name for p in artifacts.glob("*.zip"))
    assert traces == ["test_call_journey.zip", "test_login_journey.zip"], traces

    failing = tmp_path / "failing-run"
    result = _make_e2e(
        second_desk, failing, "9999" if second_desk["pin"] != "9999" else "8888", "-k login_journey"
    )
    assert result.returncode != 0 and "1 failed" in result.stdout, result.stdout[-3000:]
    assert [p.name for p in failing.glob("FAILED-*.png")] == ["FAILED-test_login_journey-0.png"]
    assert (failing / "FAILED-test_login_journey.zip").is_file()
