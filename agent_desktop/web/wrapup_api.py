"""The wrap-up API (DESIGN.md §6, role agent): contacts, wrap-up drafts saved as the agent types, and the submit
that records the escalation (mailed through the outbox, with its working-day deadline) and the complaint (due in
45 calendar days), then returns an agent in `wrap_up` to the state it chose before the call (`available` or
`outbound`).

    POST /api/contacts {call_id?}                -> contact (idempotent per call)
    GET  /api/contacts                           -> {contacts: [contact]}   the agent's open contacts, newest first
    GET  /api/wrapups/{contact_id}               -> wrap-up (draft or submitted)
    PUT  /api/wrapups/{contact_id}  draft        -> {saved, masked}
    POST /api/wrapups/{contact_id}/submit [draft] -> {contact_id, submitted, state, escalation?, complaint?}
                                                    (409 call_active while the agent is on the call;
                                                    a call handed to the survey is over for the agent)

An agent sees and changes only their own contacts (another agent's is `not_found`, not `forbidden`: its existence
is nobody else's business). Every text is stored with national register numbers masked (`masked: true` tells
the page to say so).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..acd import working_days
from ..mail.compose import EscalationText, escalation_mail
from ..store import calls as call_records
from ..store import complaints, contacts, escalations, surveys, wrapups
from ..store.agents import Agent
from ..store.clock import iso, parse_iso, utcnow
from ..store.store import Store
from ..store.tables import writes
from . import keys
from .auth import AGENT, require
from .errors import ApiError
from .json_body import read_json
from .kb_api import KB
from .outbox_setup import OUTBOX
from .redact import mask_nrn

ROLE = "agent"
MAX_NOTES = 8000
MAX_TEXT = 4000
MAX_FIELD = 300
MAX_SCRIPTS = 50
CITIZEN_KEYS = ("name", "phone", "phone_repeat", "email", "email_repeat", "address")
ESCALATION_KEYS = ("enabled", "point_id", "point_title", "to", "citizen", "confirmed", "message")
COMPLAINT_KEYS = ("enabled", "kind", "citizen", "description")
DRAFT_KEYS = ("notes", "scripts", "outcome", "survey", "escalation", "complaint")


def setup(app: web.Application) -> None:
    app.router.add_post("/api/contacts", open_contact)
    app.router.add_get("/api/contacts", list_contacts)
    app.router.add_get("/api/wrapups/{contact_id}", get_wrapup)
    app.router.add_put("/api/wrapups/{contact_id}", save_draft)
    app.router.add_post("/api/wrapups/{contact_id}/submit", submit)


# -- contacts ---------------------------------------------------------------------------------------------


async def _since(store: Store, contact: contacts.Contact) -> str | None:
    """When after-call work started: the call's end (or the agent's, when it handed the caller to the survey),
    or the opening of a contact taken by hand; None while the agent is still on the call."""
    if contact.call_id:
        call = await store.read(call_records.get, contact.call_id)
        if call is None:
            return contact.opened
        return call["ended"] or await store.read(surveys.started_at, contact.call_id)
    return contact.opened


async def _contact_json(store: Store, contact: contacts.Contact) -> dict[str, Any]:
    return {**contact.to_json(), "since": await _since(store, contact)}


@require(ROLE)
async def open_contact(request: web.Request) -> web.Response:
    agent = _agent(request)
    store = request.app[keys.STORE]
    body = await read_json(request, max_bytes=4096) if request.can_read_body else {}
    call_id = body.get("call_id")
    if call_id is None:
        contact, created = await store.write(contacts.open_manual, agent.id), True
    else:
        if not isinstance(call_id, str) or not call_id or len(call_id) > 64:
            raise ApiError("bad_request", "call_id must be a call's id")
        call = await store.read(call_records.get, call_id)
        if call is None or call["agent_id"] != agent.id:
            raise ApiError("not_found", "no such call of yours")
        number = call["from_number"] if call["direction"] == "inbound" else call["to_number"]
        contact, created = await store.write(contacts.open_for_call, agent.id, call_id, number or "")
        if contact.agent_id != agent.id:
            raise ApiError("not_found", "no such call of yours")
    return web.json_response(await _contact_json(store, contact), status=201 if created else 200)


@require(ROLE)
async def list_contacts(request: web.Request) -> web.Response:
    agent = _agent(request)
    store = request.app[keys.STORE]
    return web.json_response(
        {
            "contacts": [
                await _contact_json(store, c) for c in await store.read(contacts.open_for_agent, agent.id)
            ]
        }
    )


# -- wrap-ups ---------------------------------------------------------------------------------------------


@require(ROLE)
async def get_wrapup(request: web.Request) -> web.Response:
    agent = _agent(request)
    store = request.app[keys.STORE]
    contact = await _own_contact(request, agent)
    wrapup = await store.read(wrapups.get, contact.id)
    today = working_days.today(zone=request.app[keys.CONFIG].timezone)
    return web.json_response(
        {
            "contact": await _contact_json(store, contact),
            "draft": (wrapup.draft if wrapup else wrapups.Draft()).to_json(),
            "updated": wrapup.updated if wrapup else None,
            "submitted": wrapup.submitted if wrapup else None,
            "escalations": [
                _escalation_json(e) for e in await store.read(escalations.for_contact, contact.id)
            ],
            "complaints": [
                _complaint_json(c) for c in await store.read(complaints.for_contact, contact.id, today)
            ],
        }
    )


@require(ROLE)
async def save_draft(request: web.Request) -> web.Response:
    agent = _agent(request)
    store = request.app[keys.STORE]
    contact = await _own_contact(request, agent)
    await _not_submitted(store, contact)
    draft, masked = parse_draft(await read_json(request), request.app[keys.CONFIG].wrapup.outcomes)
    saved = await store.write(wrapups.save_draft, contact.id, agent.id, draft)
    return web.json_response({"saved": saved, "masked": masked})


@require(ROLE)
async def submit(request: web.Request) -> web.Response:
    agent = _agent(request)
    app = request.app
    store = app[keys.STORE]
    config = app[keys.CONFIG]
    contact = await _own_contact(request, agent)
    await _not_submitted(store, contact)
    if contact.call_id and await _since(store, contact) is None:
        # A call's contact is closed after the call: mid-call the citizen may still add to it.
        raise ApiError("call_active", "the call is still going: submit the wrap-up after it ended")
    body = await read_json(request) if request.can_read_body else {}
    if body:
        draft, masked = parse_draft(body, config.wrapup.outcomes)
    else:
        stored = await store.read(wrapups.get, contact.id)
        draft, masked = (stored.draft if stored else wrapups.Draft()), False
    check_complete(draft, config.wrapup.outcomes)
    today = working_days.today(zone=request.app[keys.CONFIG].timezone)
    escalation = (
        await _plan_escalation(app, draft, contact, agent, today) if _enabled(draft.escalation) else None
    )
    complaint = _plan_complaint(draft, contact, agent, today) if _enabled(draft.complaint) else None

    now = utcnow()
    since = await _since(store, contact)
    acw_s = max(0, int((now - parse_iso(since)).total_seconds())) if since else None
    answer: dict[str, Any] = {"contact_id": contact.id, "masked": masked}
    outbox = app[OUTBOX]
    at = iso(now)
    mail = escalation_mail(escalation.text) if escalation else None

    @writes("wrapups", "mail_outbox", "escalations", "complaints", "contacts")
    def record(db: Any) -> None:
        # One transaction on the store's writer. Claim the wrap-up first: the check above ran before awaits, so
        # a second submit may have got this far too. Only the one whose update lands queues the mail and
        # registers the complaint; the other's transaction is rolled back by the error.
        if not wrapups.mark_submitted(db, contact.id, agent.id, draft, at, acw_s):
            raise ApiError("already_submitted", "this wrap-up was already submitted")
        if escalation and mail:
            mail_id = outbox.add(db, mail)
            escalation_id = escalations.insert(db, escalation.record(mail_id))
            answer["escalation"] = {
                "id": escalation_id,
                "to": escalation.text.to,
                "deadline": escalation.record(mail_id).deadline,
                "mail_id": mail_id,
            }
        if complaint:
            complaint_id = complaints.insert(db, complaint)
            answer["complaint"] = {"id": complaint_id, "due": complaint.due.isoformat()}
        contacts.close(db, contact.id, at)

    await store.write(record)
    outbox.wake()
    states = app[keys.STATES]
    presence = states.get(agent.id)
    if presence.state == "wrap_up" and await _ends_wrap_up(store, contact, presence.reason):
        states.set(agent.id, states.after_wrap_up(agent.id), "wrapup_saved")
    answer.update(submitted=at, acw_s=acw_s, state=states.get(agent.id).state)
    return web.json_response(answer)


async def _ends_wrap_up(store: Store, contact: contacts.Contact, wrap_up_call: str) -> bool:
    """Whether submitting `contact` ends the agent's `wrap_up` (whose reason is the call it follows): the call's own
    contact does, another (an old draft) only when that call has no open contact — its wrap-up would be skipped."""
    if contact.call_id == wrap_up_call:
        return True
    current = await store.read(contacts.for_call, wrap_up_call) if wrap_up_call else None
    return current is None or current.closed is not None


# -- validation -------------------------------------------------------------------------------------------


def _text(value: Any, where: str, limit: int) -> tuple[str, bool]:
    if value is None:
        return "", False
    if not isinstance(value, str):
        raise ApiError("bad_request", f"{where} must be text", {"field": where})
    if len(value) > limit:
        raise ApiError("too_large", f"{where} is longer than {limit} characters", {"field": where})
    return mask_nrn(value)


def _section(value: Any, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ApiError("bad_request", f"{where} must be an object", {"field": where})
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ApiError(
            "bad_request", f"{where}: unknown field {unknown[0]}", {"field": f"{where}.{unknown[0]}"}
        )
    return value


def _clean_section(
    raw: Any, where: str, allowed: tuple[str, ...], long_keys: tuple[str, ...]
) -> tuple[dict, bool]:
    section = _section(raw, where, allowed)
    out: dict[str, Any] = {}
    masked = False
    for key, value in section.items():
        if key in ("enabled", "confirmed"):
            if not isinstance(value, bool):
                raise ApiError(
                    "bad_request", f"{where}.{key} must be true or false", {"field": f"{where}.{key}"}
                )
            out[key] = value
        elif key == "citizen":
            citizen = _section(value, f"{where}.citizen", CITIZEN_KEYS)
            out["citizen"] = {}
            for ckey, cvalue in citizen.items():
                out["citizen"][ckey], hit = _text(cvalue, f"{where}.citizen.{ckey}", MAX_FIELD)
                masked |= hit
        else:
            out[key], hit = _text(value, f"{where}.{key}", MAX_TEXT if key in long_keys else MAX_FIELD)
            masked |= hit
    return out, masked


def parse_draft(body: dict[str, Any], outcomes: tuple[str, ...]) -> tuple[wrapups.Draft, bool]:
    """A draft from the page's JSON (every key optional), with national numbers masked; (draft, masked)."""
    unknown = sorted(set(body) - set(DRAFT_KEYS))
    if unknown:
        raise ApiError("bad_request", f"unknown field {unknown[0]}", {"field": unknown[0]})
    notes, masked = _text(body.get("notes"), "notes", MAX_NOTES)
    scripts_raw = body.get("scripts") or []
    if not isinstance(scripts_raw, list) or len(scripts_raw) > MAX_SCRIPTS:
        raise ApiError(
            "bad_request", f"scripts must be a list of at most {MAX_SCRIPTS}", {"field": "scripts"}
        )
    scripts = []
    for entry in scripts_raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"]:
            raise ApiError("bad_request", "each script needs an id", {"field": "scripts"})
        title, _ = _text(entry.get("title", ""), "scripts.title", MAX_FIELD)
        script_id, _ = _text(entry["id"], "scripts.id", 100)
        scripts.append({"id": script_id, "title": title})
    outcome = body.get("outcome") or ""
    if outcome and outcome not in outcomes:
        raise ApiError("bad_request", f"outcome must be one of {', '.join(outcomes)}", {"field": "outcome"})
    survey = body.get("survey", False)
    if not isinstance(survey, bool):
        raise ApiError("bad_request", "survey must be true or false", {"field": "survey"})
    escalation, m1 = _clean_section(body.get("escalation"), "escalation", ESCALATION_KEYS, ("message",))
    complaint, m2 = _clean_section(body.get("complaint"), "complaint", COMPLAINT_KEYS, ("description",))
    draft = wrapups.Draft(notes, scripts, outcome, survey, escalation, complaint)
    return draft, masked or m1 or m2


def _enabled(section: dict[str, Any]) -> bool:
    return bool(section.get("enabled"))


def _missing(field: str, message: str) -> ApiError:
    return ApiError("bad_request", message, {"field": field})


def check_complete(draft: wrapups.Draft, outcomes: tuple[str, ...]) -> None:
    """What a submit needs beyond a draft: the question, an outcome, and complete escalation/complaint parts."""
    if not draft.notes.strip():
        raise _missing("notes", "note the citizen's question")
    if draft.outcome not in outcomes:
        raise _missing("outcome", "choose an outcome")
    if _enabled(draft.escalation):
        e = draft.escalation
        citizen = e.get("citizen", {})
        if not e.get("point_id"):
            raise _missing("escalation.point_id", "choose an escalation point")
        if not citizen.get("name", "").strip():
            raise _missing("escalation.citizen.name", "the citizen's name is needed")
        if not (citizen.get("phone", "").strip() or citizen.get("email", "").strip()):
            raise _missing("escalation.citizen.phone", "a phone number or mail address is needed")
        if citizen.get("phone", "").strip() and _digits(citizen.get("phone", "")) != _digits(
            citizen.get("phone_repeat", "")
        ):
            raise _missing("escalation.citizen.phone_repeat", "the repeated phone number differs")
        if (
            citizen.get("email", "").strip()
            and citizen.get("email", "").strip().lower() != citizen.get("email_repeat", "").strip().lower()
        ):
            raise _missing("escalation.citizen.email_repeat", "the repeated mail address differs")
        if e.get("confirmed") is not True:
            raise _missing("escalation.confirmed", "confirm the contact data with the citizen")
    if _enabled(draft.complaint):
        c = draft.complaint
        citizen = c.get("citizen", {})
        if c.get("kind") not in complaints.KINDS:
            raise _missing("complaint.kind", "choose a policy or a personal complaint")
        if not c.get("description", "").strip():
            raise _missing("complaint.description", "describe the complaint")
        if not citizen.get("name", "").strip():
            raise _missing("complaint.citizen.name", "the citizen's name is needed")
        if not any(citizen.get(k, "").strip() for k in ("phone", "email", "address")):
            raise _missing("complaint.citizen.phone", "a phone number, mail or postal address is needed")


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit() or ch == "+")


# -- escalation and complaint -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _PlannedEscalation:
    text: EscalationText
    contact_id: int
    agent_id: int
    point_id: str

    def record(self, mail_id: int) -> escalations.NewEscalation:
        t = self.text
        return escalations.NewEscalation(
            contact_id=self.contact_id,
            agent_id=self.agent_id,
            point_id=self.point_id,
            point_title=t.point_title,
            mail_to=t.to,
            question=t.question,
            message=t.message,
            citizen=t.citizen,
            handling_days=t.handling_days,
            deadline=t.deadline.isoformat() if t.deadline else None,
            mail_id=mail_id,
        )


async def _plan_escalation(
    app: web.Application, draft: wrapups.Draft, contact: contacts.Contact, agent: Agent, today: dt.date
) -> _PlannedEscalation:
    """Check the point against the KB (never trust the page's address) and compute the deadline."""
    e = draft.escalation
    point = await app[KB].get(e["point_id"])
    if point is None or point.type != "escalation":
        raise _missing("escalation.point_id", "no such escalation point")
    allowed = [c.value for c in point.contacts if c.kind == "mail" and c.agent_may_escalate]
    if not allowed:
        raise _missing("escalation.point_id", "agents may not escalate to this point by mail")
    to = e.get("to") or allowed[0]
    if to not in allowed:
        raise _missing("escalation.to", "that address is not one agents may escalate to")
    days = point.handling_days
    deadline = working_days.add_working_days(today, days) if days is not None else None
    citizen = {
        k: v.strip()
        for k, v in e.get("citizen", {}).items()
        if k in ("name", "phone", "email", "address") and v.strip()
    }
    text = EscalationText(
        to=to,
        point_title=point.title,
        contact_id=contact.id,
        agent_name=agent.name,
        question=draft.notes,
        message=e.get("message", ""),
        citizen=citizen,
        deadline=deadline,
        handling_days=days,
        scripts=[s.get("title") or s["id"] for s in draft.scripts],
    )
    return _PlannedEscalation(text, contact.id, agent.id, point.id)


def _plan_complaint(
    draft: wrapups.Draft, contact: contacts.Contact, agent: Agent, today: dt.date
) -> complaints.NewComplaint:
    c = draft.complaint
    citizen = {
        k: v.strip()
        for k, v in c.get("citizen", {}).items()
        if k in ("name", "phone", "email", "address") and v.strip()
    }
    return complaints.NewComplaint(
        contact_id=contact.id,
        agent_id=agent.id,
        kind=c["kind"],
        citizen=citizen,
        description=c["description"].strip(),
        received=today,
        due=working_days.complaint_due(today),
    )


def _escalation_json(row: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "point_id", "point_title", "mail_to", "deadline", "handling_days", "mail_status", "created")
    return {k: row.get(k) for k in keep}


def _complaint_json(row: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "kind", "status", "received", "due", "overdue")
    return {k: row.get(k) for k in keep}


# -- helpers ----------------------------------------------------------------------------------------------


def _agent(request: web.Request) -> Agent:
    agent = request.get(AGENT)
    assert agent is not None  # require() ran
    return agent


async def _own_contact(request: web.Request, agent: Agent) -> contacts.Contact:
    raw = request.match_info["contact_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise ApiError("not_found", "no such contact")
    contact = await request.app[keys.STORE].read(contacts.get, int(raw))
    if contact is None or contact.agent_id != agent.id:
        raise ApiError("not_found", "no such contact of yours")
    return contact


async def _not_submitted(store: Store, contact: contacts.Contact) -> None:
    wrapup = await store.read(wrapups.get, contact.id)
    if contact.closed or (wrapup and wrapup.submitted):
        raise ApiError("already_submitted", "this wrap-up was already submitted")
