"""The embedded demo's inbound side (DESIGN.md §9): the config `make run` writes parses, every prompt it names is
spoken into var/prompts and decodes, 1700's menu reaches both open queues, and 1709 is closed at any hour."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlite_utils

from agent_desktop.acd.opening_hours import OpeningHours
from agent_desktop.config import Config, QueueConfig, load_config
from agent_desktop.demo import (
    CLOSED_NUMBER,
    DEMO_SKILLS,
    MENU_NUMBER,
    QUEUE_NUMBERS,
    DemoPorts,
    demo_config,
)
from agent_desktop.demo_prompts import DEMO_PROMPTS, speak_prompts
from agent_desktop.media.audio_file import decode_8k_mono
from agent_desktop.store import agents
from tests.helpers.net import free_port

BRUSSELS = ZoneInfo("Europe/Brussels")


def _hours(queue: QueueConfig) -> OpeningHours:
    return OpeningHours.from_config(queue.open, queue.timezone, queue.holidays, queue.closed_dates)


def _demo(tmp_path: Path) -> Config:
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / "desk.toml").write_text(demo_config(DemoPorts(18080, 18081, 18082, 18083)))
    return load_config(folder / "desk.toml")


def _moments() -> list[dt.datetime]:
    """Day, night, weekend, a Belgian public holiday (Christmas on a Friday), New Year's night."""
    return [
        dt.datetime(2026, 12, 7, 10, 0, tzinfo=BRUSSELS),  # Monday morning
        dt.datetime(2026, 12, 7, 23, 30, tzinfo=BRUSSELS),
        dt.datetime(2026, 12, 12, 14, 0, tzinfo=BRUSSELS),  # Saturday
        dt.datetime(2026, 12, 25, 11, 0, tzinfo=BRUSSELS),
        dt.datetime(2027, 1, 1, 0, 30, tzinfo=BRUSSELS),
    ]


@pytest.mark.timeout(120)
def test_every_prompt_the_demo_names_is_spoken_and_decodes(tmp_path: Path) -> None:
    config = _demo(tmp_path)
    folder = config.path(config.prompts.dir)
    assert folder.resolve() == (tmp_path / "prompts").resolve()  # var/prompts beside var/demo
    speak_prompts(folder)
    named = {(f"[[menus]] {m.number} prompt", m.prompt) for m in config.menus}
    for queue in config.queues:
        named |= {(f"{queue.name} {key}", file) for key, file in queue.prompt_keys().items()}
    assert {file for _, file in named} >= {
        "menu.wav",
        "welcome.wav",
        "wait.wav",
        "callback_offer.wav",
        "callback_confirmed.wav",
        "closed.wav",
    }
    for where, file in sorted(named):
        pcm = decode_8k_mono(folder / file)
        assert len(pcm) / 16000 > 1.0, where  # at least a second of 8 kHz 16-bit speech


def test_the_menu_on_1700_reaches_both_queues_which_are_always_open(tmp_path: Path) -> None:
    config = _demo(tmp_path)
    queues = {q.name: q for q in config.queues}
    (menu,) = [m for m in config.menus if MENU_NUMBER in m.numbers]
    assert menu.options == {"1": "vaccinatie", "2": "algemeen"}
    assert menu.default in queues
    for name in ("vaccinatie", "algemeen"):
        queue = queues[name]
        assert queue.numbers == (QUEUE_NUMBERS[name],)  # each also rung directly (e2e, demo-call)
        assert all(_hours(queue).is_open(at) for at in _moments()), name
        assert queue.no_agents == "queue"  # callers wait even before the agent logs in
        assert set(queue.skills) <= set(DEMO_SKILLS), name  # the demo agent serves it
        for key in ("wait_message", "callback_offer", "callback_confirmed"):
            assert getattr(queue, key), (name, key)
        assert 0 < queue.callback_offer_after_s and 0 < queue.wait_message_every_s
    # The menu welcomes; the queue it sends most callers to (and the e2e calls ring) rings an agent at once.
    assert queues["vaccinatie"].welcome and not queues["algemeen"].welcome
    # `agent-desktop demo-call` without --to rings the first queue: an open one, not the menu or the closed line.
    assert config.queues[0].name in menu.options.values()


def test_1709_is_closed_at_any_hour(tmp_path: Path) -> None:
    config = _demo(tmp_path)
    (queue,) = [q for q in config.queues if CLOSED_NUMBER in q.numbers]
    assert queue.closed and not queue.closed_to  # the caller hears the closing message
    hours = _hours(queue)
    for at in _moments():
        # Closed by the clock, or (inside its hours) by the no-agents rule: no demo agent has its skills.
        assert not hours.is_open(at) or (
            queue.no_agents == "closed" and not set(queue.skills) <= set(DEMO_SKILLS)
        ), at
    assert hours.is_open(_moments()[0])  # the no-agents branch above is really exercised


@pytest.mark.timeout(120)
def test_make_run_speaks_the_prompts_once_and_gives_the_agent_the_queues_skills(tmp_path: Path) -> None:
    args = [
        sys.executable, "-m", "agent_desktop.demo", "--dir", str(tmp_path / "demo"), "--prepare-only", "--json",
        "--desk-port", str(free_port()), "--bridge-port", str(free_port()), "--ocsp-port", str(free_port()),
    ]  # fmt: skip
    first = subprocess.run(args, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    assert first.returncode == 0, first.stderr
    assert f"spoke {len(DEMO_PROMPTS)} demo prompts into {(tmp_path / 'prompts').resolve()}" in first.stdout
    info = json.loads(next(line for line in first.stdout.splitlines() if line.startswith('{"config"')))
    config = load_config(info["config"])
    for queue in config.queues:
        for file in queue.prompt_keys().values():
            assert decode_8k_mono(config.path(config.prompts.dir) / file), file
    db = sqlite_utils.Database(config.path(config.database.path))
    try:
        (agent,) = agents.list_all(db)
    finally:
        db.close()
    open_queues = [q for q in config.queues if q.name in ("vaccinatie", "algemeen")]
    assert all(set(q.skills) <= set(agent.skills) for q in open_queues), agent.skills
    # The second `make run` keeps the prompts (a centre's recordings put there are never overwritten).
    (tmp_path / "prompts" / "welcome.wav").write_bytes(b"RIFF recorded by the centre")
    again = subprocess.run(args, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    assert again.returncode == 0, again.stderr
    assert "spoke" not in again.stdout
    assert (tmp_path / "prompts" / "welcome.wav").read_bytes() == b"RIFF recorded by the centre"


def test_the_demo_can_try_the_outbound_side_the_survey_and_a_recording(tmp_path: Path) -> None:
    """A new user (and QA) can try every part of the desk on the demo: outbound calls go to the demo's citizens,
    the survey has questions, a queue is recorded — each prompt spoken and decodable."""
    config = _demo(tmp_path)
    assert config.sip.trunk_uri == f"sip:127.0.0.1:{DemoPorts().callee}"
    folder = config.path(config.prompts.dir)
    speak_prompts(folder)
    assert len(config.survey.questions) == 4 and config.survey.thanks
    recorded = [q for q in config.queues if q.record]
    assert [q.name for q in recorded] == ["vaccinatie"]
    for file in (*config.survey.questions, config.survey.thanks, recorded[0].recording_notice):
        assert len(decode_8k_mono(folder / file)) / 16000 > 1.0, file
    with_trunk = tmp_path / "trunk.toml"
    with_trunk.write_text(demo_config(DemoPorts(), trunk_uri="sip:127.0.0.1:15099"))
    assert (
        load_config(with_trunk).sip.trunk_uri == "sip:127.0.0.1:15099"
    )  # a trunk given replaces the citizens


@pytest.mark.timeout(30)
async def test_the_demo_citizen_answers_an_outbound_call_and_speaks(tmp_path: Path) -> None:
    """The demo's far side: a call the desk places rings, is answered and hears the citizen's 440 Hz tone; a
    number ending in 99 rings and is never answered (the demo callers count up from 0470000000)."""
    import asyncio

    from agent_desktop.sip import g711
    from agent_desktop.sip.demo_callee import DemoCallee
    from agent_desktop.sip.endpoint import EndpointConfig, SipEndpoint
    from tests.helpers.net import free_udp_tcp_port
    from tests.sip.audio import goertzel_ratio

    port = free_udp_tcp_port()
    desk_side = EndpointConfig("127.0.0.1", 0, rtp_ports=(43000, 43099), trunk_uri=f"sip:127.0.0.1:{port}")
    async with DemoCallee(port, ring_s=0.5) as callee, SipEndpoint(desk_side, lambda call: None) as ep:
        call = await ep.dial("0471123456", ring_timeout_s=5)
        for _ in range(100):
            if call.state not in ("dialing", "ringing"):
                break
            await asyncio.sleep(0.05)
        assert call.state == "connected" and callee.answered == 1
        heard = bytearray()
        for _ in range(60):  # 1.2 s
            frame = await call.media.read_frame()
            call.media.write_frame(call.media.silence)
            heard += g711.ulaw_to_pcm16(frame) if call.media.codec == "PCMU" else g711.alaw_to_pcm16(frame)
        assert goertzel_ratio(bytes(heard), 440) > 0.3
        await call.hangup()

        silent = await ep.dial("0471123499", ring_timeout_s=2)
        await silent.wait_ended(5)
        assert silent.cause == "no_answer" and callee.answered == 1
