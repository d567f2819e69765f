"""A demo SIP caller: dials the desk and plays a WAV (or a tone) until the far end hangs up or time runs out;
optionally presses keys (RFC 4733) after the answer to choose in a menu, and rings with several callers at once.

Before the INVITE it asks the desk an OPTIONS question with a short timeout, so that "no desk there" is said within
seconds (an ICMP port unreachable ends it at once) instead of an INVITE retransmitted into silence for half a minute.

`agent-desktop demo-call` wraps `probe()` and `demo_call()`; it also runs alone:
    python -m agent_desktop.sip.demo_caller --to sip:1700@127.0.0.1:5060 --dtmf 1 --wav hello.wav
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import math
import socket
import wave
from dataclasses import dataclass
from pathlib import Path

from . import g711
from .addresses import plain, uri_host
from .dialog import new_call_id, new_tag
from .endpoint import EndpointConfig, SipEndpoint
from .headers import parse_uri
from .message import ParseError, SipMessage, parse
from .transaction import new_branch

__all__ = ["DeskUnreachable", "Probe", "check_dtmf", "demo_call", "demo_calls", "load_wav_8k", "probe"]

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
    host = uri_host(local_host)  # an IPv6 socket's own address goes in brackets in SIP text
    call_id = new_call_id(host)
    req = SipMessage(method="OPTIONS", uri=uri)
    req.add("Via", f"SIP/2.0/{transport.upper()} {host}:{local_port};branch={new_branch()};rport")
    req.add("Max-Forwards", "70")
    req.add("From", f"<sip:demo-call@{host}>;tag={new_tag()}")
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
    where = f"{uri_host(uri.host)}:{port} ({transport.upper()})"
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
                return await asyncio.wait_for(asyncio.shield(answer), wait), plain(local_host)
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
        return parse(head), plain(local_host)
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


DTMF_DIGITS = frozenset("0123456789*#ABCD")
DTMF_AFTER_S = 1.5  # after the answer: the caller "listens" to the first words of the menu, as a person does


def check_dtmf(digits: str) -> str:
    """The digits as RFC 4733 can send them (0-9 * # A-D); ValueError naming the first one that is not."""
    digits = digits.strip().upper()
    bad = next((d for d in digits if d not in DTMF_DIGITS), None)
    if bad is not None:
        raise ValueError(f"--dtmf: {bad!r} is not a phone key (0-9 * # A-D)")
    return digits


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
    dtmf: str = "",
    dtmf_after_s: float = DTMF_AFTER_S,
) -> str:
    """Place one call to `to` (a SIP URI), loop the audio while connected; returns the end cause.

    `heard`, when given, collects what the desk sends as 16-bit PCM at 8 kHz, one 20 ms frame per item (a test
    checks the agent's voice by its content). `dtmf` digits are sent as RFC 4733 events `dtmf_after_s` after the
    answer (a menu choice)."""
    causes = await demo_calls(
        to,
        count=1,
        wav=wav,
        listen_host=listen_host,
        caller_id=caller_id,
        max_seconds=max_seconds,
        ring_timeout_s=ring_timeout_s,
        rtp_ports=rtp_ports,
        heard=heard,
        dtmf=dtmf,
        dtmf_after_s=dtmf_after_s,
    )
    return causes[0]


async def demo_calls(
    to: str,
    *,
    count: int = 1,
    wav: Path | None = None,
    listen_host: str = "127.0.0.1",
    caller_id: str = "0470000000",
    max_seconds: float = 120.0,
    ring_timeout_s: float = 60.0,
    rtp_ports: tuple[int, int] = (41000, 41099),
    heard: list[bytes] | None = None,
    dtmf: str = "",
    dtmf_after_s: float = DTMF_AFTER_S,
) -> list[str]:
    """`count` callers at once (to see a queue form), caller IDs counting up from `caller_id`; returns each call's
    end cause in the order they were placed. Each caller is an endpoint of its own (its own From number)."""
    if count < 1:
        raise ValueError("count: at least one caller")
    dtmf = check_dtmf(dtmf)
    pcm = load_wav_8k(wav) if wav else _tone()
    return list(
        await asyncio.gather(
            *(
                _one_call(
                    EndpointConfig(
                        listen_host=listen_host,
                        listen_port=0,
                        caller_id=_nth_number(caller_id, i),
                        rtp_ports=rtp_ports,  # busy ports are skipped: the callers share the range
                    ),
                    to,
                    pcm,
                    label=f"caller {i + 1}: " if count > 1 else "",
                    max_seconds=max_seconds,
                    ring_timeout_s=ring_timeout_s,
                    heard=heard if i == 0 else None,
                    dtmf=dtmf,
                    dtmf_after_s=dtmf_after_s,
                )
                for i in range(count)
            )
        )
    )


def _nth_number(first: str, i: int) -> str:
    """0470000000, 0470000001, …: each demo caller shows its own number on the agent's panel."""
    if i == 0:
        return first
    return str(int(first) + i).zfill(len(first)) if first.isdigit() else f"{first}{i}"


async def _one_call(
    config: EndpointConfig,
    to: str,
    pcm: bytes,
    *,
    label: str,
    max_seconds: float,
    ring_timeout_s: float,
    heard: list[bytes] | None,
    dtmf: str,
    dtmf_after_s: float,
) -> str:
    async with SipEndpoint(config, lambda call: None) as ep:
        call = await ep.dial(to, ring_timeout_s=ring_timeout_s)
        settled = asyncio.Event()

        def on_state(c) -> None:
            print(f"{label}call {c.state}" + (f" ({c.cause})" if c.cause else ""), flush=True)
            if c.state not in ("dialing", "ringing"):
                settled.set()

        call.on_state = on_state
        if call.state in ("dialing", "ringing"):
            await settled.wait()
        if call.state != "connected" or call.media is None:
            return call.cause or "failed"
        stream = call.media
        stream.on_dtmf = lambda d: print(f"{label}DTMF {d}", flush=True)
        encode = g711.pcm16_to_ulaw if stream.codec == "PCMU" else g711.pcm16_to_alaw
        decode = g711.ulaw_to_pcm16 if stream.codec == "PCMU" else g711.alaw_to_pcm16
        coded = encode(pcm)
        frames = [coded[i : i + 160] for i in range(0, len(coded) - 159, 160)] or [stream.silence]
        keys = asyncio.create_task(_press(call, dtmf, dtmf_after_s, label)) if dtmf else None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_seconds
        i = 0
        try:
            while call.state in ("connected", "held") and loop.time() < deadline:
                frame = await stream.read_frame()  # paces us at 20 ms and drains what the desk sends
                if heard is not None:
                    heard.append(decode(frame))
                stream.write_frame(frames[i % len(frames)])  # dropped by the stream while a digit is sent
                i += 1
        finally:
            if keys is not None:
                keys.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keys
        if call.state != "ended":
            await call.hangup()
        return call.cause or "local_bye"


async def _press(call, digits: str, after_s: float, label: str) -> None:
    await asyncio.sleep(after_s)
    print(f"{label}pressing {digits}", flush=True)
    try:
        await call.send_dtmf(digits)
    except Exception as e:  # noqa: BLE001 - a menu may hang up on the last key: only a live call's failure counts
        if call.state in ("connected", "held"):
            print(f"{label}could not send the keys: {e}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Call the desk and play a WAV file.")
    parser.add_argument("--to", required=True, help="SIP URI, e.g. sip:1700@127.0.0.1:5060")
    parser.add_argument("--wav", type=Path, help="16-bit PCM WAV (any rate, mono or stereo); default a tone")
    parser.add_argument("--host", default="127.0.0.1", help="local address to use")
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--dtmf", default="", help="keys to press (RFC 4733) after the answer, e.g. 1")
    args = parser.parse_args(argv)
    try:
        args.dtmf = check_dtmf(args.dtmf)
    except ValueError as e:
        parser.error(str(e))
    try:
        asyncio.run(probe(args.to))
    except DeskUnreachable as e:
        print(f"demo-call: {e}")
        return 2
    cause = asyncio.run(
        demo_call(args.to, wav=args.wav, listen_host=args.host, max_seconds=args.max_seconds, dtmf=args.dtmf)
    )
    print(f"ended: {cause}")
    return 0 if cause in ("remote_bye", "local_bye") else 1


if __name__ == "__main__":
    raise SystemExit(main())
