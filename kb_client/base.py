"""The KnowledgeBase interface the desk talks to; the SQLite and HTTP backends both implement it."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .errors import KbError
from .model import TABS, Item, SearchPage

DEFAULT_LIMIT = 20
MAX_LIMIT = 200
MAX_FEEDBACK_CHARS = 4000


@runtime_checkable
class KnowledgeBase(Protocol):
    """Every method may raise KbError; search raises code bad_request for an unknown tab or a bad limit,
    record_use and feedback raise not_found for an unknown item."""

    async def search(
        self, q: str, tab: str = "articles", skill: str | None = None, limit: int = DEFAULT_LIMIT
    ) -> SearchPage:
        """All terms of `q` must match, the last as a prefix; an empty `q` lists the whole tab, most used for
        `skill` first. `skill` keeps items tagged with it and items without any skill."""
        ...

    async def get(self, item_id: str) -> Item | None: ...

    async def record_use(self, item_id: str, agent_id: int | None = None, skill: str | None = None) -> None:
        """Count that an agent opened or used the item (feeds the empty-query ordering)."""
        ...

    async def feedback(self, item_id: str, text: str, agent_id: int | None = None) -> int:
        """Store an agent's remark on an item and return its id; mailing editors is the desk's job."""
        ...

    async def close(self) -> None: ...


def check_search_args(tab: str, limit: int) -> None:
    """Raise KbError(bad_request) for a tab or limit no backend accepts, before any work is done."""
    if tab not in TABS:
        raise KbError("bad_request", f"tab must be one of {', '.join(TABS)}, not {tab!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise KbError("bad_request", f"limit must be an integer from 1 to {MAX_LIMIT}")


def check_feedback_text(text: str) -> str:
    """The feedback text, stripped; KbError(bad_request) when empty or too long."""
    if not isinstance(text, str) or not text.strip():
        raise KbError("bad_request", "feedback text is empty")
    if len(text) > MAX_FEEDBACK_CHARS:
        raise KbError("too_large", f"feedback text is longer than {MAX_FEEDBACK_CHARS} characters")
    return text.strip()
