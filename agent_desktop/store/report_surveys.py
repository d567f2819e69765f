"""The satisfaction survey in the supervisors' reports (DESIGN.md §10: "reported per queue, agent and question"):
the average of the answered scores, overall and per question, per queue and per agent over a period of local
dates (by the survey's hand-over time, `surveys.at`, as `GET /api/surveys` filters). An unanswered question
(`null`) counts in no average; an average over no score is null. `Scores` is also what the report rows'
`survey_avg` column is made of (`store/report_quality.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlite_utils

from . import reports
from .clock import iso
from .tables import reads


@dataclass
class Scores:
    """Sums and counts of answered scores, overall and per question (by position in the survey)."""

    surveys: int = 0
    total: int = 0
    count: int = 0
    per_question: list[list[int]] = field(default_factory=list)  # [sum, count] per question

    def add(self, answers_json: str) -> None:
        self.surveys += 1
        for i, score in enumerate(json.loads(answers_json)):
            while len(self.per_question) <= i:
                self.per_question.append([0, 0])
            if isinstance(score, int):
                self.total += score
                self.count += 1
                self.per_question[i][0] += score
                self.per_question[i][1] += 1

    def average(self) -> float | None:
        return round(self.total / self.count, 2) if self.count else None

    def question_averages(self, n: int) -> list[float | None]:
        out: list[float | None] = []
        for i in range(n):
            total, count = self.per_question[i] if i < len(self.per_question) else (0, 0)
            out.append(round(total / count, 2) if count else None)
        return out

    def figures(self, n: int) -> dict[str, Any]:
        return {
            "surveys": self.surveys,
            "scores": self.count,
            "avg": self.average(),
            "questions": self.question_averages(n),
        }


@reads("surveys", "agents")
def survey_report(
    db: sqlite_utils.Database, first: date, last: date, timezone: str, questions: list[str]
) -> dict[str, Any]:
    """`{questions, total, queues: [{queue, …}], agents: [{agent_id, name, …}]}` for surveys handed over on the
    local dates first…last; each with `surveys`, `scores` (answers given), `avg` and `questions` (an average per
    question: as many as configured, or as the longest stored survey when it had more)."""
    start, end = reports.local_window(first, last, timezone)
    total = Scores()
    queues: dict[str, Scores] = {}
    agents: dict[int, Scores] = {}
    for row in db.query(
        "SELECT queue, agent_id, answers FROM surveys WHERE at >= ? AND at < ?", [iso(start), iso(end)]
    ):
        for scores in (
            total,
            queues.setdefault(row["queue"] or "", Scores()),
            agents.setdefault(row["agent_id"], Scores()) if row["agent_id"] is not None else None,
        ):
            if scores is not None:
                scores.add(row["answers"])
    n = max([len(questions), len(total.per_question)])
    names = {
        r["id"]: f"{r['given_name']} {r['surname']}"
        for r in db.query("SELECT id, given_name, surname FROM agents")
    }
    labels = [*questions, *(f"#{i + 1}" for i in range(len(questions), n))]
    return {
        "questions": labels,
        "total": total.figures(n),
        "queues": [{"queue": q, **queues[q].figures(n)} for q in sorted(queues)],
        "agents": [{"agent_id": a, "name": names.get(a, ""), **agents[a].figures(n)} for a in sorted(agents)],
    }
