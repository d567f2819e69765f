"""The SQLite store: migrations, agents keyed by the hashed national number, sessions stored as hashes."""

from __future__ import annotations

import pytest

from agent_desktop.store import agents, sessions
from agent_desktop.store.db import migrate, open_db, schema_version
from agent_desktop.store.migrations import MIGRATIONS


def test_migrations_apply_once_and_use_wal(tmp_path):
    path = tmp_path / "desk.db"
    db = open_db(path)
    assert schema_version(db) == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"agents", "agent_sessions", "agent_state_changes", "audit_log"} <= set(db.table_names())
    db.close()
    db = open_db(path)  # reopening applies nothing twice
    assert migrate(db) == len(MIGRATIONS)
    db.close()


def test_enrol_updates_instead_of_duplicating(tmp_path):
    db = open_db(tmp_path / "d.db")
    agent, new = agents.enrol(db, nrn_hash="h1", given_name="A", surname="B", roles=("agent",))
    assert new
    again, new = agents.enrol(db, nrn_hash="h1", given_name="A", surname="C", roles=("agent", "supervisor"))
    assert not new and again.id == agent.id and again.roles == ("agent", "supervisor")
    assert len(agents.list_all(db)) == 1
    with pytest.raises(ValueError, match="unknown role"):
        agents.enrol(db, nrn_hash="h2", given_name="A", surname="B", roles=("root",))


def test_sessions_store_only_a_hash_and_end(tmp_path):
    db = open_db(tmp_path / "d.db")
    agent, _ = agents.enrol(db, nrn_hash="h1", given_name="A", surname="B", roles=("agent",))
    token, session = sessions.create(db, agent.id)
    assert token not in "\n".join(db.iterdump())
    assert sessions.find_live(db, token, 3600).id == session.id
    sessions.end(db, session.id, "logout")
    assert sessions.find_live(db, token, 3600) is None


def test_idle_session_expires(tmp_path):
    db = open_db(tmp_path / "d.db")
    agent, _ = agents.enrol(db, nrn_hash="h1", given_name="A", surname="B", roles=("agent",))
    token, session = sessions.create(db, agent.id)
    db.execute("UPDATE agent_sessions SET last_seen = '2020-01-01T00:00:00.000Z'")
    assert sessions.find_live(db, token, 3600) is None


def test_a_call_records_its_queue_its_queueing_time_and_its_overflow_tries(tmp_path) -> None:
    from agent_desktop.store import calls

    db = open_db(tmp_path / "desk.db")
    calls.create(db, "c1", direction="inbound", from_number="0470111222", to_number="1700")
    assert calls.get(db, "c1")["queued"] is None and calls.get(db, "c1")["overflow_tries"] == 0
    calls.mark_queued(db, "c1", "vaccinatie")
    first = calls.get(db, "c1")["queued"]
    calls.mark_queued(db, "c1", "vaccinatie")  # a second time keeps the first moment
    calls.count_overflow_try(db, "c1")
    row = calls.get(db, "c1")
    assert (row["queue"], row["queued"], row["overflow_tries"]) == ("vaccinatie", first, 1)
    assert row["queued"] >= row["offered"]
