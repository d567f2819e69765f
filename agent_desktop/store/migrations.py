"""Versioned schema migrations. Append new steps at the end; never edit a step that has shipped.

Times are UTC ISO-8601 text. National register numbers never appear: agents are keyed by an HMAC of it.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils


def _001_agents_sessions_states_audit(db: sqlite_utils.Database) -> None:
    db["agents"].create(
        {
            "id": int,
            "nrn_hash": str,
            "given_name": str,
            "surname": str,
            "roles": str,  # JSON list
            "skills": str,  # JSON list
            "lang": str,
            "enabled": int,
            "cert_fingerprint": str,  # sha256 of the enrolled certificate's DER; the certificate itself holds the NRN
            "created": str,
        },
        pk="id",
        not_null={"nrn_hash", "given_name", "surname", "roles", "skills", "lang", "enabled", "created"},
        defaults={"roles": '["agent"]', "skills": "[]", "lang": "nl", "enabled": 1},
    )
    db["agents"].create_index(["nrn_hash"], unique=True)
    db["agent_sessions"].create(
        {
            "id": int,
            "token_hash": str,  # sha256 of the cookie value: a stolen database yields no live session
            "agent_id": int,
            "created": str,
            "last_seen": str,
            "ended": str,
            "end_reason": str,
            "remote": str,
            "user_agent": str,
        },
        pk="id",
        foreign_keys=[("agent_id", "agents", "id")],
        not_null={"token_hash", "agent_id", "created", "last_seen"},
    )
    db["agent_sessions"].create_index(["token_hash"], unique=True)
    db["agent_state_changes"].create(
        {"id": int, "agent_id": int, "state": str, "reason": str, "at": str, "session_id": int},
        pk="id",
        foreign_keys=[("agent_id", "agents", "id")],
        not_null={"agent_id", "state", "at"},
    )
    db["agent_state_changes"].create_index(["agent_id", "at"])
    db["audit_log"].create(
        {"id": int, "at": str, "agent_id": int, "action": str, "detail": str, "remote": str},
        pk="id",
        not_null={"at", "action"},
    )
    db["audit_log"].create_index(["at"])


def _002_preflight_reports(db: sqlite_utils.Database) -> None:
    # id: the short code an agent reads to the helpdesk over the phone. agent_id: only when posted with a
    # session. remote: the sender's network, truncated (/24, /48), never a full address.
    db["preflight_reports"].create(
        {
            "id": str,
            "agent_id": int,
            "source": str,
            "started": str,
            "finished": str,
            "overall": str,
            "report": str,  # the validated report as JSON
            "remote": str,
            "created": str,
        },
        pk="id",
        foreign_keys=[("agent_id", "agents", "id")],
        not_null={"source", "started", "finished", "overall", "report", "created"},
    )
    db["preflight_reports"].create_index(["agent_id", "created"])
    db["preflight_reports"].create_index(["created"])


def _003_calls(db: sqlite_utils.Database) -> None:
    db["calls"].create(
        {
            "id": str,  # the desk's call id (also what the page sees)
            "sip_call_id": str,
            "direction": str,
            "from_number": str,
            "to_number": str,
            "queue": str,
            "agent_id": int,
            "state": str,
            "offered": str,
            "answered": str,
            "ended": str,
            "end_cause": str,
            "call_order_id": int,
            "created": str,
        },
        pk="id",
        not_null={"direction", "state", "created"},
    )
    db["calls"].create_index(["agent_id", "created"])
    db["calls"].create_index(["ended"])


def _004_wrapups_escalations_complaints(db: sqlite_utils.Database) -> None:
    # A contact: one conversation with a citizen, opened by a call (call_id) or by hand; its wrap-up is the
    # agent's note of it. Drafts are rows of `wrapups` with submitted NULL.
    db["contacts"].create(
        {
            "id": int,
            "agent_id": int,
            "call_id": str,
            "source": str,
            "number": str,
            "opened": str,
            "closed": str,
        },
        pk="id",
        foreign_keys=[("agent_id", "agents", "id")],
        not_null={"agent_id", "source", "opened"},
    )
    db["contacts"].create_index(["call_id"], unique=True)  # NULLs are distinct: many hand-opened contacts
    db["contacts"].create_index(["agent_id", "closed"])
    db["wrapups"].create(
        {
            "contact_id": int,
            "agent_id": int,
            "notes": str,
            "scripts": str,  # JSON list of {id, title}
            "outcome": str,
            "survey": int,
            "escalation": str,  # JSON draft of the escalation form, {} when none
            "complaint": str,  # JSON draft of the complaint form, {} when none
            "updated": str,
            "submitted": str,
            "acw_s": int,  # after-call work: from the call's end (or the contact's opening) to the submit
        },
        pk="contact_id",
        foreign_keys=[("contact_id", "contacts", "id"), ("agent_id", "agents", "id")],
        not_null={"agent_id", "updated"},
        defaults={
            "notes": "",
            "scripts": "[]",
            "outcome": "",
            "survey": 0,
            "escalation": "{}",
            "complaint": "{}",
        },
    )
    db["wrapups"].create_index(["agent_id", "submitted"])
    # Outgoing mail survives a failed send and a restart: the sender task retries rows whose next_attempt passed.
    db["mail_outbox"].create(
        {
            "id": int,
            "kind": str,  # escalation | feedback
            "to_addrs": str,  # JSON list
            "subject": str,
            "body": str,
            "message_id": str,
            "status": str,  # queued | sent | failed (a permanent SMTP refusal; kept for a supervisor)
            "attempts": int,
            "next_attempt": str,
            "last_error": str,
            "created": str,
            "sent": str,
        },
        pk="id",
        not_null={"kind", "to_addrs", "subject", "body", "message_id", "status", "attempts", "created"},
        defaults={"attempts": 0, "status": "queued"},
    )
    db["mail_outbox"].create_index(["status", "next_attempt"])
    db["escalations"].create(
        {
            "id": int,
            "contact_id": int,
            "agent_id": int,
            "point_id": str,  # the KB escalation item
            "point_title": str,
            "mail_to": str,
            "question": str,
            "message": str,
            "citizen": str,  # JSON {name, phone, email, address}; never a national number
            "handling_days": int,
            "deadline": str,  # ISO date: today + handling_days working days
            "mail_id": int,
            "created": str,
        },
        pk="id",
        foreign_keys=[("contact_id", "contacts", "id"), ("mail_id", "mail_outbox", "id")],
        not_null={"contact_id", "agent_id", "point_id", "mail_to", "citizen", "created"},
    )
    db["escalations"].create_index(["deadline"])
    db["complaints"].create(
        {
            "id": int,
            "contact_id": int,
            "agent_id": int,
            "kind": str,  # policy | personal
            "citizen": str,  # JSON {name, phone, email, address}; never a national number
            "description": str,
            "received": str,  # ISO date
            "due": str,  # ISO date: received + 45 calendar days
            "status": str,  # open | investigating | answered
            "investigation": str,
            "action": str,
            "outcome": str,  # grounded | partly_grounded | not_grounded | ''
            "answered_on": str,  # ISO date of the final answer
            "updated": str,
            "updated_by": int,
            "created": str,
        },
        pk="id",
        foreign_keys=[("contact_id", "contacts", "id")],
        not_null={"agent_id", "kind", "citizen", "description", "received", "due", "status", "created"},
        defaults={"status": "open", "investigation": "", "action": "", "outcome": ""},
    )
    db["complaints"].create_index(["status", "due"])


def _005_calls_in_queues(db: sqlite_utils.Database) -> None:
    # DESIGN.md §9: a call's wait counts from its INVITE (`offered`); `queued` is when it joined a queue's waiting
    # line (after the welcome; NULL for a call that never waited: closed, answered at once, lost in a menu);
    # `overflow_tries` counts the overflow legs dialled for it (one at most, recorded even when it failed).
    # Reports read these with `queue`, `answered`, `ended` and `end_cause`.
    db["calls"].add_column("queued", str)
    db["calls"].add_column("overflow_tries", int, not_null_default=0)
    db["calls"].create_index(["queue", "offered"])


def _006_callbacks(db: sqlite_utils.Database) -> None:
    # DESIGN.md §9: a callback a caller asked for in a queue (booked_by NULL) or an agent booked during a call.
    # state: pending | offered | done | failed. `due` is the promise made to the caller; `next_try` is when it may
    # be offered again (now for a new one, `[acd] callback_retry_after_min` after a dial that did not reach).
    # `agent_id` is the agent it was last offered to (and who dialled it). Times are UTC ISO-8601.
    db["callbacks"].create(
        {
            "id": int,
            "number": str,  # dialable: digits with an optional leading +
            "queue": str,
            "requested_at": str,
            "due": str,
            "state": str,
            "attempts": int,
            "agent_id": int,
            "booked_by": int,
            "note": str,  # national register numbers masked
            "last_try": str,
            "next_try": str,
        },
        pk="id",
        not_null={"number", "queue", "requested_at", "due", "state", "attempts", "note", "next_try"},
        defaults={"state": "pending", "attempts": 0, "note": ""},
    )
    db["callbacks"].create_index(["state", "queue", "due"])
    db["callbacks"].create_index(["number", "queue"])


def _007_call_lists_orders(db: sqlite_utils.Database) -> None:
    # DESIGN.md §11. A call list's settings come from its first import; a `<list>-contacts` list has `parent`.
    db["call_lists"].create(
        {
            "name": str,
            "kind": str,  # reserve | priority | tracing
            "skills": str,  # JSON list: an agent needs all of them
            "max_attempts": int,
            "retry_after_min": int,
            "open": str,  # JSON list of ranges in the queues' format; [] = always
            "parent": str,  # the index list of a contacts list, else NULL
            "created": str,
        },
        pk="name",
        not_null={"kind", "skills", "max_attempts", "retry_after_min", "open", "created"},
    )
    # An order is identified by list + number (E.164). `seq` is its place in the list (file order of its first
    # import); `next_try` is when it is due: its `due`, else its import time, then the retry rules'.
    # `offered_to` + `offered_at` while offered; `call_id` once its call is dialled (an undialled offer goes back
    # to pending when its agent leaves `outbound`). Texts hold national register numbers masked only.
    db["call_orders"].create(
        {
            "id": int,
            "list": str,
            "seq": int,
            "number": str,
            "name": str,
            "note": str,
            "fields": str,  # JSON object of the file's other columns
            "priority": int,
            "due": str,
            "state": str,  # pending | offered | done | failed
            "outcome": str,  # the last outcome recorded
            "attempts": int,
            "next_try": str,
            "fresh": int,  # 1 until an outcome or a skip puts the order back
            "offered_to": int,
            "offered_at": str,
            "call_id": str,
            "index_order_id": int,  # a tracing contact: the index case's order
            "imported": str,
            "updated": str,
        },
        pk="id",
        foreign_keys=[("list", "call_lists", "name"), ("index_order_id", "call_orders", "id")],
        not_null={
            "list",
            "seq",
            "number",
            "name",
            "note",
            "fields",
            "priority",
            "state",
            "attempts",
            "next_try",
            "fresh",
            "imported",
            "updated",
        },
        defaults={
            "name": "",
            "note": "",
            "fields": "{}",
            "priority": 0,
            "state": "pending",
            "attempts": 0,
            "fresh": 1,
        },
    )
    db["call_orders"].create_index(["list", "number"], unique=True)
    db["call_orders"].create_index(["number"])
    db["call_orders"].create_index(["offered_to"])
    # The next-order look-ups: a `fresh` order (never put back by an outcome or a skip) is due in its list's
    # order, so its indexes are walked in that order; an order put back (retry, skip, call-back) is found by its
    # next_try, so a head of the list full of orders waiting for their retry is never walked past.
    db.execute(
        "CREATE INDEX idx_call_orders_fresh_seq ON call_orders (list, seq, next_try)"
        " WHERE state = 'pending' AND fresh = 1"
    )
    db.execute(
        "CREATE INDEX idx_call_orders_fresh_prio ON call_orders (list, priority DESC, seq, next_try)"
        " WHERE state = 'pending' AND fresh = 1"
    )
    db.execute(
        "CREATE INDEX idx_call_orders_returned ON call_orders (list, next_try)"
        " WHERE state = 'pending' AND fresh = 0"
    )
    # One row per outcome recorded (`counted` 1 when it counted an attempt) and per skip (outcome `skipped`,
    # with the agent's reason; never counted).
    db["call_order_attempts"].create(
        {
            "id": int,
            "order_id": int,
            "agent_id": int,  # who worked the order (dialled it, gave the outcome, skipped it)
            "call_id": str,
            "outcome": str,
            "counted": int,
            "automatic": int,  # 1: the call recorded it (ring time-out, 486, 404...)
            "call_back_at": str,
            "reason": str,
            "at": str,
        },
        pk="id",
        foreign_keys=[("order_id", "call_orders", "id")],
        not_null={"order_id", "outcome", "counted", "automatic", "at"},
    )
    db["call_order_attempts"].create_index(["order_id"])
    db["do_not_call"].create(
        {"number": str, "added": str, "agent_id": int, "order_id": int, "list": str},
        pk="number",
        not_null={"added"},
    )


def _008_recordings(db: sqlite_utils.Database) -> None:
    # DESIGN.md §10. `id` is random (16 hex digits): it names the file too, so neither holds a number. `path` is
    # relative to `[recordings] dir`. `duration_s` is NULL while recording (or when the desk stopped mid-call).
    # `deleted`: when retention marked it; the file is removed next and then the row (a crash between the two
    # steps is finished by the next sweep).
    db["recordings"].create(
        {
            "id": str,
            "call_id": str,
            "queue": str,
            "agent_id": int,
            "started": str,
            "duration_s": float,
            "path": str,
            "deleted": str,
        },
        pk="id",
        not_null={"started", "path"},
    )
    db["recordings"].create_index(["started"])
    db["recordings"].create_index(["call_id"])
    # A listening session's scores: `agent_id` is the scorer; `scores` a JSON object criterion -> 1..5.
    db["recording_scores"].create(
        {"id": int, "recording_id": str, "agent_id": int, "scores": str, "comment": str, "at": str},
        pk="id",
        foreign_keys=[("recording_id", "recordings", "id")],
        not_null={"recording_id", "agent_id", "scores", "comment", "at"},
        defaults={"comment": ""},
    )
    db["recording_scores"].create_index(["recording_id"])


def _009_surveys(db: sqlite_utils.Database) -> None:
    # DESIGN.md §10. One row per call handed to the survey, written when the agent leaves it (`at`: the agent's
    # end of the call, where talk time stops and after-call work starts) and updated after each answer, so a
    # caller who hangs up mid-survey leaves what was answered. `answers`: JSON list, one per question, 1-10 or
    # null (no digit, two wrong keys, hung up before it). `finished`: thanks played (NULL: the caller left).
    db["surveys"].create(
        {"call_id": str, "queue": str, "agent_id": int, "at": str, "answers": str, "finished": str},
        pk="call_id",
        not_null={"at", "answers"},
    )
    db["surveys"].create_index(["at"])


def _010_queue_overrides(db: sqlite_utils.Database) -> None:
    # DESIGN.md §9 "Opening now": a supervisor's override of a queue's hours, one row per queue while it stands
    # (`auto` deletes it). `mode`: open | closed; `set_by`: the supervisor's agent id; `set_at`, `until`: UTC
    # ISO-8601, `until` NULL when it stands until set back to `auto`. Restored at start-up: a restart (a deploy,
    # a crash) neither closes a crisis line a supervisor opened nor opens a queue one closed.
    db["queue_overrides"].create(
        {"queue": str, "mode": str, "set_by": int, "set_at": str, "until": str},
        pk="queue",
        not_null={"mode", "set_at"},
    )


def _011_callbacks_call_id(db: sqlite_utils.Database) -> None:
    # The call dialling an offered callback (NULL while only offered, and again once its dial is recorded): a desk
    # that crashed mid-dial counts that attempt at start-up instead of offering the callback as if nobody had
    # been rung (`release_offers`).
    db["callbacks"].add_column("call_id", str)


def _012_dial_failures(db: sqlite_utils.Database) -> None:
    # A dial that never reached the citizen's phone (no route, a name that does not resolve, no answer to the
    # INVITE, the trunk's refusal) is the network's failure, not the citizen's: it counts no attempt. These hold
    # the consecutive failures (the retry backs off, and a cap ends a number the trunk always refuses) and the
    # last one's reason (`unresolved`, `refused 503`, …) for the supervisor; a dial that reaches the phone clears
    # both.
    for table in ("call_orders", "callbacks"):
        db[table].add_column("dial_failures", int, not_null_default=0)
        db[table].add_column("dial_failure", str)


def _013_dial_failures_since(db: sqlite_utils.Database) -> None:
    # When the first of the consecutive network failures happened (UTC ISO-8601; NULL with none): a count alone
    # cannot tell a trunk outage (many failures within an hour) from a number the trunk refuses for good (failures
    # spread over a day), so `failed` needs both the count and this age (`[acd] dial_failures_window_h`).
    for table in ("call_orders", "callbacks"):
        db[table].add_column("dial_failures_since", str)


def _014_trunk_state(db: sqlite_utils.Database) -> None:
    # The trunk watch's state (acd/trunk_watch.py), one row (id 1): a restart must not believe a dead trunk is up
    # and dial orders and callbacks into it until new dials fail again. `state`: up | down | trial; `reason`: the
    # last network failure (`refused 503`, …) while down; `since`: UTC ISO-8601 of the moment it went down;
    # `options_heard`: 1 once the trunk answered an OPTIONS (an unanswered probe then keeps it down); `changed`:
    # when the row was written.
    db["trunk_state"].create(
        {"id": int, "state": str, "reason": str, "since": str, "options_heard": int, "changed": str},
        pk="id",
        not_null={"state", "options_heard", "changed"},
        defaults={"options_heard": 0},
    )


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _001_agents_sessions_states_audit,
    _002_preflight_reports,
    _003_calls,
    _004_wrapups_escalations_complaints,
    _005_calls_in_queues,
    _006_callbacks,
    _007_call_lists_orders,
    _008_recordings,
    _009_surveys,
    _010_queue_overrides,
    _011_callbacks_call_id,
    _012_dial_failures,
    _013_dial_failures_since,
    _014_trunk_state,
]
