"""What a dial that never reached the citizen's phone does to its call order or callback (CONTRACT.md "Call
orders", decided): the network's failure counts no attempt; the order or callback is due again after a short delay
that doubles with each consecutive failure (never longer than its own retry delay), and a cap ends one the network
keeps refusing (a destination the trunk bars for good) instead of offering it for ever — but only once those
failures span a window (a day by default): a trunk outage of an hour fails many orders a few times each, and must
end none of them (the desk's trunk watch, `acd/trunk_watch.py`, stops offering meanwhile)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class DialRetry:
    base_s: float = 120.0  # `[acd] dial_retry_s`: the first retry after a network failure
    max_failures: int = 5  # `[acd] dial_failures_max`: consecutive network failures that end it as failed ...
    window_s: float = 24 * 3600.0  # `[acd] dial_failures_window_h`: ... once the first of them is this old

    def gives_up(self, failures: int, first_at: datetime | None, now: datetime) -> bool:
        """Failed for the network's reasons: `failures` in a row (this one included) reach the cap and the first of
        them (`first_at`; None: this one) is at least the window ago. An outage, however many dials it fails, ends
        nothing; a number the trunk refuses day after day does."""
        if failures < self.max_failures:
            return False
        return now - (first_at or now) >= timedelta(seconds=self.window_s)

    def next_try(self, now: datetime, failures: int, ceiling_s: float) -> datetime:
        """Due again after base × 2^(failures − 1), at most `ceiling_s` (the list's or queue's own retry delay),
        at least `base_s`."""
        delay = min(self.base_s * 2 ** max(failures - 1, 0), max(ceiling_s, self.base_s))
        return now + timedelta(seconds=delay)


def failure_text(failure: str, sip_status: int | None) -> str:
    """The reason kept for the supervisor: `unresolved`, `no_response`, `refused 503`, …"""
    return f"{failure} {sip_status}" if failure == "refused" and sip_status else failure
