"""The preflight page (`/preflight`, open before login) and the helpdesk's report page (`/helpdesk`). Both are
shells: the behaviour lives in static/js/preflight.js and static/js/helpdesk.js, the data in the preflight API."""

from __future__ import annotations

import functools

from aiohttp import web

from . import keys
from .auth import AGENT, Handler, public
from .pages import _page_lang, _render

routes = web.RouteTableDef()
HELPDESK_ROLE = "helpdesk"


def helpdesk_page(handler: Handler) -> Handler:
    """Like `require("helpdesk")`, but answering as a page: without a session the login page,
    without the role a short page that says so (a JSON error would be a blank screen to the agent)."""

    @functools.wraps(handler)
    async def checked(request: web.Request) -> web.StreamResponse:
        agent = request.get(AGENT)
        if agent is None:
            raise web.HTTPFound("/")
        if HELPDESK_ROLE not in agent.roles:
            response = _render(request, "helpdesk.html", lang=_page_lang(request), allowed=False)
            response.set_status(403)
            return response
        return await handler(request)

    checked.required_roles = (HELPDESK_ROLE,)  # type: ignore[attr-defined]
    return checked


@routes.get("/preflight")
@public
async def preflight(request: web.Request) -> web.Response:
    config = request.app[keys.CONFIG]
    agent = request.get(AGENT)
    return _render(
        request,
        "preflight.html",
        lang=_page_lang(request),
        bridge_port=config.eid.bridge_port,
        agent_name=agent.name if agent else "",
        helpdesk=bool(agent and HELPDESK_ROLE in agent.roles),
    )


@routes.get("/helpdesk")
@helpdesk_page
async def helpdesk(request: web.Request) -> web.Response:
    return _render(request, "helpdesk.html", lang=_page_lang(request), allowed=True)
