"""Opening the desk's SQLite database: WAL mode, foreign keys, and the versioned migrations applied in order.

One connection per process, used from the event loop thread: the desk's writes are single rows of a few hundred
bytes (well under a millisecond in WAL mode), so a thread pool would cost more than it saves.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from .migrations import MIGRATIONS


def open_db(path: str | Path) -> sqlite_utils.Database:
    """Open (creating if needed) the database at `path` and bring its schema up to date."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10)
    db = sqlite_utils.Database(conn)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA synchronous=NORMAL")
    migrate(db)
    return db


def schema_version(db: sqlite_utils.Database) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite_utils.Database) -> int:
    """Apply every migration newer than the database's `user_version`, each in its own transaction."""
    version = schema_version(db)
    for number, step in enumerate(MIGRATIONS, start=1):
        if number <= version:
            continue
        with db.conn:
            db.execute("BEGIN")
            step(db)
            db.execute(f"PRAGMA user_version = {number}")
        version = number
    return version
