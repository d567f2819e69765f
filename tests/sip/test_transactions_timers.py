"""RFC 3261 §17 transaction timers at their real values (T1 = 500 ms, T2 = 4 s, T4 = 5 s), driven by a manual clock.

Only time can show these (when exactly a retransmission goes, when a transaction gives up or forgets), so the
transaction layer gets a clock of the test's own and every send is stamped with that clock's time: the 32 s of
Timer B take microseconds and the spacing is checked exactly. The wire behaviour against a real peer, with a short
T1, is in test_transactions_sipp.py.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from agent_desktop.sip import EndpointConfig
from agent_desktop.sip.message import SipMessage, parse
from agent_desktop.sip.transaction import TransactionLayer, make_response
from agent_desktop.sip.transport import Addr

UDP = Addr("udp", "127.0.0.1", 5999)
TCP = Addr("tcp", "127.0.0.1", 5999)


@dataclass(order=True)
class _Timer:
    when: float
    seq: int
    callback: Callable[[], object] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A clock that moves only when the test says so; due timers fire in order, each at its own time."""

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[_Timer] = []
        self._seq = 0

    def call_later(self, delay: float, callback: Callable[[], object]) -> _Timer:
        self._seq += 1
        timer = _Timer(self.now + max(0.0, delay), self._seq, callback)
        heapq.heappush(self._heap, timer)
        return timer

    def advance_to(self, t: float) -> None:
        while self._heap and self._heap[0].when <= t:
            timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            self.now = timer.when
            timer.callback()
        self.now = max(self.now, t)


class Wire:
    """The transport: every message sent, with the clock's time."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sent: list[tuple[float, SipMessage]] = []

    def __call__(self, data: bytes, addr: Addr) -> None:
        self.sent.append((self.clock.now, parse(data)))

    def times(self, what: str) -> list[float]:
        """When messages whose first line starts with `what` ("INVITE", "SIP/2.0 486", "ACK") went out."""
        return [t for t, m in self.sent if _first_line(m).startswith(what)]


def _first_line(m: SipMessage) -> str:
    return f"{m.method} {m.uri}" if m.is_request else f"SIP/2.0 {m.status}"


def _request(
    method: str, branch: str = "z9hG4bKtest1", *, to_tag: str | None = None, cseq: int = 1
) -> SipMessage:
    to = "<sip:1700@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    return parse(
        (
            f"{method} sip:1700@127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:5999;branch={branch}\r\n"
            "From: <sip:caller@127.0.0.1>;tag=from1\r\n"
            f"To: {to}\r\n"
            "Call-ID: timers@test\r\n"
            f"CSeq: {cseq} {method}\r\n"
            "Max-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
    )


def _response(req: SipMessage, status: int) -> SipMessage:
    return make_response(req, status, to_tag="uas1" if status > 100 else None)


@pytest.fixture
def layer():
    clock = ManualClock()
    wire = Wire(clock)
    tl = TransactionLayer(wire, clock=clock)  # production defaults: T1 0.5, T2 4, T4 5
    tl.wire = wire  # type: ignore[attr-defined]
    tl.manual = clock  # type: ignore[attr-defined]
    yield tl
    tl.close()


def _drain(tx) -> list[int]:
    out = []
    while not tx._queue.empty():
        resp = tx._queue.get_nowait()
        out.append(resp.status if resp is not None else 0)
    return out


def test_production_defaults_are_rfc_values():
    tl = TransactionLayer(lambda data, addr: None)
    assert (tl.t1, tl.t2, tl.t4) == (0.5, 4.0, 5.0)
    cfg = EndpointConfig(listen_host="127.0.0.1", listen_port=0)
    assert (cfg.t1_ms, cfg.t2_ms, cfg.t4_ms) == (500, 4000, 5000)


# --- client transactions ------------------------------------------------------------------------------


async def test_timer_a_doubles_without_cap_and_timer_b_times_out_at_64_t1(layer):
    tx = layer.request(_request("INVITE"), UDP)
    layer.manual.advance_to(100)
    # Timer A: T1, 2T1, 4T1 ... (an INVITE is not capped at T2), until Timer B at 64*T1 = 32 s
    assert layer.wire.times("INVITE") == [0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert _drain(tx) == [408]
    assert tx.state == "terminated" and tx.key not in layer.client


async def test_timer_e_caps_at_t2_and_timer_f_times_out(layer):
    tx = layer.request(_request("OPTIONS"), UDP)
    layer.manual.advance_to(100)
    # Timer E: T1, 2T1, 4T1, then T2 (4 s) until Timer F at 64*T1
    assert layer.wire.times("OPTIONS") == [0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert _drain(tx) == [408]


async def test_timer_e_in_proceeding_retransmits_every_t2(layer):
    req = _request("BYE", to_tag="uas1")
    tx = layer.request(req, UDP)
    layer.manual.advance_to(0.7)
    layer.on_response(_response(req, 100))
    layer.manual.advance_to(100)
    # §17.1.2.2: Timer E keeps firing in Proceeding, reset to T2 each time; Timer F still ends it
    assert layer.wire.times("BYE") == [0, 0.5, 1.5, 5.5, 9.5, 13.5, 17.5, 21.5, 25.5, 29.5]
    assert _drain(tx) == [100, 408]


async def test_timer_k_absorbs_final_retransmissions_for_t4(layer):
    req = _request("BYE", to_tag="uas1")
    tx = layer.request(req, UDP)
    layer.manual.advance_to(0.2)
    assert layer.on_response(_response(req, 200))
    layer.manual.advance_to(4.9)
    assert layer.on_response(_response(req, 200))  # absorbed by the Completed transaction
    layer.manual.advance_to(5.3)
    assert tx.state == "terminated"
    assert not layer.on_response(_response(req, 200))  # Timer K (T4) has run out: a stray
    assert _drain(tx) == [200]
    assert layer.wire.times("BYE") == [0]


async def test_invite_in_proceeding_stops_retransmitting_and_timer_b_no_longer_applies(layer):
    """A callee that rings longer than 64*T1 must not get the call timed out under it (§17.1.1.2)."""
    req = _request("INVITE")
    tx = layer.request(req, UDP)
    layer.manual.advance_to(1.0)
    layer.on_response(_response(req, 180))
    layer.manual.advance_to(60)
    assert layer.wire.times("INVITE") == [0, 0.5]
    assert _drain(tx) == [180]  # no 408: ringing is bounded by the caller's own timer and CANCEL
    assert tx.state == "proceeding"
    layer.on_response(_response(req, 200))
    assert _drain(tx) == [200]


async def test_cancel_bounds_an_invite_the_callee_never_finishes(layer):
    """§9.1: no final response within 64*T1 of the CANCEL: the INVITE transaction is given up."""
    req = _request("INVITE")
    tx = layer.request(req, UDP)
    layer.manual.advance_to(1.0)
    layer.on_response(_response(req, 180))
    layer.manual.advance_to(40)
    tx.cancel_sent()
    layer.manual.advance_to(40 + 31.9)
    assert tx.state == "proceeding"
    layer.manual.advance_to(40 + 32.1)
    assert _drain(tx) == [180, 408]
    assert tx.key not in layer.client


async def test_non_2xx_is_acked_on_the_same_branch_and_reacked_until_timer_d(layer):
    req = _request("INVITE")
    tx = layer.request(req, UDP)
    layer.manual.advance_to(0.3)
    layer.on_response(_response(req, 486))
    layer.manual.advance_to(2.0)
    layer.on_response(_response(req, 486))  # our ACK got lost: the server's Timer G retransmitted the 486
    acks = [m for _, m in layer.wire.sent if m.method == "ACK"]
    assert [t for t in layer.wire.times("ACK")] == [0.3, 2.0]
    assert all(a.top_via.branch == "z9hG4bKtest1" and a.cseq == (1, "ACK") for a in acks)
    assert acks[0].to.tag == "uas1"
    assert layer.wire.times("INVITE") == [0]  # the final stopped Timer A
    layer.manual.advance_to(0.3 + 32.1)  # Timer D (32 s over UDP)
    assert tx.state == "terminated"
    assert not layer.on_response(_response(req, 486))
    assert _drain(tx) == [486]


async def test_retransmitted_2xx_is_reacked_until_timer_m(layer):
    # the dialog layer builds the ACK of a 2xx (§13.2.2.4) and hands the transaction its bytes to repeat
    sent: list[bytes] = []
    tl = TransactionLayer(lambda data, addr: sent.append(data), clock=layer.manual)
    req = _request("INVITE")
    tx = tl.request(req, UDP)
    tl.on_response(_response(req, 200))
    tx.ack = b"ACK-2XX"
    tl.on_response(_response(req, 200))
    tl.on_response(_response(req, 200))
    assert sent.count(b"ACK-2XX") == 2
    layer.manual.advance_to(32.1)  # Timer M (64*T1)
    assert tx.state == "terminated"
    assert not tl.on_response(_response(req, 200))
    tl.close()


async def test_tcp_client_never_retransmits_but_still_times_out(layer):
    tx = layer.request(_request("INVITE"), TCP)
    layer.manual.advance_to(100)
    assert layer.wire.times("INVITE") == [0]
    assert _drain(tx) == [408]
    req = _request("OPTIONS", branch="z9hG4bKtcp2")
    tx2 = layer.request(req, TCP)
    layer.on_response(_response(req, 200))
    assert tx2.state == "terminated"  # Timer K is 0 over a reliable transport


# --- server transactions ------------------------------------------------------------------------------


async def test_timer_g_caps_at_t2_and_timer_h_gives_up(layer):
    req = _request("INVITE")
    stx = layer.on_request(req, UDP)
    stx.respond(_response(req, 100))
    stx.respond(_response(req, 486))
    layer.manual.advance_to(100)
    assert layer.wire.times("SIP/2.0 486") == [0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert stx.state == "terminated" and stx.key not in layer.server  # Timer H (64*T1)


async def test_ack_stops_timer_g_and_timer_i_absorbs_ack_retransmissions(layer):
    req = _request("INVITE")
    stx = layer.on_request(req, UDP)
    stx.respond(_response(req, 486))
    layer.manual.advance_to(2.0)
    ack = _request("ACK", to_tag="uas1")
    assert layer.on_request(ack, UDP) is None
    assert stx.state == "confirmed"
    layer.manual.advance_to(4.0)
    assert layer.on_request(ack, UDP) is None  # absorbed
    assert layer.wire.times("SIP/2.0 486") == [0, 0.5, 1.5]
    layer.manual.advance_to(2.0 + 5.1)  # Timer I (T4)
    assert stx.state == "terminated"


async def test_retransmitted_invite_gets_the_last_response(layer):
    req = _request("INVITE")
    stx = layer.on_request(req, UDP)
    stx.respond(_response(req, 100))
    assert layer.on_request(req, UDP) is None
    stx.respond(_response(req, 180))
    assert layer.on_request(req, UDP) is None
    assert [_first_line(m) for _, m in layer.wire.sent] == [
        "SIP/2.0 100",
        "SIP/2.0 100",
        "SIP/2.0 180",
        "SIP/2.0 180",
    ]


async def test_2xx_retransmitted_until_ack_then_session_given_up(layer):
    """§13.3.1.4: the 2xx goes again at T1, 2T1 ... capped at T2; 64*T1 without ACK: the dialog must be ended."""
    req = _request("INVITE")
    stx = layer.on_request(req, UDP)
    gave_up: list[float] = []
    stx.on_ack_timeout = lambda: gave_up.append(layer.manual.now)
    stx.respond(_response(req, 200))
    layer.manual.advance_to(100)
    assert layer.wire.times("SIP/2.0 200") == [0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert gave_up == [32.0]


async def test_2xx_retransmission_stops_at_ack(layer):
    req = _request("INVITE")
    stx = layer.on_request(req, UDP)
    stx.on_ack_timeout = lambda: pytest.fail("ACK was received")
    stx.respond(_response(req, 200))
    layer.manual.advance_to(2.0)
    stx.ack_received()  # the dialog matched an ACK for the 2xx (its own transaction, new branch)
    layer.manual.advance_to(100)
    assert layer.wire.times("SIP/2.0 200") == [0, 0.5, 1.5]


async def test_2xx_is_retransmitted_over_tcp_too(layer):
    """§13.3.1.4: 'even if the transport at the UAS is reliable' (a UDP hop may lie beyond the proxy)."""
    req = _request("INVITE")
    stx = layer.on_request(req, TCP)
    stx.respond(_response(req, 200))
    layer.manual.advance_to(4.0)
    assert layer.wire.times("SIP/2.0 200") == [0, 0.5, 1.5, 3.5]
    stx.ack_received()
    layer.manual.advance_to(100)
    assert len(layer.wire.times("SIP/2.0 200")) == 4


async def test_non_2xx_over_tcp_is_not_retransmitted(layer):
    req = _request("INVITE")
    stx = layer.on_request(req, TCP)
    stx.respond(_response(req, 486))
    layer.manual.advance_to(31.9)
    assert layer.wire.times("SIP/2.0 486") == [0]
    assert stx.state == "completed"
    layer.manual.advance_to(32.1)  # Timer H applies whatever the transport
    assert stx.state == "terminated"


async def test_timer_j_answers_retransmitted_requests_then_forgets(layer):
    req = _request("BYE", to_tag="uas1")
    stx = layer.on_request(req, UDP)
    stx.respond(_response(req, 200))
    layer.manual.advance_to(20)
    assert layer.on_request(req, UDP) is None  # absorbed, answered with the same 200
    assert layer.wire.times("SIP/2.0 200") == [0, 20]
    layer.manual.advance_to(32.1)  # Timer J (64*T1 over UDP)
    assert stx.state == "terminated"
    assert layer.on_request(req, UDP) is not None  # a new transaction now
    tcp_req = _request("BYE", branch="z9hG4bKtcp3", to_tag="uas1")
    tcp_stx = layer.on_request(tcp_req, TCP)
    tcp_stx.respond(_response(tcp_req, 200))
    layer.manual.advance_to(layer.manual.now)  # one turn of the loop
    assert tcp_stx.state == "terminated"  # Timer J is 0 over TCP
