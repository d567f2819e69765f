"""Network checks against a real aiohttp desk stand-in on 127.0.0.1 (see conftest.py)."""

from __future__ import annotations

import socket

from hardware_check.checks.network import NetworkOptions, check_network

NAMES = ["network_rtt", "network_jitter", "network_loss", "throughput_down", "throughput_up", "webrtc"]


async def test_loopback_network_passes_and_stays_under_5_mb(desk) -> None:
    stages: list[str] = []
    rows = await check_network(desk.url, progress=lambda stage, done, total: stages.append(stage))
    by = {r.name: r for r in rows}
    assert [r.name for r in rows] == NAMES
    assert desk.pings == 50
    # Loopback echoes take well under 0.05 ms, which the report's 0.1 ms resolution shows as 0.0.
    assert by["network_rtt"].status == "pass" and 0 <= by["network_rtt"].value < 100
    assert "median of 50 WebSocket echoes" in by["network_rtt"].detail
    assert by["network_jitter"].status == "pass"
    assert by["network_loss"].status == "unknown" and "TCP" in by["network_loss"].detail
    assert by["throughput_down"].status == "pass" and by["throughput_down"].unit == "Mbit/s"
    assert by["throughput_up"].status == "pass"
    assert by["webrtc"].status == "pass" and 4.0 <= by["webrtc"].value <= 4.5
    assert "E-model" in by["webrtc"].detail
    # Loopback is fast: all three growing transfers ran, and each direction moved under 5 MB.
    assert desk.downloaded == desk.uploaded == (256 + 1024 + 3072) * 1024
    assert desk.downloaded < 5_000_000
    assert {"ping", "down", "up"} <= set(stages)


async def test_slow_download_fails_with_reason(desk) -> None:
    desk.download_delay_s = 0.2  # 64 KiB per 0.2 s ≈ 2.6 Mbit/s, so 256 KiB needs ~0.8 s
    opts = NetworkOptions(pings=5, transfer_timeout_s=0.3, sizes=(256 * 1024,))
    rows = {r.name: r for r in await check_network(desk.url, opts)}
    down = rows["throughput_down"]
    assert down.status == "fail" and down.value == 0.0
    assert "did not move within 0.3 s" in down.detail
    assert rows["throughput_up"].status == "pass"


async def test_unreachable_desk_fails_without_raising() -> None:
    with socket.socket() as s:  # a port nobody listens on: bound, then closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    rows = {r.name: r for r in await check_network(url, NetworkOptions(pings=3, connect_timeout_s=2))}
    assert rows["network_rtt"].status == "fail" and url in rows["network_rtt"].detail
    assert rows["throughput_down"].status == "fail" and rows["throughput_up"].status == "fail"
    assert rows["webrtc"].status == "unknown"
