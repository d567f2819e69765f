"""Persistence as a subscriber of the event bus: agents' state changes and the `calls` rows, posted to the store.

Nothing here waits: each event becomes one job on the store's writer thread (`Store.post`), in the order the events
were published, so a row is created before it is updated and the event loop never holds a database lock. Moving to
PostgreSQL later swaps the repository functions, not the call path.

The `calls` row as the queue writes it (the reports are built on exactly this): one row per leg, created at the
INVITE (inbound; `offered` = then) or the dial; `queue` the queue the call reached; `queued` when it joined the
waiting line (heard the music); `answered` + `agent_id` when an agent of this desk answered; `ended` + `end_cause`;
`overflow_tries` counted at each overflow dial.
"""

from __future__ import annotations

from ..store import agent_states, surveys
from ..store import calls as call_records
from ..store.clock import parse_iso
from ..store.store import Store
from .events import (
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallOffered,
    CallQueued,
    CallRouted,
    CallStarted,
    CallStateChanged,
    EventBus,
    OverflowDialled,
    SurveyAnswered,
    SurveyStarted,
)


class Recorder:
    def __init__(self, store: Store, bus: EventBus) -> None:
        self._store = store
        bus.subscribe(AgentStateChanged, self._agent_state)
        bus.subscribe(CallStarted, self._started)
        bus.subscribe(CallRouted, self._routed)
        bus.subscribe(CallQueued, self._queued)
        bus.subscribe(CallOffered, self._offered)
        bus.subscribe(CallAnswered, self._answered)
        bus.subscribe(CallStateChanged, self._state)
        bus.subscribe(OverflowDialled, self._overflow)
        bus.subscribe(CallEnded, self._ended)
        bus.subscribe(SurveyStarted, self._survey_started)
        bus.subscribe(SurveyAnswered, self._survey_answered)

    def _agent_state(self, e: AgentStateChanged) -> None:
        self._store.post(agent_states.record, e.agent_id, e.state, e.reason, at=e.since)

    def _started(self, e: CallStarted) -> None:
        self._store.post(
            call_records.create,
            e.call_id,
            direction=e.direction,
            from_number=e.from_number,
            to_number=e.to_number,
            sip_call_id=e.sip_call_id,
            queue=e.queue,
            agent_id=e.agent_id,
            state="dialing" if e.direction == "outbound" else "offered",
            call_order_id=e.call_order_id,
        )

    def _routed(self, e: CallRouted) -> None:
        self._store.post(call_records.update, e.call_id, queue=e.queue)

    def _queued(self, e: CallQueued) -> None:
        self._store.post(call_records.mark_queued, e.call_id, e.queue)

    def _offered(self, e: CallOffered) -> None:
        # `agent_id` is written when an agent answers: a row names the agent who took the call, not one it rang.
        self._store.post(call_records.update, e.call_id, state="ringing")

    def _answered(self, e: CallAnswered) -> None:
        self._store.post(call_records.mark_answered, e.call_id, e.agent_id)

    def _state(self, e: CallStateChanged) -> None:
        if e.direction == "outbound" and e.state == "ringing":
            self._store.post(call_records.update, e.call_id, state="ringing")

    def _overflow(self, e: OverflowDialled) -> None:
        self._store.post(call_records.count_overflow_try, e.call_id)

    def _ended(self, e: CallEnded) -> None:
        self._store.post(call_records.mark_ended, e.call_id, e.cause)

    def _survey_started(self, e: SurveyStarted) -> None:
        self._store.post(surveys.start, e.call_id, e.queue, e.agent_id, e.questions, parse_iso(e.at))

    def _survey_answered(self, e: SurveyAnswered) -> None:
        self._store.post(surveys.save, e.call_id, list(e.answers), e.finished)
