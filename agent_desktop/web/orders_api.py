"""The call-orders API (DESIGN.md §11): supervisors import and follow call lists and keep the do-not-call register;
agents record their attempts' outcomes and a tracing case's contacts.

    GET    /api/call-lists                                   (supervisor) -> [{name, kind, …, orders, done, …}]
    GET    /api/call-lists/{name}/orders[?state=&limit=&offset=]   (supervisor, audit-logged) -> [order]
    GET    /api/call-lists/{name}/orders?format=csv          (supervisor, audit-logged) -> text/csv, no national numbers
    POST   /api/call-lists/{name}/import[?kind=&skills=&max_attempts=&retry_after_min=&open=…]  CSV body
                                                             (supervisor) -> {imported, updated, created, masked,
                                                                              encoding, list}
    POST   /api/call-lists/{name}/reopen[?outcome=]          (supervisor, audit-logged) -> {reopened}
    GET    /api/do-not-call                                  (supervisor, audit-logged) -> [{number, added, …}]
    DELETE /api/do-not-call/{number}[?reason=]               (supervisor, audit-logged) -> {removed}
    GET    /api/orders/{id}                    (supervisor, or the agent it was offered to; audit-logged)
    POST   /api/orders/{id}/outcome {outcome, call_back_at?}  (agent it was offered to) -> order
    POST   /api/orders/{id}/contacts {name, number, last_contact?}  (agent, tracing, after reached) -> {id}

An import is validated whole before anything is written (400 `bad_request` with `details.errors: [{line,
reason}]`), then written in transactions of 1 000 rows. The offers themselves (`order.offered/call/skip`) go over
the WebSocket, through the same `OrderDesk`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from aiohttp import web

from ..acd.orders import OrderDesk, import_rows, list_settings
from ..acd.phone_numbers import BadNumber, e164
from ..store import audit, call_orders
from ..store.call_orders import OrderRefused
from ..store.clock import utcnow
from . import keys
from .auth import AGENT, require
from .errors import ApiError
from .json_body import Pace, read_body, read_json
from .orders_csv import export_csv, parse_orders_csv
from .redact import mask_nrn

SUPERVISOR = "supervisor"
AGENT_ROLE = "agent"
ORDER_DESK = web.AppKey("order_desk", OrderDesk)
MAX_IMPORT_BYTES = 32 * 1024 * 1024  # 100 000 rows of a generous file
# A 32 MB file over a 1 Mbit/s home uplink takes ~4.5 minutes: the whole upload may take 10. A sender that brings
# less than 4 KiB in 15 s (a stalled connection, or a client holding the handler open) is cut off early.
IMPORT_TIMEOUT_S = 600.0
IMPORT_PACE = Pace(min_bytes=4096, window_s=15.0)
MAX_ERRORS_SHOWN = 1000
MAX_PAGE = 10_000
MAX_NAME = 200
MAX_REASON = 200


def setup(app: web.Application) -> None:
    if ORDER_DESK not in app:  # the serving app makes it first: its /ws offers share it
        app[ORDER_DESK] = OrderDesk(app[keys.STORE], timezone=app[keys.CONFIG].timezone)
    app.router.add_get("/api/call-lists", list_lists)
    app.router.add_get("/api/call-lists/{name}/orders", list_orders)
    app.router.add_post("/api/call-lists/{name}/import", import_list)
    app.router.add_post("/api/call-lists/{name}/reopen", reopen_list)
    app.router.add_get("/api/do-not-call", list_do_not_call)
    app.router.add_delete("/api/do-not-call/{number}", remove_do_not_call)
    app.router.add_get("/api/orders/{order_id}", get_order)
    app.router.add_post("/api/orders/{order_id}/outcome", post_outcome)
    app.router.add_post("/api/orders/{order_id}/contacts", post_contact)


def _agent_id(request: web.Request) -> int:
    agent = request[AGENT]
    assert agent is not None
    return agent.id


def _audit(request: web.Request, action: str, **detail: Any) -> None:
    request.app[keys.STORE].post(
        audit.log, action, agent_id=_agent_id(request), remote=request.remote or "", **detail
    )


def _refused(e: OrderRefused) -> ApiError:
    return ApiError(e.code, e.message)


# -- lists (supervisor) ---------------------------------------------------------------------------------------


@require(SUPERVISOR)
async def list_lists(request: web.Request) -> web.Response:
    # A scan of every order (100 000 and more): off the loop.
    return web.json_response(await request.app[keys.STORE].read_big(call_orders.summaries))


async def _existing_list(request: web.Request) -> call_orders.CallList:
    lst = await request.app[keys.STORE].read(call_orders.get_list, request.match_info["name"])
    if lst is None:
        raise ApiError("not_found", "no such call list")
    return lst


def _int_query(request: web.Request, key: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(key)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError("bad_request", f"{key} must be a whole number from {low} to {high}", {"field": key})
    return int(raw)


@require(SUPERVISOR)
async def list_orders(request: web.Request) -> web.Response:
    lst = await _existing_list(request)
    store = request.app[keys.STORE]
    if request.query.get("format") == "csv":
        rows = await store.read_big(call_orders.export_rows, lst.name)
        data = await asyncio.to_thread(export_csv, rows)
        _audit(request, "call_list_export", list=lst.name, rows=len(rows))
        return web.Response(
            body=data,
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{lst.name}.csv"'},
        )
    state = request.query.get("state") or None
    if state is not None and state not in call_orders.STATES:
        raise ApiError(
            "bad_request", f"state must be one of {', '.join(call_orders.STATES)}", {"field": "state"}
        )
    limit = _int_query(request, "limit", 1000, 1, MAX_PAGE)
    offset = _int_query(request, "offset", 0, 0, 10**9)
    rows = await store.read_big(call_orders.orders_of, lst.name, state, limit, offset)
    # A page of names, numbers, notes and health fields: a read of citizens' data like the CSV export.
    _audit(request, "call_list_read", list=lst.name, state=state or "any", offset=offset, rows=len(rows))
    return web.json_response(rows)


@require(SUPERVISOR)
async def reopen_list(request: web.Request) -> web.Response:
    """The list's failed orders (those whose last outcome is `outcome`, when given: e.g. `network_error` after a
    trunk outage) get another round; a re-import never reopens them."""
    lst = await _existing_list(request)
    outcome = request.query.get("outcome") or None
    allowed = (*call_orders.OUTCOMES, call_orders.NETWORK_ERROR)
    if outcome is not None and outcome not in allowed:
        raise ApiError("bad_request", f"outcome must be one of {', '.join(allowed)}", {"field": "outcome"})
    reopened = await request.app[keys.STORE].write(
        call_orders.reopen_failed, lst.name, outcome, _agent_id(request), utcnow()
    )
    _audit(request, "call_list_reopen", list=lst.name, outcome=outcome or "any", reopened=reopened)
    return web.json_response({"reopened": reopened})


@require(SUPERVISOR)
async def import_list(request: web.Request) -> web.Response:
    query = request.query
    try:
        settings = list_settings(
            request.match_info["name"],
            kind=query.get("kind") or "priority",
            skills=(query.get("skills") or "").split(","),
            max_attempts=_int_query(request, "max_attempts", 3, 1, 10**6),
            retry_after_min=_int_query(request, "retry_after_min", 60, 0, 10**9),
            open_=query.getall("open", []),
        )
    except ValueError as e:
        raise ApiError("bad_request", str(e)) from None
    data = await read_body(request, MAX_IMPORT_BYTES, IMPORT_TIMEOUT_S, pace=IMPORT_PACE)
    parsed = await asyncio.to_thread(parse_orders_csv, data, centre_zone(request))
    if parsed.errors:
        errors = [
            {"line": e.line, "reason": e.reason, "problems": [p.to_json() for p in e.problems]}
            for e in parsed.errors[:MAX_ERRORS_SHOWN]
        ]
        first = parsed.errors[0]
        raise ApiError(
            "bad_request",
            f"{len(parsed.errors)} bad row(s), nothing imported; line {first.line}: {first.reason}",
            {"errors": errors, "bad_rows": len(parsed.errors)},
        )
    store = request.app[keys.STORE]
    existed = await store.read(call_orders.get_list, settings.name) is not None
    lst, imported, updated = await import_rows(store, settings, parsed.rows, utcnow())
    _audit(request, "call_list_import", list=lst.name, imported=imported, updated=updated)
    return web.json_response(
        {
            "imported": imported,
            "updated": updated,
            "created": not existed,
            "masked": parsed.masked,
            "encoding": parsed.encoding,
            "list": lst.to_json(),
        }
    )


# -- do-not-call (supervisor) ---------------------------------------------------------------------------------


@require(SUPERVISOR)
async def list_do_not_call(request: web.Request) -> web.Response:
    rows = await request.app[keys.STORE].read_big(call_orders.do_not_call_list)
    _audit(request, "do_not_call_list", rows=len(rows))
    return web.json_response(rows)


@require(SUPERVISOR)
async def remove_do_not_call(request: web.Request) -> web.Response:
    try:
        number = e164(unquote(request.match_info["number"]))
    except BadNumber as e:
        raise ApiError("bad_request", str(e)) from None
    reason = mask_nrn((request.query.get("reason") or "").strip()[:MAX_REASON])[0]
    removed = await request.app[keys.STORE].write(call_orders.remove_do_not_call, number)
    if not removed:
        raise ApiError("not_found", "that number is not in the do-not-call register")
    _audit(request, "do_not_call_removed", number=number, reason=reason)
    return web.json_response({"removed": number})


# -- orders ---------------------------------------------------------------------------------------------------


def _order_id(request: web.Request) -> int:
    raw = request.match_info["order_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise ApiError("not_found", "no such order")
    return int(raw)


@require(AGENT_ROLE, SUPERVISOR)
async def get_order(request: web.Request) -> web.Response:
    view = await request.app[keys.STORE].read(call_orders.order_view, _order_id(request))
    agent = request[AGENT]
    assert agent is not None
    if view is None or (SUPERVISOR not in agent.roles and view["offered_to"] != agent.id):
        raise ApiError("not_found", "no such order")
    _audit(request, "order_read", order_id=view["id"], list=view["list"], contacts=len(view["contacts"]))
    return web.json_response(view)


def centre_zone(request: web.Request) -> ZoneInfo:
    """The centre's time zone (`Config.timezone`: the queues' shared zone, as the pages show times in)."""
    return ZoneInfo(request.app[keys.CONFIG].timezone)


def parse_call_back_at(value: Any, zone: ZoneInfo) -> dt.datetime:
    """An ISO date-time, in the centre's zone unless it carries an offset, within a year from now."""
    if not isinstance(value, str) or len(value) > 40:
        raise ApiError("bad_request", "call_back_at must be an ISO date-time", {"field": "call_back_at"})
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            "bad_request", "call_back_at must be an ISO date-time", {"field": "call_back_at"}
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    if when - utcnow() > dt.timedelta(days=366):
        raise ApiError("bad_request", "call_back_at is more than a year away", {"field": "call_back_at"})
    return when


@require(AGENT_ROLE)
async def post_outcome(request: web.Request) -> web.Response:
    body = await read_json(request, max_bytes=4096)
    outcome = body.get("outcome")
    if outcome not in call_orders.OUTCOMES:
        raise ApiError(
            "bad_request", f"outcome must be one of {', '.join(call_orders.OUTCOMES)}", {"field": "outcome"}
        )
    raw_when = body.get("call_back_at")
    when = parse_call_back_at(raw_when, centre_zone(request)) if raw_when is not None else None
    try:
        order = await request.app[ORDER_DESK].outcome(_agent_id(request), _order_id(request), outcome, when)
    except OrderRefused as e:
        raise _refused(e) from None
    return web.json_response(order)


@require(AGENT_ROLE)
async def post_contact(request: web.Request) -> web.Response:
    body = await read_json(request, max_bytes=4096)
    try:
        number = e164(body.get("number") or "")
    except BadNumber as e:
        raise ApiError("bad_request", f"number: {e}", {"field": "number"}) from None
    name = body.get("name") or ""
    if not isinstance(name, str) or len(name) > MAX_NAME:
        raise ApiError("bad_request", f"name must be text of at most {MAX_NAME}", {"field": "name"})
    last_contact = body.get("last_contact")
    if last_contact is not None:
        try:
            last_contact = dt.date.fromisoformat(last_contact).isoformat()
        except (TypeError, ValueError):
            raise ApiError(
                "bad_request", "last_contact must be a date (YYYY-MM-DD)", {"field": "last_contact"}
            ) from None
    try:
        order_id, created = await request.app[ORDER_DESK].add_contact(
            _agent_id(request),
            _order_id(request),
            name=mask_nrn(name.strip())[0],
            number=number,
            last_contact=last_contact,
        )
    except OrderRefused as e:
        raise _refused(e) from None
    return web.json_response({"id": order_id, "created": created}, status=201 if created else 200)
