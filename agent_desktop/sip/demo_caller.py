"""A demo SIP caller: dials the desk and plays a WAV (or a tone) until the far end hangs up or time runs out.

Before the INVITE it asks the desk an OPTIONS question with a short timeout, so that "no desk there" is said within
seconds (an ICMP port unreachable ends it at once) instead of an INVITE retransmitted into silence for half a minute.

`agent-desktop demo-call` wraps `probe()` and `demo_call()`; it also runs alone:
    python -m agent_desktop.sip.demo_caller --to sip:1700@127.0.0.1:5060 --wav hello.wav
"""

from __future__ import annotations

import argparse
import array
import asyncio
import math
import socket
import wave
from dataclasses import dataclass
from pathlib import Path

from . import g711
from .dialog import new_call_id, new_tag
from .endpoint import EndpointConfig, SipEndpoint
from .headers import parse_uri
from .message import ParseError, SipMessage, parse
from .transaction import new_branch

__all__ = ["DeskUnreachable", "Probe", "demo_call", "load_wav_8k", "probe"]

PROBE_TIMEOUT_S = 3.0


class DeskUnreachable(Exception):
    """Nothing answered the OPTIONS probe; the message says where we asked and what to check."""


@dataclass(frozen=True)
class Probe:
    """The desk's answer to OPTIONS, and the local address that reaches it (what the caller advertises)."""

    status: int
    reason: str
    local_host: str


def _options(uri: str, local_host: str, local_port: int, transport: str) -> tuple[SipMessage, str]:
    call_id = new_call_id(local_host)
    req = SipMessage(method="OPTIONS", uri=uri)
    req.add("Via", f"SIP/2.0/{transport.upper()} {local_host}:{local_port};branch={new_branch()};rport")
    req.add("Max-Forwards", "70")
    req.add("From", f"<sip:demo-call@{local_host}>;tag={new_tag()}")
    req.add("To", f"<{uri}>")
    req.add("Call-ID", call_id)
    req.add("CSeq", "1 OPTIONS")
    req.add("Accept", "application/sdp")
    return req, call_id


class _UdpProbe(asyncio.DatagramProtocol):
    def __init__(self, answer: asyncio.Future) -> None:
        self.answer = answer
        self.call_id = ""

    def datagram_received(self, data: bytes, addr: tuple) -> None:  # type: ignore[override]
        try:
            msg = parse(data)
        except ParseError:
            return
        if not msg.is_request and msg.call_id == self.call_id and not self.answer.done():
            self.answer.set_result(msg)

    def error_received(self, exc: Exception) -> None:
        # On a connected UDP socket Linux reports the ICMP port unreachable here: nobody listens there.
        if not self.answer.done():
            self.answer.set_exception(exc)


async def probe(to: str, timeout_s: float = PROBE_TIMEOUT_S) -> Probe:
    """Send OPTIONS to the host:port of the SIP URI `to`; return the answer or raise DeskUnreachable."""
    uri = parse_uri(to)
    port = uri.port or 5060
    transport = uri.params.get("transport") or "udp"
    where = f"{uri.host}:{port} ({transport.upper()})"
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(uri.host, port, type=socket.SOCK_DGRAM), timeout_s)
    except (OSError, TimeoutError) as e:
        raise DeskUnreachable(f"cannot resolve {uri.host}: {e}") from None
    host = infos[0][4][0]
    try:
        if transport == "tcp":
            msg, local = await asyncio.wait_for(_probe_tcp(to, host, port), timeout_s)
        else:
            msg, local = await _probe_udp(to, host, port, timeout_s)
    except ConnectionRefusedError:
        raise DeskUnreachable(
            f"no SIP service at {where}: is the desk running (`make run`), and is this its [sip] listen address?"
        ) from None
    except TimeoutError:
        raise DeskUnreachable(
            f"no answer from {where} within {timeout_s:g} s: is the desk running, and does a firewall let SIP "
            "through?"
        ) from None
    except OSError as e:
        raise DeskUnreachable(f"cannot reach {where}: {e.strerror or e}") from None
    return Probe(msg.status or 0, msg.reason, local)


async def _probe_udp(to: str, host: str, port: int, timeout_s: float) -> tuple[SipMessage, str]:
    loop = asyncio.get_running_loop()
    answer: asyncio.Future = loop.create_future()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _UdpProbe(answer), remote_addr=(host, port)
    )
    try:
        local_host, local_port = transport.get_extra_info("sockname")[:2]
        req, protocol.call_id = _options(to, local_host, local_port, "udp")
        data = req.to_bytes()
        deadline = loop.time() + timeout_s
        interval = 0.5  # RFC 3261 T1, doubling like Timer E
        while True:
            transport.sendto(data)
            wait = min(interval, deadline - loop.time())
            if wait <= 0:
                raise TimeoutError
            try:
                return await asyncio.wait_for(asyncio.shield(answer), wait), local_host
            except TimeoutError:
                interval *= 2
    finally:
        transport.close()


async def _probe_tcp(to: str, host: str, port: int) -> tuple[SipMessage, str]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        local_host, local_port = writer.get_extra_info("sockname")[:2]
        req, _ = _options(to, local_host, local_port, "tcp")
        writer.write(req.to_bytes())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        return parse(head), local_host
    finally:
        writer.close()


def load_wav_8k(path: Path) -> bytes:
    """16-bit PCM WAV -> mono 8 kHz 16-bit PCM (channel average, linear-interpolation resampling)."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM WAV files are supported")
        rate, channels = w.getframerate(), w.getnchannels()
        raw = w.readframes(w.getnframes())
    samples = array.array("h")
    samples.frombytes(raw)
    if channels > 1:
        samples = array.array(
            "h", (sum(samples[i : i + channels]) // channels for i in range(0, len(samples), channels))
        )
    if rate != 8000:
        n_out = int(len(samples) * 8000 / rate)
        step = rate / 8000
        out = array.array("h")
        for i in range(n_out):
            pos = i * step
            j = int(pos)
            frac = pos - j
            a = samples[j]
            b = samples[j + 1] if j + 1 < len(samples) else a
            out.append(int(a + (b - a) * frac))
        samples = out
    return samples.tobytes()


def _tone(seconds: float = 3.0) -> bytes:
    # 440 Hz, one second on, half a second off: clearly "a call" to a listener
    pcm = array.array("h")
    for i in range(int(seconds * 8000)):
        on = (i % 12000) < 8000
        pcm.append(int(8000 * math.sin(2 * math.pi * 440 * i / 8000)) if on else 0)
    return pcm.tobytes()


async def demo_call(
    to: str,
    *,
    wav: Path | None = None,
    listen_host: str = "127.0.0.1",
    caller_id: str = "0470000000",
    max_seconds: float = 120.0,
    ring_timeout_s: float = 60.0,
    rtp_ports: tuple[int, int] = (41000, 41099),
    heard: list[bytes] | None = None,
) -> str:
    """Place one call to `to` (a SIP URI), loop the audio while connected; returns the end cause.

    `heard`, when given, collects what the desk sends as 16-bit PCM at 8 kHz, one 20 ms frame per item (a test
    checks the agent's voice by its content)."""
    pcm = load_wav_8k(wav) if wav else _tone()
    ep = SipEndpoint(
        EndpointConfig(listen_host=listen_host, listen_port=0, caller_id=caller_id, rtp_ports=rtp_ports),
        lambda call: None,
    )
    await ep.start()
    try:
        call = await ep.dial(to, ring_timeout_s=ring_timeout_s)
        settled = asyncio.Event()

        def on_state(c) -> None:
            print(f"call {c.state}" + (f" ({c.cause})" if c.cause else ""), flush=True)
            if c.state not in ("dialing", "ringing"):
                settled.set()

        call.on_state = on_state
        if call.state in ("dialing", "ringing"):
            await settled.wait()
        if call.state != "connected" or call.media is None:
            return call.cause or "failed"
        stream = call.media
        stream.on_dtmf = lambda d: print(f"DTMF {d}", flush=True)
        encode = g711.pcm16_to_ulaw if stream.codec == "PCMU" else g711.pcm16_to_alaw
        decode = g711.ulaw_to_pcm16 if stream.codec == "PCMU" else g711.alaw_to_pcm16
        coded = encode(pcm)
        frames = [coded[i : i + 160] for i in range(0, len(coded) - 159, 160)] or [stream.silence]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_seconds
        i = 0
        while call.state in ("connected", "held") and loop.time() < deadline:
            frame = await stream.read_frame()  # paces us at 20 ms and drains what the desk sends
            if heard is not None:
                heard.append(decode(frame))
            stream.write_frame(frames[i % len(frames)])
            i += 1
        if call.state != "ended":
            await call.hangup()
        return call.cause or "local_bye"
    finally:
        await ep.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Call the desk and play a WAV file.")
    parser.add_argument("--to", required=True, help="SIP URI, e.g. sip:1700@127.0.0.1:5060")
    parser.add_argument("--wav", type=Path, help="16-bit PCM WAV (any rate, mono or stereo); default a tone")
    parser.add_argument("--host", default="127.0.0.1", help="local address to use")
    parser.add_argument("--max-seconds", type=float, default=120.0)
    args = parser.parse_args(argv)
    try:
        asyncio.run(probe(args.to))
    except DeskUnreachable as e:
        print(f"demo-call: {e}")
        return 2
    cause = asyncio.run(demo_call(args.to, wav=args.wav, listen_host=args.host, max_seconds=args.max_seconds))
    print(f"ended: {cause}")
    return 0 if cause in ("remote_bye", "local_bye") else 1


if __name__ == "__main__":
    raise SystemExit(main())
