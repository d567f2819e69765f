"""Requirement thresholds: every edge of the pass/warn/fail bounds, the browser majors, and the JSON the desk
serves to the browser page."""

from __future__ import annotations

import json

import pytest

from hardware_check.requirements import (
    browser_from_user_agent,
    check_names,
    evaluate,
    judge_browser,
    judge_screen,
    load_requirements,
    requirements_json,
)

CONTRACT_NAMES = (
    "cpu memory screen browser microphone speaker headset mic_test eid_reader network_rtt network_jitter "
    "network_loss throughput_down throughput_up webrtc"
).split()


def test_check_names_are_the_contracts() -> None:
    assert list(check_names()) == CONTRACT_NAMES


@pytest.mark.parametrize(("cores", "status"), [(1, "fail"), (2, "pass"), (16, "pass")])
def test_cpu_edges(cores: int, status: str) -> None:
    assert evaluate("cpu", cores) == status


@pytest.mark.parametrize(
    ("gib", "status"),
    [
        (3.9, "pass"),
        (3.5, "pass"),
        (3.49, "warn"),
        (3.4, "warn"),
        (3.0, "warn"),
        (2.99, "fail"),
        (2.9, "fail"),
    ],
)
def test_memory_edges(gib: float, status: str) -> None:
    assert evaluate("memory", gib) == status


@pytest.mark.parametrize(
    ("w", "h", "status"),
    [
        (1280, 720, "pass"),
        (1920, 1080, "pass"),
        (1279, 720, "fail"),
        (1280, 719, "fail"),
        (3000, 700, "fail"),
    ],
)
def test_screen_edges(w: int, h: int, status: str) -> None:
    assert judge_screen(w, h) == status
    assert evaluate("screen", f"{w}x{h}") == status
    assert evaluate("screen", [w, h]) == status


def test_browser_majors_current_previous_older_unknown() -> None:
    cur = load_requirements().browser_current
    assert (cur.chrome, cur.firefox, cur.as_of.isoformat()) == (156, 152, "2026-11-01")
    for family, major in (
        ("chrome", cur.chrome),
        ("firefox", cur.firefox),
        ("edge", cur.chrome),
        ("chromium", cur.chrome),
    ):
        assert judge_browser(family, major + 3) == "pass"  # newer than our data: still fine
        assert judge_browser(family, major) == "pass"
        assert judge_browser(family, major - 1) == "pass"
        assert judge_browser(family, major - 2) == "warn"
        assert judge_browser(family, major - 3) == "fail"
    assert judge_browser("safari", 19) == "fail"
    assert evaluate("browser", "Chrome 156.0.7000.1") == "pass"
    assert evaluate("browser", "firefox 150") == "warn"
    assert evaluate("browser", "Safari 18") == "fail"
    assert evaluate("browser", "Internet Explorer") == "fail"
    assert evaluate("browser", None) == "unknown"


def test_browser_from_user_agent() -> None:
    chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
    edge = chrome + " Edg/155.0.0.0"
    firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:152.0) Gecko/20100101 Firefox/152.0"
    opera = chrome + " OPR/120.0.0.0"
    safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15"
    assert browser_from_user_agent(chrome) == ("chrome", 156)
    assert browser_from_user_agent(edge) == ("edge", 155)
    assert browser_from_user_agent(firefox) == ("firefox", 152)
    assert browser_from_user_agent(opera) is None
    assert browser_from_user_agent(safari) is None


@pytest.mark.parametrize(
    ("name", "value", "status"),
    [
        ("network_rtt", 100, "pass"),
        ("network_rtt", 100.1, "warn"),
        ("network_rtt", 200, "warn"),
        ("network_rtt", 200.1, "fail"),
        ("network_jitter", 20, "pass"),
        ("network_jitter", 40, "warn"),
        ("network_jitter", 41, "fail"),
        ("network_loss", 1, "pass"),
        ("network_loss", 3, "warn"),
        ("network_loss", 3.1, "fail"),
        ("throughput_down", 2, "pass"),
        ("throughput_down", 1, "warn"),
        ("throughput_down", 0.99, "fail"),
        ("throughput_up", 1, "pass"),
        ("throughput_up", 0.5, "warn"),
        ("throughput_up", 0.49, "fail"),
        ("webrtc", 4.0, "pass"),
        ("webrtc", 3.6, "warn"),
        ("webrtc", 3.59, "fail"),
        ("microphone", 1, "pass"),
        ("microphone", 0, "fail"),
        ("speaker", 0, "fail"),
        ("headset", 1, "pass"),
        ("headset", 0, "warn"),
        ("mic_test", 15, "pass"),
        ("mic_test", 6, "warn"),
        ("mic_test", 5.9, "fail"),
        ("eid_reader", "card", "pass"),
        ("eid_reader", "reader", "warn"),
        ("eid_reader", "none", "fail"),
        ("eid_reader", "banana", "unknown"),
        ("cpu", None, "unknown"),
        ("cpu", "two", "unknown"),
        ("memory", float("nan"), "unknown"),
    ],
)
def test_numeric_and_level_edges(name: str, value: object, status: str) -> None:
    assert evaluate(name, value) == status


def test_unknown_check_name_raises() -> None:
    with pytest.raises(KeyError):
        evaluate("gpu", 1)


def test_requirements_json_shape() -> None:
    body = requirements_json()
    json.dumps(body)  # serialisable as is
    assert [c["name"] for c in body["checks"]] == CONTRACT_NAMES
    for c in body["checks"]:
        assert {"name", "unit", "pass", "warn", "advice"} <= set(c)
        assert set(c["advice"]) == {"nl", "fr", "en"}
        assert all(len(text) > 30 for text in c["advice"].values()), c["name"]
        assert c["direction"] in ("higher_is_better", "lower_is_better")
    by_name = {c["name"]: c for c in body["checks"]}
    assert by_name["memory"]["pass"] == 3.5 and by_name["memory"]["warn"] == 3.0
    assert by_name["screen"]["pass"] == [1280, 720]
    assert by_name["browser"]["pass"] == {"chrome": 155, "firefox": 151}
    assert by_name["browser"]["warn"] == {"chrome": 154, "firefox": 150}
    assert "netwerkkabel" in by_name["network_jitter"]["advice"]["nl"]
    assert "câble réseau" in by_name["network_jitter"]["advice"]["fr"]
