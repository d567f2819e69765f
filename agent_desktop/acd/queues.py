"""The queues and menus at runtime (DESIGN.md §9): which number lands where, each queue's prompts decoded once,
its opening hours with the supervisor's override, and its waiting line.

Prompts are decoded when the desk starts (PyAV, any format, to 8 kHz mono) and encoded to G.711 once; a prompt
file that is missing or cannot be decoded stops start-up with a message naming its key, because a caller must never
meet a queue whose welcome turns out to be broken at the first call. A config without `[[queues]]` has one queue
`default` that takes every number, is always open, plays no prompt and the desk's hold music (the first version's
behaviour).
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..config import Config, ConfigError, MenuConfig, QueueConfig
from ..media.audio_file import AudioFileError, decode_8k_mono
from ..media.hold_music import HoldMusic
from ..store.clock import iso
from .opening_hours import OpeningHours

if TYPE_CHECKING:
    from .call_session import CallSession

DEFAULT_QUEUE = "default"
Mode = Literal["open", "closed", "auto"]
OVERRIDES = ("open", "closed", "auto")


@dataclass(frozen=True)
class Override:
    """A supervisor's `open` or `closed` on a queue (DESIGN.md §9 "Opening now"): who set it, when, and when it
    lapses by itself (`until`; None: only when set back to `auto`). Kept in the store (`acd/overrides.py`)."""

    mode: Mode
    set_by: int | None
    set_at: dt.datetime
    until: dt.datetime | None = None

    def stands(self, at: dt.datetime) -> bool:
        return self.until is None or at < self.until


@dataclass(eq=False)
class Queue:
    config: QueueConfig
    hours: OpeningHours
    music: HoldMusic
    prompts: dict[str, HoldMusic] = field(default_factory=dict)
    override: Override | None = None
    # In the order they joined. Changed only through `join_line` / `leave_line`, which keep `line` with it.
    waiting: list[CallSession] = field(default_factory=list)
    # The same callers in the order routing serves them within the queue (the oldest INVITE first, then the call's
    # id: `routing.caller_order`), kept as they join and leave, so that a routing pass reads only the heads of the
    # lines instead of sorting the whole crowd each time (hundreds wait when a crisis line opens).
    line: list[CallSession] = field(default_factory=list)
    # Callers let in who still hear the welcome or recording notice: not waiting yet, but they count towards
    # `max_waiting` (a burst would pass the limit by as many callers as are in their welcome).
    arriving: set[CallSession] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.config.name

    @functools.cached_property
    def skills(self) -> frozenset[str]:
        return frozenset(self.config.skills)  # read for every agent on every routing pass: built once

    @property
    def priority(self) -> int:
        return self.config.priority

    def prompt(self, key: str) -> HoldMusic | None:
        return self.prompts.get(key)

    def override_at(self, at: dt.datetime) -> Override | None:
        """The supervisor's override standing at `at` (a lapsed one counts as none)."""
        found = self.override
        return found if found is not None and found.stands(at) else None

    def open_at(self, at: dt.datetime) -> bool:
        found = self.override_at(at)
        if found is not None:
            return found.mode == "open"
        return self.hours.is_open(at)

    def override_json(self, at: dt.datetime) -> dict:
        """`GET /api/queues`' override fields at `at`: `override` (open | closed | auto), who set it, when, until."""
        found = self.override_at(at)
        return {
            "override": found.mode if found else "auto",
            "override_by": found.set_by if found else None,
            "override_set_at": iso(found.set_at) if found else None,
            "override_until": iso(found.until) if found and found.until else None,
        }

    def join_line(self, session: CallSession) -> None:
        self.waiting.append(session)
        bisect.insort(self.line, session, key=_line_key)

    def leave_line(self, session: CallSession) -> bool:
        """Take `session` out of the line; False when it was not in it."""
        if session not in self.waiting:
            return False
        self.waiting.remove(session)
        i = bisect.bisect_left(self.line, _line_key(session), key=_line_key)
        while self.line[i] is not session:  # a call id is unique: this only steps over an equal arrival time
            i += 1
        del self.line[i]
        return True

    def longest_wait_s(self) -> int:
        if not self.line:
            return 0
        return round(time.monotonic() - self.line[0].arrived)

    def served_by(self, skills: frozenset[str] | set[str] | tuple[str, ...]) -> bool:
        """An agent with `skills` takes this queue's calls: it has every skill the queue asks for."""
        return self.skills <= frozenset(skills)


def _line_key(session: CallSession) -> tuple[float, str]:
    return (session.arrived, session.id)


@dataclass(eq=False)
class Menu:
    config: MenuConfig
    prompt: HoldMusic

    @property
    def options(self) -> dict[str, str]:
        return self.config.options


class Directory:
    """Dialled number -> queue or menu."""

    def __init__(self, queues: list[Queue], menus: list[Menu]) -> None:
        self.queues: dict[str, Queue] = {q.name: q for q in queues}
        self._by_number: dict[str, Queue | Menu] = {}
        self._any: Queue | None = None
        for queue in queues:
            for number in queue.config.numbers:
                if number == "*":
                    self._any = queue
                else:
                    self._by_number[number] = queue
        for menu in menus:
            for number in menu.config.numbers:
                self._by_number[number] = menu

    def is_open(self, name: str, at: dt.datetime) -> bool:
        """A queue is open at `at`, its supervisor's override included (unknown names: closed)."""
        queue = self.queues.get(name)
        return queue is not None and queue.open_at(at)

    def route(self, number: str) -> Queue | Menu | None:
        """Where a call to `number` (the Request-URI's user part) lands; None: nowhere (404)."""
        return self._by_number.get(number) or self._any


class _Prompts:
    """Each file decoded and encoded once, however many keys name it."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._cache: dict[str, HoldMusic] = {}

    def load(self, name: str, where: str) -> HoldMusic:
        if name not in self._cache:
            path = self._folder / name
            try:
                self._cache[name] = HoldMusic(decode_8k_mono(path))
            except AudioFileError as e:
                raise ConfigError(f"{where}: {e}") from None
        return self._cache[name]


def default_queue_config() -> QueueConfig:
    return QueueConfig(
        name=DEFAULT_QUEUE,
        number="*",
        holidays="none",
        callback_offer_after_s=0,
        overflow_after_s=0,
    )


def build_directory(config: Config, desk_music: HoldMusic) -> Directory:
    """The runtime queues and menus of `config`; ConfigError naming the key of a prompt that cannot be played."""
    prompts = _Prompts(config.path(config.prompts.dir))
    queue_configs = config.queues or (default_queue_config(),)
    queues = []
    for i, qc in enumerate(queue_configs):
        where = f"[[queues]][{i}]"
        loaded = {key: prompts.load(name, f"{where} {key}") for key, name in qc.prompt_keys().items()}
        music = loaded.pop("hold_music", None) or desk_music
        hours = OpeningHours.from_config(qc.open, qc.timezone, qc.holidays, qc.closed_dates, where)
        queues.append(Queue(qc, hours, music, loaded))
    menus = [Menu(mc, prompts.load(mc.prompt, f"[[menus]][{i}] prompt")) for i, mc in enumerate(config.menus)]
    return Directory(queues, menus)
