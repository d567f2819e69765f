"""Opening the desk's SQLite database: WAL mode, foreign keys, and the versioned migrations applied in order.

The CLI uses `open_db` directly (it may block: it is a command, not an event loop). The serving desk reaches the
database only through `store.Store`, which owns the connections and keeps writes off the event loop.
"""

from __future__ import annotations

import sqlite3
from importlib.metadata import version
from pathlib import Path

import sqlite_utils

from .migrations import MIGRATIONS

# The store runs each write job as its own BEGIN IMMEDIATE … COMMIT and lets sqlite-utils' insert/update nest
# inside it (they use savepoints from 4.0 on; 3.x commits the caller's transaction half-way) and wrap-up code
# used `db.atomic()` (4.0+). Said at start-up instead of as a 500 on the first write.
SQLITE_UTILS_MIN = 4


def check_sqlite_utils() -> None:
    major = int(version("sqlite-utils").split(".")[0])
    if major < SQLITE_UTILS_MIN:
        raise RuntimeError(
            f"sqlite-utils {version('sqlite-utils')} is installed; the desk needs {SQLITE_UTILS_MIN}.0 or later "
            "(pip install 'sqlite-utils>=4')"
        )


def connect(path: str | Path, busy_timeout_s: float) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), foreign keys on, waiting at most
    `busy_timeout_s` for a lock."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=busy_timeout_s)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def open_db(path: str | Path, busy_timeout_s: float = 10) -> sqlite_utils.Database:
    """Open (creating if needed) the database at `path` and bring its schema up to date."""
    check_sqlite_utils()
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(connect(path, busy_timeout_s))
    db.execute("PRAGMA journal_mode=WAL")
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
