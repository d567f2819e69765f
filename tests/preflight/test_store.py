"""store/preflight_reports.py and migration 2: IDs, address truncation, collisions, search."""

from __future__ import annotations

import itertools

import pytest

from agent_desktop.store import agents, preflight_reports
from agent_desktop.store.db import open_db
from agent_desktop.store.migrations import MIGRATIONS

REPORT = {
    "source": "cli",
    "started": "2026-11-23T14:52:00Z",
    "finished": "2026-11-23T14:52:30Z",
    "overall": "fail",
    "checks": [
        {"name": "cpu", "status": "pass", "value": 2, "unit": "cores", "detail": ""},
        {"name": "eid_reader", "status": "fail", "value": "none", "unit": "state", "detail": "no reader"},
    ],
}


@pytest.fixture
def db(tmp_path):
    database = open_db(tmp_path / "desk.db")
    yield database
    database.close()


def test_migration_2_is_the_preflight_table(db):
    assert MIGRATIONS[1].__name__ == "_002_preflight_reports"
    columns = {c.name for c in db["preflight_reports"].columns}
    assert {
        "id",
        "agent_id",
        "source",
        "started",
        "finished",
        "overall",
        "report",
        "remote",
        "created",
    } <= columns


def test_ids_avoid_ambiguous_characters():
    assert not set(preflight_reports.ID_ALPHABET) & set("01OIL")
    for _ in range(200):
        assert preflight_reports.is_id(preflight_reports.new_id())
    assert preflight_reports.normalise_id(" k7m-4qx ") == "K7M4QX"


@pytest.mark.parametrize(
    ("remote", "stored"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("2001:db8:1234:5678::1", "2001:db8:1234::/48"),
        ("::ffff:198.51.100.9", "198.51.100.0/24"),
        ("fe80::1%eth0", "fe80::/48"),
        ("", ""),
        (None, ""),
        ("not an address", ""),
    ],
)
def test_addresses_are_stored_truncated(remote, stored):
    assert preflight_reports.truncate_address(remote) == stored


def test_a_taken_id_is_drawn_again(db, monkeypatch):
    draws = itertools.chain(["AAAAAA", "AAAAAA", "BBBBBB"])
    monkeypatch.setattr(preflight_reports, "new_id", lambda: next(draws))
    assert preflight_reports.insert(db, REPORT) == "AAAAAA"
    assert preflight_reports.insert(db, REPORT) == "BBBBBB"


def test_gives_up_when_no_id_is_free(db, monkeypatch):
    monkeypatch.setattr(preflight_reports, "new_id", lambda: "CCCCCC")
    preflight_reports.insert(db, REPORT)
    with pytest.raises(RuntimeError, match="no free preflight report ID"):
        preflight_reports.insert(db, REPORT)


def test_search_by_name_failing_check_and_id(db):
    agent, _ = agents.enrol(db, nrn_hash="h1", given_name="An", surname="Peeters_%", roles=("agent",))
    own = preflight_reports.insert(db, REPORT, agent_id=agent.id, remote="192.0.2.1")
    anon = preflight_reports.insert(db, {**REPORT, "overall": "pass", "checks": REPORT["checks"][:1]})
    assert [r.id for r in preflight_reports.search(db, agent_name="peeters_%")] == [own]
    assert preflight_reports.search(db, agent_name="peeters__") == []  # LIKE wildcards are literal
    assert [r.id for r in preflight_reports.search(db, failing="eid_reader")] == [own]
    assert [r.id for r in preflight_reports.search(db, failing="any")] == [own]
    assert {r.id for r in preflight_reports.search(db)} == {own, anon}
    assert [r.id for r in preflight_reports.search(db, id_prefix=anon[:4].lower())][0] == anon
    stored = preflight_reports.get(db, own.lower())
    assert stored.agent_name == "An Peeters_%"
    assert stored.failing == ["eid_reader"]
    assert stored.remote == "192.0.2.0/24"
    assert stored.to_json()["checks"] == REPORT["checks"]
