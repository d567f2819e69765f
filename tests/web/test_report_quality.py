"""The reports' quality columns (store/report_quality.py): escalations and complaints of a queue's calls in their
interval, one-and-done = 1 − escalations ÷ answered, survey average empty until surveys exist; the agents' report
per local day and hour."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from agent_desktop.store import agents
from agent_desktop.store.db import open_db
from agent_desktop.store.report_quality import add_queue_quality, agent_cells, agent_intervals
from agent_desktop.store.reports import QueueSettings, queue_report
from tests.helpers.call_seed import on_db, seed_call, seed_state, seed_wrapup

DAY = date(2026, 1, 15)
SETTINGS = {"vaccinatie": QueueSettings("Europe/Brussels", 20)}


@pytest.fixture
def db(tmp_path):
    db = open_db(tmp_path / "desk.db")
    yield db
    db.close()


def _contact_id(db, call_id: str) -> int:
    return next(iter(db.query("SELECT id FROM contacts WHERE call_id = ?", [call_id])))["id"]


def _escalate(db, call_id: str, agent_id: int, created: str) -> None:
    db["escalations"].insert(
        {
            "contact_id": _contact_id(db, call_id),
            "agent_id": agent_id,
            "point_id": "p",
            "mail_to": "x@y.be",
            "citizen": "{}",
            "created": created,
        }
    )


def _complain(db, call_id: str, agent_id: int, created: str) -> None:
    db["complaints"].insert(
        {
            "contact_id": _contact_id(db, call_id),
            "agent_id": agent_id,
            "kind": "policy",
            "citizen": "{}",
            "description": "d",
            "received": "2026-01-15",
            "due": "2026-03-01",
            "status": "open",
            "created": created,
        }
    )


def _day(db) -> int:
    run = on_db(db)
    els, _ = agents.enrol(db, nrn_hash="h1", given_name="Els", surname="Maes", roles=("agent",))
    day = "2026-01-15T"
    for n, hour in enumerate(("09", "09", "09", "10")):
        seed_call(
            run,
            f"c{n}",
            "vaccinatie",
            f"{day}{hour}:0{n}:00+01:00",
            answered=f"{day}{hour}:0{n}:10+01:00",
            agent_id=els.id,
            ended=f"{day}{hour}:0{n}:50+01:00",
            cause="remote_bye",
        )
        seed_wrapup(db, f"c{n}", els.id, 20)
    _escalate(db, "c0", els.id, "2026-01-15T08:05:00.000Z")  # 09:05 Brussels
    _complain(db, "c1", els.id, "2026-01-15T08:06:00.000Z")
    _escalate(db, "c3", els.id, "2026-01-15T09:05:00.000Z")  # 10:05 Brussels
    seed_state(run, els.id, "available", "2026-01-15T08:55:00+01:00")
    return els.id


def test_one_and_done_per_queue_and_hour(db):
    _day(db)
    rows = add_queue_quality(db, queue_report(db, DAY, DAY, "hour", SETTINGS), DAY, DAY, "hour", SETTINGS)
    nine, ten = rows
    assert nine["start"] == "2026-01-15T09:00:00+01:00" and nine["answered"] == 3
    assert (nine["escalations"], nine["complaints"], nine["one_and_done"]) == (1, 1, 0.6667)
    assert (ten["escalations"], ten["complaints"], ten["one_and_done"]) == (1, 0, 0.0)
    assert nine["survey_avg"] is None
    (whole,) = add_queue_quality(db, queue_report(db, DAY, DAY, "day", SETTINGS), DAY, DAY, "day", SETTINGS)
    assert (whole["answered"], whole["escalations"], whole["one_and_done"]) == (4, 2, 0.5)


def test_agents_per_day_and_hour(db):
    els = _day(db)
    now = datetime(2026, 1, 16, 12, tzinfo=UTC)
    (day,) = agent_intervals(db, DAY, DAY, "Europe/Brussels", "day", now)
    assert day["agent_id"] == els and day["start"] == "2026-01-15T00:00:00+01:00"
    assert (day["calls"], day["escalations"], day["complaints"], day["one_and_done"]) == (4, 2, 1, 0.5)
    hours = agent_intervals(db, DAY, DAY, "Europe/Brussels", "hour", now)
    by_start = {r["start"]: r for r in hours}
    assert by_start["2026-01-15T09:00:00+01:00"]["calls"] == 3
    assert by_start["2026-01-15T08:00:00+01:00"]["seconds"] == {"available": 300.0}
    assert by_start["2026-01-15T10:00:00+01:00"]["one_and_done"] == 0.0
    assert len({r["start"] for r in hours}) == 24 - 8  # from 08:55 on, available until `now`
    table = agent_cells(hours)
    assert table[0][:3] == ["agent_id", "name", "start"] and table[0][-1] == "seconds_available"


def test_chart_axes_have_whole_steps_and_one_bar_stack_per_interval():
    from agent_desktop.web.report_chart import Point, _nice_max, render

    assert [_nice_max(v) for v in (0, 1, 5, 20, 21, 75, 130, 999)] == [4, 4, 8, 20, 40, 80, 200, 1000]
    svg = render(
        [Point("2026-01-15T00:00:00+01:00", (("bar-answered", 3), ("bar-abandoned", 1)), 0.75)],
        "day",
        [("bar-answered", "report.answered")],
        "report.service_level",
    )
    assert 'data-points="1"' in svg and svg.count("data-value=") == 2
    assert 'data-num="4"' in svg and 'data-pct="0.75"' in svg and "<polyline" in svg


def test_one_day_shows_its_service_level_and_legend_items_are_laid_out_by_the_page():
    """A single day's service level is a dot (a one-point line draws nothing); each legend item is a group the
    page places after translating it (fixed steps made "Doorgeschakeld, terugbellen, gesloten" run into the next)."""
    import re

    from agent_desktop.web.report_chart import Point, render

    svg = render(
        [Point("2026-01-15T00:00:00+01:00", (("bar-answered", 1),), 1 / 3)],
        "day",
        [("bar-answered", "report.answered"), ("bar-other", "report.chart_other")],
        "report.service_level",
    )
    assert len(re.findall(r'<circle class="dot-sl"', svg)) == 1
    assert svg.count('<g class="legend-item"') == 3


def test_one_and_done_counts_escalated_contacts_not_escalations(db):
    """§10: 1 − escalations ÷ answered contacts, an escalation being a contact that reached an escalation point:
    a contact escalated twice (two points) is one contact that was not "done" at once, not two."""
    from agent_desktop.web.report_chart import agent_points

    els = _day(db)
    _escalate(db, "c0", els, "2026-01-15T08:07:00.000Z")  # c0's second escalation point, 09:07 Brussels
    (whole,) = add_queue_quality(db, queue_report(db, DAY, DAY, "day", SETTINGS), DAY, DAY, "day", SETTINGS)
    # 4 answered, 3 escalations on 2 contacts: 2 of 4 were done at once.
    assert whole["one_and_done"] == 0.5  # not 1 − 3/4
    assert (whole["answered"], whole["escalations"], whole["escalated"]) == (4, 3, 2)
    nine = add_queue_quality(db, queue_report(db, DAY, DAY, "hour", SETTINGS), DAY, DAY, "hour", SETTINGS)[0]
    assert (nine["escalations"], nine["escalated"], nine["one_and_done"]) == (2, 1, 0.6667)

    now = datetime(2026, 1, 16, 12, tzinfo=UTC)
    (day,) = agent_intervals(db, DAY, DAY, "Europe/Brussels", "day", now)
    assert (day["calls"], day["escalations"], day["escalated"], day["one_and_done"]) == (4, 3, 2, 0.5)
    table = agent_cells([day])
    assert table[1][table[0].index("one_and_done")] == 0.5 and "escalated" in table[0]
    # The reports page's agent chart draws the same figure.
    (point,) = agent_points([day], None)
    assert point.line == 0.5
