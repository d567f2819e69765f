"""Survey figures in the reports over HTTP (DESIGN.md §10: "reported per queue, agent and question"): surveys seeded
through their repository (`store/surveys.py`, as the call path writes them) against calls of the day; the queue
and agent rows' `survey_avg` and `GET /api/reports/surveys` per queue, agent and question, with unanswered
questions left out of every average."""

from __future__ import annotations

from agent_desktop.store import surveys
from agent_desktop.store.clock import event_time
from agent_desktop.web import keys
from tests.helpers.call_seed import on_store, seed_call, t

AGENT = 1  # Els Maes, as the desk fixture enrols her
PERIOD = {"from": "2026-01-15", "to": "2026-01-15"}


def _seed(desk) -> None:
    store = desk.server.app[keys.STORE]
    run = on_store(store)
    # c1 at 09:00 and c2 at 09:30 to Els in "vaccinatie", c3 at 10:00 in "rijbewijs", c4 abandoned (no survey).
    for call_id, queue, at in (
        ("c1", "vaccinatie", "09:00"),
        ("c2", "vaccinatie", "09:30"),
        ("c3", "rijbewijs", "10:00"),
    ):
        seed_call(
            run,
            call_id,
            queue,
            f"2026-01-15T{at}:00+01:00",
            answered=f"2026-01-15T{at}:10+01:00",
            agent_id=AGENT,
            ended=f"2026-01-15T{at}:50+01:00",
            cause="survey",
        )
    seed_call(
        run,
        "c4",
        "vaccinatie",
        "2026-01-15T11:00:00+01:00",
        ended="2026-01-15T11:00:30+01:00",
        cause="abandoned",
    )
    answers = {"c1": [8, 10, None, 6], "c2": [4, None, None, 9], "c3": [7, 7, 7, 7]}
    for call_id, queue, at in (
        ("c1", "vaccinatie", "09:00:40"),
        ("c2", "vaccinatie", "09:30:40"),
        ("c3", "rijbewijs", "10:00:40"),
    ):
        when = t(f"2026-01-15T{at}+01:00")
        with event_time(when):
            store.post(surveys.start, call_id, queue, AGENT, 4, when)
        store.post(surveys.save, call_id, answers[call_id], True)


async def test_survey_averages_per_queue_agent_and_question(desk):
    _seed(desk)
    async with desk.client() as client:
        assert (await desk.login(client, "supervisor")).status == 200

        response = await client.get(f"{desk.url}/api/reports/queues", params={**PERIOD, "interval": "hour"})
        assert response.status == 200
        rows = {(r["queue"], r["start"][11:16]): r for r in (await response.json())["rows"]}
        # c1: 8+10+6, c2: 4+9 → 37 / 5; the unanswered questions count nowhere
        assert rows["vaccinatie", "09:00"]["survey_avg"] == 7.4
        assert rows["rijbewijs", "10:00"]["survey_avg"] == 7.0
        assert rows["vaccinatie", "11:00"]["survey_avg"] is None  # a call but no survey
        response = await client.get(f"{desk.url}/api/reports/queues", params={**PERIOD, "format": "csv"})
        text = await response.text()
        assert text.splitlines()[0].rstrip().endswith("survey_avg")
        assert any(
            line.startswith("vaccinatie") and line.rstrip().endswith(",7.4") for line in text.splitlines()
        )

        response = await client.get(f"{desk.url}/api/reports/agents", params={**PERIOD, "interval": "day"})
        (els,) = (await response.json())["rows"]
        assert els["agent_id"] == AGENT and els["survey_avg"] == round((37 + 28) / 9, 2)

        response = await client.get(f"{desk.url}/api/reports/surveys", params=PERIOD)
        assert response.status == 200
        report = await response.json()
        assert report["questions"] == ["#1", "#2", "#3", "#4"]  # none configured here: by position
        assert report["total"] == {
            "surveys": 3,
            "scores": 9,
            "avg": 7.22,
            "questions": [6.33, 8.5, 7.0, 7.33],
        }
        assert report["queues"] == [
            {"queue": "rijbewijs", "surveys": 1, "scores": 4, "avg": 7.0, "questions": [7.0, 7.0, 7.0, 7.0]},
            {
                "queue": "vaccinatie",
                "surveys": 2,
                "scores": 5,
                "avg": 7.4,
                "questions": [6.0, 10.0, None, 7.5],
            },
        ]
        assert report["agents"] == [
            {
                "agent_id": AGENT,
                "name": "Els Maes",
                "surveys": 3,
                "scores": 9,
                "avg": 7.22,
                "questions": [6.33, 8.5, 7.0, 7.33],
            }
        ]

        response = await client.get(
            f"{desk.url}/api/reports/surveys", params={"from": "2026-01-16", "to": "2026-01-16"}
        )
        empty = await response.json()
        assert empty["total"] == {"surveys": 0, "scores": 0, "avg": None, "questions": []}
        response = await client.get(f"{desk.url}/api/reports/surveys", params={"from": "2026-01-16"})
        assert response.status == 400 and (await response.json())["error"]["details"]["field"] == "to"


async def test_the_survey_report_is_for_supervisors(desk):
    async with desk.client() as client:
        assert (await desk.login(client, "agent")).status == 200
        response = await client.get(f"{desk.url}/api/reports/surveys", params=PERIOD)
        assert response.status == 403
