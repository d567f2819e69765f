"""The call lists, call orders (+ their attempts) and do-not-call register repository (DESIGN.md §11).

Plain `fn(db, …)` functions: the desk runs them through `Store` (writes on its writer thread, each one
transaction), the CLI on its own connection. Every decision that must not race — which order an agent gets,
what an outcome does to it — happens inside one write, so two agents (or two desks on one database) never get
the same order. Times are UTC ISO-8601 text from `clock.iso`, compared as text (one fixed format). Callers pass
`now` explicitly: the rules are tested with an injected clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from .clock import iso, parse_iso
from .dial_retry import DialRetry
from .tables import reads, writes

KINDS = ("reserve", "priority", "tracing")
STATES = ("pending", "offered", "done", "failed")
# What the wrap-up (or the call itself) records about an attempt.
OUTCOMES = (
    "reached",
    "no_answer",
    "busy",
    "voicemail",
    "wrong_number",
    "refused",
    "do_not_call",
    "call_back_at",
    "declined",  # 603 Decline: the citizen turned the call down on their phone (automatic; counted, retried)
)
RETRY_OUTCOMES = frozenset({"no_answer", "busy", "voicemail", "declined"})
# The order's `outcome` after a dial that never reached the citizen's phone (not an attempt: `record_dial_failure`).
NETWORK_ERROR = "network_error"
DONE_OUTCOMES = frozenset({"reached", "refused", "wrong_number", "do_not_call"})
CONTACTS_SUFFIX = "-contacts"
# An incoming call shows the caller's orders not done, or tried this recently.
RECENT_DAYS = 7

LISTS = "call_lists"
ORDERS = "call_orders"
ATTEMPTS = "call_order_attempts"
DNC = "do_not_call"


@dataclass(frozen=True)
class CallList:
    name: str
    kind: str = "priority"
    skills: tuple[str, ...] = ()
    max_attempts: int = 3
    retry_after_min: int = 60
    open: tuple[str, ...] = ()  # ranges in the queues' format; () = always
    parent: str | None = None  # set on a `<list>-contacts` list

    @property
    def is_contacts(self) -> bool:
        return self.parent is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "skills": list(self.skills),
            "max_attempts": self.max_attempts,
            "retry_after_min": self.retry_after_min,
            "open": list(self.open),
            "parent": self.parent,
        }


@dataclass(frozen=True)
class ImportRow:
    """One validated row of an import file (number already E.164, texts already masked)."""

    line: int
    number: str
    name: str = ""
    note: str = ""
    priority: int = 0
    due: str | None = None  # UTC ISO-8601
    fields: dict[str, str] = field(default_factory=dict)


class OrderRefused(Exception):
    """An order action that does not apply to the order as it stands: `code` is the API's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _list_from_row(row: dict) -> CallList:
    return CallList(
        name=row["name"],
        kind=row["kind"],
        skills=tuple(json.loads(row["skills"])),
        max_attempts=row["max_attempts"],
        retry_after_min=row["retry_after_min"],
        open=tuple(json.loads(row["open"])),
        parent=row["parent"],
    )


def order_json(row: dict) -> dict[str, Any]:
    """An order as the API and `order.offered` show it."""
    return {
        "id": row["id"],
        "list": row["list"],
        "number": row["number"],
        "name": row["name"],
        "note": row["note"],
        "fields": json.loads(row["fields"]),
        "priority": row["priority"],
        "due": row["due"],
        "state": row["state"],
        "outcome": row["outcome"],
        "attempts": row["attempts"],
        "attempt": row["attempts"] + 1,
        "next_try": row["next_try"],
        "offered_to": row["offered_to"],
        "call_id": row["call_id"],
        "index_order_id": row["index_order_id"],
        "imported": row["imported"],
        "dial_failures": row["dial_failures"],
        "dial_failure": row["dial_failure"],
        "dial_failures_since": row["dial_failures_since"],
    }


def _one(db: sqlite_utils.Database, sql: str, params: Sequence[Any]) -> dict | None:
    # The connection's own cursor, not `db.query`: that wraps every statement in a savepoint, which the claim
    # (fifty agents in one transaction) feels.
    cursor = db.conn.execute(sql, params)
    row = cursor.fetchone()
    return dict(zip((c[0] for c in cursor.description), row, strict=True)) if row is not None else None


# -- lists ----------------------------------------------------------------------------------------------------


@writes(LISTS)
def ensure_list(db: sqlite_utils.Database, settings: CallList, now: datetime) -> tuple[CallList, bool]:
    """The list named `settings.name`, created from `settings` when new; an existing list keeps its own."""
    row = _one(db, "SELECT * FROM call_lists WHERE name = ?", [settings.name])
    if row is not None:
        return _list_from_row(row), False
    db["call_lists"].insert(
        {
            "name": settings.name,
            "kind": settings.kind,
            "skills": json.dumps(list(settings.skills)),
            "max_attempts": settings.max_attempts,
            "retry_after_min": settings.retry_after_min,
            "open": json.dumps(list(settings.open)),
            "parent": settings.parent,
            "created": iso(now),
        }
    )
    return settings, True


@reads(LISTS)
def get_list(db: sqlite_utils.Database, name: str) -> CallList | None:
    row = _one(db, "SELECT * FROM call_lists WHERE name = ?", [name])
    return _list_from_row(row) if row else None


@reads(LISTS)
def all_lists(db: sqlite_utils.Database) -> list[CallList]:
    return [_list_from_row(r) for r in db.query("SELECT * FROM call_lists ORDER BY name")]


@reads(LISTS, ORDERS)
def summaries(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Per list: its settings and progress (`remaining` = pending + offered; `failed_network_error`: the failed
    orders a reopen of `network_error` would give another round)."""
    counts = {
        r["list"]: r
        for r in db.query(
            """SELECT list, COUNT(*) AS orders,
                      SUM(state = 'done') AS done,
                      SUM(state IN ('pending', 'offered')) AS remaining,
                      SUM(outcome = 'reached') AS reached,
                      SUM(state = 'failed') AS failed,
                      SUM(outcome = 'do_not_call') AS do_not_call,
                      SUM(attempts) AS attempts,
                      SUM(dial_failures > 0) AS network_errors,
                      SUM(state = 'failed' AND outcome = 'network_error') AS failed_network_error
               FROM call_orders GROUP BY list"""
        )
    }
    out = []
    for lst in all_lists(db):
        c = counts.get(lst.name, {})
        out.append(
            {
                **lst.to_json(),
                **{
                    k: int(c.get(k) or 0)
                    for k in (
                        "orders",
                        "done",
                        "remaining",
                        "reached",
                        "failed",
                        "do_not_call",
                        "attempts",
                        "network_errors",
                        "failed_network_error",
                    )
                },
            }
        )
    return out


# -- import ---------------------------------------------------------------------------------------------------


@writes(ORDERS)
def import_batch(
    db: sqlite_utils.Database, list_name: str, rows: Sequence[ImportRow], now: datetime
) -> tuple[int, int]:
    """Insert new orders (after the list's last, in row order) and update known ones (list + number) in place:
    name, note, fields, priority, due; never their state or attempts. A number in the do-not-call register is
    stored `done`. Returns (imported, updated)."""
    stamp = iso(now)
    numbers = [r.number for r in rows]
    known: dict[str, dict] = {}
    for start in range(0, len(numbers), 500):  # SQLite's bound-parameter limit
        chunk = numbers[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for r in db.query(
            f"SELECT id, number, state, fresh FROM call_orders WHERE list = ? AND number IN ({marks})",
            [list_name, *chunk],
        ):
            known[r["number"]] = r
    barred = _barred(db, numbers)
    seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM call_orders WHERE list = ?", [list_name]).fetchone()[
        0
    ]
    inserts, updates = [], []
    for r in rows:
        fields = json.dumps(r.fields, ensure_ascii=False, sort_keys=False)
        if r.number in known:
            old = known[r.number]
            # A never-tried pending order follows a new due date; one in its retry cycle keeps its next try.
            follow_due = old["state"] == "pending" and old["fresh"] == 1
            updates.append(
                (
                    r.name,
                    r.note,
                    fields,
                    r.priority,
                    r.due,
                    stamp,
                    int(follow_due),
                    r.due,
                    list_name,
                    r.number,
                )
            )
        else:
            seq += 1
            state, outcome = ("done", "do_not_call") if r.number in barred else ("pending", None)
            inserts.append(
                (
                    list_name,
                    seq,
                    r.number,
                    r.name,
                    r.note,
                    fields,
                    r.priority,
                    r.due,
                    state,
                    outcome,
                    r.due or stamp,
                    stamp,
                    stamp,
                )
            )
    db.conn.executemany(
        """INSERT INTO call_orders (list, seq, number, name, note, fields, priority, due, state, outcome,
                                    next_try, imported, updated)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        inserts,
    )
    db.conn.executemany(
        """UPDATE call_orders SET name = ?, note = ?, fields = ?, priority = ?, due = ?, updated = ?,
                  next_try = CASE WHEN ? THEN COALESCE(?, imported) ELSE next_try END
           WHERE list = ? AND number = ?""",
        updates,
    )
    # A known order whose number joined the register since is closed now.
    _close_barred(db, [n for n in known if n in barred], stamp)
    return len(inserts), len(updates)


def _barred(db: sqlite_utils.Database, numbers: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for start in range(0, len(numbers), 500):
        chunk = numbers[start : start + 500]
        marks = ",".join("?" * len(chunk))
        out.update(
            r[0] for r in db.execute(f"SELECT number FROM do_not_call WHERE number IN ({marks})", chunk)
        )
    return out


def _close_barred(db: sqlite_utils.Database, numbers: Iterable[str], stamp: str) -> int:
    """Close every order of `numbers` not done yet (on every list): the register is checked by all lists."""
    total = 0
    for number in numbers:
        total += db.execute(
            """UPDATE call_orders SET state = 'done', outcome = 'do_not_call', offered_at = NULL, updated = ?
               WHERE number = ? AND state IN ('pending', 'offered', 'failed')""",
            [stamp, number],
        ).rowcount
    return total


# -- offers ---------------------------------------------------------------------------------------------------

# A list's first due order is the first of two candidates: the first due fresh order in the list's order (its
# index holds next_try, so orders with a later `due` are passed over inside the index), and the first, in the
# list's order, of the put-back orders whose next_try has passed (found through next_try: there are few).
_FRESH_SQL = {
    "seq": """SELECT * FROM call_orders INDEXED BY idx_call_orders_fresh_seq
              WHERE list = ? AND state = 'pending' AND fresh = 1 AND next_try <= ?
              ORDER BY seq LIMIT 1""",
    "priority": """SELECT * FROM call_orders INDEXED BY idx_call_orders_fresh_prio
                   WHERE list = ? AND state = 'pending' AND fresh = 1 AND next_try <= ?
                   ORDER BY priority DESC, seq LIMIT 1""",
}
_RETURNED_SQL = {
    "seq": """SELECT * FROM call_orders INDEXED BY idx_call_orders_returned
              WHERE list = ? AND state = 'pending' AND fresh = 0 AND next_try <= ?
              ORDER BY seq LIMIT 1""",
    "priority": """SELECT * FROM call_orders INDEXED BY idx_call_orders_returned
                   WHERE list = ? AND state = 'pending' AND fresh = 0 AND next_try <= ?
                   ORDER BY priority DESC, seq LIMIT 1""",
}


def head_order(kind: str) -> str:
    """Which order a list of `kind` goes in: `seq` (file order) or `priority` (larger first, then file order)."""
    return "seq" if kind == "reserve" else "priority"


def _place(order: str, row: dict) -> tuple[int, int]:
    return (row["seq"], 0) if order == "seq" else (-row["priority"], row["seq"])


def _head(db: sqlite_utils.Database, lst: CallList, stamp: str) -> dict | None:
    """The list's first due order, or None. A number found in the do-not-call register (which closes its orders
    as it grows, so this is a safety net) is closed here and the next one looked for."""
    order = head_order(lst.kind)
    while True:
        rows = [
            row
            for sql in (_FRESH_SQL[order], _RETURNED_SQL[order])
            if (row := _one(db, sql, [lst.name, stamp])) is not None
        ]
        if not rows:
            return None
        best = min(rows, key=lambda r: _place(order, r))
        if not _barred(db, [best["number"]]):
            return best
        _close_barred(db, [best["number"]], stamp)


def _held(db: sqlite_utils.Database, agent_id: int) -> dict | None:
    return _one(
        db,
        "SELECT * FROM call_orders WHERE offered_to = ? AND state = 'offered' AND call_id IS NULL"
        " ORDER BY offered_at LIMIT 1",
        [agent_id],
    )


@writes(ORDERS)
def claim_next(
    db: sqlite_utils.Database,
    agent_id: int,
    eligible: Callable[[CallList], bool],
    now: datetime,
    lists: Sequence[CallList] | None = None,
) -> dict | None:
    """The next order for `agent_id`, marked offered to them, or None. An agent who already holds an undialled
    offer gets that one again. Contacts lists come first; within a tier each eligible list offers its first due
    order, and the earliest `next_try` among those wins (then the list's name)."""
    held = _held(db, agent_id)
    if held is not None:
        return held
    stamp = iso(now)
    lists = [lst for lst in (all_lists(db) if lists is None else lists) if eligible(lst)]
    for tier in ([lst for lst in lists if lst.is_contacts], [lst for lst in lists if not lst.is_contacts]):
        heads = [row for lst in tier if (row := _head(db, lst, stamp)) is not None]
        if not heads:
            continue
        best = min(heads, key=lambda r: (r["next_try"], r["list"]))
        db.conn.execute(
            """UPDATE call_orders SET state = 'offered', offered_to = ?, offered_at = ?, updated = ?
               WHERE id = ? AND state = 'pending'""",
            [agent_id, stamp, stamp, best["id"]],
        )
        return {**best, "state": "offered", "offered_to": agent_id, "offered_at": stamp}
    return None


@writes(ORDERS)
def claim_many(
    db: sqlite_utils.Database,
    requests: Sequence[tuple[int, Callable[[CallList], bool]]],
    now: datetime,
) -> list[dict | None]:
    """`claim_next` for several agents in one transaction (agents asking at once share one write), in order."""
    lists = all_lists(db)
    return [claim_next(db, agent_id, eligible, now, lists) for agent_id, eligible in requests]


@writes(ORDERS)
def release(db: sqlite_utils.Database, agent_id: int, now: datetime) -> int:
    """The agent left `outbound` (state change, logout): their undialled offer is pending again, as due as it was,
    so it comes first to the next agent."""
    return db.execute(
        """UPDATE call_orders SET state = 'pending', offered_at = NULL, updated = ?
           WHERE offered_to = ? AND state = 'offered' AND call_id IS NULL""",
        [iso(now), agent_id],
    ).rowcount


@writes(ORDERS, ATTEMPTS)
def release_unrecorded(
    db: sqlite_utils.Database,
    agent_id: int,
    now: datetime,
    *,
    keep_calls: Sequence[str] = (),
    order_id: int | None = None,
) -> int:
    """The agent logged out (or did not reconnect) with an order dialled and no outcome: its call reached the
    citizen or the agent hung up first, and nobody recorded what came of it. The order is pending again, due after
    its list's retry delay (the citizen is not rung again at once), for another agent to call and record; the
    attempt is kept in the history as outcome `no_outcome`, not counted (a missing wrap-up never makes an order
    `failed`). `keep_calls`: calls still up, left to their own end; `order_id`: only that order. How many orders
    went back."""
    rows = [
        row
        for row in db.query(
            "SELECT * FROM call_orders WHERE offered_to = ? AND state = 'offered' AND call_id IS NOT NULL",
            [agent_id],
        )
        if row["call_id"] not in keep_calls and order_id in (None, row["id"])
    ]
    _back_unrecorded(db, rows, now)
    return len(rows)


def _back_unrecorded(db: sqlite_utils.Database, rows: Sequence[dict], now: datetime) -> None:
    """Dialled orders whose outcome nobody gave: pending after their list's retry delay, `no_outcome` kept."""
    stamp = iso(now)
    for row in rows:
        lst = get_list(db, row["list"])
        retry_min = lst.retry_after_min if lst is not None else 0
        db.execute(
            """UPDATE call_orders SET state = 'pending', fresh = 0, offered_at = NULL, call_id = NULL,
                      next_try = ?, updated = ? WHERE id = ?""",
            [iso(now + timedelta(minutes=retry_min)), stamp, row["id"]],
        )
        db["call_order_attempts"].insert(
            {
                "order_id": row["id"],
                "agent_id": row["offered_to"],
                "call_id": row["call_id"],
                "outcome": "no_outcome",
                "counted": 0,
                "automatic": 1,
                "at": stamp,
            }
        )


@writes(ORDERS, ATTEMPTS, DNC, "calls")  # reads `calls` too: after `close_orphans` has landed
def release_all(db: sqlite_utils.Database, now: datetime) -> int:
    """On start-up: offers a previous process made cannot be called, skipped or wrapped up any more (their agent's
    socket and any call of theirs died with it). An undialled one is pending again, as due as it was and without
    counting an attempt, so the next agent gets it first. A dialled one whose call the process took down with it
    keeps that attempt: not answered (its `calls` row, closed by `close_orphans`, says so) → `no_answer`, counted,
    retried as its list says; answered → pending after the retry delay with `no_outcome`, as after a logout.
    Either way it never stays `offered` for ever."""
    dialled = list(
        db.query(
            """SELECT o.*, c.answered AS call_answered FROM call_orders o LEFT JOIN calls c ON c.id = o.call_id
               WHERE o.state = 'offered' AND o.call_id IS NOT NULL"""
        )
    )
    for row in dialled:
        if row["call_answered"] is None:
            record_outcome(
                db, row["id"], row["offered_to"], "no_answer", now, call_id=row["call_id"], automatic=True
            )
    _back_unrecorded(db, [row for row in dialled if row["call_answered"] is not None], now)
    return (
        len(dialled)
        + db.execute(
            """UPDATE call_orders SET state = 'pending', offered_at = NULL, call_id = NULL, updated = ?
           WHERE state = 'offered'""",
            [iso(now)],
        ).rowcount
    )


def _offered_to(db: sqlite_utils.Database, order_id: int, agent_id: int) -> dict:
    row = _one(db, "SELECT * FROM call_orders WHERE id = ?", [order_id])
    if row is None:
        raise OrderRefused("not_found", "no such order")
    if row["offered_to"] != agent_id:
        raise OrderRefused("forbidden", "this order was not offered to you")
    return row


@writes(ORDERS, ATTEMPTS)
def skip(db: sqlite_utils.Database, order_id: int, agent_id: int, reason: str, now: datetime) -> dict:
    """The agent skips an undialled offer: due again after the list's retry delay, no attempt counted."""
    row = _offered_to(db, order_id, agent_id)
    if row["state"] != "offered" or row["call_id"] is not None:
        raise OrderRefused("bad_request", "only an offer not dialled yet can be skipped")
    lst = get_list(db, row["list"])
    assert lst is not None
    stamp = iso(now)
    next_try = iso(now + timedelta(minutes=lst.retry_after_min))
    db.execute(
        "UPDATE call_orders SET state = 'pending', fresh = 0, offered_at = NULL, next_try = ?, updated = ?"
        " WHERE id = ?",
        [next_try, stamp, order_id],
    )
    db["call_order_attempts"].insert(
        {
            "order_id": order_id,
            "agent_id": agent_id,
            "outcome": "skipped",
            "counted": 0,
            "automatic": 0,
            "reason": reason,
            "at": stamp,
        }
    )
    return {**row, "state": "pending", "next_try": next_try}


@writes(ORDERS)
def mark_dialled(
    db: sqlite_utils.Database, order_id: int, agent_id: int, call_id: str, now: datetime
) -> dict:
    """The agent's call to the order's number started: the offer is theirs until an outcome."""
    row = _offered_to(db, order_id, agent_id)
    if row["state"] != "offered" or row["call_id"] is not None:
        raise OrderRefused("bad_request", "this order is not an offer waiting for its call")
    db.execute("UPDATE call_orders SET call_id = ?, updated = ? WHERE id = ?", [call_id, iso(now), order_id])
    return {**row, "call_id": call_id}


@writes(ORDERS, ATTEMPTS, DNC)
def record_outcome(
    db: sqlite_utils.Database,
    order_id: int,
    agent_id: int,
    outcome: str,
    now: datetime,
    *,
    call_back_at: datetime | None = None,
    call_id: str | None = None,
    automatic: bool = False,
) -> dict:
    """Apply an attempt's outcome (DESIGN.md §11) to an order offered to `agent_id`; the order as it is now.

    Every outcome but `call_back_at` counts one attempt. `no_answer | busy | voicemail`: due again after the
    list's retry delay, `failed` once `max_attempts` are used; `reached | refused | wrong_number`: done;
    `do_not_call`: done, and the number joins the register, which closes its orders on every list;
    `call_back_at`: due at that time. An automatic outcome (the call's own) applies only to that call's order."""
    if outcome not in OUTCOMES:
        raise OrderRefused("bad_request", f"outcome must be one of {', '.join(OUTCOMES)}")
    row = _offered_to(db, order_id, agent_id)
    if row["state"] != "offered":
        raise OrderRefused(
            "outcome_recorded", "this order's outcome is recorded already (by its call, or before)"
        )
    if automatic and (call_id is None or row["call_id"] != call_id):
        raise OrderRefused("bad_request", "that call is not this order's")
    if outcome == "call_back_at" and call_back_at is None:
        raise OrderRefused("bad_request", "call_back_at needs the time to call back")
    lst = get_list(db, row["list"])
    assert lst is not None
    stamp = iso(now)
    counted = outcome != "call_back_at"
    attempts = row["attempts"] + int(counted)
    next_try = row["next_try"]
    if outcome in RETRY_OUTCOMES:
        state = "failed" if attempts >= lst.max_attempts else "pending"
        next_try = iso(now + timedelta(minutes=lst.retry_after_min))
    elif outcome == "call_back_at":
        assert call_back_at is not None
        state, next_try = "pending", iso(call_back_at)
    else:
        state = "done"
    db.execute(
        """UPDATE call_orders SET state = ?, outcome = ?, attempts = ?, next_try = ?, fresh = 0,
                  offered_at = NULL, call_id = NULL, dial_failures = 0, dial_failure = NULL,
                  dial_failures_since = NULL, updated = ?
           WHERE id = ?""",
        [state, outcome, attempts, next_try, stamp, order_id],
    )
    db["call_order_attempts"].insert(
        {
            "order_id": order_id,
            "agent_id": agent_id,
            "call_id": call_id or row["call_id"],
            "outcome": outcome,
            "counted": int(counted),
            "automatic": int(automatic),
            "call_back_at": iso(call_back_at) if call_back_at else None,
            "at": stamp,
        }
    )
    if outcome == "do_not_call":
        add_do_not_call(db, row["number"], now, agent_id=agent_id, order_id=order_id, list_name=row["list"])
    return order_json(_one(db, "SELECT * FROM call_orders WHERE id = ?", [order_id]) or row)


@writes(ORDERS, ATTEMPTS)
def record_dial_failure(
    db: sqlite_utils.Database,
    order_id: int,
    agent_id: int,
    call_id: str,
    reason: str,
    now: datetime,
    retry: DialRetry,
) -> dict:
    """The order's call never reached the citizen's phone (`reason`: `unresolved`, `refused 503`, …): no attempt
    counted; pending again after `retry`'s delay for this many consecutive failures (at most the list's retry
    delay), or `failed` at its cap; `outcome` `network_error`, the reason in `dial_failure` and in the history
    (`network_error`, counted 0, automatic). Applies only to that call's order."""
    row = _offered_to(db, order_id, agent_id)
    if row["state"] != "offered":
        raise OrderRefused("outcome_recorded", "this order's outcome is recorded already")
    if row["call_id"] != call_id:
        raise OrderRefused("bad_request", "that call is not this order's")
    lst = get_list(db, row["list"])
    assert lst is not None
    failures = row["dial_failures"] + 1
    stamp = iso(now)
    since = row["dial_failures_since"] if row["dial_failures"] and row["dial_failures_since"] else stamp
    state = "failed" if retry.gives_up(failures, parse_iso(since), now) else "pending"
    next_try = iso(retry.next_try(now, failures, lst.retry_after_min * 60))
    db.execute(
        """UPDATE call_orders SET state = ?, outcome = ?, next_try = ?, fresh = 0, offered_at = NULL,
                  call_id = NULL, dial_failures = ?, dial_failure = ?, dial_failures_since = ?, updated = ?
           WHERE id = ?""",
        [state, NETWORK_ERROR, next_try, failures, reason, since, stamp, order_id],
    )
    db["call_order_attempts"].insert(
        {
            "order_id": order_id,
            "agent_id": agent_id,
            "call_id": call_id,
            "outcome": NETWORK_ERROR,
            "counted": 0,
            "automatic": 1,
            "reason": reason,
            "at": stamp,
        }
    )
    return order_json(_one(db, "SELECT * FROM call_orders WHERE id = ?", [order_id]) or row)


# -- tracing --------------------------------------------------------------------------------------------------


@writes(LISTS, ORDERS)
def add_contact(
    db: sqlite_utils.Database,
    index_order_id: int,
    agent_id: int,
    *,
    number: str,
    name: str,
    last_contact: str | None,
    now: datetime,
) -> tuple[int, bool]:
    """A contact named by a reached index case of a tracing list: an order in `<list>-contacts` (created with the
    list's settings) linked to its index case. The same number again in that list is the same order.
    Returns (order id, created)."""
    index = _offered_to(db, index_order_id, agent_id)
    lst = get_list(db, index["list"])
    assert lst is not None
    if lst.kind != "tracing":
        raise OrderRefused("bad_request", "contacts are added to orders of a tracing list")
    if index["outcome"] != "reached":
        raise OrderRefused("bad_request", "contacts are added once the index case was reached")
    # A contact's own contacts join the same contacts list: the chain runs through index_order_id.
    contacts_name = lst.name if lst.is_contacts else lst.name + CONTACTS_SUFFIX
    ensure_list(
        db,
        CallList(
            contacts_name, "tracing", lst.skills, lst.max_attempts, lst.retry_after_min, lst.open, lst.name
        ),
        now,
    )
    existing = _one(db, "SELECT id FROM call_orders WHERE list = ? AND number = ?", [contacts_name, number])
    if existing is not None:
        return existing["id"], False
    fields = {"last_contact": last_contact} if last_contact else {}
    import_batch(db, contacts_name, [ImportRow(0, number, name=name, fields=fields)], now)
    row = _one(db, "SELECT id FROM call_orders WHERE list = ? AND number = ?", [contacts_name, number])
    assert row is not None
    db.execute("UPDATE call_orders SET index_order_id = ? WHERE id = ?", [index_order_id, row["id"]])
    return row["id"], True


# -- reads ----------------------------------------------------------------------------------------------------


@reads(ORDERS)
def get_order(db: sqlite_utils.Database, order_id: int) -> dict | None:
    row = _one(db, "SELECT * FROM call_orders WHERE id = ?", [order_id])
    return order_json(row) if row else None


@reads(ORDERS, ATTEMPTS)
def order_view(db: sqlite_utils.Database, order_id: int) -> dict | None:
    """An order with its attempts, its chain of index cases (nearest first) and the contacts it named."""
    order = get_order(db, order_id)
    if order is None:
        return None
    chain, seen = [], {order_id}
    parent = order["index_order_id"]
    while parent is not None and parent not in seen and len(chain) < 50:
        seen.add(parent)
        up = get_order(db, parent)
        if up is None:
            break
        chain.append({k: up[k] for k in ("id", "list", "name", "state", "outcome")})
        parent = up["index_order_id"]
    contacts = [
        {k: r[k] for k in ("id", "list", "name", "state", "outcome")}
        for r in db.query("SELECT * FROM call_orders WHERE index_order_id = ? ORDER BY id", [order_id])
    ]
    attempts = list(
        db.query(
            "SELECT agent_id, call_id, outcome, counted, automatic, call_back_at, reason, at"
            " FROM call_order_attempts WHERE order_id = ? ORDER BY id",
            [order_id],
        )
    )
    return {**order, "index_chain": chain, "contacts": contacts, "history": attempts}


@reads(ORDERS)
def orders_of(
    db: sqlite_utils.Database, list_name: str, state: str | None = None, limit: int = 1000, offset: int = 0
) -> list[dict]:
    """A list's orders in the list's own order (its place, `seq`)."""
    where, params = "list = ?", [list_name]
    if state is not None:
        where += " AND state = ?"
        params.append(state)
    return [
        order_json(r)
        for r in db.query(
            f"SELECT * FROM call_orders WHERE {where} ORDER BY seq LIMIT ? OFFSET ?", [*params, limit, offset]
        )
    ]


@reads(ORDERS)
def export_rows(db: sqlite_utils.Database, list_name: str) -> list[dict]:
    return [
        order_json(r) for r in db.query("SELECT * FROM call_orders WHERE list = ? ORDER BY seq", [list_name])
    ]


@reads(LISTS, ORDERS, ATTEMPTS)
def for_number(db: sqlite_utils.Database, number: str, now: datetime) -> list[dict]:
    """The orders of a number that rings in: not done, or tried in the last `RECENT_DAYS` (for `call.offered`),
    with what tells the agent why the desk called: the list's kind, whether the order is a tracing contact, the
    last outcome and when the desk last dialled it (null: never). Indexed look-ups only (number, list, order)."""
    since = iso(now - timedelta(days=RECENT_DAYS))
    return [
        {
            "order_id": r["id"],
            "list": r["list"],
            "name": r["name"],
            "note": r["note"],
            "state": r["state"],
            "kind": r["kind"],
            "contact": r["index_order_id"] is not None,
            "outcome": r["outcome"],
            "last_called": r["last_called"],
        }
        for r in db.query(
            """SELECT o.*, l.kind,
                   (SELECT MAX(a.at) FROM call_order_attempts a
                    WHERE a.order_id = o.id AND a.call_id IS NOT NULL AND a.outcome != 'network_error')
                       AS last_called
               FROM call_orders o JOIN call_lists l ON l.name = o.list
               WHERE o.number = ? AND (o.state IN ('pending', 'offered') OR o.updated >= ?)
               ORDER BY o.updated DESC""",
            [number, since],
        )
    ]


# -- do-not-call ----------------------------------------------------------------------------------------------


@writes(DNC, ORDERS)
def add_do_not_call(
    db: sqlite_utils.Database,
    number: str,
    now: datetime,
    *,
    agent_id: int | None = None,
    order_id: int | None = None,
    list_name: str | None = None,
) -> int:
    """Put `number` (E.164) in the register and close its open orders on every list; how many were closed."""
    stamp = iso(now)
    db.execute(
        "INSERT OR IGNORE INTO do_not_call (number, added, agent_id, order_id, list) VALUES (?, ?, ?, ?, ?)",
        [number, stamp, agent_id, order_id, list_name],
    )
    return _close_barred(db, [number], stamp)


@reads(DNC)
def do_not_call_list(db: sqlite_utils.Database) -> list[dict]:
    return list(
        db.query("SELECT number, added, agent_id, order_id, list FROM do_not_call ORDER BY added, number")
    )


@writes(DNC)
def remove_do_not_call(db: sqlite_utils.Database, number: str) -> bool:
    """Take a number out of the register (its closed orders stay closed: a supervisor re-imports them)."""
    return db.execute("DELETE FROM do_not_call WHERE number = ?", [number]).rowcount > 0


@writes(ORDERS, ATTEMPTS)
def reopen_failed(
    db: sqlite_utils.Database, list_name: str, outcome: str | None, agent_id: int, now: datetime
) -> int:
    """A supervisor gives a list's `failed` orders (only those whose last outcome is `outcome`, when given) another
    round: pending and due now, attempts and network-failure count cleared, a history row `reopened` (counted 0,
    by that supervisor) beside the earlier attempts. Returns how many were reopened."""
    where = "list = ? AND state = 'failed'" + (" AND outcome = ?" if outcome is not None else "")
    params: list[Any] = [list_name] + ([outcome] if outcome is not None else [])
    ids = [row[0] for row in db.conn.execute(f"SELECT id FROM call_orders WHERE {where}", params)]
    stamp = iso(now)
    for order_id in ids:
        db.execute(
            """UPDATE call_orders SET state = 'pending', attempts = 0, next_try = ?, offered_to = NULL,
                      offered_at = NULL, call_id = NULL, dial_failures = 0, dial_failure = NULL,
                      dial_failures_since = NULL, updated = ? WHERE id = ?""",
            [stamp, stamp, order_id],
        )
        db["call_order_attempts"].insert(
            {
                "order_id": order_id,
                "agent_id": agent_id,
                "outcome": "reopened",
                "counted": 0,
                "automatic": 0,
                "at": stamp,
            }
        )
    return len(ids)
