"""The softphone's WebSocket messages: `rtc.offer` (the agent's one persistent peer), the `call.*` actions and
`call.survey`, `callback.accept` / `callback.reject` and `order.call` / `order.skip` (preview dialing, DESIGN.md
§11), handed to the media room, the call center and its order offers. Errors come back as `error{code, message}`
on the socket."""

from __future__ import annotations

import logging

from ..acd.call_center import CallCenter, CallError
from ..media.room import MediaRoom
from ..store.call_orders import OrderRefused
from .ws_hub import Connection, Hub

log = logging.getLogger(__name__)
MAX_ID = 2**63 - 1
MAX_SDP = 32 * 1024


def install(hub: Hub, media: MediaRoom, calls: CallCenter) -> None:
    async def rtc_offer(conn: Connection, message: dict) -> None:
        sdp = message.get("sdp")
        if not isinstance(sdp, str) or not sdp.startswith("v=0") or len(sdp) > MAX_SDP:
            await conn.send(
                {"type": "error", "code": "bad_request", "message": "rtc.offer needs an SDP offer"}
            )
            return
        try:
            answer = await media.accept_offer(conn.agent.id, sdp)
        except ValueError as e:
            await conn.send({"type": "error", "code": "rtc_failed", "message": str(e)})
            return
        await conn.send({"type": "rtc.answer", "sdp": answer})

    def call_action(action, capped: bool = True):
        async def run(conn: Connection, message: dict) -> None:
            try:
                await action(conn.agent.id, message)
            except (CallError, OrderRefused) as e:
                await conn.send({"type": "error", "code": e.code, "message": e.message})
            except (KeyError, TypeError, ValueError) as e:
                await conn.send(
                    {"type": "error", "code": "bad_request", "message": f"bad {message['type']}: {e}"}
                )
            except Exception:
                log.exception("%s failed", message["type"])
                await conn.send({"type": "error", "code": "internal", "message": f"{message['type']} failed"})

        async def handler(conn: Connection, message: dict) -> None:
            # A hold or transfer waits for the far end (up to half a minute): the agent's socket keeps reading
            # meanwhile, so a hang-up or a pong is never stuck behind it.
            await hub.spawn_action(conn, message["type"], run(conn, message), capped=capped)

        return handler

    # Fields are checked for their JSON type, not converted: `"on": "false"` must not put a call on hold, nor a
    # number sent as a list be dialled as its text.
    def text(message: dict, key: str, limit: int = 200) -> str:
        if key not in message:
            raise KeyError(f"{key} is required")
        value = message[key]
        if not isinstance(value, str) or len(value) > limit:
            raise TypeError(f"{key} must be text of at most {limit} characters")
        return value

    def call_id(message: dict) -> str:
        return text(message, "call_id", 100)

    def flag(message: dict, key: str, default: bool) -> bool:
        value = message.get(key, default)
        if not isinstance(value, bool):
            raise TypeError(f"{key} must be true or false")
        return value

    def whole(message: dict, key: str) -> int | None:
        value = message.get(key)
        # At most SQLite's largest integer: ids are looked up in rows; a larger one makes SQLite raise.
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_ID
        ):
            raise TypeError(f"{key} must be a whole number")
        return value

    async def dial(agent_id: int, m: dict) -> None:
        # `call.dial{number}` only: a call order is dialled with `order.call`, which ties the call to the order
        # offered to this agent. A `call_order_id` from the page is ignored (extra fields are), so an agent cannot
        # tag a typed call with another agent's order.
        await calls.dial(agent_id, text(m, "number", 100))

    hub.on("rtc.offer", rtc_offer)
    hub.on("call.answer", call_action(lambda a, m: calls.answer(a, call_id(m))))
    # The ways out of a call are never refused for the actions still running (a hold waiting on a silent far end).
    hub.on("call.reject", call_action(lambda a, m: calls.reject(a, call_id(m)), capped=False))
    hub.on("call.hangup", call_action(lambda a, m: calls.hangup(a, call_id(m)), capped=False))
    hub.on("call.hold", call_action(lambda a, m: calls.hold(a, call_id(m), flag(m, "on", True))))
    hub.on("call.dtmf", call_action(lambda a, m: calls.dtmf(a, call_id(m), text(m, "digits", 32))))
    hub.on("call.transfer", call_action(lambda a, m: calls.transfer(a, call_id(m), text(m, "target", 200))))
    hub.on("call.dial", call_action(dial))
    hub.on("call.survey", call_action(lambda a, m: calls.survey(a, call_id(m))))

    def callback_id(message: dict) -> int:
        value = whole(message, "callback_id")
        if value is None:
            raise KeyError("callback_id is required")
        if calls.callbacks is None:
            raise CallError("not_found", "no callbacks on this desk")
        return value

    hub.on("callback.accept", call_action(lambda a, m: calls.accept_callback(a, callback_id(m))))
    hub.on("callback.reject", call_action(lambda a, m: calls.reject_callback(a, callback_id(m))))

    def order_id(message: dict) -> int:
        value = whole(message, "order_id")
        if value is None:
            raise KeyError("order_id is required")
        return value

    async def order_call(agent_id: int, m: dict) -> None:
        if calls.orders is None:
            raise CallError("not_found", "no call orders on this desk")
        await calls.orders.call(agent_id, order_id(m))

    async def order_skip(agent_id: int, m: dict) -> None:
        if calls.orders is None:
            raise CallError("not_found", "no call orders on this desk")
        reason = m.get("reason") or ""
        if not isinstance(reason, str):
            raise TypeError("reason must be text")
        await calls.orders.skip(agent_id, order_id(m), reason)

    hub.on("order.call", call_action(order_call))
    hub.on("order.skip", call_action(order_skip))
