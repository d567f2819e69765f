"""The queue and agent reports (store/reports.py) over calls written through the calls repository at chosen
times: every figure of a hand-computed day, hours across local midnight, both DST days, a closed-only queue,
queues' own timezones and service levels, agents' state seconds clipped to the period."""

from __future__ import annotations

from datetime import date

import pytest

from agent_desktop.store import agents
from agent_desktop.store.db import open_db
from agent_desktop.store.reports import QueueSettings, agent_report, queue_report
from tests.helpers.call_seed import on_db, seed_call, seed_state, seed_wrapup, t

JAN15 = date(2026, 1, 15)


@pytest.fixture
def db(tmp_path):
    db = open_db(tmp_path / "desk.db")
    yield db
    db.close()


def _agent(db, n: int, given: str = "Els", surname: str = "Maes") -> int:
    agent, _ = agents.enrol(db, nrn_hash=f"h{n}", given_name=given, surname=surname, roles=("agent",))
    return agent.id


def _hand_computed_day(db) -> int:
    """The day of the figures in test_every_figure_of_a_day (Brussels, winter: UTC+1)."""
    run = on_db(db)
    els = _agent(db, 1)
    day = "2026-01-15T"
    # answered after 15 s (within 20 s), talked 300 s, wrap-up 30 s
    seed_call(
        run,
        "c1",
        "vaccinatie",
        day + "09:00:00+01:00",
        queued=day + "09:00:05+01:00",
        answered=day + "09:00:15+01:00",
        agent_id=els,
        ended=day + "09:05:15+01:00",
        cause="remote_bye",
    )
    seed_wrapup(db, "c1", els, 30)
    # rung straight to a free agent (never queued), answered after 25 s: outside the service level
    seed_call(
        run,
        "c2",
        "vaccinatie",
        day + "09:10:00+01:00",
        answered=day + "09:10:25+01:00",
        agent_id=els,
        ended=day + "09:12:25+01:00",
        cause="local_bye",
    )
    seed_wrapup(db, "c2", els, 50)
    # hung up after 60 s of waiting; it had been offered to Els, who never answered
    seed_call(
        run,
        "c3",
        "vaccinatie",
        day + "09:20:00+01:00",
        queued=day + "09:20:05+01:00",
        agent_id=els,
        ended=day + "09:21:00+01:00",
        cause="abandoned",
    )
    # handed to the backup after 180 s
    seed_call(
        run,
        "c4",
        "vaccinatie",
        day + "10:00:00+01:00",
        queued=day + "10:00:05+01:00",
        overflow_try=day + "10:03:00+01:00",
        ended=day + "10:03:00+01:00",
        cause="overflowed",
    )
    # asked for a callback after 150 s: not an abandon
    seed_call(
        run,
        "c5",
        "vaccinatie",
        day + "10:30:00+01:00",
        queued=day + "10:30:05+01:00",
        ended=day + "10:32:30+01:00",
        cause="callback_requested",
    )
    # closed: offered, but no wait and not in the service level's denominator
    seed_call(run, "c6", "vaccinatie", day + "20:00:00+01:00", ended=day + "20:00:10+01:00", cause="closed")
    # answered after exactly 20 s: within; its wrap-up is still a draft
    seed_call(
        run,
        "c7",
        "vaccinatie",
        day + "11:00:00+01:00",
        queued=day + "11:00:04+01:00",
        answered=day + "11:00:20+01:00",
        agent_id=els,
        ended=day + "11:01:20+01:00",
        cause="remote_bye",
    )
    seed_wrapup(db, "c7", els, None, submitted=False)
    # the overflow leg failed, the caller stayed queued and was answered after 190 s: answered, not overflowed
    seed_call(
        run,
        "c8",
        "vaccinatie",
        day + "12:00:00+01:00",
        queued=day + "12:00:05+01:00",
        overflow_try=day + "12:03:00+01:00",
        answered=day + "12:03:10+01:00",
        agent_id=els,
        ended=day + "12:04:10+01:00",
        cause="remote_bye",
    )
    seed_wrapup(db, "c8", els, 10)
    # still waiting: offered, no wait yet
    seed_call(run, "c9", "vaccinatie", day + "13:00:00+01:00", queued=day + "13:00:05+01:00")
    # not the queue's: hung up in a menu before any queue; an agent's outbound callback carrying the queue name
    seed_call(run, "x1", "", day + "09:30:00+01:00", ended=day + "09:30:05+01:00", cause="abandoned")
    seed_call(
        run,
        "x2",
        "vaccinatie",
        day + "14:00:00+01:00",
        direction="outbound",
        answered=day + "14:00:10+01:00",
        agent_id=els,
        ended=day + "14:01:10+01:00",
        cause="local_bye",
        to_number="0470000001",
    )
    return els


def test_every_figure_of_a_day(db):
    _hand_computed_day(db)
    rows = queue_report(db, JAN15, JAN15, "day", {"vaccinatie": QueueSettings("Europe/Brussels", 20)})
    assert rows == [
        {
            "queue": "vaccinatie",
            "start": "2026-01-15T00:00:00+01:00",
            "offered": 9,
            "answered": 4,  # c1 c2 c7 c8
            "abandoned": 1,
            "overflowed": 1,
            "callbacks_requested": 1,
            "closed": 1,
            "answered_within_sl": 2,  # c1 (15 s) c7 (20 s)
            "service_level": 0.25,  # 2 / (9 - 1)
            "avg_wait_s": 91.4,  # (15 + 25 + 60 + 180 + 150 + 20 + 190) / 7: c6 closed, c9 still waiting
            "max_wait_s": 190.0,
            "avg_talk_s": 135.0,  # (300 + 120 + 60 + 60) / 4
            "avg_wrapup_s": 30.0,  # (30 + 50 + 10) / 3: c7's draft is not a wrap-up yet
        }
    ]


def test_hours_of_the_day_add_up_to_the_day(db):
    _hand_computed_day(db)
    rows = queue_report(db, JAN15, JAN15, "hour", {"vaccinatie": QueueSettings("Europe/Brussels", 20)})
    assert [(r["start"], r["offered"]) for r in rows] == [
        ("2026-01-15T09:00:00+01:00", 3),
        ("2026-01-15T10:00:00+01:00", 2),
        ("2026-01-15T11:00:00+01:00", 1),
        ("2026-01-15T12:00:00+01:00", 1),
        ("2026-01-15T13:00:00+01:00", 1),
        ("2026-01-15T20:00:00+01:00", 1),
    ]
    nine = rows[0]
    assert (nine["answered"], nine["abandoned"], nine["answered_within_sl"], nine["service_level"]) == (
        2,
        1,
        1,
        0.3333,
    )
    assert (nine["avg_wait_s"], nine["max_wait_s"], nine["avg_talk_s"], nine["avg_wrapup_s"]) == (
        33.3,
        60.0,
        210.0,
        40.0,
    )
    eight_pm = rows[-1]
    assert eight_pm["closed"] == 1 and eight_pm["service_level"] is None and eight_pm["avg_wait_s"] is None
    # The hours add up to the hand-computed day of test_every_figure_of_a_day, not to the product's own day row:
    # offered c1-c9 = 9; answered c1 c2 c7 c8 = 4; abandoned c3; overflowed c4; callback c5; closed c6;
    # within 20 s c1 (15 s) and c7 (20 s) = 2.
    day_totals = {
        "offered": 9,
        "answered": 4,
        "abandoned": 1,
        "overflowed": 1,
        "callbacks_requested": 1,
        "closed": 1,
        "answered_within_sl": 2,
    }
    assert {key: sum(r[key] for r in rows) for key in day_totals} == day_totals


def test_hour_buckets_across_local_midnight(db):
    run = on_db(db)
    # 23:59:50 on the 14th, answered after midnight: the INVITE's hour and day, the 14th
    seed_call(
        run,
        "a",
        "nacht",
        "2026-01-14T23:59:50+01:00",
        answered="2026-01-15T00:00:05+01:00",
        agent_id=None,
        ended="2026-01-15T00:01:05+01:00",
        cause="remote_bye",
    )
    # 00:10 on the 15th is still the 14th in UTC
    seed_call(run, "b", "nacht", "2026-01-14T23:10:00Z", ended="2026-01-14T23:11:00Z", cause="abandoned")
    seed_call(
        run, "c", "nacht", "2026-01-15T23:50:00+01:00", ended="2026-01-15T23:50:30+01:00", cause="abandoned"
    )
    # the first instant of the 16th: after `to`
    seed_call(
        run, "d", "nacht", "2026-01-16T00:00:00+01:00", ended="2026-01-16T00:00:30+01:00", cause="abandoned"
    )
    hours = queue_report(db, JAN15, JAN15, "hour", {})
    assert [(r["start"], r["offered"], r["abandoned"], r["max_wait_s"]) for r in hours] == [
        ("2026-01-15T00:00:00+01:00", 1, 1, 60.0),
        ("2026-01-15T23:00:00+01:00", 1, 1, 30.0),
    ]
    two_days = queue_report(db, date(2026, 1, 14), JAN15, "hour", {})
    assert two_days[0]["start"] == "2026-01-14T23:00:00+01:00"
    assert (two_days[0]["offered"], two_days[0]["answered"], two_days[0]["answered_within_sl"]) == (1, 1, 1)
    assert two_days[0]["avg_wait_s"] == 15.0 and two_days[0]["avg_talk_s"] == 60.0
    days = queue_report(db, date(2026, 1, 14), JAN15, "day", {})
    assert [(r["start"], r["offered"]) for r in days] == [
        ("2026-01-14T00:00:00+01:00", 1),
        ("2026-01-15T00:00:00+01:00", 2),
    ]


def test_dst_end_day_has_25_hours(db):
    """2026-10-25 in Brussels: 02:00–03:00 happens twice (+02:00, then +01:00)."""
    run = on_db(db)
    # one call 10 minutes into every UTC hour from the local midnight (22:00Z the day before) to the next
    for n in range(25):
        hour = (22 + n) % 24
        day = "24" if n < 2 else "25"
        seed_call(
            run,
            f"h{n}",
            "crisis",
            f"2026-10-{day}T{hour:02d}:10:00Z",
            ended=f"2026-10-{day}T{hour:02d}:11:00Z",
            cause="abandoned",
        )
    seed_call(
        run, "before", "crisis", "2026-10-24T21:50:00Z", ended="2026-10-24T21:51:00Z", cause="abandoned"
    )
    seed_call(run, "after", "crisis", "2026-10-25T23:10:00Z", ended="2026-10-25T23:11:00Z", cause="abandoned")
    day = date(2026, 10, 25)
    hours = queue_report(db, day, day, "hour", {})
    assert len(hours) == 25 and all(r["offered"] == 1 for r in hours)
    starts = [r["start"] for r in hours]
    assert starts[:4] == [
        "2026-10-25T00:00:00+02:00",
        "2026-10-25T01:00:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",
    ]
    assert starts[-1] == "2026-10-25T23:00:00+01:00"
    days = queue_report(db, day, day, "day", {})
    assert [(r["start"], r["offered"]) for r in days] == [("2026-10-25T00:00:00+02:00", 25)]


def test_dst_start_day_has_23_hours(db):
    """2026-03-29 in Brussels: 02:00 becomes 03:00."""
    run = on_db(db)
    for n in range(23):
        hour = (23 + n) % 24
        day = "28" if n < 1 else "29"
        seed_call(
            run,
            f"h{n}",
            "crisis",
            f"2026-03-{day}T{hour:02d}:10:00Z",
            ended=f"2026-03-{day}T{hour:02d}:11:00Z",
            cause="abandoned",
        )
    day = date(2026, 3, 29)
    starts = [r["start"] for r in queue_report(db, day, day, "hour", {})]
    assert len(starts) == 23
    assert starts[1:3] == ["2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00"]
    assert queue_report(db, day, day, "day", {})[0]["start"] == "2026-03-29T00:00:00+01:00"


def test_closed_only_queue_has_no_service_level(db):
    run = on_db(db)
    for n in range(2):
        seed_call(
            run,
            f"g{n}",
            "gesloten",
            f"2026-01-15T2{n}:00:00+01:00",
            ended=f"2026-01-15T2{n}:00:12+01:00",
            cause="closed",
        )
    [row] = queue_report(db, JAN15, JAN15, "day", {})
    assert (row["offered"], row["closed"], row["answered"], row["answered_within_sl"]) == (2, 2, 0, 0)
    assert row["service_level"] is None
    assert (row["avg_wait_s"], row["max_wait_s"], row["avg_talk_s"], row["avg_wrapup_s"]) == (None,) * 4


def test_each_queue_has_its_timezone_and_service_level(db):
    run = on_db(db)
    # answered after 15 s: within 20 s (a queue gone from the config: the default), not within 10 s
    for queue in ("snel", "oud"):
        seed_call(
            run,
            f"{queue}1",
            queue,
            "2026-01-15T10:00:00+01:00",
            answered="2026-01-15T10:00:15+01:00",
            ended="2026-01-15T10:01:00+01:00",
            cause="remote_bye",
        )
    # 03:00Z on the 15th is the evening of the 14th in New York
    seed_call(run, "ny1", "newyork", "2026-01-15T03:00:00Z", ended="2026-01-15T03:00:30Z", cause="abandoned")
    seed_call(run, "ny2", "newyork", "2026-01-16T04:30:00Z", ended="2026-01-16T04:31:00Z", cause="abandoned")
    settings = {
        "snel": QueueSettings("Europe/Brussels", 10),
        "newyork": QueueSettings("America/New_York", 20),
    }
    rows = {r["queue"]: r for r in queue_report(db, JAN15, JAN15, "day", settings)}
    assert set(rows) == {"snel", "oud", "newyork"}
    assert rows["snel"]["answered_within_sl"] == 0 and rows["snel"]["service_level"] == 0.0
    assert rows["oud"]["answered_within_sl"] == 1 and rows["oud"]["service_level"] == 1.0
    assert rows["oud"]["start"] == "2026-01-15T00:00:00+01:00"
    # the New York day of the 15th: 05:00Z on the 15th to 05:00Z on the 16th
    assert (rows["newyork"]["start"], rows["newyork"]["offered"]) == ("2026-01-15T00:00:00-05:00", 1)
    [hour] = queue_report(db, JAN15, JAN15, "hour", settings)[:1]
    assert hour["queue"] == "newyork" and hour["start"] == "2026-01-15T23:00:00-05:00"


def test_agent_seconds_per_state_clipped_to_the_period(db):
    run = on_db(db)
    els = _hand_computed_day(db)
    idle = _agent(db, 2, "Noor", "Claes")
    seed_state(run, els, "available", "2026-01-14T20:00:00Z")  # before the period: counts from its start
    seed_state(run, els, "break", "2026-01-15T07:00:00Z")
    seed_state(run, els, "available", "2026-01-15T07:15:00Z")
    seed_state(run, els, "offline", "2026-01-15T12:00:00Z")
    seed_state(run, els, "available", "2026-01-15T22:30:00Z")  # 23:30 local: until the period's end, 23:00Z
    seed_state(run, els, "wrap_up", "2026-01-16T01:00:00Z")
    seed_state(run, idle, "offline", "2026-01-15T08:00:00Z")
    later = t("2026-02-01T00:00:00Z")
    [row] = agent_report(db, JAN15, JAN15, "Europe/Brussels", later)
    assert row == {
        "agent_id": els,
        "name": "Els Maes",
        "seconds": {"available": 28800 + 17100 + 1800, "break": 900},
        "calls": 5,  # c1 c2 c7 c8 and the outbound x2 (c3 rang but was never answered)
        "avg_talk_s": 120.0,  # (300 + 120 + 60 + 60 + 60) / 5
        "avg_wrapup_s": 30.0,  # (30 + 50 + 10) / 3
    }
    # the report of a day still going counts up to now
    [now_row] = agent_report(db, JAN15, JAN15, "Europe/Brussels", t("2026-01-15T10:00:00Z"))
    assert now_row["seconds"] == {"available": 28800 + 9900, "break": 900}
    # a day later: Els was in wrap_up from 02:00 local, available before that
    [next_day] = agent_report(db, date(2026, 1, 16), date(2026, 1, 16), "Europe/Brussels", later)
    assert next_day["seconds"] == {"available": 7200, "wrap_up": 22 * 3600} and next_day["calls"] == 0
    assert next_day["avg_talk_s"] is None and next_day["avg_wrapup_s"] is None
