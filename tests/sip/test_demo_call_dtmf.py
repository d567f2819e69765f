"""`agent-desktop demo-call --dtmf DIGITS [--count N]` as a user runs it, against one of our SIP endpoints that
answers and reports the RFC 4733 digits it received (the desk's menu reads digits the same way)."""

from __future__ import annotations

import asyncio
import sys

import pytest

CLI = [sys.executable, "-m", "agent_desktop.cli"]


class Answerer:
    """Answers every call, notes when, collects each call's digits, hangs up once `expect` digits arrived."""

    def __init__(self, expect: str) -> None:
        self.expect = expect
        self.calls: list = []
        self.answered_at: dict[str, float] = {}
        self.digits: dict[str, list[tuple[str, float]]] = {}

    async def on_incoming(self, call) -> None:
        loop = asyncio.get_running_loop()
        self.calls.append(call)
        await call.answer()
        key = call.remote_number
        self.answered_at[key] = loop.time()
        self.digits[key] = []

        def got(digit: str) -> None:
            self.digits[key].append((digit, loop.time()))
            if "".join(d for d, _ in self.digits[key]) == self.expect:
                asyncio.ensure_future(call.hangup())

        call.media.on_dtmf = got


async def _demo_call(*args: str, within_s: float = 40) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "demo-call",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), within_s)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode or 0, out.decode()


@pytest.mark.timeout(60)
async def test_demo_call_presses_the_digits_after_the_answer(endpoint_factory):
    answerer = Answerer("1#9*")
    desk = await endpoint_factory(answerer.on_incoming)
    code, out = await _demo_call(
        "--to", f"sip:1700@127.0.0.1:{desk.port}", "--dtmf", "1#9*", "--dtmf-after", "0.6", "--seconds", "20"
    )
    assert code == 0, out
    assert len(answerer.calls) == 1
    (number,) = answerer.digits
    received = answerer.digits[number]
    assert "".join(d for d, _ in received) == "1#9*", out
    # The first key comes after the pause, not with the answer (a menu prompt has started by then).
    assert received[0][1] - answerer.answered_at[number] >= 0.55, received
    assert answerer.calls[0].media.stats.dtmf_received == 4  # RFC 4733 events, not SIP INFO
    assert "pressing 1#9*" in out and "call ended: remote_bye" in out, out


@pytest.mark.timeout(60)
async def test_demo_call_count_rings_with_several_numbers_each_pressing(endpoint_factory):
    answerer = Answerer("2")
    desk = await endpoint_factory(answerer.on_incoming)
    code, out = await _demo_call(
        "--to", f"sip:1700@127.0.0.1:{desk.port}", "--dtmf", "2", "--dtmf-after", "0.3", "--count", "3"
    )
    assert code == 0, out
    assert sorted(answerer.digits) == ["0470000000", "0470000001", "0470000002"], out
    assert all("".join(d for d, _ in got) == "2" for got in answerer.digits.values())
    assert out.count("call ended: remote_bye") == 3, out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--dtmf", "12x"), "--dtmf: 'X' is not a phone key (0-9 * # A-D)"),
        (("--count", "0"), "--count: 0 is not 1-20"),
    ],
)
async def test_demo_call_bad_keys_or_count_are_one_clear_line(args, message):
    # Refused before anything is sent: the address does not matter.
    code, out = await _demo_call("--to", "sip:1700@127.0.0.1:9", *args, within_s=20)
    assert code == 2, out
    assert message in out and "Traceback" not in out, out
