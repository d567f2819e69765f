"""The knowledge base in the desk: kb_client's API mounted at /api/kb over the backend `[kb]` names.

Two ways in, on the same routes: an agent's session (role agent), or `Authorization: Bearer <token>` with a token
from the environment variable `[kb] api_tokens_env` (comma-separated), so this desk can be the central KB other
desks' HttpKnowledgeBase asks. Feedback is stored by the backend and, when `[mail] editors` is set, also mailed to
the editors through the outbox (set editors on the desk that stores the feedback, i.e. the central KB).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable

from aiohttp import web

from kb_client import (
    HttpKnowledgeBase,
    Item,
    KnowledgeBase,
    SearchPage,
    SqliteKnowledgeBase,
    add_kb_routes,
    bearer_token_auth,
)

from ..config import Config, ConfigError
from ..mail import Outbox
from ..mail.compose import feedback_mail
from ..store import agents
from . import keys
from .auth import AGENT, Handler, require
from .outbox_setup import OUTBOX
from .redact import mask_nrn

log = logging.getLogger(__name__)

KB = web.AppKey("kb", KnowledgeBase)
KB_ROLE = "agent"
PREFIX = "/api/kb"


def make_backend(config: Config) -> KnowledgeBase:
    kb = config.kb
    if kb.backend == "http":
        token = os.environ.get(kb.token_env, "") if kb.token_env else ""
        if not token:
            raise ConfigError(f"[kb] token_env: environment variable {kb.token_env or '(unset)'} is empty")
        return HttpKnowledgeBase(kb.url, token)
    return SqliteKnowledgeBase(config.path(kb.path))


def api_tokens(config: Config) -> list[str]:
    name = config.kb.api_tokens_env
    raw = os.environ.get(name, "") if name else ""
    return [t.strip() for t in raw.split(",") if t.strip()]


def make_auth(tokens: list[str]) -> Callable[[web.Request], int | None]:
    """Bearer token (a desk calling this central KB) OR an agent's session; the session's agent id is returned."""
    bearer = bearer_token_auth(tokens) if tokens else None

    def check(request: web.Request) -> int | None:
        if request.headers.get("Authorization", "").lower().startswith("bearer "):
            if bearer is None:
                raise web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Bearer realm="kb"'})
            bearer(request)
            return None
        agent = request.get(AGENT)
        if agent is None:
            raise web.HTTPUnauthorized()
        if KB_ROLE not in agent.roles:
            raise web.HTTPForbidden()
        return agent.id

    return check


class MailingKnowledgeBase:
    """A KnowledgeBase that also mails each stored feedback to the editors (one per request: it knows who asked)."""

    def __init__(
        self, inner: KnowledgeBase, outbox: Outbox, editors: tuple[str, ...], agent_name: str
    ) -> None:
        self._inner = inner
        self._outbox = outbox
        self._editors = editors
        self._agent_name = agent_name

    async def search(
        self, q: str, tab: str = "articles", skill: str | None = None, limit: int = 20
    ) -> SearchPage:
        return await self._inner.search(q, tab=tab, skill=skill, limit=limit)

    async def get(self, item_id: str) -> Item | None:
        return await self._inner.get(item_id)

    async def record_use(self, item_id: str, agent_id: int | None = None, skill: str | None = None) -> None:
        await self._inner.record_use(item_id, agent_id=agent_id, skill=skill)

    async def feedback(self, item_id: str, text: str, agent_id: int | None = None) -> int:
        # Masked before the backend sees it: kb_feedback and the editors' mail must never hold a national
        # number, whoever asks (an agent's session, or another desk with a token), as for wrap-ups.
        text = mask_nrn(text)[0]
        feedback_id = await self._inner.feedback(item_id, text, agent_id=agent_id)
        if self._editors:
            item = await self._inner.get(item_id)
            title = item.title if item else item_id
            await self._outbox.enqueue(feedback_mail(self._editors, item_id, title, text, self._agent_name))
        return feedback_id

    async def close(self) -> None:  # the shared backend is closed by the app, not per request
        return None


class _DeclaringRouter:
    """Adds kb_client's handlers to the desk's router, marked with the role they need (the desk's tests insist
    that every route declares its access)."""

    def __init__(self, router: web.UrlDispatcher, roles: tuple[str, ...]) -> None:
        self._router = router
        self._roles = roles

    def _mark(self, handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def declared(request: web.Request) -> web.StreamResponse:
            return await handler(request)

        declared.required_roles = self._roles  # type: ignore[attr-defined]
        return declared

    def add_get(self, path: str, handler: Handler) -> None:
        self._router.add_get(path, self._mark(handler))

    def add_post(self, path: str, handler: Handler) -> None:
        self._router.add_post(path, self._mark(handler))


def setup(app: web.Application) -> KnowledgeBase:
    """Open the backend, mount the KB API and the page's context route; the backend closes with the app."""
    config = app[keys.CONFIG]
    kb = make_backend(config)
    app[KB] = kb
    editors = tuple(config.mail.editors)

    def get_kb(request: web.Request) -> KnowledgeBase:
        agent = request.get(AGENT)
        return MailingKnowledgeBase(kb, request.app[OUTBOX], editors, agent.name if agent else "")

    add_kb_routes(
        _DeclaringRouter(app.router, (KB_ROLE,)),  # type: ignore[arg-type]
        get_kb,
        auth=make_auth(api_tokens(config)),
        prefix=PREFIX,
    )
    app.router.add_get(f"{PREFIX}/context", context)

    async def close(_app: web.Application) -> None:
        await kb.close()

    app.on_cleanup.append(close)
    return kb


@require(KB_ROLE)
async def context(request: web.Request) -> web.Response:
    """What the scripts panel needs about its agent: the skill whose "most used" list it shows."""
    agent = request[AGENT]
    assert agent is not None
    fresh = await request.app[keys.STORE].read(agents.get, agent.id) or agent
    skills = list(fresh.skills)
    return web.json_response({"skill": skills[0] if skills else "", "skills": skills})
