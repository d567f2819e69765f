"""The Markdown importer: good files, every kind of bad file (by name and line), idempotence and prune."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from kb_client.importer import import_folder
from kb_client.model import Contact, Faq
from kb_client.sqlite_backend import SqliteKnowledgeBase

from .conftest import WriteItem

ARTICLE = """
title: Afspraak maken
lang: nl
skills: [vaccination]
keywords: [boeken, reserveren]
instructions: Vraag de code.
faq:
  - q: Kan ik zelf kiezen?
    a: Ja, online.
escalations: [esc-medisch]
organisations: [org-centrum]
updated: 2024-03-04
"""
ESCALATION = """
type: escalation
title: Medische vragen
handling_days: 2
contacts:
  - kind: mail
    value: medisch@example.be
    agent_may_escalate: true
  - {kind: phone, value: "+32 50 00 00 11", give_to_citizen: true}
"""
ORGANISATION = "type: organisation\ntitle: Vaccinatiecentrum\n"


def issue_lines(report) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(issue) for issue in report.errors]


async def test_good_files_import_with_every_field(
    kb: SqliteKnowledgeBase, folder: Path, write_item: WriteItem
) -> None:
    write_item("afspraak-maken", ARTICLE, body="# Afspraak\n\nTekst van het artikel.")
    write_item("sub/esc-medisch", ESCALATION, body="Artsen.")
    write_item("org-centrum", ORGANISATION)

    report = import_folder(kb, folder)

    assert (report.imported, report.updated, report.unchanged, report.pruned) == (3, 0, 0, 0)
    assert report.errors == [] and report.warnings == []
    item = await kb.get("afspraak-maken")
    assert item is not None
    assert item.type == "article" and item.title == "Afspraak maken" and item.lang == "nl"
    assert item.skills == ["vaccination"] and item.keywords == ["boeken", "reserveren"]
    assert item.instructions == "Vraag de code."
    assert item.faq == [Faq(q="Kan ik zelf kiezen?", a="Ja, online.")]
    assert item.escalations == ["esc-medisch"] and item.organisations == ["org-centrum"]
    assert item.updated == dt.date(2024, 3, 4)
    assert item.body == "# Afspraak\n\nTekst van het artikel."
    escalation = await kb.get("esc-medisch")
    assert escalation is not None and escalation.handling_days == 2
    assert escalation.contacts == [
        Contact("mail", "medisch@example.be", agent_may_escalate=True, give_to_citizen=False),
        Contact("phone", "+32 50 00 00 11", agent_may_escalate=False, give_to_citizen=True),
    ]


async def test_id_field_overrides_file_name(
    kb: SqliteKnowledgeBase, folder: Path, write_item: WriteItem
) -> None:
    write_item("whatever", "id: echte-id\ntitle: T")
    assert import_folder(kb, folder).imported == 1
    assert await kb.get("echte-id") is not None
    assert await kb.get("whatever") is None


def test_broken_yaml_is_reported_with_its_line_and_the_rest_imported(
    kb: SqliteKnowledgeBase, folder: Path, write_item: WriteItem
) -> None:
    write_item("goed", "title: Goed")
    bad = write_item("kapot", "title: Kapot\nkeywords: [een, twee\nlang: nl")

    report = import_folder(kb, folder)

    assert report.imported == 1
    assert len(report.errors) == 1
    issue = report.errors[0]
    assert issue.path == bad
    # line 1 is '---', the unclosed list opens on line 3 and YAML notices it on line 4
    assert issue.line == 4
    assert str(issue).startswith(f"{bad}:4: YAML error")


def test_unknown_field_names_the_field_line_and_a_hint(
    kb: SqliteKnowledgeBase, folder: Path, write_item: WriteItem
) -> None:
    bad = write_item("a", "title: A\nlang: nl\nkeyword: [x]")
    report = import_folder(kb, folder)
    assert issue_lines(report) == [f"{bad}:4: unknown field 'keyword' (did you mean 'keywords'?)"]
    assert report.imported == 0


def test_missing_title(kb: SqliteKnowledgeBase, folder: Path, write_item: WriteItem) -> None:
    bad = write_item("a", "lang: nl")
    assert issue_lines(import_folder(kb, folder)) == [f"{bad}:1: missing title"]


def test_wrong_types_each_reported_on_their_line(
    kb: SqliteKnowledgeBase, folder: Path, write_item: WriteItem
) -> None:
    bad = write_item(
        "a",
        "title: A\nskills: vaccination\nupdated: gisteren\nfaq:\n  - q: Vraag zonder antwoord\ntype: recept",
    )
    report = import_folder(kb, folder)
    assert issue_lines(report) == [
        f"{bad}:3: skills must be a list, not text",
        f"{bad}:4: updated must be a date (YYYY-MM-DD), not 'gisteren'",
        f"{bad}:6: faq[0] needs an answer a (text)",
        f"{bad}:7: type must be one of article, escalation, organisation, not 'recept'",
    ]


def test_yaml_booleans_in_lists_are_caught(
    kb: SqliteKnowledgeBase, folder: Path, write_item: WriteItem
) -> None:
    # The YAML 1.1 trap: an unquoted `no` is false, not the word "no".
    bad = write_item("a", "title: A\nkeywords:\n  - ja\n  - no")
    assert issue_lines(import_folder(kb, folder)) == [
        f"{bad}:5: keywords[1] must be non-empty text, not true/false"
    ]


def test_escalation_fields_only_on_escalations_and_contacts_checked(
    kb: SqliteKnowledgeBase, folder: Path, write_item: WriteItem
) -> None:
    article = write_item("a", "title: A\nhandling_days: 3")
    escalation = write_item(
        "e",
        "type: escalation\ntitle: E\ncontacts:\n  - kind: fax\n    value: '123'\n  - kind: mail\n    value: x@example.be\n    agent_may_escalate: yes please",
    )
    report = import_folder(kb, folder)
    assert issue_lines(report) == [
        f"{article}:3: handling_days is only for escalation items (this one is an article)",
        f"{escalation}:5: contacts[0].kind must be one of mail, phone, web, not 'fax'",
        f"{escalation}:7: contacts[1]: agent_may_escalate and give_to_citizen must be true or false",
    ]


def test_duplicate_id_keeps_the_first_file(
    kb: SqliteKnowledgeBase, folder: Path, write_item: WriteItem
) -> None:
    first = write_item("a-first", "id: zelfde\ntitle: Eerste")
    second = write_item("b-second", "title: Tweede\nid: zelfde")
    report = import_folder(kb, folder)
    assert report.imported == 1
    assert issue_lines(report) == [f"{second}:3: duplicate id 'zelfde': already defined in {first}"]


def test_field_given_twice(kb: SqliteKnowledgeBase, folder: Path, write_item: WriteItem) -> None:
    bad = write_item("a", "title: A\ntitle: B")
    assert issue_lines(import_folder(kb, folder)) == [f"{bad}:3: field 'title' given twice"]


def test_files_without_or_with_unclosed_front_matter(
    kb: SqliteKnowledgeBase, folder: Path, write_item: WriteItem
) -> None:
    none = write_item("none", "", raw="Gewoon tekst\n")
    unclosed = write_item("unclosed", "", raw="---\ntitle: X\n")
    listed = write_item("listed", "", raw="---\n- a\n- b\n---\n")
    report = import_folder(kb, folder)
    assert sorted(issue_lines(report)) == sorted(
        [
            f"{none}:1: no front matter: the file must start with a '---' line",
            f"{unclosed}:1: front matter is not closed by a '---' line",
            f"{listed}:2: front matter must be a mapping of fields (key: value)",
        ]
    )


def test_invalid_id_from_file_name(kb: SqliteKnowledgeBase, folder: Path, write_item: WriteItem) -> None:
    bad = write_item("met spatie", "title: T")
    assert issue_lines(import_folder(kb, folder)) == [
        f"{bad}:1: file name 'met spatie' is not a valid id: set an id field ([A-Za-z0-9._-])"
    ]


def test_unknown_links_are_warnings_and_the_item_is_imported(
    kb: SqliteKnowledgeBase, folder: Path, write_item: WriteItem
) -> None:
    write_item("org-a", "type: organisation\ntitle: Org")
    path = write_item("a", "title: A\nescalations:\n  - esc-bestaat-niet\norganisations: [org-a]\n")
    wrong_type = write_item("b", "title: B\nescalations: [org-a]")
    report = import_folder(kb, folder)
    assert report.errors == []
    assert report.imported == 3
    assert [str(w) for w in report.warnings] == [
        f"{path}:4: escalations: unknown item 'esc-bestaat-niet'",
        f"{wrong_type}:3: escalations: 'org-a' is an organisation, not an escalation",
    ]


async def test_links_to_items_already_stored_are_fine(
    kb: SqliteKnowledgeBase, tmp_path: Path, write_item: WriteItem, folder: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "esc-x.md").write_text("---\ntype: escalation\ntitle: X\n---\n", encoding="utf-8")
    assert import_folder(kb, other).imported == 1
    write_item("a", "title: A\nescalations: [esc-x]")
    assert import_folder(kb, folder).warnings == []


async def test_reimport_is_idempotent_and_updates_changed_items(
    kb: SqliteKnowledgeBase, folder: Path, write_item: WriteItem
) -> None:
    write_item("a", "title: A\nfaq:\n  - {q: Een?, a: Ja.}\n  - {q: Twee?, a: Ja.}")
    write_item("b", "title: B", body="tekst")
    assert import_folder(kb, folder).imported == 2

    again = import_folder(kb, folder)
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 2)
    page = await kb.search("", tab="faq")
    assert page.counts == {"articles": 2, "faq": 2, "escalations": 0, "organisations": 0}

    write_item("b", "title: B nieuw", body="andere tekst")
    write_item("a", "title: A\nfaq:\n  - {q: Een?, a: Ja.}")
    changed = import_folder(kb, folder)
    assert (changed.imported, changed.updated, changed.unchanged) == (0, 2, 0)
    page = await kb.search("", tab="faq")
    assert page.counts == {"articles": 2, "faq": 1, "escalations": 0, "organisations": 0}
    assert (await kb.search("andere")).counts["articles"] == 1
    assert (await kb.search("tekst")).counts["articles"] == 1  # the old text left the index with the old row


async def test_prune_deletes_items_no_longer_in_the_folder(
    kb: SqliteKnowledgeBase, folder: Path, write_item: WriteItem
) -> None:
    write_item("a", "title: A")
    gone = write_item("b", "title: B")
    import_folder(kb, folder)
    gone.unlink()

    kept = import_folder(kb, folder)
    assert kept.pruned == 0 and await kb.get("b") is not None

    pruned = import_folder(kb, folder, prune=True)
    assert pruned.pruned == 1
    assert await kb.get("b") is None
    assert (await kb.search("b")).counts["articles"] == 0
    assert await kb.get("a") is not None


async def test_prune_keeps_items_whose_file_is_broken(
    kb: SqliteKnowledgeBase, folder: Path, write_item: WriteItem
) -> None:
    write_item("a", "title: A")
    write_item("b", "id: echte-b\ntitle: B")
    import_folder(kb, folder)
    write_item("a", "title: [kapot")
    write_item("b", "id: echte-b\ntitle: B\nonbekend: veld")

    report = import_folder(kb, folder, prune=True)

    assert len(report.errors) == 2 and report.pruned == 0
    assert await kb.get("a") is not None and await kb.get("echte-b") is not None


def test_prune_refuses_an_empty_folder(kb: SqliteKnowledgeBase, folder: Path, write_item: WriteItem) -> None:
    path = write_item("a", "title: A")
    import_folder(kb, folder)
    path.unlink()
    report = import_folder(kb, folder, prune=True)
    assert report.pruned == 0
    assert [str(e) for e in report.errors] == [
        f"{folder}: no Markdown files found: refusing to prune every item"
    ]


def test_missing_folder_is_an_error(kb: SqliteKnowledgeBase, tmp_path: Path) -> None:
    report = import_folder(kb, tmp_path / "nope")
    assert not report.ok
    assert str(report.errors[0]) == f"{tmp_path / 'nope'}: not a folder"
