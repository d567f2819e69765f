"""The session limit's arithmetic on a hand-turned clock: what a route costs, how long Retry-After says to wait,
and one log line per burst of refusals (a burst ends after 5 s without one)."""

from __future__ import annotations

import logging

from aiohttp.test_utils import make_mocked_request

from agent_desktop.web.ratelimit import TokenBucket
from agent_desktop.web.session_limit import HEAVY_COST, SessionLimit, cost


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_spends_a_cost_and_says_how_long_until_it_can_again():
    clock = Clock()
    bucket = TokenBucket(10, 2.0, clock)
    assert bucket.take(8)
    assert not bucket.take(5)  # 2 left: nothing spent
    assert bucket.wait_s(5) == 1.5
    clock.now = 1.5
    assert bucket.wait_s(5) == 0.0
    assert bucket.take(5)


def test_route_costs():
    def of(method: str, path: str) -> float:
        return cost(make_mocked_request(method, path))

    assert of("GET", "/api/me") == 1
    assert of("GET", "/api/kb/search?q=vac") == 1
    assert of("GET", "/api/reports/queues?from=2026-01-01&to=2026-12-31") == HEAVY_COST
    assert of("GET", "/api/reports/chart.svg?kind=queues") == HEAVY_COST
    assert of("GET", "/api/complaints.csv") == HEAVY_COST
    assert of("GET", "/api/call-lists/x/orders?format=csv") == HEAVY_COST
    assert of("GET", "/api/recordings?from=2026-01-01&to=2026-01-02") == HEAVY_COST
    assert of("GET", "/api/recordings/abc/audio") == 1
    for free in ("/", "/supervisor/reports", "/static/js/api.js", "/ws", "/api/preflight/requirements"):
        assert of("GET", free) == 0, free
    assert of("POST", "/api/logout") == 0
    assert of("POST", "/api/login") == 0


def test_one_log_line_per_burst_of_refusals(caplog):
    caplog.set_level(logging.INFO, logger="agent_desktop.web.session_limit")
    clock = Clock()
    limit = SessionLimit(20, 1.0, clock)
    assert limit.check(7, 3, 20, "GET /api/me") == 0
    waits = [limit.check(7, 3, 1, "GET /api/me") for _ in range(50)]
    assert all(w >= 1 for w in waits)
    clock.now = 4.0  # 4 tokens back, spent at once: refusals again within 5 s of the last, the same burst
    assert [limit.check(7, 3, 1, "GET /api/me") for _ in range(5)].count(0) == 4
    clock.now = 20.0  # a new burst after a quiet spell: 16 tokens back
    assert limit.check(7, 3, HEAVY_COST, "GET /api/reports/queues") == 0
    assert limit.check(7, 3, HEAVY_COST, "GET /api/reports/queues") == 4.0  # 6 left: 4 s until an export
    lines = [r.getMessage() for r in caplog.records if "rate_limited" in r.getMessage()]
    assert lines == [
        "http session 7 agent 3: rate_limited: over 20 requests at once, 1/s (first: GET /api/me)",
        "http session 7 agent 3: rate_limited: over 20 requests at once, 1/s (first: GET /api/reports/queues)",
    ]
