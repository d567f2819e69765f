"""Helpers of the queue tests: a desk with `[[queues]]`, `[[menus]]` and tone prompts (a distinct frequency per
prompt, whole cycles per 20 ms frame so each frame can be told by itself), a caller's ear that keeps every RTP
frame with its arrival time, and a SIP peer standing in for the overflow / backup number; the steps the queue tests
share (a one-queue config, more callers, an agent on break, a call answered, the newest call's row).

What the caller hears is checked on its own leg, frame by frame: `ear.spans()` is the list of (tone, first, last)
runs of frames, times in seconds after the dial.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import math
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from agent_desktop.cli import enrol_certificate
from agent_desktop.config import Config, load_config
from agent_desktop.sip.addresses import uri_host
from agent_desktop.sip.endpoint import EndpointConfig, SipEndpoint
from agent_desktop.web import keys
from tests.helpers.net import free_port
from tests.sip.audio import decode, goertzel_ratio, tone_pcm, write_wav
from tests.sip.audio import speak as speak_tone
from tests.web.conftest import Desk, serve_desk, write_config

# Hz; each a multiple of 50, so every 20 ms frame holds whole cycles.
MUSIC, MENU, WELCOME, WAIT, OFFER, CONFIRMED, CLOSED = 350, 500, 600, 900, 1200, 1500, 1700
CALLER, AGENT, BACKUP = 800, 1000, 1300
LINE_MUSIC = 450  # a second queue's own hold music
TONES = (MUSIC, MENU, WELCOME, WAIT, OFFER, CONFIRMED, CLOSED, CALLER, AGENT, BACKUP, LINE_MUSIC)
PROMPTS = {
    "music.wav": (MUSIC, 3.0),
    "line.wav": (LINE_MUSIC, 3.0),
    "menu.wav": (MENU, 0.6),
    "welcome.wav": (WELCOME, 0.6),
    "wait.wav": (WAIT, 0.5),
    "offer.wav": (OFFER, 0.5),
    "confirmed.wav": (CONFIRMED, 0.4),
    "closed.wav": (CLOSED, 0.5),
}
BRUSSELS = ZoneInfo("Europe/Brussels")


def one_queue(
    *,
    tables: str = "",
    queue: str = "",
    after: str = "",
    callback_offer_after_s: int | None = 0,
    overflow_after_s: int | None = 0,
) -> str:
    """A desk config: the prompts in `prompts/` and queue `algemeen` on 1702 with hold music, neither callback offer
    nor overflow unless `callback_offer_after_s` / `overflow_after_s` say when (None: the desk's default);
    `tables` stand before the queue (an [acd] table, …), `queue` adds keys to it, `after` follows it (more
    queues)."""
    timers = "".join(
        f"{key} = {value}\n"
        for key, value in (
            ("callback_offer_after_s", callback_offer_after_s),
            ("overflow_after_s", overflow_after_s),
        )
        if value is not None
    )
    return (
        f'[prompts]\ndir = "prompts"\n\n{tables}\n'
        f'[[queues]]\nname = "algemeen"\nnumber = "1702"\nhold_music = "music.wav"\n'
        f"{timers}{queue}\n{after}"
    )


def overflow_queue(backup_port: int, *, queue: str = "", overflow_after_s: int | None = 1) -> tuple[str, str]:
    """A one_queue config whose overflow number 0800111 is dialled after `overflow_after_s`, through the trunk on
    `backup_port` (a Backup), and that [sip] trunk line; `queue` adds keys to the queue."""
    config = one_queue(queue=f'overflow_to = "0800111"\n{queue}', overflow_after_s=overflow_after_s)
    return config, f'trunk_uri = "sip:127.0.0.1:{backup_port}"'


def crisis_queues(crisis: str, algemeen: str) -> str:
    """A desk config: the prompts in `prompts/`, queue `crisis` on 1709 closed yesterday, today and tomorrow
    (closed dates, in Brussels; open every other day) with the keys `crisis`, and queue `algemeen` on 1702 with
    the keys `algemeen` (each key on its own line)."""
    today = dt.datetime.now(BRUSSELS).date()
    days = ", ".join(f'"{today + dt.timedelta(days=d)}"' for d in (-1, 0, 1))
    return (
        f'[prompts]\ndir = "prompts"\n\n'
        f'[[queues]]\nname = "crisis"\nnumber = "1709"\nclosed_dates = [{days}]\n{crisis}\n'
        f'[[queues]]\nname = "algemeen"\nnumber = "1702"\n{algemeen}'
    )


# The keys of a recorded queue whose notice is `notice.wav` (not among PROMPTS: each test writes its own).
RECORDED = 'record = true\nrecording_notice = "notice.wav"\n'


def write_prompts(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    for name, (freq, seconds) in PROMPTS.items():
        write_wav(folder / name, tone_pcm(freq, seconds))


@contextlib.asynccontextmanager
async def queue_desk(
    tmp_path: Path,
    pki,
    cards,
    extra: str,
    sip: str = "",
    skills: dict[str, list[str]] | None = None,
    listen: str = "127.0.0.1:0",
) -> AsyncIterator[Desk]:
    """A desk whose config has `extra` (queues, menus, …), `sip` lines in its [sip] table and the tone prompts
    above in `prompts/`; `skills` replaces the cards' skills (agent: vaccination, supervisor: none); its SIP
    listens on `listen` (`"[::]:0"`: dual stack)."""
    config, port = queue_config(tmp_path, pki, cards, extra, sip, skills, listen)
    async with serve_desk(config, port, cards) as desk:
        yield desk


def queue_config(
    tmp_path: Path,
    pki,
    cards,
    extra: str,
    sip: str = "",
    skills: dict[str, list[str]] | None = None,
    listen: str = "127.0.0.1:0",
) -> tuple[Config, int]:
    """queue_desk's config (written, cards enrolled) and the free port it serves on."""
    skills = {"agent": ["vaccination"], "supervisor": [], **(skills or {})}
    write_prompts(tmp_path / "prompts")
    port = free_port()
    path = write_config(tmp_path, pki, port, extra)
    # The tests sleep while callers wait, without reading the agents' sockets: no heartbeat may close them then.
    path.write_text(path.read_text().replace("heartbeat_s = 2", "heartbeat_s = 30", 1))
    default = 'listen = "127.0.0.1:0"\n'
    path.write_text(path.read_text().replace(default, f'listen = "{listen}"\n' + sip + "\n", 1))
    config = load_config(path)
    enrol_certificate(config, cards["agent"].cert, ["agent"], skills["agent"])
    enrol_certificate(config, cards["supervisor"].cert, ["agent", "supervisor"], skills["supervisor"], "fr")
    return config, port


def desk_uri(desk: Desk, number: str, host: str = "127.0.0.1") -> str:
    return f"sip:{number}@{uri_host(host)}:{desk.server.app[keys.CALLS].endpoint.port}"


def dominant(pcm: bytes) -> int | None:
    """The test tone a 20 ms frame holds, if any."""
    samples = memoryview(pcm).cast("h")
    if not samples or math.sqrt(sum(x * x for x in samples) / len(samples)) < 300:
        return None
    best = max(TONES, key=lambda f: goertzel_ratio(pcm, f))
    return best if goertzel_ratio(pcm, best) > 0.6 else None


@dataclass
class Ear:
    """A leg's received audio, each packet with its arrival time (no jitter buffer: timing as it came), and a
    tone the leg speaks back every 20 ms."""

    leg: object
    start: float
    frames: list[tuple[float, bytes]] = field(default_factory=list)
    speaking: asyncio.Task | None = None

    @classmethod
    def on(cls, leg, start: float, speak: int | None = None) -> Ear:
        ear = cls(leg, start)
        loop = asyncio.get_running_loop()
        media = leg.media
        media.pass_audio_to(
            lambda seq, ts, ssrc, payload: ear.frames.append(
                (loop.time() - start, decode(media.codec, payload))
            )
        )
        if speak is not None:
            ear.speaking = loop.create_task(speak_tone(leg.media, speak))
        return ear

    def close(self) -> None:
        if self.speaking is not None:
            self.speaking.cancel()

    def spans(self, since: float = 0.0) -> list[tuple[int | None, float, float]]:
        """Runs of frames of one tone: (tone, first arrival, last arrival); runs of fewer than 3 frames (a tone's
        edge, a frame cut between two sources) are left out and their neighbours joined."""
        runs: list[list] = []
        for at, pcm in self.frames:
            if at < since:
                continue
            tone = dominant(pcm)
            if runs and at - runs[-1][2] > 0.1:
                runs.append([None, runs[-1][2], at, 3])  # nothing came: silence
            if runs and runs[-1][0] == tone:
                runs[-1][2] = at
                runs[-1][3] += 1
            else:
                runs.append([tone, at, at, 1])
        merged: list[list] = []
        for run in runs:
            if run[3] < 3:
                continue
            if merged and merged[-1][0] == run[0]:
                merged[-1][2] = run[2]
            else:
                merged.append(run)
        return [(r[0], round(r[1], 3), round(r[2], 3)) for r in merged]

    def heard(self, tone: int, since: float = 0.0) -> list[tuple[float, float]]:
        return [(a, b) for t, a, b in self.spans(since) if t == tone]

    def order(self, since: float = 0.0) -> list[int]:
        """The tones heard, in order, silence left out. A tone broken by a gap under 0.25 s counts once: that is a
        loaded machine's hiccup (seen: 104 ms without a packet in the middle of the music), not a second prompt."""
        out: list[int] = []
        last_end = -1.0
        for tone, start, end in self.spans(since):
            if tone is None:
                continue
            if not (out and out[-1] == tone and start - last_end < 0.25):
                out.append(tone)
            last_end = end
        return out


async def more_caller(stack: AsyncExitStack, number: str, ports: tuple[int, int]) -> SipEndpoint:
    """Another SIP user agent calling from `number` with RTP on `ports`, stopped when `stack` closes."""
    endpoint = SipEndpoint(EndpointConfig("127.0.0.1", 0, rtp_ports=ports, caller_id=number), lambda c: None)
    await endpoint.start()
    stack.push_async_callback(endpoint.stop)
    return endpoint


async def dial_in(
    desk: Desk, caller: SipEndpoint, number: str, speak: int | None = None
) -> tuple[object, Ear]:
    """`caller` dials `number` and is answered (by a queue, a menu, a prompt); its leg and its ear, timed from the
    dial, speaking `speak` if given."""
    start = asyncio.get_running_loop().time()
    leg = await caller.dial(desk_uri(desk, number), ring_timeout_s=10)
    await wait_state(leg, "connected")
    return leg, Ear.on(leg, start, speak=speak)


async def on_break(agent) -> None:
    """`agent` (an `AgentClient`) logged in but not free: callers wait."""
    await agent.ws.send_json({"type": "agent.state", "state": "break"})
    await agent.next("agent.state")


async def answered_call(
    desk: Desk, caller: SipEndpoint, agent, number: str = "1702", host: str = "127.0.0.1"
) -> tuple[str, object]:
    """`caller` dials `number` at the desk's `host` and `agent` answers the offer; the call id and the caller's
    leg, both connected."""
    leg = await caller.dial(desk_uri(desk, number, host), ring_timeout_s=10)
    offered = await agent.next("call.offered")
    await agent.ws.send_json({"type": "call.answer", "call_id": offered["call_id"]})
    await agent.call_state("connected")
    await wait_state(leg, "connected")
    return offered["call_id"], leg


async def take_and_hang_up(agent) -> dict:
    """`agent` becomes available, answers the next call offered and hangs it up; the offer."""
    await agent.available()
    offered = await agent.next("call.offered")
    await agent.ws.send_json({"type": "call.answer", "call_id": offered["call_id"]})
    await agent.call_state("connected")
    await agent.ws.send_json({"type": "call.hangup", "call_id": offered["call_id"]})
    await agent.call_state("ended")
    return offered


async def newest_inbound(desk: Desk) -> dict:
    """The newest inbound call's row, once every queued write has landed."""

    def newest(db) -> dict:
        return next(
            iter(db.query("SELECT * FROM calls WHERE direction = 'inbound' ORDER BY rowid DESC LIMIT 1"))
        )

    return await desk.server.app[keys.STORE].read(newest)


async def wait_state(leg, state: str, within: float = 5) -> None:
    async with asyncio.timeout(within):
        while leg.state != state:  # noqa: ASYNC110 - the leg has one on_state hook, owned by the desk or test
            await asyncio.sleep(0.02)


async def wait_for(predicate, within: float = 5, step: float = 0.02) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - polling what the desk's store or a leg shows
            await asyncio.sleep(step)


class Backup:
    """The overflow / backup number: a SIP user agent that answers every call, speaks BACKUP and listens; with
    `answer=False` it only rings (180) and never answers, so the desk's CANCEL shows as cause `cancelled`."""

    def __init__(self, answer: bool = True) -> None:
        self.answers = answer
        self.calls: list = []
        self.ears: list[Ear] = []
        self.endpoint = SipEndpoint(
            EndpointConfig("127.0.0.1", 0, rtp_ports=(47200, 47299), caller_id="backup"), self._incoming
        )

    async def _incoming(self, call) -> None:
        self.calls.append(call)
        if not self.answers:
            await call.ring()
            return
        await call.answer()
        self.ears.append(Ear.on(call, asyncio.get_running_loop().time(), speak=BACKUP))

    async def __aenter__(self) -> Backup:
        await self.endpoint.start()
        return self

    async def __aexit__(self, *exc) -> None:
        for ear in self.ears:
            ear.close()
        await self.endpoint.stop()

    @property
    def port(self) -> int:
        return self.endpoint.port
