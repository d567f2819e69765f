"""Report model: JSON round trip, overall/exit-code rules and the validation the desk's report upload uses."""

from __future__ import annotations

import copy
import json

import pytest

from hardware_check.report import CheckResult, Report, exit_code, from_json, validate_report, worst


def _report(*statuses: str) -> Report:
    names = ["cpu", "memory", "screen", "browser"]
    return Report(
        source="browser",
        started="2026-11-23T14:00:00Z",
        finished="2026-11-23T14:01:00Z",
        checks=[CheckResult(n, s, 1, "x", "") for n, s in zip(names, statuses, strict=False)],
    )


@pytest.mark.parametrize(
    ("statuses", "overall", "code"),
    [
        (("pass", "pass"), "pass", 0),
        (("pass", "warn"), "warn", 1),
        (("pass", "unknown"), "unknown", 1),
        (("warn", "unknown"), "unknown", 1),
        (("unknown", "fail", "warn"), "fail", 2),
        (("pass", "fail"), "fail", 2),
    ],
)
def test_overall_and_exit_code(statuses: tuple[str, ...], overall: str, code: int) -> None:
    report = _report(*statuses)
    assert report.overall == overall
    assert exit_code(report) == code


def test_empty_is_unknown() -> None:
    assert worst([]) == "unknown"


def test_round_trip() -> None:
    report = _report("pass", "warn", "fail")
    report.checks[0].value = "1920x1080"
    again = from_json(report.dumps())
    assert again == report
    assert json.loads(report.dumps())["overall"] == "fail"


GOOD = {
    "source": "cli",
    "started": "2026-11-23T14:00:00Z",
    "finished": "2026-11-23T14:00:30+00:00",
    "overall": "warn",
    "checks": [
        {"name": "cpu", "status": "pass", "value": 4, "unit": "cores", "detail": "4 logical core(s)"},
        {"name": "headset", "status": "warn", "value": 0, "unit": "devices", "detail": ""},
        {"name": "screen", "status": "pass", "value": "1920x1080"},
    ],
}


def test_valid_report_passes() -> None:
    report = validate_report(copy.deepcopy(GOOD))
    assert report.overall == "warn"
    assert report.get("screen").unit == ""  # optional fields default


def _bad(mutate) -> dict:
    obj = copy.deepcopy(GOOD)
    mutate(obj)
    return obj


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ([], "must be a JSON object"),
        (_bad(lambda o: o.update(agent="x")), "unknown field"),
        (_bad(lambda o: o.update(source="phone")), "bad source"),
        (_bad(lambda o: o.pop("started")), "missing 'started'"),
        (_bad(lambda o: o.update(started="yesterday")), "not an ISO-8601 time"),
        (_bad(lambda o: o.update(started="2026-11-23T14:00:00")), "time zone"),
        (_bad(lambda o: o.update(finished="2026-11-23T13:00:00Z")), "before 'started'"),
        (_bad(lambda o: o.update(checks=[])), "non-empty list"),
        (_bad(lambda o: o["checks"].append({"name": "gpu", "status": "pass"})), "unknown check name 'gpu'"),
        (_bad(lambda o: o["checks"][0].update(status="ok")), "bad status 'ok'"),
        (_bad(lambda o: o["checks"][0].update(detail="x" * 1001)), "longer than 1000"),
        (_bad(lambda o: o["checks"][0].update(unit="u" * 17)), "longer than 16"),
        (_bad(lambda o: o["checks"][0].update(value="v" * 201)), "longer than 200"),
        (_bad(lambda o: o["checks"][0].update(value={"a": 1})), "value must be"),
        (_bad(lambda o: o["checks"][0].update(value=float("inf"))), "finite"),
        (_bad(lambda o: o["checks"][0].update(extra=1)), "unknown field"),
        (_bad(lambda o: o["checks"].append(dict(o["checks"][0]))), "appears twice"),
        (_bad(lambda o: o.update(overall="pass")), "worst check status is 'warn'"),
        (_bad(lambda o: o.update(overall="great")), "bad overall"),
        (_bad(lambda o: o["checks"].__setitem__(0, "cpu")), "must be an object"),
        (_bad(lambda o: o.update(checks=[{"name": "cpu", "status": "pass"}] * 16)), "more than 15 checks"),
    ],
)
def test_invalid_reports_are_refused_clearly(obj: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_report(obj)


def test_from_json_refuses_bad_json() -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        from_json("{nope")
