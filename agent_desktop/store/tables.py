"""Which tables a repository function reads or writes, declared with `@reads(...)` / `@writes(...)`: the store
makes a read wait for the writes queued to the tables it reads (and only those). A function that declares nothing
is taken to touch every table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
ALL = "*"
TABLES_ATTR = "store_tables"


def writes(*tables: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Declare the tables a function writes: reads of those tables made after it is queued wait for it."""
    return _declare(tables)


def reads(*tables: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Declare the tables a function reads: it waits for the writes already queued to them."""
    return _declare(tables)


def _declare(tables: tuple[str, ...]) -> Callable[[Callable[..., T]], Callable[..., T]]:
    if not tables:
        raise ValueError("name at least one table")

    def mark(fn: Callable[..., T]) -> Callable[..., T]:
        setattr(fn, TABLES_ATTR, frozenset(tables))
        return fn

    return mark


def tables_of(fn: Callable[..., Any]) -> frozenset[str]:
    return getattr(fn, TABLES_ATTR, frozenset({ALL}))
