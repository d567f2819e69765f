"""The softphone page's `rtc.ice_servers` request on `/ws`: fresh ICE servers (TURN credentials of the agent's own,
time-limited) for an offer made without a new `hello`, e.g. after the page's peer failed. Kept apart from
calls_ws.py so the TURN credentials have one small home next to the page's other WebSocket messages."""

from __future__ import annotations

from ..media.rtc_factory import RtcSettings
from .ws_hub import Connection, Hub


def install(hub: Hub, rtc: RtcSettings) -> None:
    async def ice_servers(conn: Connection, message: dict) -> None:
        # /ws is for the `agent` role only (pages.websocket), the role TURN credentials are for.
        await conn.send({"type": "rtc.ice_servers", **rtc.browser_rtc(conn.agent.id)})

    hub.on("rtc.ice_servers", ice_servers)
