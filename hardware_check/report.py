"""Preflight report model (DESIGN.md §6): `{source, started, finished, overall, checks: [{name, status, value,
unit, detail}]}`, shared by the browser page, the CLI and the desk's `POST /api/preflight/reports`.

`overall` is the worst status with the order pass < warn < unknown < fail: a check that could not run may hide
a failure, so it ranks above a known warning; the exit code maps pass → 0, warn/unknown → 1, fail → 2.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hardware_check.requirements import STATUSES, check_names

SOURCES = ("browser", "cli")
_RANK = {"pass": 0, "warn": 1, "unknown": 2, "fail": 3}
MAX_DETAIL = 1000
MAX_UNIT = 16
MAX_VALUE_STR = 200
MAX_TIME_STR = 40
Value = None | bool | int | float | str


@dataclass
class CheckResult:
    name: str
    status: str
    value: Value = None
    unit: str = ""
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "value": self.value,
            "unit": self.unit,
            "detail": self.detail,
        }


@dataclass
class Report:
    source: str
    started: str
    finished: str
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def overall(self) -> str:
        return worst([c.status for c in self.checks])

    def get(self, name: str) -> CheckResult | None:
        return next((c for c in self.checks if c.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "started": self.started,
            "finished": self.finished,
            "overall": self.overall,
            "checks": [c.to_json() for c in self.checks],
        }

    def dumps(self, indent: int | None = None) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, indent=indent)


def utc_now() -> str:
    """UTC ISO-8601 with a Z, second precision, as DESIGN.md §4 stores times."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def worst(statuses: list[str]) -> str:
    """Worst status; an empty list is `unknown` (nothing was checked)."""
    if not statuses:
        return "unknown"
    return max(statuses, key=lambda s: _RANK[s])


def exit_code(report: Report) -> int:
    """0 when all pass, 1 when any warns or could not run, 2 when any fails."""
    return {"pass": 0, "warn": 1, "unknown": 1, "fail": 2}[report.overall]


def _str_field(obj: dict, key: str, where: str, limit: int, required: bool = True) -> str:
    if key not in obj:
        if required:
            raise ValueError(f"{where}: missing {key!r}")
        return ""
    val = obj[key]
    if val is None and not required:
        return ""
    if not isinstance(val, str):
        raise ValueError(f"{where}: {key!r} must be a string")
    if len(val) > limit:
        raise ValueError(f"{where}: {key!r} is longer than {limit} characters")
    return val


def _time_field(obj: dict, key: str) -> tuple[str, datetime]:
    text = _str_field(obj, key, "report", MAX_TIME_STR)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"report: {key!r} is not an ISO-8601 time: {text[:MAX_TIME_STR]!r}") from None
    if when.tzinfo is None:
        raise ValueError(f"report: {key!r} needs a time zone (use UTC, e.g. 2026-11-23T14:52:00Z)")
    return text, when


def _check(obj: Any, index: int, known: tuple[str, ...]) -> CheckResult:
    where = f"checks[{index}]"
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: must be an object")
    extra = set(obj) - {"name", "status", "value", "unit", "detail"}
    if extra:
        raise ValueError(f"{where}: unknown field(s) {sorted(extra)}")
    name = _str_field(obj, "name", where, 40)
    if name not in known:
        raise ValueError(f"{where}: unknown check name {name!r} (known: {', '.join(known)})")
    where = f"checks[{index}] ({name})"
    status = _str_field(obj, "status", where, 10)
    if status not in STATUSES:
        raise ValueError(f"{where}: bad status {status!r} (expected one of {', '.join(STATUSES)})")
    value = obj.get("value")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: value must be a finite number")
    if isinstance(value, str) and len(value) > MAX_VALUE_STR:
        raise ValueError(f"{where}: 'value' is longer than {MAX_VALUE_STR} characters")
    if value is not None and not isinstance(value, bool | int | float | str):
        raise ValueError(f"{where}: value must be a number, a string, a boolean or null")
    unit = _str_field(obj, "unit", where, MAX_UNIT, required=False)
    detail = _str_field(obj, "detail", where, MAX_DETAIL, required=False)
    return CheckResult(name=name, status=status, value=value, unit=unit, detail=detail)


def validate_report(obj: Any) -> Report:
    """Parse and validate a report body; raises ValueError naming the first problem. Unknown fields, unknown
    or duplicate check names, bad statuses, oversize strings, bad times and an `overall` that is not the worst
    check status are all refused."""
    if not isinstance(obj, dict):
        raise ValueError("report: must be a JSON object")
    extra = set(obj) - {"source", "started", "finished", "overall", "checks"}
    if extra:
        raise ValueError(f"report: unknown field(s) {sorted(extra)}")
    source = _str_field(obj, "source", "report", 10)
    if source not in SOURCES:
        raise ValueError(f"report: bad source {source!r} (expected browser or cli)")
    started, t0 = _time_field(obj, "started")
    finished, t1 = _time_field(obj, "finished")
    if t1 < t0:
        raise ValueError("report: 'finished' is before 'started'")
    checks_obj = obj.get("checks")
    known = check_names()
    if not isinstance(checks_obj, list) or not checks_obj:
        raise ValueError("report: 'checks' must be a non-empty list")
    if len(checks_obj) > len(known):
        raise ValueError(f"report: more than {len(known)} checks")
    checks = [_check(c, i, known) for i, c in enumerate(checks_obj)]
    seen: set[str] = set()
    for c in checks:
        if c.name in seen:
            raise ValueError(f"report: check {c.name!r} appears twice")
        seen.add(c.name)
    report = Report(source=source, started=started, finished=finished, checks=checks)
    overall = _str_field(obj, "overall", "report", 10)
    if overall not in STATUSES:
        raise ValueError(f"report: bad overall {overall!r} (expected one of {', '.join(STATUSES)})")
    if overall != report.overall:
        raise ValueError(f"report: overall is {overall!r} but the worst check status is {report.overall!r}")
    return report


def from_json(text: str | bytes) -> Report:
    """Parse a JSON document into a validated Report (ValueError on bad JSON or a bad report)."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"report: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return validate_report(obj)
