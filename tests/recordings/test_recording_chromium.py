"""A recording plays in Chromium straight from the desk's API: an <audio> element of a logged-in supervisor's
page loads `/api/recordings/{id}/audio`, reports the recording's duration and no error, and seeks into it (the
player's Range requests), each request audit-logged. Sync module: Playwright owns the main thread's loop, the
desk runs on a loop thread."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from agent_desktop.app import create_app
from agent_desktop.cli import enrol_certificate
from agent_desktop.config import load_config
from agent_desktop.store import audit
from agent_desktop.store import recordings as rows
from agent_desktop.web import keys
from agent_desktop.web.recordings_api import RECORDINGS
from tests.helpers.loop_thread import LoopThread
from tests.helpers.net import free_port
from tests.recordings.conftest import two_tone_file
from tests.web.conftest import Desk, write_config

REC_ID = "0123456789abcdef"

PLAY = """async (src) => {
  const audio = new Audio();
  audio.muted = true;
  const loaded = new Promise((resolve) => {
    audio.addEventListener("loadedmetadata", () => resolve("loaded"), { once: true });
    audio.addEventListener("error", () => resolve("error"), { once: true });
  });
  audio.src = src;
  const outcome = await loaded;
  const result = { outcome, duration: audio.duration, error: audio.error && audio.error.code };
  if (outcome !== "loaded") return result;
  const seeked = new Promise((resolve) => audio.addEventListener("seeked", resolve, { once: true }));
  audio.currentTime = 2.0;
  await seeked;
  await audio.play();
  await new Promise((resolve) => setTimeout(resolve, 400));
  audio.pause();
  return { ...result, position: audio.currentTime, playError: audio.error && audio.error.code };
}"""


@pytest.fixture(scope="module")
def running_desk(tmp_path_factory, web_pki, cards) -> Iterator[tuple[LoopThread, Desk]]:
    directory: Path = tmp_path_factory.mktemp("desk")
    port = free_port()
    config = load_config(write_config(directory, web_pki, port))
    enrol_certificate(config, cards["supervisor"].cert, ["agent", "supervisor"], [], "fr")
    loop = LoopThread()

    async def start() -> TestServer:
        server = TestServer(create_app(config), host="127.0.0.1", port=port)
        await server.start_server()
        app = server.app
        await two_tone_file(app[RECORDINGS].root / f"{REC_ID}.ogg", 3.0)
        started = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
        await app[keys.STORE].write(
            rows.insert, rows.NewRecording(REC_ID, "call-1", "vaccinatie", 1, f"{REC_ID}.ogg", started)
        )
        await app[keys.STORE].write(rows.finish, REC_ID, 3.0)
        return server

    server = loop.run(start())
    try:
        yield loop, Desk(config, server, f"http://127.0.0.1:{port}", cards)
    finally:
        loop.run(server.close())
        loop.close()


def _session_cookie(loop: LoopThread, desk: Desk) -> str:
    async def login() -> str:
        async with desk.client() as client:
            assert (await desk.login(client, "supervisor")).status == 200
            return next(c.value for c in client.cookie_jar if c.key == "ad_session")

    return loop.run(login())


def test_a_recording_plays_and_seeks_in_chromium(chromium, running_desk):
    loop, desk = running_desk
    cookie = _session_cookie(loop, desk)
    context = chromium().new_context()
    try:
        context.add_cookies([{"name": "ad_session", "value": cookie, "url": desk.url}])
        page = context.new_page()
        assert page.goto(f"{desk.url}/api/me").status == 200
        result = page.evaluate(PLAY, f"/api/recordings/{REC_ID}/audio")
    finally:
        context.close()
    assert result["outcome"] == "loaded" and result["error"] is None, result
    assert 2.9 < result["duration"] < 3.1, result
    assert result["playError"] is None and result["position"] > 2.0, result

    async def plays() -> list[dict]:
        entries = await desk.server.app[keys.STORE].read(audit.recent)
        return [e for e in entries if e["action"] == "recording_play"]

    ranges = [json.loads(e["detail"])["range"] for e in loop.run(plays())]
    assert ranges, "the player's requests were not audit-logged"
    assert all(r.startswith("bytes=") for r in ranges), ranges  # a media element asks ranges, and gets them
