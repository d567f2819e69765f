"""The demo knowledge base that ships in the package imports cleanly and answers the obvious questions."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from kb_client.importer import import_folder
from kb_client.sqlite_backend import SqliteKnowledgeBase


def demo_folder() -> Path:
    return Path(str(resources.files("kb_client") / "demo"))


async def test_demo_imports_with_zero_errors_and_warnings(kb: SqliteKnowledgeBase) -> None:
    report = import_folder(kb, demo_folder())
    assert report.errors == [] and report.warnings == []
    assert 20 <= report.imported <= 30
    page = await kb.search("")
    assert page.counts["escalations"] >= 3 and page.counts["organisations"] >= 2 and page.counts["faq"] >= 20


async def test_demo_answers_typical_questions(kb: SqliteKnowledgeBase) -> None:
    import_folder(kb, demo_folder())
    assert (await kb.search("afspraak annuleren")).results[0].id == "afspraak-annuleren"
    assert (await kb.search("brief kwijt")).results[0].id == "uitnodiging-kwijt"
    assert (await kb.search("rendez-vous")).results[0].id == "fr-rendez-vous"
    assert (await kb.search("reeel")).counts["articles"] >= 1
    assert (await kb.search("klacht 45", tab="faq")).results[0].id == "klachtenprocedure"
    escalation = await kb.get("esc-mobiliteitsdienst")
    assert escalation is not None and escalation.handling_days is not None
    assert any(c.agent_may_escalate for c in escalation.contacts)
    assert all("example.be" in c.value for c in escalation.contacts if c.kind in ("mail", "web"))
    article = await kb.get("klachtenprocedure")
    assert article is not None and "45" in article.instructions and article.faq
