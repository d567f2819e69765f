"""HTML pages (jinja2 shells; the page's behaviour lives in static ES modules) and the `/ws` entry."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from ..store.agents import LANGS
from . import keys
from .auth import AGENT, SESSION, Handler, public
from .errors import ApiError

routes = web.RouteTableDef()
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE_ENV = web.AppKey("templates", jinja2.Environment)


def make_template_env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)


def render(request: web.Request, name: str, **context) -> web.Response:
    config = request.app.get(keys.CONFIG)
    context.setdefault("timezone", config.timezone if config is not None else "")  # <html data-timezone>
    html = request.app[TEMPLATE_ENV].get_template(name).render(**context)
    return web.Response(text=html, content_type="text/html")


def page_lang(request: web.Request) -> str:
    agent = request.get(AGENT)
    if agent:
        return agent.lang
    accept = request.headers.get("Accept-Language", "")
    for part in accept.split(","):
        code = part.split(";")[0].strip()[:2].lower()
        if code in LANGS:
            return code
    return "nl"


@dataclass(frozen=True)
class TopbarLink:
    key: str  # i18n key of the label
    href: str
    testid: str
    role: str = ""  # the role that opens the page ("" for any logged-in agent or none)
    current: bool = False


# The pages of the top bar, in its order: (page, label key, href, data-testid, role needed).
TOPBAR_PAGES = (
    ("desk", "nav.desk", "/", "desk-link", "agent"),
    ("preflight", "nav.preflight", "/preflight", "preflight-link", ""),
    ("helpdesk", "nav.helpdesk", "/helpdesk", "helpdesk-link", "helpdesk"),
    ("complaints", "nav.complaints", "/complaints", "complaints-link", "supervisor"),
    ("supervisor", "nav.supervisor", "/supervisor", "supervisor-link", "supervisor"),
    ("reports", "nav.reports", "/supervisor/reports", "reports-link", "supervisor"),
    ("orders", "nav.orders", "/supervisor/orders", "orders-link", "supervisor"),
)


def topbar_context(request: web.Request, current: str) -> dict[str, Any]:
    """What _topbar.html needs: the agent's name (empty before login: no logout then) and the links their roles
    open, `current` marked. The desk opens the other pages in a new tab, so a call on the desk goes on."""
    agent = request.get(AGENT)
    if agent is None:
        return {"agent_name": "", "new_tab": False, "links": [TopbarLink("nav.login", "/", "login-link")]}
    links = [
        TopbarLink(key, href, testid, role, page == current)
        for page, key, href, testid, role in TOPBAR_PAGES
        if not role or role in agent.roles
    ]
    return {"agent_name": agent.name, "new_tab": current == "desk", "links": links}


def render_role_page(
    request: web.Request, template: str, *, allowed: bool = True, **context: Any
) -> web.Response:
    """A role page (see `role_page`): `template` in the agent's language with `allowed`, `context` and the top bar,
    the page named after its template ("reports.html" → "reports") marked current."""
    return render(
        request,
        template,
        lang=page_lang(request),
        allowed=allowed,
        topbar=topbar_context(request, template.removesuffix(".html")),
        **context,
    )


def role_page(role: str, template: str) -> Callable[[Handler], Handler]:
    """Like `require(role)`, answering as a page: without a session the login page, without the role the page's
    own short refusal (`allowed=False`, status 403) — a JSON error would be a blank screen to the agent."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            agent = request.get(AGENT)
            if agent is None:
                raise web.HTTPFound("/")
            if role not in agent.roles:
                response = render_role_page(request, template, allowed=False)
                response.set_status(403)
                return response
            return await handler(request)

        checked.required_roles = (role,)  # type: ignore[attr-defined]
        return checked

    return wrap


@routes.get("/")
@public
async def desk(request: web.Request) -> web.Response:
    config = request.app[keys.CONFIG]
    if request.get(AGENT) is None:
        return render(
            request,
            "login.html",
            lang=page_lang(request),
            bridge_port=config.eid.bridge_port,
            tls_login=bool(config.eid.client_cert_header),
        )
    return render(
        request,
        "desk.html",
        lang=page_lang(request),
        outcomes=config.wrapup.outcomes,
        topbar=topbar_context(request, "desk"),
    )


@routes.get("/ws")
@public  # checks the session itself: a WebSocket cannot carry a JSON 401
async def websocket(request: web.Request) -> web.StreamResponse:
    agent = request.get(AGENT)
    if agent is None:
        raise ApiError("unauthorized", "log in first")
    # SameSite=Strict still sends the cookie from a same-site sibling application: check who opens the socket.
    origin = request.headers.get("Origin")
    if origin and origin != request.app[keys.CONFIG].origin:
        raise ApiError("forbidden", "cross-origin WebSocket refused")
    if request.query.get("view") == "wall":
        from . import wall_ws  # imported here: wall_ws builds on this module's page helpers

        return await wall_ws.handle(request, agent, request[SESSION].id)
    if "agent" not in agent.roles:
        raise ApiError("forbidden", "the desk (calls, states) is for agents")
    return await request.app[keys.HUB].handle(request, agent, request[SESSION].id)
