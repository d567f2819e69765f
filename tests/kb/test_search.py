"""Search semantics of the embedded KB: AND of terms, prefix, diacritics, weights, tabs, skills, usage order."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from kb_client.base import KnowledgeBase
from kb_client.errors import KbError
from kb_client.http_backend import HttpKnowledgeBase
from kb_client.importer import import_folder
from kb_client.sqlite_backend import SqliteKnowledgeBase

from .conftest import WriteItem


@pytest.fixture
def corpus(kb: SqliteKnowledgeBase, folder: Path, write_item: WriteItem) -> SqliteKnowledgeBase:
    write_item(
        "afspraak-maken",
        "title: Afspraak maken\nskills: [vaccination]\nkeywords: [boeken]\n"
        "instructions: Controleer het rijksregister.\n"
        "faq:\n  - q: Kan ik zelf een uur kiezen?\n    a: Ja, online.\n  - q: Wat breng ik mee?\n    a: De brief.",
        body="Een afspraak maakt u online of via de infolijn.",
    )
    write_item(
        "afspraak-annuleren",
        "title: Afspraak annuleren\nskills: [vaccination]",
        body="Een afspraak annuleren kan tot de dag zelf.",
    )
    write_item(
        "tweede-dosis", "title: Tweede dosis\nskills: [vaccination]", body="Wie een reëel risico loopt, belt."
    )
    write_item("verhuizen", "title: Verhuizen\nskills: [info]", body="Meld uw nieuwe adres bij de gemeente.")
    write_item("openingsuren", "title: Openingsuren", body="Open op werkdagen. Een afspraak is niet nodig.")
    write_item("privacy", "title: Privé gegevens\nskills: [Info]", body="Uw gegevens blijven privé.")
    write_item(
        "esc-klachten",
        "type: escalation\ntitle: Klachtendienst\nhandling_days: 45\n"
        "contacts: [{kind: mail, value: klachten@example.be}]",
        body="Behandelt persoonlijke klachten.",
    )
    write_item("org-gemeente", "type: organisation\ntitle: Gemeente Voorbeeldstad", body="Stadhuis.")
    report = import_folder(kb, folder)
    assert report.ok, report.errors
    return kb


def ids(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.id for r in page.results]


async def test_all_terms_must_match(corpus: SqliteKnowledgeBase) -> None:
    assert ids(await corpus.search("afspraak annuleren")) == ["afspraak-annuleren"]
    assert sorted(ids(await corpus.search("afspraak"))) == [
        "afspraak-annuleren",
        "afspraak-maken",
        "openingsuren",
    ]
    assert ids(await corpus.search("afspraak verhuizen")) == []


async def test_last_term_is_a_prefix_others_are_whole_words(corpus: SqliteKnowledgeBase) -> None:
    assert ids(await corpus.search("afspraak annu")) == ["afspraak-annuleren"]
    assert ids(await corpus.search("afspr annuleren")) == []


async def test_empty_query_lists_every_item_of_the_tab(corpus: SqliteKnowledgeBase) -> None:
    page = await corpus.search("")
    assert page.counts == {"articles": 6, "faq": 2, "escalations": 1, "organisations": 1}
    # without any use yet: by title, diacritics folded ("Privé" sorts as "prive")
    assert ids(page) == [
        "afspraak-annuleren",
        "afspraak-maken",
        "openingsuren",
        "privacy",
        "tweede-dosis",
        "verhuizen",
    ]
    assert (await corpus.search("   ")).counts == page.counts


async def test_diacritics_and_case_are_folded_both_ways(corpus: SqliteKnowledgeBase) -> None:
    assert ids(await corpus.search("reeel")) == ["tweede-dosis"]
    assert ids(await corpus.search("REËEL")) == ["tweede-dosis"]
    assert ids(await corpus.search("prive")) == ["privacy"]
    assert ids(await corpus.search("privé")) == ["privacy"]


async def test_keywords_find_items_without_the_word_in_the_text(corpus: SqliteKnowledgeBase) -> None:
    assert ids(await corpus.search("boeken")) == ["afspraak-maken"]


async def test_instructions_and_contacts_are_searchable(corpus: SqliteKnowledgeBase) -> None:
    assert ids(await corpus.search("rijksregister")) == ["afspraak-maken"]
    assert ids(await corpus.search("klachten@example.be", tab="escalations")) == ["esc-klachten"]


async def test_title_weighs_more_than_body(
    kb: SqliteKnowledgeBase, folder: Path, write_item: WriteItem
) -> None:
    # bm25 favours short documents: the body hit is the shortest, so only the column weights can lift the
    # title and keyword hits above it.
    filler = " ".join(f"woord{n}" for n in range(40))
    write_item("a-body", "title: Iets", body="Vaccinatiecertificaat.")
    write_item("b-title", "title: Vaccinatiecertificaat", body=filler)
    write_item("c-keyword", "title: Nog iets\nkeywords: [vaccinatiecertificaat]", body=filler)
    import_folder(kb, folder)
    assert ids(await kb.search("vaccinatiecertificaat")) == ["b-title", "c-keyword", "a-body"]


async def test_tabs_and_counts_for_the_same_query(corpus: SqliteKnowledgeBase) -> None:
    for tab in ("articles", "faq", "escalations", "organisations"):
        page = await corpus.search("klacht", tab=tab)
        assert page.counts == {"articles": 0, "faq": 0, "escalations": 1, "organisations": 0}
    page = await corpus.search("klacht", tab="escalations")
    assert [(r.id, r.type, r.title) for r in page.results] == [
        ("esc-klachten", "escalation", "Klachtendienst")
    ]
    assert ids(await corpus.search("gemeente", tab="organisations")) == ["org-gemeente"]
    assert (await corpus.search("gemeente", tab="organisations")).counts["articles"] == 1


async def test_faq_results_are_questions_with_q_index(corpus: SqliteKnowledgeBase) -> None:
    page = await corpus.search("brief", tab="faq")
    assert page.counts["faq"] == 1
    [result] = page.results
    assert (result.id, result.type, result.title, result.q_index) == (
        "afspraak-maken",
        "article",
        "Wat breng ik mee?",
        1,
    )
    assert "brief" in result.snippet
    listed = await corpus.search("", tab="faq")
    assert [(r.id, r.q_index) for r in listed.results] == [("afspraak-maken", 0), ("afspraak-maken", 1)]


async def test_snippet_comes_from_the_body(corpus: SqliteKnowledgeBase) -> None:
    [result] = (await corpus.search("gemeente")).results
    assert result.snippet == "Meld uw nieuwe adres bij de gemeente."


async def test_skill_filter_keeps_tagged_items_and_items_without_skills(corpus: SqliteKnowledgeBase) -> None:
    page = await corpus.search("afspraak", skill="info")
    assert ids(page) == ["openingsuren"]
    assert page.counts["faq"] == 0
    listed = await corpus.search("", skill="info")
    assert sorted(ids(listed)) == ["openingsuren", "privacy", "verhuizen"]
    assert listed.counts == {"articles": 3, "faq": 0, "escalations": 1, "organisations": 1}
    # skills compare case-insensitively ("Info" in the file)
    assert ids(await corpus.search("gegevens", skill="INFO")) == ["privacy"]
    assert ids(await corpus.search("gegevens", skill="vaccination")) == []
    assert ids(await corpus.search("", skill="info|vaccination")) == ["openingsuren"]


async def test_empty_query_puts_the_most_used_for_the_skill_first(corpus: SqliteKnowledgeBase) -> None:
    for _ in range(3):
        await corpus.record_use("tweede-dosis", agent_id=1, skill="vaccination")
    await corpus.record_use("openingsuren", agent_id=2, skill="vaccination")
    for _ in range(5):
        await corpus.record_use("verhuizen", agent_id=2, skill="info")

    vaccination = ids(await corpus.search("", skill="vaccination"))
    assert vaccination == ["tweede-dosis", "openingsuren", "afspraak-annuleren", "afspraak-maken"]
    # without a skill every use counts
    assert ids(await corpus.search(""))[:3] == ["verhuizen", "tweede-dosis", "openingsuren"]
    assert ids(await corpus.search("", skill="info"))[:1] == ["verhuizen"]
    await corpus.record_use("afspraak-maken", skill="vaccination")
    await corpus.record_use("afspraak-maken", skill="vaccination")
    await corpus.record_use("afspraak-maken", skill="vaccination")
    await corpus.record_use("afspraak-maken", skill="vaccination")
    faq = await corpus.search("", tab="faq", skill="vaccination", limit=1)
    assert [(r.id, r.q_index) for r in faq.results] == [("afspraak-maken", 0)]
    assert ids(await corpus.search("", skill="vaccination", limit=1)) == ["afspraak-maken"]


@pytest.mark.parametrize(
    "q",
    [
        '"',
        "'",
        "afspraak AND",
        "OR",
        "NOT afspraak",
        "NEAR(a b)",
        "title:afspraak",
        "(",
        "*",
        "^afspraak",
        "a-b",
        "{title}: x",
        "afspraak\x00",
        "💉 afspraak",
        "\ue000tarticle",
        "x" * 500,
    ],
)
async def test_fts_syntax_in_the_query_never_errors(corpus: SqliteKnowledgeBase, q: str) -> None:
    page = await corpus.search(q)
    assert set(page.counts) == {"articles", "faq", "escalations", "organisations"}


async def test_operators_are_plain_words(corpus: SqliteKnowledgeBase) -> None:
    # "NOT annuleren" would exclude if it reached FTS5 as an operator; as words, "not" matches nothing.
    assert ids(await corpus.search("afspraak NOT annuleren")) == []
    assert ids(await corpus.search("title:afspraak annuleren")) == []


async def test_limit_and_bad_arguments(corpus: SqliteKnowledgeBase) -> None:
    assert len((await corpus.search("", limit=2)).results) == 2
    with pytest.raises(KbError) as bad_tab:
        await corpus.search("x", tab="recipes")
    assert bad_tab.value.code == "bad_request"
    with pytest.raises(KbError):
        await corpus.search("x", limit=0)


async def test_large_result_sets_skip_ranking_but_put_title_hits_first(
    tmp_path: Path, write_item: WriteItem
) -> None:
    kb = SqliteKnowledgeBase(tmp_path / "big.db", rank_limit=2)
    try:
        for n in range(5):
            write_item(f"body-{n}", f"title: Iets {n}", body="het woord zoekterm staat hier")
        write_item("z-title", "title: Zoekterm in de titel")
        import_folder(kb, tmp_path / "items")
        page = await kb.search("zoekterm", limit=3)
        assert page.counts["articles"] == 6
        assert ids(page)[0] == "z-title" and len(page.results) == 3
    finally:
        await kb.close()


async def test_get_record_use_feedback(corpus: SqliteKnowledgeBase, tmp_path: Path) -> None:
    assert await corpus.get("nope") is None
    with pytest.raises(KbError) as unknown:
        await corpus.record_use("nope")
    assert unknown.value.code == "not_found"
    first = await corpus.feedback("afspraak-maken", "  Het uur klopt niet.  ", agent_id=7)
    second = await corpus.feedback("afspraak-maken", "Nog iets")
    assert second == first + 1
    with pytest.raises(KbError) as empty:
        await corpus.feedback("afspraak-maken", "   ")
    assert empty.value.code == "bad_request"
    with pytest.raises(KbError) as missing:
        await corpus.feedback("nope", "tekst")
    assert missing.value.code == "not_found"
    with sqlite3.connect(tmp_path / "kb.db") as conn:
        assert conn.execute("SELECT item_id, agent_id, text FROM kb_feedback ORDER BY id").fetchall() == [
            ("afspraak-maken", 7, "Het uur klopt niet."),
            ("afspraak-maken", None, "Nog iets"),
        ]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_closed_kb_refuses_politely(tmp_path: Path) -> None:
    kb = SqliteKnowledgeBase(tmp_path / "c.db")
    await kb.close()
    with pytest.raises(KbError) as closed:
        await kb.search("x")
    assert closed.value.code == "unavailable"


async def test_a_locked_database_gives_a_kb_error_within_the_timeout(
    tmp_path: Path, write_item: WriteItem
) -> None:
    kb = SqliteKnowledgeBase(tmp_path / "locked.db", timeout_s=0.3)
    write_item("a", "title: A")
    import_folder(kb, tmp_path / "items")
    blocker = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        with pytest.raises(KbError) as locked:
            await kb.record_use("a")
        assert locked.value.code in ("timeout", "unavailable")
        assert time.monotonic() - started < 2
        blocker.execute("ROLLBACK")
        await kb.record_use("a")
    finally:
        blocker.close()
        await kb.close()


async def test_both_backends_satisfy_the_protocol(kb: SqliteKnowledgeBase) -> None:
    remote = HttpKnowledgeBase("http://127.0.0.1:9", "token")
    assert isinstance(kb, KnowledgeBase) and isinstance(remote, KnowledgeBase)
    await remote.close()


def test_memory_databases_are_refused() -> None:
    with pytest.raises(ValueError, match="memory"):
        SqliteKnowledgeBase(":memory:")


async def test_empty_query_counts_follow_imports_from_this_and_other_connections(
    tmp_path: Path, write_item: WriteItem, folder: Path
) -> None:
    desk = SqliteKnowledgeBase(tmp_path / "shared.db")
    importer = SqliteKnowledgeBase(tmp_path / "shared.db")
    try:
        write_item("a", "title: A")
        import_folder(desk, folder)
        assert desk.search_sync("").counts["articles"] == 1
        assert (await desk.search("")).counts["articles"] == 1
        # same connection (this thread) writes: the instance's own generation invalidates the cache
        write_item("b", "title: B")
        import_folder(desk, folder)
        assert desk.search_sync("").counts["articles"] == 2
        # another connection writes: data_version invalidates the cache of every connection of `desk`
        write_item("c", "title: C\nfaq:\n  - q: Vraag?\n    a: Antwoord.")
        import_folder(importer, folder)
        assert (await desk.search("")).counts == {
            "articles": 3,
            "faq": 1,
            "escalations": 0,
            "organisations": 0,
        }
        assert desk.search_sync("").counts["articles"] == 3
    finally:
        await desk.close()
        await importer.close()


async def test_typed_search_sees_a_tab_that_another_connection_just_filled(
    tmp_path: Path, write_item: WriteItem, folder: Path
) -> None:
    # search() skips tabs whose empty-query count is 0; that count is cached and must follow other writers.
    desk = SqliteKnowledgeBase(tmp_path / "shared.db")
    importer = SqliteKnowledgeBase(tmp_path / "shared.db")
    try:
        write_item("a", "title: Loket")
        import_folder(desk, folder)
        assert (await desk.search("loket")).counts["escalations"] == 0
        write_item("esc", "type: escalation\ntitle: Loket tweede lijn")
        import_folder(importer, folder)
        page = await desk.search("loket", tab="escalations")
        assert page.counts["escalations"] == 1 and ids(page) == ["esc"]
    finally:
        await desk.close()
        await importer.close()


@pytest.mark.parametrize("rank_limit", [1000, 1])
async def test_skill_filter_on_ranked_and_unranked_rows(
    tmp_path: Path, write_item: WriteItem, folder: Path, rank_limit: int
) -> None:
    kb = SqliteKnowledgeBase(tmp_path / "skills.db", rank_limit=rank_limit)
    try:
        write_item(
            "tax-a", "title: Aangifte belasting\nskills: [tax]\nfaq:\n  - q: Aangifte te laat?\n    a: Boete."
        )
        write_item("tax-b", "title: Aangifte hulp\nskills: [tax, info]", body="aangifte")
        write_item(
            "info-a", "title: Aangifte adres\nskills: [info]\nfaq:\n  - q: Aangifte adres?\n    a: Loket."
        )
        write_item("any", "title: Aangifte algemeen\nfaq:\n  - q: Aangifte wanneer?\n    a: Mei.")
        import_folder(kb, folder)
        page = await kb.search("aangifte", skill="tax")
        assert sorted(ids(page)) == ["any", "tax-a", "tax-b"]
        assert page.counts == {"articles": 3, "faq": 2, "escalations": 0, "organisations": 0}
        faq = await kb.search("aangif", tab="faq", skill=" Tax ")
        assert sorted((r.id, r.q_index) for r in faq.results) == [("any", 0), ("tax-a", 0)]
        assert faq.counts["faq"] == 2
        assert sorted(ids(await kb.search("aangifte", skill="mobility"))) == ["any"]
        assert sorted(ids(await kb.search("aangifte"))) == ["any", "info-a", "tax-a", "tax-b"]
        assert (await kb.search("", skill="")).counts == (await kb.search("")).counts
    finally:
        await kb.close()


async def test_a_version_1_database_is_migrated_on_open(
    corpus: SqliteKnowledgeBase, write_item: WriteItem, folder: Path
) -> None:
    """Version 1 had rowid doc_id * 4 + kind and no kb_meta: opening it rewrites kb_fts, searches unchanged."""
    queries = [("afspraak", "articles", None), ("afspr", "faq", None), ("klacht", "escalations", None)]
    queries += [
        ("afspraak", "articles", "info"),
        ("", "articles", "vaccination"),
        ("gemeente", "organisations", None),
    ]
    before = [await corpus.search(q, tab, skill) for q, tab, skill in queries]
    await corpus.close()
    conn = sqlite3.connect(corpus.path, isolation_level=None)
    columns = "tab, skills, item_id, q_index, title, keywords, body, instructions"
    conn.execute(
        f"CREATE VIRTUAL TABLE kb_fts_v1 USING fts5({columns.replace('item_id', 'item_id UNINDEXED').replace('q_index', 'q_index UNINDEXED')}, "
        "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')"
    )
    conn.execute(
        f"INSERT INTO kb_fts_v1 (rowid, {columns}) "
        f"SELECT (rowid & {(1 << 40) - 1}) * 4 + (rowid >> 40), {columns} FROM kb_fts"
    )
    conn.execute("DROP TABLE kb_fts")
    conn.execute("ALTER TABLE kb_fts_v1 RENAME TO kb_fts")
    conn.execute("DROP TABLE kb_meta")
    conn.close()
    reopened = SqliteKnowledgeBase(corpus.path)
    try:
        after = [await reopened.search(q, tab, skill) for q, tab, skill in queries]
        assert after == before
        assert before[0].counts["articles"] == 3 and before[2].counts["escalations"] == 1
        check = sqlite3.connect(corpus.path)
        assert check.execute("SELECT value FROM kb_meta WHERE key = 'schema_version'").fetchone() == ("2",)
        assert check.execute("SELECT count(*) FROM kb_fts WHERE rowid >> 40 = 3").fetchone() == (2,)
        check.close()
        # writes after the migration go to the new layout: replacing an item leaves no stale document
        write_item(
            "afspraak-maken",
            "title: Afspraak maken\nskills: [vaccination]\nfaq:\n  - q: Kan ik zelf een uur kiezen?\n    a: Ja.",
            body="Gewijzigd.",
        )
        assert import_folder(reopened, folder).ok
        assert (await reopened.search("afspraak")).counts["articles"] == 3
        assert (await reopened.search("kiezen", tab="faq")).counts["faq"] == 1
        assert (await reopened.search("infolijn")).counts["articles"] == 0
    finally:
        await reopened.close()


async def test_results_say_their_language_and_snippets_are_plain(
    kb: SqliteKnowledgeBase, folder: Path, write_item: WriteItem
) -> None:
    write_item(
        "uren",
        "title: Openingsuren\nlang: nl",
        body="# Openingsuren\n\n| | Centrum |\n|---|---|\n| zaterdag | 9–17 |",
    )
    write_item(
        "heures",
        "title: Heures d'ouverture\nlang: fr\nfaq:\n  - q: Ouvert le samedi ?\n    a: Oui.",
        body="Ouvert.",
    )
    write_item("zonder", "title: Zonder taal", body="Tekst.")
    assert import_folder(kb, folder).ok
    listed = {r.id: r for r in (await kb.search("")).results}
    assert {i: r.lang for i, r in listed.items()} == {"uren": "nl", "heures": "fr", "zonder": ""}
    assert listed["uren"].snippet == "Centrum zaterdag · 9–17"
    found = (await kb.search("zaterdag")).results
    assert [(r.id, r.lang) for r in found] == [("uren", "nl")]
    assert "|" not in found[0].snippet and "Openingsuren" not in found[0].snippet
    assert [(r.id, r.lang) for r in (await kb.search("", tab="faq")).results] == [("heures", "fr")]
    assert [(r.id, r.lang) for r in (await kb.search("samedi", tab="faq")).results] == [("heures", "fr")]
