"""The preflight page (`/preflight`, open before login) and the helpdesk's report page (`/helpdesk`). Both are
shells: the behaviour lives in static/js/preflight.js and static/js/helpdesk.js, the data in the preflight API."""

from __future__ import annotations

from aiohttp import web

from . import keys
from .auth import public
from .pages import page_lang, render, render_role_page, role_page, topbar_context

routes = web.RouteTableDef()
HELPDESK_ROLE = "helpdesk"


helpdesk_page = role_page(HELPDESK_ROLE, "helpdesk.html")


@routes.get("/preflight")
@public
async def preflight(request: web.Request) -> web.Response:
    config = request.app[keys.CONFIG]
    return render(
        request,
        "preflight.html",
        lang=page_lang(request),
        bridge_port=config.eid.bridge_port,
        topbar=topbar_context(request, "preflight"),
    )


@routes.get("/helpdesk")
@helpdesk_page
async def helpdesk(request: web.Request) -> web.Response:
    return render_role_page(request, "helpdesk.html")
