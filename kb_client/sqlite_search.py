"""Searching the embedded KB: the FTS5 query for typed text, the usage-ordered listing for an empty query.

Both take a sqlite3 connection and block; SqliteKnowledgeBase runs them on its thread pool.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from .model import TABS, TYPE_OF_TAB, SearchPage, SearchResult
from .sqlite_schema import (
    ANY_SKILL_TOKEN,
    BODY_COLUMN,
    DOC_MASK,
    KIND_CODES,
    SUMMARY_CHARS,
    kind_range,
    skill_token,
)
from .text import match_expression, plain_text, shorten

SNIPPET_TOKENS = 24
_SNIPPET = f"snippet(kb_fts, {BODY_COLUMN}, '', '', '…', {SNIPPET_TOKENS})"
# Computed for the returned rows only (after FTS5's ORDER BY rank … LIMIT), through the unique index on id.
_FAQ_LANG = "(SELECT lang FROM kb_items l WHERE l.id = f.item_id)"
_LANG = "(SELECT lang FROM kb_items l WHERE l.id = kb_fts.item_id)"
# Above this many hits in the asked tab, results are not ranked by bm25 (see search()); bench/kb.py shows the
# ranked path stays within a few milliseconds up to here.
RANK_LIMIT = 1000
_TAB_OF_KIND_NAME = {kind: ("faq" if kind == "faq" else kind + "s") for kind in KIND_CODES}
_TAB_OF_TYPE = {"article": "articles", "escalation": "escalations", "organisation": "organisations"}
# Items without skills serve every skill; instr() on "|a|b|" runs on the covering index, no table rows read.
_SKILL_FILTER = "(skills_key = '' OR instr(skills_key, :skill_key) > 0)"


def search(
    conn: sqlite3.Connection,
    q: str,
    tab: str,
    skill: str | None,
    limit: int,
    rank_limit: int = RANK_LIMIT,
    totals: dict[str, int] | None = None,
) -> SearchPage:
    """`totals`: the empty query's counts for `skill`, when known; a tab with none is not searched (an empty
    rowid range still costs FTS5 a millisecond on a common term)."""
    terms = match_expression(q)
    if terms is None:
        return list_all(conn, tab, skill, limit)
    skill_filter = f' AND ("{skill_token(skill)}" OR "{ANY_SKILL_TOKEN}")' if skill else ""
    # Counting reads no content and computes no bm25: the skill's marker tokens are the cheapest filter here.
    # One count(*) per tab over its rowid range: a single `GROUP BY rowid >> 40` makes SQLite sort every hit
    # (four times slower on a query that hits most of the KB), and FTS5 seeks to each range itself.
    count_match = terms + skill_filter
    counts = {
        tab_name: conn.execute(
            "SELECT count(*) FROM kb_fts WHERE kb_fts MATCH ? AND rowid BETWEEN ? AND ?",
            (count_match, *kind_range(kind_name)),
        ).fetchone()[0]
        if totals is None or totals.get(tab_name, 1) > 0
        else 0
        for kind_name, tab_name in _TAB_OF_KIND_NAME.items()
    }
    if counts[tab] == 0:
        return SearchPage(counts=counts, results=[])
    kind = "faq" if tab == "faq" else TYPE_OF_TAB[tab]
    first, last = kind_range(kind)
    # The rows: the typed terms only in the MATCH (bm25 walks the whole doclist of every phrase in it, and the
    # marker tokens' doclists are long), the tab as a rowid range (applied by FTS5), the skill checked per row.
    params: dict[str, Any] = {"first": first, "last": last, "limit": limit, "skill_key": _skill_key(skill)}
    where = "kb_fts MATCH :match AND rowid BETWEEN :first AND :last"
    if skill:
        table = "kb_faq" if kind == "faq" else "kb_items"
        where += (
            f" AND EXISTS (SELECT 1 FROM {table} s WHERE s.doc_id = kb_fts.rowid & {DOC_MASK}"
            f" AND {_SKILL_FILTER.replace('skills_key', 's.skills_key')})"
        )
    select = f"SELECT rowid, item_id, q_index, title, {_SNIPPET}, {_LANG} FROM kb_fts WHERE {where}"
    if counts[tab] <= rank_limit:
        # ORDER BY rank (the bm25 weights configured on the table) is consumed by FTS5 itself, so snippet()
        # runs for the returned rows only.
        rows = conn.execute(f"{select} ORDER BY rank LIMIT :limit", {**params, "match": terms}).fetchall()
    else:
        # Too many hits to rank within the time budget (bm25 costs microseconds per hit): the agent is still
        # typing something unspecific. Hits in the title or keywords first, then the others, unranked.
        title_match = "{title keywords} : (" + terms + ")"
        rows = conn.execute(f"{select} LIMIT :limit", {**params, "match": title_match}).fetchall()
        if len(rows) < limit:
            seen = {row[0] for row in rows}
            more = conn.execute(
                f"{select} LIMIT :limit", {**params, "match": terms, "limit": limit + len(rows)}
            ).fetchall()
            rows += [row for row in more if row[0] not in seen][: limit - len(rows)]
    item_type = "article" if tab == "faq" else kind
    results = [
        SearchResult(
            id=item_id, type=item_type, title=title, snippet=snippet, q_index=q_index, lang=lang or ""
        )
        for _, item_id, q_index, title, snippet, lang in rows
    ]
    return SearchPage(counts=counts, results=results)


def skill_key_counts(conn: sqlite3.Connection) -> list[tuple[str, str, int]]:
    """(tab, skills_key, number of documents) for every combination of skills stored: the empty query's counts
    for every skill at once (empty_query_counts), from the (type, skills_key) and (skills_key) indexes without
    sorting. A few milliseconds at 20 000 items; SqliteKnowledgeBase caches it until the data changes."""
    rows = [
        (_TAB_OF_TYPE.get(item_type, ""), key, n)
        for item_type, key, n in conn.execute(
            "SELECT type, skills_key, count(*) FROM kb_items GROUP BY type, skills_key"
        )
    ]
    rows += [
        ("faq", key, n)
        for key, n in conn.execute("SELECT skills_key, count(*) FROM kb_faq GROUP BY skills_key")
    ]
    return rows


def empty_query_counts(
    conn: sqlite3.Connection, skill: str | None, key_counts: list[tuple[str, str, int]] | None = None
) -> dict[str, int]:
    """Counts of the empty query: every item of each tab that serves `skill` (items without skills serve all)."""
    if key_counts is None:
        key_counts = skill_key_counts(conn)
    wanted = _skill_key(skill)
    counts = dict.fromkeys(TABS, 0)
    for tab_name, key, n in key_counts:
        if tab_name in counts and (not skill or key == "" or wanted in key):
            counts[tab_name] += n
    return counts


def list_all(
    conn: sqlite3.Connection, tab: str, skill: str | None, limit: int, counts: dict[str, int] | None = None
) -> SearchPage:
    """The empty query: the whole tab, most used (for the skill, when given) first, then by title.

    Two steps instead of one ORDER BY over a join with every item: the used items (few) sorted by use, then the
    unused ones straight from the (type, title_key) index.
    """
    params: dict[str, Any] = {
        "skill_key": _skill_key(skill),
        "usage_skill": skill.lower() if skill else None,
        "limit": limit,
    }
    skill_filter = _SKILL_FILTER if skill else "1"
    if counts is None:
        counts = empty_query_counts(conn, skill)
    usage = "SELECT item_id, sum(uses) AS n FROM kb_usage WHERE :usage_skill IS NULL OR skill = :usage_skill GROUP BY item_id"
    if tab == "faq":
        rows = conn.execute(
            f"""
            SELECT f.item_id, f.q_index, f.q, f.a, {_FAQ_LANG} FROM ({usage}) u JOIN kb_faq f ON f.item_id = u.item_id
            WHERE {skill_filter.replace("skills_key", "f.skills_key")}
            ORDER BY u.n DESC, f.title_key, f.item_id, f.q_index LIMIT :limit
            """,
            params,
        ).fetchall()
        params["limit"] = limit - len(rows)
        if params["limit"] > 0:
            rows += conn.execute(
                f"""
                SELECT item_id, q_index, q, a, {_FAQ_LANG} FROM kb_faq f
                WHERE {skill_filter} AND item_id NOT IN (SELECT item_id FROM ({usage}))
                ORDER BY title_key, item_id, q_index LIMIT :limit
                """,
                params,
            ).fetchall()
        results = [
            SearchResult(
                id=item_id,
                type="article",
                title=q,
                snippet=shorten(plain_text(a), SUMMARY_CHARS),
                q_index=i,
                lang=lang or "",
            )
            for item_id, i, q, a, lang in rows
        ]
        return SearchPage(counts=counts, results=results)
    params["type"] = TYPE_OF_TAB[tab]
    rows = conn.execute(
        f"""
        SELECT i.id, i.title, i.summary, i.lang FROM ({usage}) u JOIN kb_items i ON i.id = u.item_id
        WHERE i.type = :type AND {skill_filter.replace("skills_key", "i.skills_key")}
        ORDER BY u.n DESC, i.title_key, i.id LIMIT :limit
        """,
        params,
    ).fetchall()
    params["limit"] = limit - len(rows)
    if params["limit"] > 0:
        rows += conn.execute(
            f"""
            SELECT id, title, summary, lang FROM kb_items
            WHERE type = :type AND {skill_filter} AND id NOT IN (SELECT item_id FROM ({usage}))
            ORDER BY title_key, id LIMIT :limit
            """,
            params,
        ).fetchall()
    results = [
        SearchResult(id=i, type=params["type"], title=t, snippet=s or "", lang=lang or "")
        for i, t, s, lang in rows
    ]
    return SearchPage(counts=counts, results=results)


def _skill_key(skill: str | None) -> str:
    # A "|" in the asked skill would match across two stored ones; no stored skill holds one. Stripped like the
    # stored skills and skill_token(), so that the FTS5 skill filter (counts) and this one (rows) agree.
    return f"|{skill.strip().lower()}|" if skill and "|" not in skill else "|\x00|"
