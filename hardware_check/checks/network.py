"""Network checks against the desk (DESIGN.md §6 Preflight API): round trip and jitter over WebSocket echo
pings (`GET {server}/api/preflight/ws`), download and upload throughput (`GET /api/preflight/download?bytes=N`,
`POST /api/preflight/upload`, under 5 MB each way in total), and the `webrtc` row as an E-model MOS estimate.

Definitions shared with the browser page: round trip = median of the echo times; jitter = mean absolute
difference of consecutive round trips (the same spirit as RFC 3550's interarrival jitter). Pings go every
20 ms, the packet rate of a voice call. WebSocket runs over TCP, which turns loss into delay, so the CLI
reports `network_loss` as unknown (the browser's WebRTC test measures it).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from hardware_check.checks.base import row, unknown
from hardware_check.emodel import estimate_mos
from hardware_check.report import CheckResult

Progress = Callable[[str, int, int], None]
KIB = 1024
# Growing transfers: the first sizes the link, the next only run while a transfer ends in under MIN_TIME_S.
# Their sum (4.25 MiB = 4.46 MB) keeps each direction under the contract's 5 MB.
TRANSFER_SIZES = (256 * KIB, 1024 * KIB, 3072 * KIB)
MIN_TIME_S = 1.0


@dataclass(frozen=True)
class NetworkOptions:
    pings: int = 50
    ping_interval_s: float = 0.020
    ping_timeout_s: float = 2.0
    connect_timeout_s: float = 10.0
    transfer_timeout_s: float = 20.0
    sizes: tuple[int, ...] = TRANSFER_SIZES
    codec: str = "opus"


@dataclass
class PingResult:
    rtts_ms: list[float] = field(default_factory=list)
    timeouts: int = 0
    error: str = ""

    @property
    def rtt_ms(self) -> float | None:
        return statistics.median(self.rtts_ms) if self.rtts_ms else None

    @property
    def jitter_ms(self) -> float | None:
        if len(self.rtts_ms) < 2:
            return None
        return statistics.fmean(abs(b - a) for a, b in zip(self.rtts_ms, self.rtts_ms[1:], strict=False))


@dataclass
class TransferResult:
    mbit_s: float | None = None
    moved_bytes: int = 0
    seconds: float = 0.0
    error: str = ""


def _url(server: str, path: str) -> str:
    return server.rstrip("/") + path


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


async def measure_pings(
    session: aiohttp.ClientSession, server: str, opts: NetworkOptions, progress: Progress = _no_progress
) -> PingResult:
    result = PingResult()
    try:
        async with session.ws_connect(
            _url(server, "/api/preflight/ws"), timeout=aiohttp.ClientWSTimeout(ws_close=2.0), heartbeat=None
        ) as ws:
            for seq in range(opts.pings):
                tag = f"ping {seq} {time.monotonic_ns()}"
                t0 = time.perf_counter()
                await ws.send_str(tag)
                try:
                    async with asyncio.timeout(opts.ping_timeout_s):
                        while True:
                            msg = await ws.receive()
                            if msg.type != aiohttp.WSMsgType.TEXT:
                                raise ConnectionError(f"echo socket closed ({msg.type.name})")
                            if msg.data == tag:  # older echoes that came after their timeout are skipped
                                break
                    result.rtts_ms.append((time.perf_counter() - t0) * 1000.0)
                except TimeoutError:
                    result.timeouts += 1
                if seq % 10 == 9:
                    progress("ping", seq + 1, opts.pings)
                await asyncio.sleep(opts.ping_interval_s)
    except (aiohttp.ClientError, ConnectionError, OSError, TimeoutError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    return result


async def _download(
    session: aiohttp.ClientSession, server: str, size: int, limit_s: float
) -> tuple[int, float]:
    t0 = time.perf_counter()
    got = 0
    async with asyncio.timeout(limit_s):
        async with session.get(_url(server, "/api/preflight/download"), params={"bytes": str(size)}) as resp:
            resp.raise_for_status()
            async for chunk in resp.content.iter_chunked(64 * KIB):
                got += len(chunk)
    return got, time.perf_counter() - t0


async def _upload(
    session: aiohttp.ClientSession, server: str, size: int, limit_s: float
) -> tuple[int, float]:
    body = bytes(size)
    t0 = time.perf_counter()
    async with asyncio.timeout(limit_s):
        async with session.post(
            _url(server, "/api/preflight/upload"),
            data=body,
            headers={"Content-Type": "application/octet-stream"},
        ) as resp:
            resp.raise_for_status()
            await resp.read()
    return size, time.perf_counter() - t0


async def measure_transfer(
    session: aiohttp.ClientSession,
    server: str,
    direction: str,
    opts: NetworkOptions,
    progress: Progress = _no_progress,
) -> TransferResult:
    """Throughput of the largest transfer that ran; stops growing once one takes MIN_TIME_S."""
    step = _download if direction == "down" else _upload
    result = TransferResult()
    for i, size in enumerate(opts.sizes):
        progress(direction, i + 1, len(opts.sizes))
        try:
            moved, seconds = await step(session, server, size, opts.transfer_timeout_s)
        except TimeoutError:
            if result.mbit_s is None:
                limit = size * 8 / opts.transfer_timeout_s / 1e6
                result.error = f"{size // KIB} KiB did not move within {opts.transfer_timeout_s:g} s (< {limit:.2f} Mbit/s)"
                result.mbit_s = 0.0
            break
        except (aiohttp.ClientError, OSError) as exc:
            if result.mbit_s is None:
                result.error = f"{type(exc).__name__}: {exc}"
            break
        if moved < size:
            result.error = f"the desk sent {moved} of {size} bytes"
            break
        result.moved_bytes += moved
        result.seconds = seconds
        result.mbit_s = moved * 8 / max(seconds, 1e-6) / 1e6
        if seconds >= MIN_TIME_S:
            break
    return result


def judge_pings(pings: PingResult, server: str, codec: str) -> list[CheckResult]:
    if pings.rtt_ms is None:
        why = pings.error or f"no echo answered within the timeout ({pings.timeouts} pings lost)"
        reason = f"could not measure the round trip to {server}: {why}"
        return [
            row("network_rtt", None, reason, status="fail"),
            row("network_jitter", None, reason, status="fail"),
            unknown("webrtc", "not estimated: no round trip measured"),
        ]
    rtt = round(pings.rtt_ms, 1)
    n = len(pings.rtts_ms)
    lost = f"; {pings.timeouts} echo(es) over the timeout" if pings.timeouts else ""
    ended = f"; stopped early: {pings.error}" if pings.error else ""
    rows = [
        row(
            "network_rtt",
            rtt,
            f"median of {n} WebSocket echoes, min {min(pings.rtts_ms):.1f} ms, max {max(pings.rtts_ms):.1f} ms{lost}{ended}",
        )
    ]
    jitter = pings.jitter_ms
    if jitter is None:
        rows.append(unknown("network_jitter", "too few echoes to measure jitter"))
        jitter = 0.0
    else:
        rows.append(
            row(
                "network_jitter",
                round(jitter, 1),
                f"mean change between consecutive round trips over {n} echoes",
            )
        )
    mos = round(estimate_mos(rtt / 2.0, jitter, 0.0, codec), 2)
    rows.append(
        row(
            "webrtc",
            mos,
            f"E-model (ITU-T G.107) estimate for {codec}: one-way delay {rtt / 2:.1f} ms, jitter {jitter:.1f} ms; "
            "packet loss not measured from the CLI (assumed 0 %)",
        )
    )
    return rows


def judge_transfer(name: str, result: TransferResult, server: str) -> CheckResult:
    if result.mbit_s is None:
        return row(name, None, f"could not measure against {server}: {result.error}", status="fail")
    if result.error and result.moved_bytes == 0:
        return row(name, round(result.mbit_s, 2), result.error)
    return row(
        name,
        round(result.mbit_s, 2),
        f"{result.moved_bytes / 1e6:.2f} MB moved; last transfer {result.seconds:.2f} s"
        + (f"; {result.error}" if result.error else ""),
    )


async def check_network(
    server: str, opts: NetworkOptions | None = None, progress: Progress = _no_progress
) -> list[CheckResult]:
    """network_rtt, network_jitter, network_loss, throughput_down, throughput_up and webrtc, in that order."""
    opts = opts or NetworkOptions()
    timeout = aiohttp.ClientTimeout(
        total=None, connect=opts.connect_timeout_s, sock_connect=opts.connect_timeout_s
    )
    async with aiohttp.ClientSession(timeout=timeout) as session:
        pings = await measure_pings(session, server, opts, progress)
        down = await measure_transfer(session, server, "down", opts, progress)
        up = await measure_transfer(session, server, "up", opts, progress)
    rtt_rows = judge_pings(pings, server, opts.codec)
    loss = unknown(
        "network_loss",
        "not measurable from the CLI: WebSocket runs over TCP, which turns loss into delay; the browser preflight's call test measures it",
    )
    return [
        rtt_rows[0],
        rtt_rows[1],
        loss,
        judge_transfer("throughput_down", down, server),
        judge_transfer("throughput_up", up, server),
        rtt_rows[2],
    ]


def not_run(reason: str) -> list[CheckResult]:
    names = ("network_rtt", "network_jitter", "network_loss", "throughput_down", "throughput_up", "webrtc")
    return [unknown(n, reason) for n in names]
