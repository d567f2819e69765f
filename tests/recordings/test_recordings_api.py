"""The recordings API over real HTTP with real eID logins: supervisors only, Europe/Brussels date filters, the
Ogg/Opus file with Range requests (a player seeks), every play and export audit-logged, scores validated whole,
and no phone or national number in a file name or a log line."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta

from agent_desktop.eid.nrn import make_test_nrn
from agent_desktop.store import audit
from agent_desktop.store import recordings as rows
from agent_desktop.web import keys
from agent_desktop.web.recordings_api import RECORDINGS
from tests.recordings.conftest import two_tone_file

API = "/api/recordings"
LATE_15TH = "aaaaaaaaaaaaaaa1"  # 2026-01-15 23:30 in Brussels
EARLY_16TH = "aaaaaaaaaaaaaaa2"  # 2026-01-16 00:30 in Brussels
OTHER_QUEUE = "aaaaaaaaaaaaaaa3"


async def _seed(desk) -> bytes:
    store = desk.server.app[keys.STORE]
    root = desk.server.app[RECORDINGS].root
    seeded = (
        (LATE_15TH, datetime(2026, 1, 15, 22, 30, tzinfo=UTC), "vaccinatie", 1),
        (EARLY_16TH, datetime(2026, 1, 15, 23, 30, tzinfo=UTC), "vaccinatie", 1),
        (OTHER_QUEUE, datetime(2026, 1, 16, 9, 0, tzinfo=UTC), "algemeen", 2),
    )
    for rec_id, started, queue, agent_id in seeded:
        await two_tone_file(root / f"{rec_id}.ogg", 2.0)
        await store.write(
            rows.insert,
            rows.NewRecording(rec_id, f"call-{rec_id[-1]}", queue, agent_id, f"{rec_id}.ogg", started),
        )
        await store.write(rows.finish, rec_id, 2.0)
    return (root / f"{EARLY_16TH}.ogg").read_bytes()


async def test_agents_are_refused_and_supervisors_list_by_brussels_dates(desk):
    await _seed(desk)
    async with desk.client() as anonymous:
        response = await anonymous.get(f"{desk.url}{API}", params={"from": "2026-01-16", "to": "2026-01-16"})
        assert response.status == 401
    async with desk.client() as client:
        assert (await desk.login(client, "agent")).status == 200
        for method, path in (
            ("GET", API + "?from=2026-01-16&to=2026-01-16"),
            ("GET", f"{API}/{EARLY_16TH}/audio"),
            ("GET", f"{API}/{EARLY_16TH}/scores"),
            ("POST", f"{API}/{EARLY_16TH}/scores"),
        ):
            response = await client.request(method, f"{desk.url}{path}", json={"scores": {"greeting": 5}})
            assert response.status == 403, (method, path)
            assert (await response.json())["error"]["code"] == "forbidden"
    async with desk.client() as client:
        assert (await desk.login(client, "supervisor")).status == 200
        response = await client.get(f"{desk.url}{API}", params={"from": "2026-01-16", "to": "2026-01-16"})
        assert response.status == 200
        listed = await response.json()
        assert [r["id"] for r in listed] == [EARLY_16TH, OTHER_QUEUE]
        assert listed[0] == {
            "id": EARLY_16TH,
            "call_id": "call-2",
            "queue": "vaccinatie",
            "agent_id": 1,
            "started": "2026-01-15T23:30:00.000Z",
            "duration_s": 2.0,
        }
        response = await client.get(f"{desk.url}{API}", params={"from": "2026-01-15", "to": "2026-01-15"})
        assert [r["id"] for r in await response.json()] == [LATE_15TH]
        params = {"from": "2026-01-15", "to": "2026-01-16"}
        response = await client.get(f"{desk.url}{API}", params={**params, "queue": "algemeen"})
        assert [r["id"] for r in await response.json()] == [OTHER_QUEUE]
        response = await client.get(f"{desk.url}{API}", params={**params, "agent": "1"})
        assert [r["id"] for r in await response.json()] == [LATE_15TH, EARLY_16TH]
        for bad in (
            {"from": "2026-01-16"},
            {"from": "16/01/2026", "to": "2026-01-16"},
            {"from": "2026-01-17", "to": "2026-01-16"},
            {**params, "agent": "An"},
        ):
            response = await client.get(f"{desk.url}{API}", params=bad)
            assert response.status == 400, bad
            assert (await response.json())["error"]["code"] == "bad_request"


async def test_the_file_with_ranges_and_every_play_and_export_audited(desk):
    data = await _seed(desk)
    async with desk.client() as client:
        supervisor = await (await desk.login(client, "supervisor")).json()
        url = f"{desk.url}{API}/{EARLY_16TH}/audio"
        response = await client.get(url)
        assert response.status == 200
        assert response.headers["Content-Type"] == "audio/ogg"
        assert response.headers.get("Accept-Ranges") == "bytes"
        assert await response.read() == data and data[:4] == b"OggS"

        response = await client.get(url, headers={"Range": "bytes=100-199"})
        assert response.status == 206
        assert response.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
        assert await response.read() == data[100:200]
        response = await client.get(url, headers={"Range": "bytes=-50"})
        assert response.status == 206 and await response.read() == data[-50:]

        response = await client.get(url, params={"download": "1"})
        assert response.status == 200 and await response.read() == data
        assert response.headers["Content-Disposition"] == f'attachment; filename="recording-{EARLY_16TH}.ogg"'

        for missing in ("bbbbbbbbbbbbbbbb", "..%2Fdesk.db", "AAAAAAAAAAAAAAA2"):
            response = await client.get(f"{desk.url}{API}/{missing}/audio")
            assert response.status == 404, missing

        store = desk.server.app[keys.STORE]
        entries = [e for e in await store.read(audit.recent) if e["action"].startswith("recording_")]
        entries.reverse()
        assert [e["action"] for e in entries] == ["recording_play"] * 3 + ["recording_export"]
        assert {e["agent_id"] for e in entries} == {supervisor["id"]}
        details = [json.loads(e["detail"]) for e in entries]
        assert [d["range"] for d in details] == ["", "bytes=100-199", "bytes=-50", ""]
        assert {d["recording_id"] for d in details} == {EARLY_16TH}


async def test_scores_are_validated_whole_and_stored_with_their_scorer(desk):
    await _seed(desk)
    nrn = make_test_nrn(datetime(1990, 4, 5).date(), 61)
    async with desk.client() as client:
        supervisor = await (await desk.login(client, "supervisor")).json()
        url = f"{desk.url}{API}/{EARLY_16TH}/scores"
        for body, field in (
            ({"scores": {"greeting": 5, "speed": 4}}, "scores"),
            ({"scores": {"greeting": 0}}, "scores.greeting"),
            ({"scores": {"greeting": 6}}, "scores.greeting"),
            ({"scores": {"greeting": 3.5}}, "scores.greeting"),
            ({"scores": {"greeting": "4"}}, "scores.greeting"),
            ({"scores": {"greeting": True}}, "scores.greeting"),
            ({"scores": {}}, "scores"),
            ({"scores": [5]}, "scores"),
            ({"scores": {"greeting": 4}, "comment": 12}, "comment"),
        ):
            response = await client.post(url, json=body)
            assert response.status == 400, body
            error = (await response.json())["error"]
            assert error["code"] == "bad_request" and error["details"]["field"] == field, (body, error)
        response = await client.post(url, json={"scores": {"greeting": 5, "speed": 4}})
        assert (await response.json())["error"]["details"]["unknown"] == ["speed"]

        response = await client.post(
            url, json={"scores": {"politeness": 3, "greeting": 5}, "comment": f"  Noemde {nrn} hardop. "}
        )
        assert response.status == 200
        score_id = (await response.json())["id"]
        response = await client.get(url)
        [score] = await response.json()
        assert score["id"] == score_id and score["agent_id"] == supervisor["id"]
        assert score["scores"] == {"greeting": 5, "politeness": 3}
        assert score["comment"] == "Noemde [RRN/NN] hardop."
        response = await client.post(
            f"{desk.url}{API}/bbbbbbbbbbbbbbbb/scores", json={"scores": {"greeting": 1}}
        )
        assert response.status == 404


class StubLeg:
    """A leg's surface as the recorder taps it (no RTP here: the audio path has its own tests)."""

    codec = "PCMU"

    def pass_audio_to(self, consumer) -> None:
        self.consumer = consumer

    def write_frame(self, payload: bytes) -> None:
        pass


async def test_no_number_in_file_names_or_log_lines(desk, caplog):
    caplog.set_level(logging.DEBUG)
    caller_number = "+32470123456"
    library = desk.server.app[RECORDINGS]
    rec = library.start(call_id="call-x", queue="vaccinatie", agent_id=1, leg=StubLeg())
    rec.tap.write_frame(b"\xff" * 160)
    await rec.stop()
    async with desk.client() as client:
        assert (await desk.login(client, "supervisor")).status == 200
        today = datetime.now(UTC).date()
        period = {
            "from": (today - timedelta(days=1)).isoformat(),
            "to": (today + timedelta(days=1)).isoformat(),
        }
        listed = await (await client.get(f"{desk.url}{API}", params=period)).json()
        assert [r["id"] for r in listed] == [rec.id]
        assert (await client.get(f"{desk.url}{API}/{rec.id}/audio")).status == 200
    names = [p.name for p in library.root.iterdir()]
    assert names == [f"{rec.id}.ogg"] and all(re.fullmatch(r"[0-9a-f]{16}\.ogg", n) for n in names)
    lines = [r.getMessage() for r in caplog.records]
    assert any(rec.id in line for line in lines)
    numbers = [caller_number, caller_number[3:], *(card.nrn for card in desk.cards.values())]
    assert not [line for line in lines for n in numbers if n in line]
