"""Two real RTP streams on loopback sending to each other: a call leg as the desk has it and the phone (or trunk,
or other leg) at its far end, for media tests that need a live leg without SIP."""

from __future__ import annotations

from agent_desktop.sip.rtp import PortAllocator, RtpStream, open_rtp_stream

STATIC_PAYLOAD_TYPES = {"PCMU": 0, "PCMA": 8}  # RFC 3551


async def rtp_pair(
    ports: PortAllocator, codec: str = "PCMU", dtmf_payload_type: int | None = 101
) -> tuple[RtpStream, RtpStream]:
    """Two streams on 127.0.0.1 (ports from `ports`), each sendrecv to the other in `codec` (its static payload
    type), with telephone-event on `dtmf_payload_type` (None: none)."""
    one = await open_rtp_stream("127.0.0.1", ports)
    two = await open_rtp_stream("127.0.0.1", ports)
    for stream, far in ((one, two), (two, one)):
        stream.configure(
            codec=codec,
            payload_type=STATIC_PAYLOAD_TYPES[codec],
            dtmf_payload_type=dtmf_payload_type,
            remote=("127.0.0.1", far.local_port),
            direction="sendrecv",
        )
    return one, two
