"""The citizen of the call journeys: Debian's baresip with a 1 kHz tone as its voice, driven from a test (dial the
demo's queue, hang up) and checked by what it recorded (the agent's 600 Hz tone). One per module, through the
`citizen` fixture of e2e/conftest.py; also the desk's trunk when a module points `demo_trunk_uri` at it (it
answers by itself, so an agent's or a callback's outbound call reaches it)."""

from __future__ import annotations

import time
from pathlib import Path

from e2e.conftest import DEMO_QUEUE_NUMBER, RunningDesk
from tests.helpers.loop_thread import LoopThread
from tests.helpers.net import free_port
from tests.sip.audio import has_tone, read_wav, tone_pcm, write_wav
from tests.sip.peers import Baresip

CITIZEN = "0499123456"  # baresip's user: what the desk dials out to, and the caller's number inbound
CALLER_TONE = 1000.0  # what the citizen says
AGENT_TONE = 600.0  # what the agent's fake microphone says (the `page` fixture's WAV)


class Citizen:
    """baresip as one citizen; its log is one file for the whole module, so waits count lines past a mark."""

    def __init__(self, base: Path, loop: LoopThread, number: str = CITIZEN) -> None:
        self.number = number
        self.loop = loop
        self.peer = Baresip(
            base / "home",
            free_port(),
            free_port(),
            free_port() // 2 * 2,
            wav=write_wav(base / "caller.wav", tone_pcm(CALLER_TONE, 20)),
            account=f"<sip:{number}@127.0.0.1>;regint=0;answermode=auto;audio_codecs=PCMU,PCMA",
        )

    def start(self) -> Citizen:
        self.loop.run(self.peer.start())
        return self

    def stop(self) -> None:
        self.loop.run(self.peer.stop())

    @property
    def trunk_uri(self) -> str:
        """Where the desk's outbound calls reach this citizen (`demo_trunk_uri`)."""
        return f"sip:127.0.0.1:{self.peer.sip_port}"

    def call(self, desk: RunningDesk, number: str = DEMO_QUEUE_NUMBER) -> None:
        self.loop.run(self.peer.command("dial", f"sip:{number}@127.0.0.1:{desk.sip_port}"))

    def hang_up(self) -> None:
        self.loop.run(self.peer.command("hangup"))

    def wait_log(self, text: str, timeout_s: float = 5) -> None:
        self.loop.run(self.peer.wait_log(text, timeout_s))

    def log(self) -> str:
        return self.peer.log()

    def count(self, text: str) -> int:
        return self.log().count(text)

    def wait_count_above(self, text: str, before: int, within_s: float = 25) -> None:
        """Until the log says `text` more often than `before` (one more call set up, closed, …)."""
        deadline = time.monotonic() + within_s
        while self.count(text) <= before:
            assert time.monotonic() < deadline, self.log()[-2000:]
            time.sleep(0.05)

    def heard(self, freq: float = AGENT_TONE) -> bool:
        """The tone is in one of the calls baresip recorded (after its first half second)."""
        for path in self.peer.recordings():
            pcm, rate, channels = read_wav(path)
            if channels == 1 and len(pcm) > rate and has_tone(pcm[rate // 2 :], freq, rate):
                return True
        return False
