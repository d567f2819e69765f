"""Fixtures of the knowledge base tests: a real SQLite KB file per test and a helper writing Markdown items."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from kb_client.sqlite_backend import SqliteKnowledgeBase

WriteItem = Callable[..., Path]


@pytest.fixture
async def kb(tmp_path: Path) -> AsyncIterator[SqliteKnowledgeBase]:
    base = SqliteKnowledgeBase(tmp_path / "kb.db")
    yield base
    await base.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "items"
    path.mkdir()
    return path


@pytest.fixture
def write_item(folder: Path) -> WriteItem:
    """write_item("name", front_matter_text, body="") writes items/name.md with that front matter."""

    def write(name: str, front: str, body: str = "", raw: str | None = None) -> Path:
        path = folder / f"{name}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(raw if raw is not None else f"---\n{front.strip()}\n---\n{body}\n", encoding="utf-8")
        return path

    return write
