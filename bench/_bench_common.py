"""Shared pieces of the softphone benches (bench/setup.py, bench/bridge.py): a desk started as its own process
with its own PKI, database and enrolled agents; software Web eID logins; the server's CPU time from /proc; a
timestamped G.711 frame format that survives the desk's bridge both ways; percentiles.

Nothing here touches the demo's ports or files: every desk gets a throw-away folder and free loopback ports.
"""

from __future__ import annotations

import array
import math
import os
import platform
import signal
import struct
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding  # noqa: E402

from agent_desktop.sip.g711 import pcm16_to_ulaw  # noqa: E402
from tests.helpers.net import free_port  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")

# --- the desk as a separate process -----------------------------------------------------------------------

CONFIG = """
[server]
port = {port}
public_url = "http://127.0.0.1:{port}"
heartbeat_s = 25

[database]
path = "desk.db"

[sip]
listen = "127.0.0.1:{sip_port}"
rtp_ports = [{rtp_first}, {rtp_last}]

[webrtc]
host_addresses = ["127.0.0.1"]

[eid]
trust_anchors = "trust"
ocsp = "off"
nrn_key_file = "secrets/nrn.key"
"""


@dataclass
class Card:
    cert_pem: bytes
    key_pem: bytes


def make_pki_and_cards(count: int):
    """A fresh test PKI and `count` agents' authentication certificates (EC keys: cheap to make)."""
    from agent_desktop.eid.nrn import make_test_nrn
    from agent_desktop.eid.pki import create_pki, issue_auth_cert

    pki = create_pki()
    cards = []
    for i in range(count):
        nrn = make_test_nrn(date(1980 + i % 30, 1 + i % 12, 1 + i % 28), 1 + 2 * (i // 360) + (i % 2))
        cert, key = issue_auth_cert(pki, given_name=f"Agent{i}", surname="Bench", nrn=nrn, key_type="ec")
        cards.append(
            Card(
                cert.public_bytes(Encoding.PEM),
                key.private_bytes(
                    Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                ),
            )
        )
    return pki, cards


def write_cards(folder: Path, cards: list[Card]) -> list[Path]:
    paths = []
    for i, card in enumerate(cards):
        path = folder / f"card{i}.pem"
        path.write_bytes(card.cert_pem + card.key_pem)
        paths.append(path)
    return paths


def load_card(path: Path):
    from cryptography import x509

    data = path.read_bytes()
    cert = x509.load_pem_x509_certificate(data)
    key = serialization.load_pem_private_key(data, password=None)
    return cert, key


class Desk:
    """`agent-desktop serve` in its own process (optionally from another source tree, for A/B prototypes)."""

    def __init__(
        self, folder: Path, pki, cards: list[Card], src: Path | None = None, env: dict | None = None
    ):
        from cryptography import x509

        from agent_desktop.cli import enrol_certificate
        from agent_desktop.config import load_config

        self.folder = folder
        self.port = free_port()
        self.sip_port = free_port(2)  # SOCK_DGRAM; the namespace holds nothing else
        self.url = f"http://127.0.0.1:{self.port}"
        trust = folder / "trust"
        trust.mkdir(exist_ok=True)
        (trust / "root.pem").write_bytes(pki.root_cert.public_bytes(Encoding.PEM))
        (trust / "ca.pem").write_bytes(pki.ca_cert.public_bytes(Encoding.PEM))
        config_path = folder / "desk.toml"
        config_path.write_text(
            CONFIG.format(port=self.port, sip_port=self.sip_port, rtp_first=40000, rtp_last=40999)
        )
        config = load_config(config_path)
        for card in cards:
            enrol_certificate(config, x509.load_pem_x509_certificate(card.cert_pem), ["agent"], [])
        self.config_path = config_path
        self.src = src
        self.extra_env = env or {}
        self.proc: subprocess.Popen | None = None

    @property
    def sip_uri(self) -> str:
        return f"sip:1700@127.0.0.1:{self.sip_port}"

    def start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(self.src or ROOT)
        env.update(self.extra_env)
        self.log = open(os.environ.get("BENCH_DESK_LOG") or (self.folder / "desk.log"), "wb")  # noqa: SIM115 - lives as long as the desk
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent_desktop.cli", "serve", "--config", str(self.config_path)],
            cwd=self.src or ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.close()
                raise RuntimeError(f"desk exited: {(self.folder / 'desk.log').read_text()[-2000:]}")
            try:
                urllib.request.urlopen(self.url + "/api/preflight/requirements", timeout=1).read()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()  # never leave a desk behind
        raise RuntimeError("desk did not come up in 30 s")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the desk process, all its threads (aiortc's decoder threads included)."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15 of stat(5))

    def threads(self) -> int:
        assert self.proc is not None
        return len(os.listdir(f"/proc/{self.proc.pid}/task"))

    def fds(self) -> int:
        """Open file descriptors of the desk (sockets, the database, logs): a leak of any shows here."""
        assert self.proc is not None
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def rss_mb(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        self.proc = None

    async def cpu_between(self, start: float, stop: float) -> tuple[float, float]:
        """The desk's CPU seconds at the monotonic times `start` and `stop` (a flood's marks)."""
        import asyncio

        await asyncio.sleep(max(0.0, start - time.monotonic()))
        before = self.cpu_seconds()
        await asyncio.sleep(max(0.0, stop - time.monotonic()))
        return before, self.cpu_seconds()


# --- a browser's login ------------------------------------------------------------------------------------


async def login(session, url: str, cert, key) -> dict:
    """Challenge + software-signed Web eID token, as the page does with the eID bridge."""
    from tests.helpers.webeid import make_token

    for _ in range(50):
        response = await session.post(f"{url}/api/login/challenge", json={})
        if response.status == 429:  # the login rate limit (1/s per address, burst 20: all bench agents share
            await _sleep(2.5)  # 127.0.0.1); wait for two tokens, the challenge and the login each take one
            continue
        nonce = (await response.json())["nonce"]
        response = await session.post(f"{url}/api/login", json=make_token(cert, key, nonce, url))
        if response.status == 429:
            await _sleep(2.5)
            continue
        if response.status != 200:
            raise RuntimeError(f"login failed: {response.status} {await response.text()}")
        return await response.json()
    raise RuntimeError("login kept being rate-limited")


async def _sleep(s: float) -> None:
    import asyncio

    await asyncio.sleep(s)


def client_session(url: str):
    import aiohttp

    return aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        headers={"Origin": url},
        timeout=aiohttp.ClientTimeout(total=30),
    )


# --- timestamped frames -----------------------------------------------------------------------------------
# A 20 ms µ-law frame: 2 magic bytes, then stream id (u32), sequence (u32) and send time (u64, CLOCK_MONOTONIC ns,
# shared by every process on the host) as 32 nibbles in bytes 0x20..0x2F, then a 1 kHz tone. Every byte used
# survives µ-law -> PCM (aiortc/FFmpeg) -> µ-law (the desk's table), the one conversion on the agent -> call path;
# the call -> agent path carries the bytes untouched.

MAGIC = b"\xa5\x5a"
_STAMP = struct.Struct("!IIQ")
_HEAD = len(MAGIC) + 2 * _STAMP.size


def _tone_tail() -> bytes:
    pcm = array.array("h", (int(6000 * math.sin(2 * math.pi * 1000 * i / 8000)) for i in range(160)))
    return pcm16_to_ulaw(pcm.tobytes())[_HEAD:].replace(b"\x7f", b"\xff")


TONE_TAIL = _tone_tail()


def stamp(stream_id: int, seq: int, t_ns: int) -> bytes:
    raw = _STAMP.pack(stream_id, seq, t_ns)
    nibbles = bytearray(2 * len(raw))
    for i, b in enumerate(raw):
        nibbles[2 * i] = 0x20 | (b >> 4)
        nibbles[2 * i + 1] = 0x20 | (b & 0x0F)
    return MAGIC + bytes(nibbles) + TONE_TAIL


def unstamp(payload: bytes) -> tuple[int, int, int] | None:
    if len(payload) < _HEAD or payload[:2] != MAGIC:
        return None
    n = payload[2:_HEAD]
    raw = bytes(((n[2 * i] & 0x0F) << 4) | (n[2 * i + 1] & 0x0F) for i in range(_STAMP.size))
    return _STAMP.unpack(raw)


# --- figures ----------------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def machine() -> dict[str, Any]:
    import aiohttp
    import aiortc
    import av

    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()[:10]
    return {
        "nproc": os.cpu_count(),
        "lscpu": lscpu,
        "python": platform.python_version(),
        "aiortc": aiortc.__version__,
        "av": av.__version__,
        "aiohttp": aiohttp.__version__,
        "kernel": platform.release(),
    }


# --- a browser stand-in: login, /ws, one persistent aiortc peer -----------------------------------------------


def install_receive_hook(received: list) -> None:
    """Make every aiortc receiver in THIS process (a load generator, never the desk) note each timestamped
    frame at arrival, after SRTP, and skip aiortc's jitter buffer and decoder thread: the load generator stays
    lean and the figure is the network path's, not the client's play-out buffer."""
    from aiortc.rtcrtpreceiver import RTCRtpReceiver

    async def handle(self, packet, arrival_time_ms):  # noqa: ARG001
        s = unstamp(packet.payload)
        if s is not None:
            received.append((s[0], s[1], s[2], time.monotonic_ns()))

    RTCRtpReceiver._handle_rtp_packet = handle


def make_stamp_track(stream_id: int):
    """A microphone that sends timestamped G.711 frames every 20 ms while `talking` is set, nothing otherwise
    (the page's replaceTrack(null) while idle). It yields encoded packets: the load generator does not encode."""
    import asyncio
    import fractions

    from aiortc import MediaStreamTrack
    from aiortc.mediastreams import MediaStreamError
    from av.packet import Packet

    class StampTrack(MediaStreamTrack):
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self.stream_id = stream_id
            self.talking = asyncio.Event()
            self.sent: list[int] = []  # send times (ns)
            self._seq = 0
            self._next: float | None = None

        async def recv(self):
            while not self.talking.is_set():
                await self.talking.wait()
                self._next = None
            if self.readyState != "live":
                raise MediaStreamError
            now = time.monotonic()
            if self._next is None or now - self._next > 0.1:
                self._next = now
            delay = self._next - now
            self._next += 0.02
            if delay > 0:
                await asyncio.sleep(delay)
            t = time.monotonic_ns()
            packet = Packet(stamp(self.stream_id, self._seq, t))
            packet.pts = self._seq * 160
            packet.time_base = fractions.Fraction(1, 8000)
            self._seq += 1
            self.sent.append(t)
            return packet

    return StampTrack()


class BrowserAgent:
    """One agent's page: logged in, /ws open, `available`, one negotiated aiortc peer (PCMU)."""

    def __init__(self, url: str, card_path: Path, stream_id: int, auto_answer: bool = True) -> None:
        import asyncio

        self.url = url
        self.card_path = card_path
        self.stream_id = stream_id
        self.auto_answer = auto_answer
        self.events: asyncio.Queue = asyncio.Queue()  # (t_ns, message) for every server message
        self.state = "offline"
        self.calls_answered = 0
        self.track = None
        self.pc = None
        self.session = None
        self.ws = None
        self._answer = None
        self._reader = None

    async def send(self, message: dict) -> None:
        import json

        await self.ws.send_str(json.dumps(message))

    async def start(self) -> None:
        import asyncio

        from aiortc import RTCRtpSender, RTCSessionDescription

        from agent_desktop.media.rtc_factory import make_peer_connection

        cert, key = load_card(self.card_path)
        self.session = client_session(self.url)
        await login(self.session, self.url, cert, key)
        self.ws = await self.session.ws_connect(self.url.replace("http", "ws") + "/ws", heartbeat=None)
        self._answer = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())
        await self.send({"type": "agent.state", "state": "available"})
        self.pc = make_peer_connection((), ("127.0.0.1",))
        self.track = make_stamp_track(self.stream_id)
        transceiver = self.pc.addTransceiver(self.track, direction="sendrecv")
        transceiver.setCodecPreferences(
            [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == "audio/PCMU"]
        )
        connected = asyncio.Event()

        @self.pc.on("connectionstatechange")
        def _state() -> None:
            if self.pc.connectionState == "connected":
                connected.set()

        await self.pc.setLocalDescription(await self.pc.createOffer())
        await self.send({"type": "rtc.offer", "sdp": self.pc.localDescription.sdp})
        sdp = await asyncio.wait_for(self._answer, 20)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))
        await asyncio.wait_for(connected.wait(), 20)

    async def _read(self) -> None:
        import json

        import aiohttp

        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            t = time.monotonic_ns()
            m = json.loads(msg.data)
            kind = m.get("type")
            if kind == "ping":
                await self.send({"type": "pong"})
                continue
            if kind == "rtc.answer" and not self._answer.done():
                self._answer.set_result(m["sdp"])
            elif kind == "agent.state":
                self.state = m["state"]
            elif kind == "call.offered" and self.auto_answer:
                await self.send({"type": "call.answer", "call_id": m["call_id"]})
            elif kind == "call.state":
                if m["state"] == "connected":
                    self.calls_answered += 1
                    self.track.talking.set()
                elif m["state"] == "ended":
                    self.track.talking.clear()
            elif kind == "error":
                print(f"agent {self.stream_id}: error {m}", file=sys.stderr, flush=True)
            self.events.put_nowait((t, m))

    async def close(self) -> None:
        import asyncio
        import contextlib

        if self.pc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.pc.close(), 5)
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
        if self.session is not None:
            await self.session.close()
