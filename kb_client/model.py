"""The knowledge base's data: items (articles, escalation points, organisations), search results, and their JSON
form. Serialisation lives here only, so the HTTP API and the HTTP backend cannot drift apart."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

ITEM_TYPES: tuple[str, ...] = ("article", "escalation", "organisation")
TABS: tuple[str, ...] = ("articles", "faq", "escalations", "organisations")
CONTACT_KINDS: tuple[str, ...] = ("mail", "phone", "web")

# The item type each non-faq tab lists; the faq tab lists questions of articles.
TYPE_OF_TAB: dict[str, str] = {
    "articles": "article",
    "escalations": "escalation",
    "organisations": "organisation",
}


@dataclass(frozen=True)
class Faq:
    q: str
    a: str


@dataclass(frozen=True)
class Contact:
    """A way to reach an escalation point. `agent_may_escalate`: the agent may send the case there himself;
    `give_to_citizen`: the agent may read this contact out to the caller."""

    kind: str
    value: str
    agent_may_escalate: bool = False
    give_to_citizen: bool = False


@dataclass(frozen=True)
class Item:
    id: str
    type: str
    title: str
    lang: str = ""
    skills: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    instructions: str = ""
    faq: list[Faq] = field(default_factory=list)
    escalations: list[str] = field(default_factory=list)
    organisations: list[str] = field(default_factory=list)
    updated: dt.date | None = None
    body: str = ""
    handling_days: int | None = None
    contacts: list[Contact] = field(default_factory=list)


@dataclass(frozen=True)
class SearchResult:
    """One row of a result list. For the faq tab: `id` is the article's, `type` is "article", `title` the
    question, `snippet` from its answer and `q_index` the question's position in the article's faq list.
    `lang`: the item's language ("" when it has none), so a desk can put the agent's language first."""

    id: str
    type: str
    title: str
    snippet: str
    q_index: int | None = None
    lang: str = ""


@dataclass(frozen=True)
class SearchPage:
    """`counts` holds all four tabs for the same query and skill; `results` the rows of the asked tab."""

    counts: dict[str, int]
    results: list[SearchResult]


def item_to_json(item: Item) -> dict[str, Any]:
    return {
        "id": item.id,
        "type": item.type,
        "title": item.title,
        "lang": item.lang,
        "skills": list(item.skills),
        "keywords": list(item.keywords),
        "instructions": item.instructions,
        "faq": [{"q": f.q, "a": f.a} for f in item.faq],
        "escalations": list(item.escalations),
        "organisations": list(item.organisations),
        "updated": item.updated.isoformat() if item.updated else None,
        "body": item.body,
        "handling_days": item.handling_days,
        "contacts": [
            {
                "kind": c.kind,
                "value": c.value,
                "agent_may_escalate": c.agent_may_escalate,
                "give_to_citizen": c.give_to_citizen,
            }
            for c in item.contacts
        ],
    }


def item_from_json(data: Any) -> Item:
    """The inverse of item_to_json; ValueError (naming the field) on anything else."""
    obj = _obj(data, "item")
    updated = obj.get("updated")
    handling_days = obj.get("handling_days")
    if handling_days is not None and (not isinstance(handling_days, int) or isinstance(handling_days, bool)):
        raise ValueError("handling_days must be an integer or null")
    try:
        updated_date = dt.date.fromisoformat(updated) if updated else None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"updated must be an ISO date: {updated!r}") from exc
    return Item(
        id=_str(obj, "id", required=True),
        type=_choice(obj, "type", ITEM_TYPES),
        title=_str(obj, "title", required=True),
        lang=_str(obj, "lang"),
        skills=_str_list(obj, "skills"),
        keywords=_str_list(obj, "keywords"),
        instructions=_str(obj, "instructions"),
        faq=[Faq(q=_str(f, "q", required=True), a=_str(f, "a")) for f in _obj_list(obj, "faq")],
        escalations=_str_list(obj, "escalations"),
        organisations=_str_list(obj, "organisations"),
        updated=updated_date,
        body=_str(obj, "body"),
        handling_days=handling_days,
        contacts=[
            Contact(
                kind=_choice(c, "kind", CONTACT_KINDS),
                value=_str(c, "value", required=True),
                agent_may_escalate=bool(c.get("agent_may_escalate", False)),
                give_to_citizen=bool(c.get("give_to_citizen", False)),
            )
            for c in _obj_list(obj, "contacts")
        ],
    )


def result_to_json(result: SearchResult) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": result.id,
        "type": result.type,
        "title": result.title,
        "snippet": result.snippet,
        "lang": result.lang,
    }
    if result.q_index is not None:
        body["q_index"] = result.q_index
    return body


def page_to_json(page: SearchPage) -> dict[str, Any]:
    return {"counts": dict(page.counts), "results": [result_to_json(r) for r in page.results]}


def page_from_json(data: Any) -> SearchPage:
    obj = _obj(data, "search answer")
    counts = _obj(obj.get("counts"), "counts")
    if any(not isinstance(counts.get(tab), int) for tab in TABS):
        raise ValueError(f"counts must hold an integer for each of {', '.join(TABS)}")
    results = []
    for raw in _obj_list(obj, "results"):
        q_index = raw.get("q_index")
        if q_index is not None and not isinstance(q_index, int):
            raise ValueError("q_index must be an integer")
        results.append(
            SearchResult(
                id=_str(raw, "id", required=True),
                type=_choice(raw, "type", ITEM_TYPES),
                title=_str(raw, "title"),
                snippet=_str(raw, "snippet"),
                q_index=q_index,
                lang=_str(raw, "lang"),
            )
        )
    return SearchPage(counts={tab: counts[tab] for tab in TABS}, results=results)


def _obj(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError(f"{what} must be a JSON object")
    return data


def _str(obj: dict[str, Any], key: str, required: bool = False) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise ValueError(f"{key} must be a {'non-empty ' if required else ''}string")
    return value


def _choice(obj: dict[str, Any], key: str, choices: tuple[str, ...]) -> str:
    value = obj.get(key)
    if value not in choices:
        raise ValueError(f"{key} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _str_list(obj: dict[str, Any], key: str) -> list[str]:
    value = obj.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} must be a list of strings")
    return list(value)


def _obj_list(obj: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = obj.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValueError(f"{key} must be a list of objects")
    return value
