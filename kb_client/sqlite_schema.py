"""The embedded KB's tables and how an item is written into them (and removed again).

Tables (all prefixed `kb_`, so the KB may share the desk's database file; `user_version` is left to the desk):
kb_items (one row per item), kb_faq (one row per question), kb_fts (FTS5: one document per item and one per
question), kb_usage (use counts per item and skill), kb_feedback, kb_meta (the schema version).

kb_fts is built for speed at 20 000 items (bench/kb.py):
- The skills are an indexed column (`skills`) holding marker tokens that start with a private-use character
  (U+E000): FTS5's unicode61 keeps such characters inside tokens, while our query tokeniser (text.tokenize) drops
  them, so no user term or prefix can ever match a marker, and no column filter is needed (a column filter makes
  FTS5 walk every position list: three times slower on common terms). Items without skills carry
  ANY_SKILL_TOKEN. The counts filter by skill with these tokens inside the MATCH. The `tab` column holds a
  marker too (tab_token) but no query uses it any more: the tab is a rowid range (next point).
- A document's rowid is `kind << 40 | doc_id` (kind: 0 article, 1 escalation, 2 organisation, 3 faq question;
  doc_id from kb_items or kb_faq): a tab is a rowid range, which FTS5 applies itself (counting a tab is a
  count(*) over its range, reading no content), and an item's documents are deleted by rowid instead of by
  scanning the index. The ranked query restricts the tab that way and checks the skill per returned row
  (sqlite_search) instead of putting marker tokens in its MATCH: bm25 computes the IDF of every phrase of the
  MATCH by walking that phrase's whole doclist, and a marker's doclist holds thousands of documents (that walk
  was half the time of a typical ranked search, two thirds with a skill).
- SCHEMA_VERSION (in kb_meta) says which layout a file has; an older file is migrated when it is opened.
- `prefix = '2 3 4 5'`: an as-you-type prefix of up to five letters reads one prefix doclist instead of merging
  the doclists of every term it starts (a 4-letter prefix of a common start: 25 ms -> 2 ms to count); costs
  about 70 % more index (38 -> 65 MB at 20 000 generated articles).
- `detail=full` (the default) although we never run phrase queries: with `detail=column`, bm25 re-tokenises
  every hit and ranking is five times slower.
"""

from __future__ import annotations

import json
import sqlite3

import sqlite_utils

from .model import Item
from .text import body_text, fold, plain_text, shorten

KIND_CODES: dict[str, int] = {"article": 0, "escalation": 1, "organisation": 2, "faq": 3}
KIND_SHIFT = 40  # kb_fts rowid = kind << KIND_SHIFT | doc_id
DOC_MASK = (1 << KIND_SHIFT) - 1
# 1: rowid doc_id * 4 + kind (no kb_meta table); 2: rowid kind << 40 | doc_id.
SCHEMA_VERSION = 2
TEXT_COLUMNS = ("title", "keywords", "body", "instructions")
# bm25 weights in kb_fts column order (tab, skills, item_id, q_index, then TEXT_COLUMNS): a hit in the title or
# the keywords says far more about what an item is for than a hit somewhere in the body; instructions
# (agent-only) count like the body; the marker columns count for nothing.
BM25_WEIGHTS = (0.0, 0.0, 0.0, 0.0, 10.0, 6.0, 1.0, 1.0)
BODY_COLUMN = 6
SUMMARY_CHARS = 160
MARK = "\ue000"  # see the module docstring: a token character the query tokeniser never produces
ANY_SKILL_TOKEN = MARK + "sall"  # "l" is no hex digit: no skill token can collide with it

_FTS_SQL = f"""
CREATE VIRTUAL TABLE IF NOT EXISTS kb_fts USING fts5(
    tab, skills, item_id UNINDEXED, q_index UNINDEXED, {", ".join(TEXT_COLUMNS)},
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3 4 5'
)
"""


def fts_rowid(kind: str, doc_id: int) -> int:
    return KIND_CODES[kind] << KIND_SHIFT | doc_id


def kind_range(kind: str) -> tuple[int, int]:
    """The first and last kb_fts rowid of documents of `kind`."""
    return fts_rowid(kind, 0), fts_rowid(kind, DOC_MASK)


def tab_token(kind: str) -> str:
    return MARK + "t" + kind


def skill_token(skill: str) -> str:
    """A skill as one alphanumeric token: "tax-return" must not become two tokens, nor match "tax"."""
    return MARK + "s" + skill.strip().lower().encode().hex()


def skills_key(skills: list[str]) -> str:
    # "|a|b|" lets the empty-query listing filter with instr() on a covering index.
    return "|" + "|".join(s.strip().lower() for s in skills) + "|" if skills else ""


def create_schema(db: sqlite_utils.Database) -> None:
    db["kb_items"].create(
        {
            "doc_id": int,
            "id": str,
            "type": str,
            "title": str,
            "title_key": str,
            "lang": str,
            "skills": str,
            "skills_key": str,
            "keywords": str,
            "instructions": str,
            "escalations": str,
            "organisations": str,
            "updated": str,
            "body": str,
            "summary": str,
            "handling_days": int,
            "contacts": str,
            "source": str,
            "digest": str,
            "imported_at": str,
        },
        pk="doc_id",
        not_null={"id", "type", "title", "title_key", "skills_key"},
        if_not_exists=True,
    )
    db["kb_items"].create_index(["id"], unique=True, if_not_exists=True)
    db["kb_items"].create_index(["type", "title_key", "skills_key"], if_not_exists=True)
    # The empty query's counts for every skill at once: GROUP BY type, skills_key without a sort.
    db["kb_items"].create_index(["type", "skills_key"], if_not_exists=True)
    db["kb_faq"].create(
        {
            "doc_id": int,
            "item_id": str,
            "q_index": int,
            "q": str,
            "a": str,
            "title_key": str,
            "skills_key": str,
        },
        pk="doc_id",
        not_null={"item_id", "q_index", "q", "title_key", "skills_key"},
        if_not_exists=True,
    )
    db["kb_faq"].create_index(["item_id", "q_index"], unique=True, if_not_exists=True)
    db["kb_faq"].create_index(["title_key", "item_id", "q_index", "skills_key"], if_not_exists=True)
    db["kb_faq"].create_index(["skills_key"], if_not_exists=True)
    version = _stored_version(db)
    if version is None:
        # No kb_meta: a new file, or a version 1 file (which had kb_fts but no kb_meta).
        version = 1 if db["kb_fts"].exists() else SCHEMA_VERSION
    if version == 1:
        _migrate_v1_fts(db)
    db.execute(_FTS_SQL)
    _configure_rank(db, "kb_fts")
    db.execute("CREATE TABLE IF NOT EXISTS kb_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(
        "INSERT OR REPLACE INTO kb_meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
    )
    db["kb_usage"].create(
        {"item_id": str, "skill": str, "uses": int, "last_used": str, "last_agent_id": int},
        pk=("item_id", "skill"),
        not_null={"item_id", "skill", "uses"},
        if_not_exists=True,
    )
    db["kb_feedback"].create(
        {"id": int, "item_id": str, "agent_id": int, "text": str, "created": str},
        pk="id",
        not_null={"item_id", "text", "created"},
        if_not_exists=True,
    )
    db["kb_feedback"].create_index(["item_id"], if_not_exists=True)


def _stored_version(db: sqlite_utils.Database) -> int | None:
    if not db["kb_meta"].exists():
        return None
    row = db.execute("SELECT value FROM kb_meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else None


def _configure_rank(db: sqlite_utils.Database, table: str) -> None:
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    db.execute(f"INSERT INTO {table} ({table}, rank) VALUES ('rank', 'bm25({weights})')")


def _migrate_v1_fts(db: sqlite_utils.Database) -> None:
    """Version 1 -> 2: the same documents under kind-major rowids (copies the index; seconds at 20 000 items)."""
    conn = db.conn
    in_transaction = conn.in_transaction
    if not in_transaction:
        conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DROP TABLE IF EXISTS kb_fts_v2")
        conn.execute(_FTS_SQL.replace("kb_fts", "kb_fts_v2"))
        _configure_rank(db, "kb_fts_v2")
        columns = f"tab, skills, item_id, q_index, {', '.join(TEXT_COLUMNS)}"
        conn.execute(
            f"INSERT INTO kb_fts_v2 (rowid, {columns}) "
            f"SELECT ((rowid & 3) << {KIND_SHIFT}) | (rowid >> 2), {columns} FROM kb_fts"
        )
        conn.execute("DROP TABLE kb_fts")
        conn.execute("ALTER TABLE kb_fts_v2 RENAME TO kb_fts")
    except BaseException:
        if not in_transaction:
            conn.execute("ROLLBACK")
        raise
    if not in_transaction:
        conn.execute("COMMIT")


def delete_item(conn: sqlite3.Connection, item_id: str) -> None:
    conn.execute(
        f"DELETE FROM kb_fts WHERE rowid IN (SELECT (CASE type WHEN 'article' THEN 0 "
        f"WHEN 'escalation' THEN 1 ELSE 2 END) << {KIND_SHIFT} | doc_id FROM kb_items WHERE id = ?)",
        (item_id,),
    )
    conn.execute(
        f"DELETE FROM kb_fts WHERE rowid IN (SELECT 3 << {KIND_SHIFT} | doc_id FROM kb_faq WHERE item_id = ?)",
        (item_id,),
    )
    conn.execute("DELETE FROM kb_faq WHERE item_id = ?", (item_id,))
    conn.execute("DELETE FROM kb_items WHERE id = ?", (item_id,))


def insert_item(conn: sqlite3.Connection, item: Item, source: str, digest: str, now: str) -> None:
    key = skills_key(item.skills)
    title_key = fold(item.title)
    body_plain = body_text(item.body, item.title)
    contacts = [
        {
            "kind": c.kind,
            "value": c.value,
            "agent_may_escalate": c.agent_may_escalate,
            "give_to_citizen": c.give_to_citizen,
        }
        for c in item.contacts
    ]
    cursor = conn.execute(
        """
        INSERT INTO kb_items (id, type, title, title_key, lang, skills, skills_key, keywords, instructions,
            escalations, organisations, updated, body, summary, handling_days, contacts, source, digest, imported_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        (
            item.id,
            item.type,
            item.title,
            title_key,
            item.lang,
            json.dumps(item.skills, ensure_ascii=False),
            key,
            json.dumps(item.keywords, ensure_ascii=False),
            item.instructions,
            json.dumps(item.escalations),
            json.dumps(item.organisations),
            item.updated.isoformat() if item.updated else None,
            item.body,
            shorten(body_plain, SUMMARY_CHARS),
            item.handling_days,
            json.dumps(contacts, ensure_ascii=False),
            source,
            digest,
            now,
        ),
    )
    doc_id = int(cursor.lastrowid or 0)
    skill_tokens = " ".join(skill_token(s) for s in item.skills) if item.skills else ANY_SKILL_TOKEN
    # Contact values (addresses, numbers) are searchable with the body: agents look escalation points up by them.
    searchable_body = " ".join([body_plain, *(c.value for c in item.contacts)])
    _insert_doc(
        conn,
        fts_rowid(item.type, doc_id),
        (
            tab_token(item.type),
            skill_tokens,
            item.id,
            None,
            item.title,
            " ".join(item.keywords),
            searchable_body,
            item.instructions,
        ),
    )
    for index, faq in enumerate(item.faq):
        faq_cursor = conn.execute(
            "INSERT INTO kb_faq (item_id, q_index, q, a, title_key, skills_key) VALUES (?, ?, ?, ?, ?, ?)",
            (item.id, index, faq.q, faq.a, title_key, key),
        )
        _insert_doc(
            conn,
            fts_rowid("faq", int(faq_cursor.lastrowid or 0)),
            (tab_token("faq"), skill_tokens, item.id, index, faq.q, "", plain_text(faq.a), ""),
        )


def _insert_doc(conn: sqlite3.Connection, rowid: int, values: tuple) -> None:
    # Text that smuggles the marker character in must not forge a tab or skill token.
    tab, skills, item_id, q_index, *texts = values
    values = (tab, skills, item_id, q_index, *(t.replace(MARK, "") for t in texts))
    conn.execute(
        "INSERT INTO kb_fts (rowid, tab, skills, item_id, q_index, title, keywords, body, instructions) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (rowid, *values),
    )
