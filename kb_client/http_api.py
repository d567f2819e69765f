"""The KB JSON API (DESIGN.md §6 "KB API") served over any KnowledgeBase.

The desk mounts it with its session/role check as `auth`; a central KB mounts it with `bearer_token_auth`, and
other desks reach it through HttpKnowledgeBase. Errors are `{error: {code, message}}` with the contract's codes.

    GET  {prefix}/search?q=&tab=&skill=&limit=   -> {counts, results: [{id, type, title, snippet, q_index?}]}
    GET  {prefix}/items/{id}                     -> the item (model.item_to_json)
    POST {prefix}/items/{id}/used  [{skill?, agent_id?}]  -> 204
    POST {prefix}/feedback {item_id, text}       -> {id}
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from .base import DEFAULT_LIMIT, KnowledgeBase
from .errors import KbError
from .model import item_to_json, page_to_json

# Called before every KB request: raises web.HTTPUnauthorized / web.HTTPForbidden to refuse, and returns the
# caller's agent id when it knows one (recorded with uses and feedback), else None.
Authorizer = Callable[[web.Request], Awaitable[int | None] | int | None]
KbGetter = Callable[[web.Request], KnowledgeBase]

MAX_QUERY_CHARS = 500
MAX_BODY_BYTES = 16 * 1024
BODY_TIMEOUT_S = 30.0


def bearer_token_auth(tokens: Iterable[str]) -> Authorizer:
    """An Authorizer for a central KB: the request must carry `Authorization: Bearer <one of tokens>`."""
    allowed = [t.encode() for t in tokens if t]

    def check(request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented:
            raise web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Bearer realm="kb"'})
        # compare_digest against every token, without stopping early, so timing tells nothing.
        matches = [hmac.compare_digest(presented.strip().encode(), token) for token in allowed]
        if not any(matches):
            raise web.HTTPUnauthorized(
                headers={"WWW-Authenticate": 'Bearer realm="kb", error="invalid_token"'}
            )

    return check


def add_kb_routes(
    router: web.UrlDispatcher | web.Application,
    get_kb: KbGetter,
    *,
    auth: Authorizer,
    prefix: str = "/api/kb",
) -> None:
    """Add the KB API to `router` (or an application's router). `get_kb(request)` returns the backend to serve."""
    target = router.router if isinstance(router, web.Application) else router
    handlers = _Handlers(get_kb, auth)
    target.add_get(f"{prefix}/search", handlers.search)
    target.add_get(f"{prefix}/items/{{item_id}}", handlers.item)
    target.add_post(f"{prefix}/items/{{item_id}}/used", handlers.used)
    target.add_post(f"{prefix}/feedback", handlers.feedback)


def make_kb_routes(kb: KnowledgeBase, *, auth: Authorizer, prefix: str = "/api/kb") -> web.RouteTableDef:
    """The KB API over one fixed backend, as a RouteTableDef for `app.add_routes`."""
    routes = web.RouteTableDef()
    handlers = _Handlers(lambda _request: kb, auth)
    routes.get(f"{prefix}/search")(handlers.search)
    routes.get(f"{prefix}/items/{{item_id}}")(handlers.item)
    routes.post(f"{prefix}/items/{{item_id}}/used")(handlers.used)
    routes.post(f"{prefix}/feedback")(handlers.feedback)
    return routes


def error_response(
    code: str, message: str, status: int, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


class _Handlers:
    def __init__(self, get_kb: KbGetter, auth: Authorizer) -> None:
        self._get_kb = get_kb
        self._auth = auth

    async def search(self, request: web.Request) -> web.StreamResponse:
        return await self._guarded(request, self._search)

    async def item(self, request: web.Request) -> web.StreamResponse:
        return await self._guarded(request, self._item)

    async def used(self, request: web.Request) -> web.StreamResponse:
        return await self._guarded(request, self._used)

    async def feedback(self, request: web.Request) -> web.StreamResponse:
        return await self._guarded(request, self._feedback)

    async def _guarded(
        self,
        request: web.Request,
        handler: Callable[[web.Request, int | None], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        try:
            outcome = self._auth(request)
            agent_id = await outcome if inspect.isawaitable(outcome) else outcome
        except web.HTTPException as exc:
            if exc.status in (401, 403):
                code = "unauthorized" if exc.status == 401 else "forbidden"
                message = (
                    "authentication required"
                    if exc.status == 401
                    else "this role may not use the knowledge base"
                )
                return error_response(code, message, exc.status, headers=_auth_headers(exc))
            raise
        try:
            return await handler(request, agent_id)
        except KbError as exc:
            return error_response(exc.code, exc.message, exc.http_status)

    async def _search(self, request: web.Request, _agent_id: int | None) -> web.StreamResponse:
        query = request.query
        q = query.get("q", "")
        if len(q) > MAX_QUERY_CHARS:
            raise KbError("bad_request", f"q is longer than {MAX_QUERY_CHARS} characters")
        try:
            limit = int(query.get("limit") or DEFAULT_LIMIT)
        except ValueError:
            raise KbError("bad_request", "limit must be an integer") from None
        page = await self._get_kb(request).search(
            q, tab=query.get("tab") or "articles", skill=query.get("skill") or None, limit=limit
        )
        return web.json_response(page_to_json(page))

    async def _item(self, request: web.Request, _agent_id: int | None) -> web.StreamResponse:
        item_id = request.match_info["item_id"]
        item = await self._get_kb(request).get(item_id)
        if item is None:
            raise KbError("not_found", f"no knowledge base item {item_id!r}")
        return web.json_response(item_to_json(item))

    async def _used(self, request: web.Request, agent_id: int | None) -> web.StreamResponse:
        body = await _json_body(request, required=False)
        skill = body.get("skill")
        if skill is not None and not isinstance(skill, str):
            raise KbError("bad_request", "skill must be text")
        await self._get_kb(request).record_use(
            request.match_info["item_id"], agent_id=_agent(agent_id, body), skill=skill or None
        )
        return web.Response(status=204)

    async def _feedback(self, request: web.Request, agent_id: int | None) -> web.StreamResponse:
        body = await _json_body(request, required=True)
        item_id, text = body.get("item_id"), body.get("text")
        if not isinstance(item_id, str) or not item_id:
            raise KbError("bad_request", "item_id must be a non-empty string")
        if not isinstance(text, str):
            raise KbError("bad_request", "text must be a string")
        feedback_id = await self._get_kb(request).feedback(item_id, text, agent_id=_agent(agent_id, body))
        return web.json_response({"id": feedback_id})


def _agent(from_auth: int | None, body: dict[str, Any]) -> int | None:
    # The session's agent wins; a desk calling a central KB with a token has no session and passes its own.
    if from_auth is not None:
        return from_auth
    agent_id = body.get("agent_id")
    return agent_id if isinstance(agent_id, int) and not isinstance(agent_id, bool) else None


async def _json_body(request: web.Request, required: bool) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise KbError("too_large", f"request body is larger than {MAX_BODY_BYTES} bytes")
    # Read until the end: `read(n)` returns only what has arrived, and a body from a WAN comes in segments.
    raw = b""
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            while chunk := await request.content.read(MAX_BODY_BYTES + 1 - len(raw)):
                raw += chunk
                if len(raw) > MAX_BODY_BYTES:
                    raise KbError("too_large", f"request body is larger than {MAX_BODY_BYTES} bytes")
    except TimeoutError:
        raise KbError("bad_request", f"the body did not arrive within {BODY_TIMEOUT_S:g} s") from None
    if not raw.strip():
        if required:
            raise KbError("bad_request", "a JSON body is required")
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise KbError("bad_request", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise KbError("bad_request", "the body must be a JSON object")
    return body


def _auth_headers(exc: web.HTTPException) -> dict[str, str] | None:
    challenge = exc.headers.get("WWW-Authenticate")
    return {"WWW-Authenticate": challenge} if challenge else None
