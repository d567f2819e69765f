"""What one call leg is connected to: the agent (both ways, through the media room), the hold music, or nothing.

Exactly one source feeds the caller at any time. `switch()` is one synchronous step, with no await inside, so a
second hold, a hang-up or an unhold arriving meanwhile cannot interleave with it: the previous source is stopped
(the hold-music task cancelled, the agent detached, which drains the caller's audio) before the next one starts.
The feed owns the hold-music task; nothing else starts one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from .hold_music import HoldMusic
from .room import MediaRoom

log = logging.getLogger(__name__)

Source = Literal["none", "agent", "music"]


class CallerFeed:
    def __init__(self, room: MediaRoom, music: HoldMusic, agent_id: int, leg_media) -> None:
        self._room = room
        self._music = music
        self._agent_id = agent_id
        self._media = leg_media  # the leg's RtpStream: the caller's audio comes from it and goes to it
        self._player: asyncio.Task | None = None
        self.source: Source = "none"

    @property
    def playing(self) -> bool:
        """A hold-music task is alive (for tests and the call's own checks)."""
        return self._player is not None and not self._player.done()

    def switch(self, source: Source) -> None:
        """Make `source` the one thing the caller hears; a no-op when it already is."""
        if source == self.source:
            return
        player, self._player = self._player, None
        if player is not None:
            player.cancel()  # it writes nothing more: the cancellation lands on the await it is parked at
        if self.source == "agent":
            self._room.detach(self._agent_id)  # also drains the caller's audio: nobody listens to it on hold
        self.source = source
        if source == "agent":
            self._room.attach(self._agent_id, self._media, self._media)
        elif source == "music":
            self._media.pass_audio_to(None)
            self._player = asyncio.get_running_loop().create_task(self._music.play(self._media))
            self._player.add_done_callback(_report)


def _report(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("hold music stopped", exc_info=task.exception())
