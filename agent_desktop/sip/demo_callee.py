"""The demo's citizens on the far side of the trunk: a SIP user agent that answers every call the desk places.

Without it the demo's outbound side could not be tried: a call order, a callback or a number typed in the dial
field has nowhere to go (the demo has no real trunk) and ends at once as "failed". `make run` starts it on
127.0.0.1 and points the demo's `[sip] trunk_uri` at it: each call rings for `ring_s` (about one Belgian ring),
is answered and hears a tone (the citizen "speaking") until the agent hangs up, or `talk_s` runs out. A dialled
number ending in 99 is never answered, so the ring time-out and an order's retry can be seen too.
"""

from __future__ import annotations

import asyncio
import logging

from . import g711
from .call import Call
from .demo_caller import _tone
from .endpoint import EndpointConfig, SipEndpoint

log = logging.getLogger(__name__)

RING_S = 3.0
TALK_S = 600.0


class DemoCallee:
    """`async with DemoCallee(port) as callee:` answers calls on 127.0.0.1:`port` until the block ends."""

    def __init__(
        self,
        port: int,
        *,
        host: str = "127.0.0.1",
        rtp_ports: tuple[int, int] = (42000, 42199),
        ring_s: float = RING_S,
        talk_s: float = TALK_S,
    ) -> None:
        self.ring_s, self.talk_s = ring_s, talk_s
        self.answered = 0
        self._tone = _tone()
        self._endpoint = SipEndpoint(
            EndpointConfig(host, port, rtp_ports=rtp_ports, user_agent="AgentDesktop-demo-citizen"),
            self._incoming,
        )

    async def __aenter__(self) -> DemoCallee:
        await self._endpoint.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._endpoint.stop()

    async def _incoming(self, call: Call) -> None:
        await call.ring()
        if call.local_number.endswith("99"):
            return  # never answered: the desk's ring time-out ends it
        await asyncio.sleep(self.ring_s)
        if call.state != "ringing":
            return  # the agent hung up while it rang
        await call.answer()
        self.answered += 1
        stream = call.media
        if stream is None:
            return
        encode = g711.pcm16_to_ulaw if stream.codec == "PCMU" else g711.pcm16_to_alaw
        coded = encode(self._tone)
        frames = [coded[i : i + 160] for i in range(0, len(coded) - 159, 160)]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.talk_s
        i = 0
        while call.state in ("connected", "held") and loop.time() < deadline:
            await stream.read_frame()  # paces the tone at 20 ms and drains what the desk sends
            stream.write_frame(frames[i % len(frames)])
            i += 1
        if call.state != "ended":
            await call.hangup()
