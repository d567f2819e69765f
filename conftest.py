"""The one fixture that launches Chromium (Debian's /usr/bin/chromium through Playwright), shared by every suite.

Chromium is started once per module and distinct set of launch options (a fake microphone fed from a WAV file is
a launch flag, not a page setting). Module scope, not session: Playwright's sync API keeps an event loop running
in the main thread while it lives, which would break the asyncio tests of the other modules. Keep browser tests
sync and in modules of their own. Tests get a fresh context (own cookies) each.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "test-artifacts"

BASE_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps trying to reach Google's hosts from this closed network.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # WebRTC on loopback only (DESIGN.md §5): host candidates on 127.0.0.1, no mDNS hiding.
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def chromium() -> Iterator[Callable[..., object]]:
    """`chromium(audio_wav=None)` → a Playwright Browser (sync API), launched once per module and option set."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (make test does)")
    playwright = sync_playwright().start()
    browsers: dict[tuple, object] = {}

    def launch(audio_wav: str | None = None):
        key = (audio_wav,)
        if key not in browsers:
            args = list(BASE_ARGS)
            if audio_wav:
                args.append(f"--use-file-for-fake-audio-capture={audio_wav}")
            browsers[key] = playwright.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        return browsers[key]

    try:
        yield launch
    finally:
        for browser in browsers.values():
            browser.close()
        playwright.stop()
