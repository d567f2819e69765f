"""The embedded knowledge base: SqliteKnowledgeBase, a KnowledgeBase over one SQLite file (WAL).

The schema and the way items are written live in sqlite_schema, the queries in sqlite_search; this module owns
the connections and the threads. Blocking sqlite calls run on a small thread pool owned by the instance, each
thread with its own connection, so a search never holds the event loop while calls are being switched (figures:
bench/kb.py). The importer's methods (`stored_refs`, `write_items`) and `search_sync` are plain blocking calls.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from .base import DEFAULT_LIMIT, check_feedback_text, check_search_args
from .errors import KbError
from .model import Contact, Faq, Item, SearchPage
from .sqlite_schema import create_schema, delete_item, insert_item
from .sqlite_search import RANK_LIMIT, empty_query_counts, list_all, search, skill_key_counts
from .text import match_expression

T = TypeVar("T")
MMAP_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class StoredItem:
    """An item as the importer hands it over: where it came from and a digest of its source."""

    item: Item
    source: str
    digest: str


@dataclass(frozen=True)
class StoredRef:
    type: str
    source: str
    digest: str


class SqliteKnowledgeBase:
    """KnowledgeBase over a SQLite file (created with its schema if missing)."""

    def __init__(
        self, path: str | Path, *, timeout_s: float = 5.0, threads: int = 2, rank_limit: int = RANK_LIMIT
    ) -> None:
        """`path`: a database file (the desk's own is fine: every table is prefixed kb_); not ":memory:", which
        would give each thread its own empty database. `rank_limit`: above this many hits in a tab, results are
        not bm25-ranked (see sqlite_search)."""
        if str(path) == ":memory:":
            raise ValueError("SqliteKnowledgeBase needs a file path, not :memory:")
        self.path = Path(path)
        self._rank_limit = rank_limit
        self._timeout_s = timeout_s
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="kb-sqlite")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False
        self._generation = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect()
        try:
            create_schema(sqlite_utils.Database(conn))
        finally:
            conn.close()

    # -- KnowledgeBase ------------------------------------------------------------------------------------

    async def search(
        self, q: str, tab: str = "articles", skill: str | None = None, limit: int = DEFAULT_LIMIT
    ) -> SearchPage:
        check_search_args(tab, limit)
        return await self._run(self.search_sync, q, tab, skill, limit)

    async def get(self, item_id: str) -> Item | None:
        return await self._run(self._get, item_id)

    async def record_use(self, item_id: str, agent_id: int | None = None, skill: str | None = None) -> None:
        await self._run(self._record_use, item_id, agent_id, skill)

    async def feedback(self, item_id: str, text: str, agent_id: int | None = None) -> int:
        clean = check_feedback_text(text)
        return await self._run(self._feedback, item_id, clean, agent_id)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(None, self._shutdown)

    # -- blocking API (importer, CLI, bench) --------------------------------------------------------------

    def search_sync(
        self, q: str, tab: str = "articles", skill: str | None = None, limit: int = DEFAULT_LIMIT
    ) -> SearchPage:
        """search() without the thread hop; blocks for the query's duration."""
        check_search_args(tab, limit)
        conn = self._thread_connection()
        totals = self._empty_query_counts(conn, skill)
        if match_expression(q) is None:
            return list_all(conn, tab, skill, limit, counts=totals)
        return search(conn, q, tab, skill, limit, self._rank_limit, totals=totals)

    def stored_refs(self) -> dict[str, StoredRef]:
        """item id -> what the importer needs to know of every stored item."""
        conn = self._thread_connection()
        rows = conn.execute("SELECT id, type, source, digest FROM kb_items")
        return {
            item_id: StoredRef(type=t, source=src or "", digest=digest or "")
            for item_id, t, src, digest in rows
        }

    def write_items(self, items: Sequence[StoredItem], delete_ids: Iterable[str] = ()) -> None:
        """Replace (or add) `items` and delete `delete_ids`, all in one transaction."""
        conn = self._thread_connection()
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self._generation += 1
        with _transaction(conn):
            for item_id in delete_ids:
                delete_item(conn, item_id)
            for stored in items:
                delete_item(conn, stored.item.id)
                insert_item(conn, stored.item, stored.source, stored.digest, now)

    # -- internals ----------------------------------------------------------------------------------------

    def _empty_query_counts(self, conn: sqlite3.Connection, skill: str | None) -> dict[str, int]:
        """The empty query's counts, from skill_key_counts cached per connection: the desk opens the KB panel with
        an empty query for the agent's skill all day long, and counting 20 000 items costs milliseconds. A commit
        by another connection changes `PRAGMA data_version`; this instance's own imports bump `_generation`."""
        version = (conn.execute("PRAGMA data_version").fetchone()[0], self._generation)
        hit: tuple[tuple[int, int], list[tuple[str, str, int]]] | None = getattr(
            self._local, "key_counts", None
        )
        if hit is None or hit[0] != version:
            hit = (version, skill_key_counts(conn))
            self._local.key_counts = hit
        return empty_query_counts(conn, skill, hit[1])

    def _get(self, item_id: str) -> Item | None:
        conn = self._thread_connection()
        conn.row_factory = sqlite3.Row
        try:
            row = conn.execute("SELECT * FROM kb_items WHERE id = ?", (item_id,)).fetchone()
            if row is None:
                return None
            faqs = conn.execute(
                "SELECT q, a FROM kb_faq WHERE item_id = ? ORDER BY q_index", (item_id,)
            ).fetchall()
        finally:
            conn.row_factory = None
        return Item(
            id=row["id"],
            type=row["type"],
            title=row["title"],
            lang=row["lang"],
            skills=json.loads(row["skills"]),
            keywords=json.loads(row["keywords"]),
            instructions=row["instructions"],
            faq=[Faq(q=f["q"], a=f["a"]) for f in faqs],
            escalations=json.loads(row["escalations"]),
            organisations=json.loads(row["organisations"]),
            updated=dt.date.fromisoformat(row["updated"]) if row["updated"] else None,
            body=row["body"],
            handling_days=row["handling_days"],
            contacts=[Contact(**c) for c in json.loads(row["contacts"])],
        )

    def _record_use(self, item_id: str, agent_id: int | None, skill: str | None) -> None:
        conn = self._thread_connection()
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with _transaction(conn):
            _require_item(conn, item_id)
            conn.execute(
                """
                INSERT INTO kb_usage (item_id, skill, uses, last_used, last_agent_id) VALUES (?, ?, 1, ?, ?)
                ON CONFLICT (item_id, skill)
                DO UPDATE SET uses = uses + 1, last_used = excluded.last_used, last_agent_id = excluded.last_agent_id
                """,
                (item_id, (skill or "").lower(), now, agent_id),
            )

    def _feedback(self, item_id: str, text: str, agent_id: int | None) -> int:
        conn = self._thread_connection()
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with _transaction(conn):
            _require_item(conn, item_id)
            cursor = conn.execute(
                "INSERT INTO kb_feedback (item_id, agent_id, text, created) VALUES (?, ?, ?, ?)",
                (item_id, agent_id, text, now),
            )
        return int(cursor.lastrowid or 0)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise KbError("unavailable", "the knowledge base is closed")
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(self._executor, fn, *args), self._timeout_s)
        except TimeoutError as exc:
            raise KbError("timeout", f"the knowledge base did not answer within {self._timeout_s} s") from exc
        except sqlite3.DatabaseError as exc:
            # "database is locked" after the busy timeout, disk I/O errors: the user can only retry later.
            raise KbError("unavailable", f"knowledge base database error: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            str(self.path), isolation_level=None, check_same_thread=False, timeout=self._timeout_s
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        # Reads straight from the mapped file instead of a read() per page into the page cache: 5-25 % off the
        # p50 of bench/kb.py searches (the index of 20 000 items is ~65 MB). Address space only, not memory.
        conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        return conn

    def _thread_connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def _shutdown(self) -> None:
        self._executor.shutdown(wait=True)
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()


class _transaction:
    """BEGIN IMMEDIATE .. COMMIT on an autocommit connection, ROLLBACK on error."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self._conn.execute("BEGIN IMMEDIATE")
        return self._conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _require_item(conn: sqlite3.Connection, item_id: str) -> None:
    if conn.execute("SELECT 1 FROM kb_items WHERE id = ?", (item_id,)).fetchone() is None:
        raise KbError("not_found", f"no knowledge base item {item_id!r}")
