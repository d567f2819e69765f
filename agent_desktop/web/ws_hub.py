"""The WebSocket hub (`/ws`): one live connection per agent, `hello` on connect, JSON messages both ways, an
application heartbeat, and the hand-over when the same agent connects again (reconnect or a second tab).

What the desk tells pages comes off the event bus (`AgentStateChanged`, `CallOffered`, `CallStateChanged`,
`AgentMessage`): the hub never calls into the call center, and nobody calls the hub but the bus and /ws. After
each `hello` the hub publishes `AgentConnected` (the queue figures follow it at once).

The newest connection wins: after a network drop the old socket may linger half-open for minutes, and the agent
must get their desk back at once. The older connection gets `error{code: session_replaced}` and is closed.

What one page may make the desk do is capped per socket (`ACTION_*`): a page in a loop is refused `rate_limited`,
then closed 1008, and its agent's next socket is held off for `ABUSE_PENALTY_S`; an agent's own pace never meets it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from ..acd.agent_state import AgentStates, StateError
from ..acd.events import (
    AgentConnected,
    AgentMessage,
    AgentStateChanged,
    CallOffered,
    CallStateChanged,
    EventBus,
)
from ..logmask import mask_number
from ..store.agents import Agent
from ..tasks import Tasks
from .errors import ApiError
from .ratelimit import HeldRefusals, TokenBucket
from .ws_close import abort_if_stalled, close_socket

log = logging.getLogger(__name__)

MAX_MESSAGE = 64 * 1024
# A page sends a bad message by a bug now and then; dozens in a row is a script. Over the burst (refilled at the
# rate), the socket is closed with CLOSE_ABUSE (the page reconnects with back-off) instead of logging forever.
BAD_BURST = 30
BAD_REFILL_PER_S = 1.0
CLOSE_ABUSE = 1008  # RFC 6455 "policy violation"
# Every message but `pong` is an action. A person clicks a few times a second at most and types DTMF at ~10 digits/s;
# a reloaded page sends a handful at once. Each action costs a task, store writes and bus events on a 2-core desk
# shared by every agent, so a page (a bug, a script) gets ACTION_BURST at once, then ACTION_RATE_PER_S, and at most
# ACTION_TASKS call actions running (a hold or transfer waits up to 30 s for the far end). Over that an action is
# refused `rate_limited`, and each refusal counts as a bad message: a sustained flood is closed with CLOSE_ABUSE.
ACTION_BURST = 40
ACTION_RATE_PER_S = 20.0
ACTION_TASKS = 8
REFUSAL_QUIET_S = 5.0  # refusals closer together than this are one burst: one log line
# After a close for abuse, the agent's next sockets are refused at the handshake (429 rate_limited) until this long
# after it: a script that reconnects at once would otherwise get a fresh allowance every time, and each socket costs
# a hello, a login of the state and the queue figures. The refusal is held until then, not sent at once: answered at
# once, the retries become the flood (bench/ws_flood.py: 54 000 handshakes, a core, in 10 s). The page itself waits
# at least 11 s (socket.js) and never meets it.
ABUSE_PENALTY_S = 10.0
# Sockets of one agent held off at once; more are refused at once (the ones held already are the back-off, and a
# script opening hundreds in parallel must not hold hundreds of the desk's sockets for the penalty's length).
ABUSE_HELD_MAX = 2
CLOSE_REPLACED = 4001
CLOSE_LOGGED_OUT = 4002
CLOSE_TIMEOUT = 4003
CLOSE_RESTART = 1012  # "service restart": the page reconnects with back-off
SEND_TIMEOUT_S = 10.0  # a page that takes no message for this long is cut off
GOODBYE_S = 1.0  # the last word to a page being closed (logout, shutdown) is best effort

MessageHandler = Callable[["Connection", dict], Awaitable[None]]
_NUMBER = re.compile(r"\+?\d[\d ./-]{4,}\d")


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # Python's json reads NaN and Infinity; a page never sends them


def parse_message(data: str) -> dict | None:
    """A client's text frame as a message object with a string `type`, or None (any nesting, any size)."""
    try:
        message = json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested deeper than the parser's stack
        return None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return None
    return message


def _log_text(text: str) -> str:
    # Error texts may quote what the page sent (a dialled number): masked as every log line masks numbers.
    return _NUMBER.sub(lambda m: mask_number(m.group()), text[:200])


async def _alive() -> bool:
    return True


class BadMessages(TokenBucket):
    """A socket's allowance of bad messages (and of actions refused `rate_limited`): `BAD_BURST`, refilled at
    `BAD_REFILL_PER_S`."""

    def __init__(self) -> None:
        super().__init__(BAD_BURST, BAD_REFILL_PER_S)

    def count(self) -> bool:
        """One more bad message; False once the socket has sent too many (close it with `CLOSE_ABUSE`)."""
        return self.take()


def _actions() -> TokenBucket:
    return TokenBucket(ACTION_BURST, ACTION_RATE_PER_S)


@dataclass(eq=False)
class Connection:
    agent: Agent
    ws: web.WebSocketResponse
    session_id: int
    closed_reason: str = ""
    awaiting_pong: bool = False
    checked_at: float = field(default_factory=time.monotonic)
    transport: asyncio.BaseTransport | None = None
    _send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    bad: BadMessages = field(default_factory=BadMessages)
    actions: TokenBucket = field(default_factory=_actions)
    running: set[asyncio.Task] = field(default_factory=set)  # its call actions not finished yet
    refused: int = 0  # actions refused in the current burst of refusals
    refused_at: float = float("-inf")
    abused: bool = False  # closed with CLOSE_ABUSE

    async def close(self, code: int, reason: bytes) -> None:
        await close_socket(self.ws, self.transport, code, reason)

    async def refuse(self, kind: str) -> None:
        """Refuse an action over the socket's allowance with `error{code:"rate_limited"}` (one INFO line per burst
        of refusals, not per message: a flood must not flood the log)."""
        now = time.monotonic()
        if now - self.refused_at > REFUSAL_QUIET_S:
            self.refused = 0
            log.info(
                "ws agent %s: error rate_limited: over %d actions at once, %g/s or %d running (first: %s)",
                self.agent.id,
                ACTION_BURST,
                ACTION_RATE_PER_S,
                ACTION_TASKS,
                kind[:40],
            )
        self.refused_at = now
        self.refused += 1
        await self.send(
            {"type": "error", "code": "rate_limited", "message": f"too many actions; {kind[:40]} not done"}
        )

    async def send(self, message: dict, within_s: float | None = None) -> None:
        timeout = SEND_TIMEOUT_S if within_s is None else within_s
        code = message.get("code") if message.get("type") == "error" else None
        if code is not None:
            # One line per refusal: what the page was told is what the log says (rate_limited: see `refuse`).
            if code != "rate_limited":
                log.info(
                    "ws agent %s: error %s: %s",
                    self.agent.id,
                    code,
                    _log_text(str(message.get("message", ""))),
                )
            if code in ("bad_request", "rate_limited") and not self.bad.count() and not self.ws.closed:
                what = "bad messages" if code == "bad_request" else f"messages ({self.refused} refused)"
                log.warning("ws agent %s: too many %s; closing the socket", self.agent.id, what)
                self.abused = True
                await self.close(CLOSE_ABUSE, f"too many {what}".encode()[:120])
        if self.ws.closed:
            return
        try:
            async with asyncio.timeout(timeout):
                async with self._send_lock:
                    await self.ws.send_str(json.dumps(message))
        except TimeoutError:
            # A page that takes nothing for this long is frozen or cut off: its socket is released (the page, if
            # it comes back, reconnects within the grace) instead of every later message waiting as long.
            log.info("send to agent %s: nothing taken for %.0f s; socket cut off", self.agent.id, timeout)
            abort_if_stalled(self.transport, force=True)
        except (ConnectionError, RuntimeError) as e:
            log.info("send to agent %s failed: %s", self.agent.id, e)


class Hub:
    """Owns every agent's WebSocket in this process."""

    def __init__(
        self,
        bus: EventBus,
        states: AgentStates,
        heartbeat_s: float,
        me_body: Callable[[Agent], dict],
        hello_extra: Callable[[Agent], dict] = lambda agent: {"calls": []},
        session_alive: Callable[[Connection], Awaitable[bool]] = lambda conn: _alive(),
    ) -> None:
        self._bus = bus
        self._states = states
        self._heartbeat_s = heartbeat_s
        self._me_body = me_body
        self._hello_extra = hello_extra
        self._session_alive = session_alive
        self._conns: dict[int, Connection] = {}
        self._penalty: dict[int, float] = {}  # agent id -> until when its new sockets are refused
        self._held = HeldRefusals(ABUSE_HELD_MAX)  # the sockets of agents held off now
        self._stopping = asyncio.Event()  # set by `close`: a held refusal is sent at once
        # The sends to pages and the message handlers that run beside the read loops (calls_ws, supervisor_ws).
        self.tasks = Tasks("hub task")
        self._handlers: dict[str, MessageHandler] = {
            "agent.state": self._on_agent_state,
            "pong": self._on_pong,
        }
        bus.subscribe(AgentStateChanged, self._state_changed)
        bus.subscribe(AgentMessage, lambda e: self.tell(e.agent_id, e.message))
        bus.subscribe(CallOffered, self._call_offered)
        bus.subscribe(CallStateChanged, self._call_state)

    def on(self, message_type: str, handler: MessageHandler) -> None:
        """Let another room (calls, media) handle a client message type."""
        self._handlers[message_type] = handler

    async def spawn_action(
        self, conn: Connection, kind: str, action: Coroutine[Any, Any, None], *, capped: bool = True
    ) -> None:
        """Run a page's action beside its read loop (a hang-up or a pong is never stuck behind a hold), at most
        `ACTION_TASKS` of one socket at once: one more is refused `rate_limited`. `capped=False` (the way out of
        a call) is run even then: an agent who clicked hold again and again while the far end stays silent must
        still be able to hang up; the token bucket still counts it."""
        if capped and len(conn.running) >= ACTION_TASKS:
            action.close()
            await conn.refuse(kind)
            return
        task = self.tasks.spawn(action)
        conn.running.add(task)
        task.add_done_callback(conn.running.discard)

    def agent_ids(self) -> list[int]:
        """The agents with a desk socket now."""
        return list(self._conns)

    def connection(self, agent_id: int) -> Connection | None:
        return self._conns.get(agent_id)

    async def send_to(self, agent_id: int, message: dict) -> bool:
        conn = self._conns.get(agent_id)
        if conn is None:
            return False
        await conn.send(message)
        return True

    def tell(self, agent_id: int, message: dict) -> None:
        """Send `message` to the agent's page, if it has one, without waiting (in order with other sends)."""
        conn = self._conns.get(agent_id)
        if conn is not None:
            self.tasks.spawn(conn.send(message))

    def _state_changed(self, e: AgentStateChanged) -> None:
        # Any source of change, not only the page itself: a call, an offer rung out, the reconnect grace.
        # `resume`: where a submitted wrap-up returns the agent (the wrap-up's button says it).
        resume = self._states.after_wrap_up(e.agent_id)
        self.tell(
            e.agent_id,
            {"type": "agent.state", "state": e.state, "since": e.since, "reason": e.reason, "resume": resume},
        )

    def _call_offered(self, e: CallOffered) -> None:
        self.tell(
            e.agent_id,
            {
                "type": "call.offered",
                "call_id": e.call_id,
                "from": e.from_number,
                "queue": e.queue,
                "waited_s": e.waited_s,
                "orders": list(e.orders),
            },
        )

    def _call_state(self, e: CallStateChanged) -> None:
        for agent_id in e.tell:
            self.tell(agent_id, {"type": "call.state", **e.page})

    async def drop_agent(self, agent_id: int, reason: str) -> None:
        conn = self._conns.pop(agent_id, None)
        if conn is not None:
            conn.closed_reason = reason
            await conn.send(
                {
                    "type": "error",
                    "code": "unauthorized" if reason == "logged_out" else reason,
                    "message": reason,
                },
                within_s=GOODBYE_S,
            )
            code = CLOSE_RESTART if reason == "server_stop" else CLOSE_LOGGED_OUT
            await conn.close(code, reason.encode())

    async def close(self) -> None:
        self._stopping.set()
        # All at once: each page gets at most GOODBYE_S and CLOSE_TIMEOUT_S, however many are stalled.
        await asyncio.gather(*(self.drop_agent(agent_id, "server_stop") for agent_id in list(self._conns)))
        await self.tasks.cancel_all()

    async def handle(self, request: web.Request, agent: Agent, session_id: int) -> web.WebSocketResponse:
        until = self._penalty.get(agent.id)
        if until is not None:
            if time.monotonic() < until:
                await self._held.hold(agent.id, until - time.monotonic(), self._stopping)
                raise ApiError("rate_limited", "this desk's socket was closed for a flood; reconnect later")
            del self._penalty[agent.id]
        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE, autoping=True, heartbeat=None)
        await ws.prepare(request)
        conn = Connection(agent, ws, session_id, transport=request.transport)
        try:
            old = self._conns.get(agent.id)
            self._conns[agent.id] = conn
            if old is not None:
                old.closed_reason = "session_replaced"
                await old.send(
                    {
                        "type": "error",
                        "code": "session_replaced",
                        "message": "the desk was opened in another tab or window",
                    },
                    within_s=GOODBYE_S,
                )
                await old.close(CLOSE_REPLACED, b"session_replaced")
            presence = self._states.login(agent.id)
            await conn.send(
                {
                    "type": "hello",
                    "agent": self._me_body(agent),
                    "state": presence.state,
                    "since": presence.since,
                    "reason": presence.reason,
                    "resume": self._states.after_wrap_up(agent.id),
                    **self._hello_extra(agent),
                }
            )
            self._bus.publish(AgentConnected(agent.id, frozenset(agent.skills)))
            await self._read_loop(conn)
        finally:
            abort_if_stalled(
                conn.transport
            )  # the handler is done: nothing more waits on a peer that stopped reading
            if conn.abused:
                self._penalty[agent.id] = time.monotonic() + ABUSE_PENALTY_S
            if self._conns.get(agent.id) is conn:
                del self._conns[agent.id]
                if not conn.closed_reason:
                    self._states.disconnected(agent.id)
        return ws

    async def _read_loop(self, conn: Connection) -> None:
        ws = conn.ws
        while not ws.closed:
            if time.monotonic() - conn.checked_at > self._heartbeat_s:
                conn.checked_at = time.monotonic()
                # A session ended elsewhere (logout in another tab, agent disabled, idle timeout) ends this desk.
                if not await self._session_alive(conn):
                    self._states.logout(conn.agent.id, "logout")
                    await self.drop_agent(conn.agent.id, "logged_out")
                    return
            try:
                # A ping after one quiet heartbeat, unanswered through the next: the page is gone, even if TCP
                # has not noticed.
                msg = await asyncio.wait_for(ws.receive(), timeout=self._heartbeat_s)
            except TimeoutError:
                if conn.awaiting_pong:
                    await conn.close(CLOSE_TIMEOUT, b"heartbeat")
                    return
                conn.awaiting_pong = True
                await conn.send({"type": "ping"})
                continue
            conn.awaiting_pong = False
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return
            if msg.type != WSMsgType.TEXT:
                await conn.send({"type": "error", "code": "bad_request", "message": "send JSON text frames"})
                continue
            message = parse_message(msg.data)
            if message is None:
                await conn.send(
                    {"type": "error", "code": "bad_request", "message": "expected {type, ...} JSON"}
                )
                continue
            kind = message["type"]
            handler = self._handlers.get(kind)
            if handler is None:
                await conn.send(
                    {"type": "error", "code": "bad_request", "message": f"unknown type {kind[:40]!r}"}
                )
                continue
            if kind != "pong" and not conn.actions.take():
                await conn.refuse(kind)
                continue
            try:
                await handler(conn, message)
            except Exception:
                log.exception("handler for %s failed", kind)
                with contextlib.suppress(Exception):
                    await conn.send({"type": "error", "code": "internal", "message": f"{kind} failed"})

    async def _on_pong(self, conn: Connection, message: dict) -> None:
        return None

    async def _on_agent_state(self, conn: Connection, message: dict) -> None:
        state = message.get("state")
        reason = message.get("reason") or ""
        if not isinstance(state, str) or not isinstance(reason, str):
            await conn.send(
                {"type": "error", "code": "bad_request", "message": "state and reason are strings"}
            )
            return
        try:
            self._states.set(conn.agent.id, state, reason, by_agent=True)
        except StateError as e:
            await conn.send({"type": "error", "code": "bad_request", "message": str(e)})
