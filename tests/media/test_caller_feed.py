"""The caller's one source and the leg relay, on real RTP streams over loopback: a prompt cut off by the music
leaves one player, never two sounds in a frame; two legs with different codecs bridged both ways, and nothing
passes once the relay stops."""

from __future__ import annotations

import asyncio

from agent_desktop.media.caller_feed import CallerFeed
from agent_desktop.media.hold_music import HoldMusic
from agent_desktop.media.leg_relay import LegRelay
from agent_desktop.sip.rtp import PortAllocator, RtpStream
from tests.helpers.rtp_pair import rtp_pair
from tests.sip.audio import decode, goertzel_ratio, speak, tone_pcm

PROMPT, MUSIC, A, B = 600.0, 350.0, 800.0, 1300.0


def _collect(stream: RtpStream, into: list[bytes]) -> None:
    stream.pass_audio_to(lambda seq, ts, ssrc, payload: into.append(decode(stream.codec, payload)))


def _players() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if getattr(t.get_coro(), "__qualname__", "") == "HoldMusic.play"]


async def test_a_switch_cuts_the_prompt_off_and_only_one_sound_plays() -> None:
    leg, caller = await rtp_pair(PortAllocator(46000, 46099))
    heard: list[bytes] = []
    _collect(caller, heard)
    try:
        feed = CallerFeed(room=None, music=HoldMusic(tone_pcm(MUSIC, 1.0)), agent_id=None, leg_media=leg)  # type: ignore[arg-type]
        done = feed.play(HoldMusic(tone_pcm(PROMPT, 2.0)))
        await asyncio.sleep(0.5)
        feed.switch("music")
        assert await done is False  # cut off, not played to its end
        assert len(_players()) == 1 and feed.source == "music"
        await asyncio.sleep(0.5)
        feed.switch("none")
        await asyncio.sleep(0.1)
        assert _players() == []
        both = [f for f in heard if goertzel_ratio(f, PROMPT) > 0.2 and goertzel_ratio(f, MUSIC) > 0.2]
        assert both == [], f"{len(both)} frames mixed the prompt and the music"
        prompt = sum(1 for f in heard if goertzel_ratio(f, PROMPT) > 0.6)
        music = sum(1 for f in heard if goertzel_ratio(f, MUSIC) > 0.6)
        assert prompt >= 10 and music >= 10, (
            prompt,
            music,
        )  # about 25 each; fewer when the machine is loaded

        short = feed.play(HoldMusic(tone_pcm(PROMPT, 0.2)))
        assert await asyncio.wait_for(short, 1) is True and feed.source == "none"
    finally:
        leg.close()
        caller.close()


async def test_the_relay_bridges_two_legs_both_ways_across_codecs_and_stops() -> None:
    ports = PortAllocator(46100, 46199)
    caller, leg_a = await rtp_pair(ports, "PCMU")  # the caller and our leg to it
    leg_b, backup = await rtp_pair(ports, "PCMA")  # our leg to the backup number and the backup
    at_caller: list[bytes] = []
    at_backup: list[bytes] = []
    _collect(caller, at_caller)
    _collect(backup, at_backup)
    relay = LegRelay(leg_a, leg_b)
    relay.start()

    talkers = [asyncio.ensure_future(speak(caller, A)), asyncio.ensure_future(speak(backup, B))]
    try:
        await asyncio.sleep(1.0)
        assert sum(goertzel_ratio(f, B) > 0.6 for f in at_caller) > 30, "the caller does not hear the backup"
        assert sum(goertzel_ratio(f, A) > 0.6 for f in at_backup) > 30, "the backup does not hear the caller"
        relay.stop()
        await asyncio.sleep(0.1)
        counts = len(at_caller), len(at_backup)
        await asyncio.sleep(0.5)
        assert (len(at_caller), len(at_backup)) == counts, "audio passed after the relay stopped"
    finally:
        for task in talkers:
            task.cancel()
        for stream in (caller, leg_a, leg_b, backup):
            stream.close()
