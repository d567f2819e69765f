"""What one call leg is connected to: the agent (both ways, through the media room), a prompt, the hold music,
another SIP leg (an overflow number, bridged by a LegRelay), or nothing.

Exactly one source feeds the caller at any time. `switch()` is one synchronous step, with no await inside, so a
second hold, a hang-up, an agent's answer or a digit arriving meanwhile cannot interleave with it: the previous
source is stopped (the player task cancelled, the agent detached, which drains the caller's audio, the relay
stopped) before the next one starts. The feed owns its player task and its relay; nothing else starts one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from .hold_music import HoldMusic
from .leg_relay import LegRelay
from .room import MediaRoom

log = logging.getLogger(__name__)

Source = Literal["none", "agent", "music", "prompt", "relay"]


class CallerFeed:
    def __init__(self, room: MediaRoom, music: HoldMusic, agent_id: int | None, leg_media) -> None:
        self._room = room
        self.music = music  # what "music" plays: the queue's, else the desk's
        self.agent_id = agent_id  # whose peer "agent" attaches to
        self._media = leg_media  # the leg's RtpStream: the caller's audio comes from it and goes to it
        # What "agent" attaches to the agent's peer: the leg, or a recording's tap of it (a recorded call). Music
        # and prompts are written to the leg itself, so they are never recorded.
        self.agent_leg = leg_media
        self._player: asyncio.Task | None = None
        self._relay: LegRelay | None = None
        self._attached: int | None = None
        self.source: Source = "none"

    @property
    def playing(self) -> bool:
        """A player task (music or prompt) is alive (for tests and the call's own checks)."""
        return self._player is not None and not self._player.done()

    def switch(self, source: Literal["none", "agent", "music"]) -> None:
        """Make `source` the one thing the caller hears; a no-op when it already is."""
        if source == self.source:
            return
        self._stop()
        self.source = source
        if source == "agent":
            if self.agent_id is None:
                raise ValueError("no agent to switch the caller to")
            self._attached = self.agent_id
            self._room.attach(self.agent_id, self.agent_leg, self.agent_leg)
        elif source == "music":
            self._media.pass_audio_to(None)
            self._start(self.music.play(self._media))

    def play(self, prompt: HoldMusic) -> asyncio.Future[bool]:
        """Play `prompt` once in place of whatever plays now. The future is True when it played to its end, False
        when another switch cut it off; the feed then stays on "none" until its owner switches again."""
        self._stop()
        self.source = "prompt"
        self._media.pass_audio_to(None)
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        player = self._start(prompt.play(self._media, once=True))

        def finished(task: asyncio.Task) -> None:
            ended = not task.cancelled() and task.exception() is None
            if ended and self._player is task:
                self._player = None
                self.source = "none"
            if not done.done():
                done.set_result(ended)

        player.add_done_callback(finished)
        return done

    def relay(self, other_media) -> None:
        """Bridge the caller with another SIP leg, both ways."""
        self._stop()
        self.source = "relay"
        self._relay = LegRelay(self._media, other_media)
        self._relay.start()

    def _start(self, coro) -> asyncio.Task:
        player = self._player = asyncio.get_running_loop().create_task(coro)
        player.add_done_callback(_report)
        return player

    def _stop(self) -> None:
        player, self._player = self._player, None
        if player is not None:
            player.cancel()  # it writes nothing more: the cancellation lands on the await it is parked at
        if self._relay is not None:
            self._relay.stop()
            self._relay = None
        if self._attached is not None:
            self._room.detach(self._attached)  # also drains the caller's audio: nobody listens to it on hold
            self._attached = None
        self.source = "none"


def _report(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("caller audio player stopped", exc_info=task.exception())
