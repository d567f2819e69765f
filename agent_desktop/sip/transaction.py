"""Client and server transactions (RFC 3261 §17, with RFC 6026's Accepted state).

Timers run as `call_later` handles rather than tasks: a transaction is a few hundred bytes and a handful of
handles, so thousands of them cost little. Over TCP nothing is retransmitted; only the time-outs apply.
The handles come from a `Clock` (the running event loop by default) so tests can drive every timer with a clock
of their own at the RFC's real values, and T1/T2/T4 are parameters of the layer so peer tests can shrink them.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Protocol

from .message import SipMessage, reason_phrase
from .transport import Addr

__all__ = [
    "Clock",
    "ClientTransaction",
    "ServerTransaction",
    "TransactionLayer",
    "new_branch",
    "make_response",
]

# RFC 3261 §17.1.1.1 / table 4 defaults
T1 = 0.5
T2 = 4.0
T4 = 5.0
# Timer D, "> 32 s for UDP": how long a completed INVITE client transaction re-ACKs retransmitted finals
TIMER_D = 32.0


class Handle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Where transaction timers are scheduled."""

    def call_later(self, delay: float, callback: Callable[[], object]) -> Handle: ...


class LoopClock:
    """The running asyncio loop (production)."""

    def call_later(self, delay: float, callback: Callable[[], object]) -> Handle:
        return asyncio.get_running_loop().call_later(delay, callback)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def make_response(
    req: SipMessage, status: int, reason: str | None = None, *, to_tag: str | None = None
) -> SipMessage:
    """A response carrying the request's Via, From, To, Call-ID, CSeq (RFC 3261 §8.2.6.2)."""
    resp = SipMessage(status=status, reason=reason or reason_phrase(status))
    for name, value in req.headers:
        if name in ("Via", "From", "Call-ID", "CSeq"):
            resp.headers.append((name, value))
        elif name == "To":
            if to_tag and ";tag=" not in value.replace(" ", "").lower():
                value = f"{value};tag={to_tag}"
            resp.headers.append((name, value))
        elif name == "Record-Route" and 100 < status < 300:
            resp.headers.append((name, value))
    return resp


def transaction_key(msg: SipMessage) -> str:
    """Matching key (RFC 3261 §17.2.3); falls back to §17.2.3's pre-3261 rules for branch-less Vias."""
    via = msg.top_via
    branch = via.branch or ""
    num, method = msg.cseq
    if method == "ACK":
        method = "INVITE"
    if branch.startswith("z9hG4bK"):
        return f"{branch}|{via.host}:{via.port}|{method}"
    return f"{msg.call_id}|{num}|{msg.from_.tag}|{via.host}:{via.port}|{method}"


class ClientTransaction:
    """One request we sent; `await response()` yields provisional then final responses (408 on time-out)."""

    def __init__(self, layer: TransactionLayer, request: SipMessage, addr: Addr) -> None:
        self.layer = layer
        self.request = request
        self.addr = addr
        self.method = request.method or ""
        self.branch = request.top_via.branch or ""
        self.key = f"{self.branch}|{self.method}"
        self.data = request.to_bytes()
        self.is_invite = self.method == "INVITE"
        self.state = "calling"
        self.final: SipMessage | None = None
        self.timed_out = False  # the 408 came from our own Timer B/F: nobody answered at all
        # Set by the dialog layer after a 2xx so retransmitted 2xx get re-ACKed: the ACK and where the dialog sent
        # it (its next hop, from the 2xx's Contact or Record-Route; not necessarily `addr`, where the INVITE went).
        self.ack: bytes | None = None
        self.ack_addr: Addr | None = None
        self._queue: asyncio.Queue[SipMessage | None] = asyncio.Queue()
        self._handles: list[Handle] = []
        self._timer_b: Handle | None = None
        self._interval = layer.t1

    def start(self) -> None:
        self.layer.send(self.data, self.addr)
        if self.addr.transport == "udp":
            self._handles.append(self.layer.clock.call_later(self._interval, self._retransmit))
        self._timer_b = self.layer.clock.call_later(64 * self.layer.t1, self._timeout)  # Timer B or F
        self._handles.append(self._timer_b)

    async def response(self) -> SipMessage | None:
        """Next response; None when `wake()` was called (the owner has something to do, e.g. CANCEL)."""
        return await self._queue.get()

    def wake(self) -> None:
        self._queue.put_nowait(None)

    def cancel_sent(self) -> None:
        """The TU sent a CANCEL for this INVITE: without a final response within 64*T1 it is given up (§9.1).

        Timer B no longer runs once a provisional came, so without this a callee that accepts the CANCEL but never
        sends 487 would keep the transaction, and the call's task waiting on it, for ever.
        """
        if self.is_invite and self.state in ("calling", "proceeding"):
            self._handles.append(self.layer.clock.call_later(64 * self.layer.t1, self._timeout))

    def _retransmit(self) -> None:
        if self.state not in ("calling", "proceeding") or (self.is_invite and self.state == "proceeding"):
            return
        self.layer.send(self.data, self.addr)
        self.layer.retransmissions += 1
        self._interval = min(self._interval * 2, self.layer.t2) if not self.is_invite else self._interval * 2
        if self.state == "proceeding":
            self._interval = self.layer.t2
        self._handles.append(self.layer.clock.call_later(self._interval, self._retransmit))

    def _timeout(self) -> None:
        if self.state in ("calling", "proceeding"):
            resp = make_response(self.request, 408)
            self.timed_out = True
            self._queue.put_nowait(resp)
            self.terminate()

    def on_response(self, resp: SipMessage) -> None:
        status = resp.status or 0
        if self.state in ("calling", "proceeding"):
            if status < 200:
                if self.is_invite and self._timer_b is not None:
                    # §17.1.1.2: Timer B only bounds the Calling state. A callee that rings is bounded by the TU
                    # (ring time-out, then CANCEL), not by 64*T1, or every call ringing past 32 s would drop.
                    self._timer_b.cancel()
                    self._timer_b = None
                self.state = "proceeding"
                self._queue.put_nowait(resp)
                return
            self.final = resp
            self._queue.put_nowait(resp)
            self._cancel_timers()
            if self.is_invite and status >= 300:
                self._send_ack(resp)
                self.state = "completed"
                self._linger(TIMER_D if self.addr.transport == "udp" else 0)
            elif self.is_invite:
                self.state = "accepted"  # RFC 6026 Timer M: absorb 2xx retransmissions
                self._linger(64 * self.layer.t1)
            else:
                self.state = "completed"
                self._linger(self.layer.t4 if self.addr.transport == "udp" else 0)
        elif self.state == "completed" and self.is_invite and status >= 300:
            self._send_ack(resp)  # our ACK got lost: the server retransmitted its final response
        elif self.state == "accepted" and 200 <= status < 300 and self.ack is not None:
            self.layer.send(self.ack, self.ack_addr or self.addr)

    def _send_ack(self, resp: SipMessage) -> None:
        """ACK for a non-2xx final response: same branch, hop-by-hop (RFC 3261 §17.1.1.3)."""
        req = self.request
        ack = SipMessage(method="ACK", uri=req.uri)
        ack.add("Via", req.get_all("Via")[0])
        for name in ("Route",):
            for v in req.get_all(name):
                ack.add(name, v)
        ack.add("Max-Forwards", "70")
        ack.add("From", req.get("From") or "")
        ack.add("To", resp.get("To") or "")
        ack.add("Call-ID", req.call_id)
        ack.add("CSeq", f"{req.cseq[0]} ACK")
        self.layer.send(ack.to_bytes(), self.addr)

    def _linger(self, seconds: float) -> None:
        if seconds <= 0:
            self.terminate()
        else:
            self._handles.append(self.layer.clock.call_later(seconds, self.terminate))

    def _cancel_timers(self) -> None:
        for h in self._handles:
            h.cancel()
        self._handles.clear()

    def terminate(self) -> None:
        self._cancel_timers()
        self.state = "terminated"
        self.layer.client.pop(self.key, None)


class ServerTransaction:
    """One request we received; retransmissions of it are answered with the last response."""

    def __init__(self, layer: TransactionLayer, request: SipMessage, addr: Addr, key: str) -> None:
        self.layer = layer
        self.request = request
        self.addr = addr
        self.key = key
        self.is_invite = request.method == "INVITE"
        self.state = "trying"
        self.last: bytes | None = None
        self.last_status = 0
        self.on_ack_timeout: Callable[[], None] | None = None  # 2xx never ACKed (dialog must BYE)
        self.on_cancelled: Callable[[SipMessage], None] | None = None
        self._handles: list[Handle] = []
        self._interval = layer.t1

    @property
    def final_sent(self) -> bool:
        return self.last_status >= 200

    def respond(self, resp: SipMessage) -> None:
        if self.state in ("completed", "confirmed", "terminated", "accepted"):
            return  # a final response is already out: the transaction is no longer ours to change
        self.last = resp.to_bytes()
        self.last_status = resp.status or 0
        self.layer.send(self.last, self.addr)
        if self.last_status < 200:
            self.state = "proceeding"
            return
        udp = self.addr.transport == "udp"
        t1 = self.layer.t1
        if self.is_invite:
            self.state = "accepted" if self.last_status < 300 else "completed"
            # 2xx: the UAS core retransmits until the ACK whatever the transport, since a hop beyond the next
            # one may be UDP (§13.3.1.4); non-2xx: Timer G until the ACK, over UDP only (§17.2.1)
            if udp or self.state == "accepted":
                self._handles.append(self.layer.clock.call_later(self._interval, self._retransmit))
            self._handles.append(self.layer.clock.call_later(64 * t1, self._ack_timeout))
        else:
            self.state = "completed"
            self._handles.append(self.layer.clock.call_later(64 * t1 if udp else 0, self.terminate))

    def _retransmit(self) -> None:
        if self.state not in ("accepted", "completed") or self.last is None:
            return
        self.layer.send(self.last, self.addr)
        self.layer.retransmissions += 1
        self._interval = min(self._interval * 2, self.layer.t2)
        self._handles.append(self.layer.clock.call_later(self._interval, self._retransmit))

    def _ack_timeout(self) -> None:
        if self.state == "accepted" and self.on_ack_timeout is not None:
            self.on_ack_timeout()
        self.terminate()

    def on_retransmission(self, msg: SipMessage) -> None:
        if msg.method == "ACK":
            self.ack_received()
        elif self.last is not None and self.state != "accepted":
            self.layer.send(self.last, self.addr)
        elif self.state == "accepted" and self.last is not None:
            self.layer.send(self.last, self.addr)

    def ack_received(self) -> None:
        if self.state in ("completed", "accepted"):
            self._cancel_timers()
            self.state = "confirmed"
            # Timer I (T4 over UDP): keep absorbing ACK retransmissions for a while
            self._handles.append(
                self.layer.clock.call_later(
                    self.layer.t4 if self.addr.transport == "udp" else 0, self.terminate
                )
            )

    def _cancel_timers(self) -> None:
        for h in self._handles:
            h.cancel()
        self._handles.clear()

    def terminate(self) -> None:
        self._cancel_timers()
        self.state = "terminated"
        if self.layer.server.get(self.key) is self:
            del self.layer.server[self.key]


class TransactionLayer:
    def __init__(
        self,
        send: Callable[[bytes, Addr], None],
        t1: float = T1,
        *,
        t2: float = T2,
        t4: float = T4,
        clock: Clock | None = None,
    ) -> None:
        self.send = send
        self.t1 = t1
        self.t2 = t2
        self.t4 = t4
        self.clock: Clock = clock or LoopClock()
        self.client: dict[str, ClientTransaction] = {}
        self.server: dict[str, ServerTransaction] = {}
        self.retransmissions = 0

    def request(self, req: SipMessage, addr: Addr) -> ClientTransaction:
        tx = ClientTransaction(self, req, addr)
        self.client[tx.key] = tx
        tx.start()
        return tx

    def on_response(self, resp: SipMessage) -> bool:
        """Route a response to its client transaction; False when none matches (stray or late)."""
        branch = resp.top_via.branch or ""
        tx = self.client.get(f"{branch}|{resp.cseq[1]}")
        if tx is None:
            return False
        tx.on_response(resp)
        return True

    def on_request(self, req: SipMessage, addr: Addr) -> ServerTransaction | None:
        """A new server transaction, or None when the request belongs to an existing one (absorbed)."""
        key = transaction_key(req)
        tx = self.server.get(key)
        if tx is not None:
            tx.on_retransmission(req)
            return None
        if req.method == "ACK":
            return None  # ACK for a 2xx: a new transaction of its own, the dialog handles it
        tx = ServerTransaction(self, req, addr, key)
        self.server[key] = tx
        return tx

    def find_invite(self, cancel: SipMessage) -> ServerTransaction | None:
        """The INVITE transaction a CANCEL targets (same branch and sent-by, §9.2)."""
        return self.server.get(transaction_key(_as_invite(cancel)))

    def close(self) -> None:
        for tx in list(self.client.values()):
            tx.terminate()
        for stx in list(self.server.values()):
            stx.terminate()


def _as_invite(cancel: SipMessage) -> SipMessage:
    clone = SipMessage(method="INVITE", uri=cancel.uri, headers=list(cancel.headers))
    clone.set("CSeq", f"{cancel.cseq[0]} INVITE")
    return clone
