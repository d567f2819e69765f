"""Item and search page JSON: one serialisation, round trips, clear errors on foreign shapes."""

from __future__ import annotations

import datetime as dt

import pytest

from kb_client.model import (
    Contact,
    Faq,
    Item,
    SearchPage,
    SearchResult,
    item_from_json,
    item_to_json,
    page_from_json,
    page_to_json,
)


def test_item_round_trip() -> None:
    item = Item(
        id="esc-x",
        type="escalation",
        title="Klachtendienst",
        lang="nl",
        skills=["info"],
        keywords=["klacht"],
        instructions="alleen voor agenten",
        faq=[Faq(q="Wanneer?", a="Binnen 45 dagen.")],
        escalations=[],
        organisations=["org-a"],
        updated=dt.date(2024, 3, 18),
        body="Tekst",
        handling_days=45,
        contacts=[Contact(kind="mail", value="k@example.be", agent_may_escalate=True, give_to_citizen=False)],
    )
    data = item_to_json(item)
    assert data["updated"] == "2024-03-18"
    assert data["contacts"][0] == {
        "kind": "mail",
        "value": "k@example.be",
        "agent_may_escalate": True,
        "give_to_citizen": False,
    }
    assert item_from_json(data) == item


def test_page_round_trip_keeps_q_index_only_for_faq() -> None:
    page = SearchPage(
        counts={"articles": 1, "faq": 1, "escalations": 0, "organisations": 0},
        results=[SearchResult("a", "article", "T", "s"), SearchResult("a", "article", "Q?", "A", q_index=2)],
    )
    data = page_to_json(page)
    assert "q_index" not in data["results"][0]
    assert data["results"][1]["q_index"] == 2
    assert page_from_json(data) == page


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"id": "x", "type": "recipe", "title": "T"},
        {"id": "x", "type": "article", "title": ""},
        {"id": "x", "type": "article", "title": "T", "skills": "info"},
        {"id": "x", "type": "article", "title": "T", "updated": "yesterday"},
    ],
)
def test_item_from_json_rejects_foreign_shapes(data: object) -> None:
    with pytest.raises(ValueError):
        item_from_json(data)


def test_page_from_json_needs_all_counts() -> None:
    with pytest.raises(ValueError, match="counts"):
        page_from_json({"counts": {"articles": 1}, "results": []})
