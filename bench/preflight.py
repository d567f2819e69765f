"""Browser preflight cost: how long the full preflight takes in Chromium (target < 25 s) and how many bytes its
throughput test moves each way (target < 5 MB), against a desk started here (`agent-desktop serve`, free
loopback port, throw-away config) with Chromium's fake microphone fed a speech-like WAV. The "agent" answers the
speaker question at once, so the time is the page's own. Bytes are counted from the network traffic Chromium
reports (download Content-Length, upload body size), not from the page's own figures.

Run it in a loopback-only namespace like the tests (WebRTC host candidates on 127.0.0.1):

    unshare -n sh -c 'ip link set lo up && exec .venv/bin/python bench/preflight.py [--runs 3]'
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conftest import BASE_ARGS, CHROMIUM  # noqa: E402 - the test suite's Chromium flags, one list
from tests.helpers.net import free_port  # noqa: E402
from tests.preflight.audio_tools import write_speech_like_wav  # noqa: E402

CONFIG = """
[server]
port = {port}
public_url = "http://127.0.0.1:{port}"

[database]
path = "desk.db"

[eid]
ocsp = "off"
nrn_key_file = "secrets/nrn.key"

[webrtc]
host_addresses = ["127.0.0.1"]
"""


def start_desk(folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    config = folder / "desk.toml"
    config.write_text(CONFIG.format(port=port))
    log = open(folder / "desk.log", "wb")  # noqa: SIM115 - lives as long as the desk
    desk = subprocess.Popen(
        [sys.executable, "-m", "agent_desktop.cli", "serve", "--config", str(config)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/preflight/requirements", timeout=2):
                return desk, url
        except OSError:
            if desk.poll() is not None:
                break
            time.sleep(0.2)
    desk.terminate()
    raise SystemExit(f"the desk did not start:\n{(folder / 'desk.log').read_text()[-2000:]}")


def one_run(browser, url: str) -> dict:
    context = browser.new_context(
        viewport={"width": 1280, "height": 720}, screen={"width": 1280, "height": 720}
    )
    page = context.new_page()
    moved = {"down": 0, "up": 0}

    def on_response(response) -> None:
        if "/api/preflight/download" in response.url:
            moved["down"] += int(response.headers.get("content-length", "0"))

    def on_request(request) -> None:
        if request.url.endswith("/api/preflight/upload"):
            moved["up"] += len(request.post_data_buffer or b"")

    page.on("response", on_response)
    page.on("request", on_request)
    try:
        page.goto(f"{url}/preflight")
        page.wait_for_selector("body[data-ready='1'][data-state='idle']")
        started = time.perf_counter()
        page.get_by_test_id("preflight-run").click()
        page.get_by_test_id("preflight-speaker-yes").click(timeout=30_000)
        page.wait_for_selector("body[data-state='done']", timeout=120_000)
        seconds = time.perf_counter() - started
        statuses = page.eval_on_selector_all(
            "tr[data-check]", "rows => Object.fromEntries(rows.map(r => [r.dataset.check, r.dataset.status]))"
        )
        mos = page.get_by_test_id("preflight-check-webrtc").locator(".value").inner_text()
        report_id = page.get_by_test_id("preflight-report-id").inner_text()
    finally:
        context.close()
    return {"seconds": seconds, **moved, "statuses": statuses, "mos": mos, "id": report_id}


def main(runs: int) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wav = write_speech_like_wav(folder / "speech.wav")
        desk, url = start_desk(folder)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM,
                    args=[*BASE_ARGS, f"--use-file-for-fake-audio-capture={wav}"],
                    headless=True,
                )
                print(
                    f"{'run':>3} {'seconds':>8} {'down bytes':>11} {'up bytes':>11} {'MOS':>8}  report  not passing"
                )
                results = []
                for i in range(1, runs + 1):
                    r = one_run(browser, url)
                    results.append(r)
                    failing = {k: v for k, v in r["statuses"].items() if v != "pass"}
                    print(
                        f"{i:>3} {r['seconds']:>8.1f} {r['down']:>11,} {r['up']:>11,} {r['mos']:>8}  {r['id']}  "
                        f"{json.dumps(failing)}"
                    )
                browser.close()
        finally:
            desk.terminate()
            desk.wait(10)
    seconds = [r["seconds"] for r in results]
    most_down = max(r["down"] for r in results)
    most_up = max(r["up"] for r in results)
    print(
        f"full preflight: median {statistics.median(seconds):.1f} s, max {max(seconds):.1f} s (target < 25 s); "
        f"throughput test moved at most {most_down / 1e6:.2f} MB down and {most_up / 1e6:.2f} MB up "
        "(target < 5 MB each way)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="preflight runs (default 3)")
    main(parser.parse_args().runs)
