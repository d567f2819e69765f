"""The pure formatting behind the phone panel's queue side, in Chromium: durations (format.js), merged queue
figures, the longest wait counting on, totals, dialable numbers and overdue callbacks (queue_format.js), over a
grid of inputs and in the three languages. The modules are served from disk through Playwright's router; nothing
of the desk runs. The panel itself is driven against the real desk by e2e/test_queue_e2e.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from tests.helpers.static_page import static_page


@pytest.fixture
def page(chromium) -> Iterator[Page]:
    with static_page(chromium()) as page:
        yield page


def test_durations_counters_and_numbers(page: Page) -> None:
    got = page.evaluate(
        """async () => {
            const f = await import("/static/js/format.js");
            const q = await import("/static/js/queue_format.js");
            const i18n = await import("/static/js/i18n.js");
            const out = {};
            for (const lang of ["nl", "fr", "en"]) {
                await i18n.loadLang(lang);
                out[lang] = [0, 7, 59.9, 60, 135, 3599, 3600, 3735, -4, NaN].map(f.formatDuration);
            }
            const t0 = 1_000_000;
            let known = q.mergeStats(new Map(), [
                { name: "vaccinatie", waiting: 3, longest_wait_s: 75, callbacks_pending: 1 },
                { name: "algemeen", waiting: 0, longest_wait_s: 0, callbacks_pending: 0 },
                { waiting: 9 },  // no name: ignored
            ], t0);
            // A later message with one queue only: the other keeps its figures.
            known = q.mergeStats(known, [{ name: "algemeen", waiting: 2, longest_wait_s: 10 }], t0 + 4000);
            out.live = [
                q.liveLongestWait(known.get("vaccinatie"), t0 + 2500),
                q.liveLongestWait(known.get("algemeen"), t0 + 5000),
                q.liveLongestWait({ waiting: 0, longest_wait_s: 50, receivedAt: t0 }, t0 + 9000),
                q.liveLongestWait(known.get("vaccinatie"), t0 - 1000),  // a clock step back never counts down
            ];
            out.totals = q.totals(known, t0 + 5000);
            out.callbacks_pending = known.get("algemeen").callbacks_pending;
            out.numbers = ["0470 12 34 56", "+32 2/555.00.00", "(02) 555-00-00", "anonymous", "12", "", null,
                           "+32470123456789012345678"].map(q.callbackNumber);
            out.overdue = [q.isOverdue("2026-12-07T22:59:59Z", Date.parse("2026-12-08T08:00:00Z")),
                           q.isOverdue("2026-12-09T22:59:59Z", Date.parse("2026-12-08T08:00:00Z")),
                           q.isOverdue("not a date", 0)];
            return out;
        }"""
    )
    clock = ["0:00", "0:07", "0:59", "1:00", "2:15", "59:59", "1:00:00", "1:02:15", "0:00", "–"]
    assert got["nl"] == got["fr"] == got["en"] == clock
    assert got["live"] == [77.5, 11, 0, 75]
    assert got["totals"] == {"waiting": 5, "longest": 80, "callbacks": 1}
    assert got["callbacks_pending"] == 0
    assert got["numbers"] == ["0470123456", "+3225550000", "025550000", None, None, None, None, None]
    assert got["overdue"] == [True, False, False]
