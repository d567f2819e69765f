"""The supervisor's listen-in messages on its desk socket (DESIGN.md §10): `supervisor.listen{agent_id}`,
`supervisor.whisper{on}`, `supervisor.stop`, and the end of a session when the call ends or the supervisor leaves.

The audio is media/listen.py's; this module checks who may do what, finds the agent's call, audit-logs each start
(listen and whisper on) and tells the supervisor's page. A listening supervisor keeps its state; the call center
counts it busy (`CallCenter.also_busy`), so routing offers it nothing and it cannot dial meanwhile.
"""

from __future__ import annotations

import logging

from ..acd.call_center import CallCenter
from ..acd.events import AgentStateChanged, CallEnded, CallStateChanged, EventBus
from ..media.listen import Listening
from ..media.room import MediaRoom
from ..store import audit
from ..store.store import Store
from .ws_hub import Connection, Hub

log = logging.getLogger(__name__)

LISTENABLE = ("connected", "held")  # a held call is still the agent's call: the supervisor hears the agent


class Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def install(
    hub: Hub, media: MediaRoom, calls: CallCenter, listening: Listening, store: Store, bus: EventBus
) -> None:
    def supervisor(conn: Connection) -> int:
        if "supervisor" not in conn.agent.roles:
            raise Refused("forbidden", "listen-in is for supervisors")
        return conn.agent.id

    def connected_call(agent_id: int) -> tuple[str, str]:
        """The agent's own answered call: its id and the leg's codec."""
        for body in calls.calls_for(agent_id):
            session = calls.session(body["call_id"])
            if (
                session is not None
                and session.agent_id == agent_id
                and body["state"] in LISTENABLE
                and session.leg.media is not None
            ):
                return session.id, session.leg.media.codec
        raise Refused("not_found", "this agent is not on a connected call")

    async def stop(supervisor_id: int) -> None:
        session = await listening.stop(supervisor_id)
        if session is not None:
            hub.tell(supervisor_id, {"type": "supervisor.stopped", "agent_id": session.agent_id})

    async def listen(conn: Connection, message: dict) -> None:
        me = supervisor(conn)
        agent_id = message.get("agent_id")
        if not isinstance(agent_id, int) or isinstance(agent_id, bool):
            raise Refused("bad_request", "supervisor.listen needs an agent_id (a number)")
        if calls.calls_for(me):
            raise Refused("bad_request", "finish your own call first")
        call_id, codec = connected_call(agent_id)
        current = listening.of(me)
        if current is not None and (current.agent_id, current.call_id) == (agent_id, call_id):
            await conn.send({"type": "supervisor.listening", "agent_id": agent_id, "call_id": call_id})
            return
        other = listening.listened_by(agent_id)
        if other is not None and other.supervisor_id != me:
            raise Refused("bad_request", "another supervisor is listening to this agent")
        if not media.has_audio(me):
            raise Refused("no_audio", "your audio is not connected yet")
        if current is not None:
            await stop(me)  # one session per supervisor: listening to another agent ends the first
        try:
            listening.start(me, agent_id, call_id, codec)
        except LookupError:
            raise Refused("not_found", "this agent's audio is not connected") from None
        # Busy from now on: an offer it holds would keep its callback or order from everyone while it listens.
        calls.withdraw_offers(me, "listening")
        store.post(audit.log, "supervisor.listen", agent_id=me, target_agent_id=agent_id, call_id=call_id)
        await conn.send({"type": "supervisor.listening", "agent_id": agent_id, "call_id": call_id})

    async def whisper(conn: Connection, message: dict) -> None:
        me = supervisor(conn)
        on = message.get("on")
        if not isinstance(on, bool):
            raise Refused("bad_request", "supervisor.whisper needs on: true or false")
        session = listening.of(me)
        if session is None:
            raise Refused("not_found", "you are not listening to anyone")
        if on and not session.whispering:
            store.post(
                audit.log,
                "supervisor.whisper",
                agent_id=me,
                target_agent_id=session.agent_id,
                call_id=session.call_id,
            )
        session.whisper(on)
        await conn.send(
            {
                "type": "supervisor.whispering",
                "agent_id": session.agent_id,
                "call_id": session.call_id,
                "on": on,
            }
        )

    async def stop_message(conn: Connection, message: dict) -> None:
        me = supervisor(conn)
        session = await listening.stop(me)
        if session is None:
            raise Refused("not_found", "you are not listening to anyone")
        await conn.send({"type": "supervisor.stopped", "agent_id": session.agent_id})

    def guarded(handler):
        async def run(conn: Connection, message: dict) -> None:
            try:
                await handler(conn, message)
            except Refused as e:
                await conn.send({"type": "error", "code": e.code, "message": e.message})

        return run

    def call_over(call_id: str) -> None:
        for session in listening.on_call(call_id):
            hub.tasks.spawn(stop(session.supervisor_id))

    def state_changed(e: AgentStateChanged) -> None:
        if e.state == "offline" and listening.of(e.agent_id) is not None:
            hub.tasks.spawn(stop(e.agent_id))  # the supervisor logged out or its page is gone for good

    hub.on("supervisor.listen", guarded(listen))
    hub.on("supervisor.whisper", guarded(whisper))
    hub.on("supervisor.stop", guarded(stop_message))
    bus.subscribe(CallEnded, lambda e: call_over(e.call_id))
    # The agent leaves a call that goes on without them (a survey): `ended` for them, the end of listening.
    bus.subscribe(CallStateChanged, lambda e: e.state == "ended" and call_over(e.call_id))
    bus.subscribe(AgentStateChanged, state_changed)
