"""The `hardware-check` CLI on this headless machine: table and JSON output, exit codes, the network test and
--upload against a real desk stand-in (see conftest.py)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from pathlib import Path

import pytest

from hardware_check.cli import default_lang, main
from hardware_check.report import validate_report

REPO = Path(__file__).resolve().parents[2]
NO_SOUND_CARD = not Path("/proc/asound").exists()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(extra)
    return env


async def _cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hardware_check",
        *args,
        cwd=REPO,
        env=env or _env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    return proc.returncode, out.decode(), err.decode()


def test_default_lang() -> None:
    assert default_lang({"LANG": "fr_BE.UTF-8"}) == "fr"
    assert default_lang({"LANG": "en_GB.UTF-8"}) == "en"
    assert default_lang({"LANG": "C.UTF-8"}) == "nl"
    assert default_lang({}) == "nl"


def test_table_in_process_headless(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("LANG", "fr_BE.UTF-8")
    out, err = io.StringIO(), io.StringIO()
    code = main(["--module", "/nonexistent/libbeidpkcs11.so"], stdout=out, stderr=err)
    text = out.getvalue()
    assert code == 2  # no eID middleware at that path → fail
    assert "Lecteur eID" in text and "ÉCHEC" in text and "eid.belgium.be" in text
    assert "Traceback" not in text + err.getvalue()


async def test_cli_json_headless_no_traceback() -> None:
    code, out, err = await _cli("--json", "--module", "/nonexistent/libbeidpkcs11.so")
    assert "Traceback" not in out + err
    report = validate_report(json.loads(out))
    assert report.source == "cli"
    assert code in (1, 2) and code == {"warn": 1, "unknown": 1, "fail": 2}[report.overall]
    by = {c.name: c for c in report.checks}
    assert [c.name for c in report.checks][:5] == ["cpu", "memory", "screen", "microphone", "speaker"]
    assert "browser" not in by and "mic_test" not in by  # the page's own checks
    assert by["screen"].status == "unknown" and "DISPLAY" in by["screen"].detail
    if NO_SOUND_CARD:  # this CI box
        assert by["microphone"].status == "fail" and "no audio input device found" in by["microphone"].detail
        assert by["speaker"].status == "fail" and "no audio output device found" in by["speaker"].detail
        assert by["headset"].status in ("warn", "unknown")
    assert by["eid_reader"].status == "fail" and by["eid_reader"].value == "none"
    assert by["network_rtt"].status == "unknown" and "--server" in by["network_rtt"].detail


async def test_cli_network_and_upload(desk) -> None:
    code, out, err = await _cli(
        "--server", desk.url, "--upload", "--lang", "en", "--module", "/nonexistent/libbeidpkcs11.so"
    )
    assert "Traceback" not in out + err
    assert code == 2  # no eID middleware
    assert "Network test: measuring round trip" in err  # progress on stderr
    assert "Report number: PF-0001" in out
    assert "Network round trip" in out and "PASS" in out
    [posted] = desk.reports
    report = validate_report(posted)
    by = {c.name: c for c in report.checks}
    assert by["network_rtt"].status == "pass" and by["throughput_up"].status == "pass"
    assert by["webrtc"].status == "pass"


async def test_cli_json_upload_keeps_stdout_json(desk) -> None:
    code, out, err = await _cli("--server", desk.url, "--upload", "--json", "--module", "/nonexistent/x.so")
    assert json.loads(out)["source"] == "cli"
    assert "PF-0001" in err and code == 2


async def test_cli_upload_failure_exit_3(desk) -> None:
    bad_server = desk.url + "/nowhere"  # the report endpoint 404s there; network rows fail too
    code, out, err = await _cli(
        "--server", bad_server, "--upload", "--lang", "en", "--module", "/nonexistent/x.so"
    )
    assert code == 3
    assert "could not be sent" in err and "HTTP 404" in err
    assert "Traceback" not in out + err


def test_upload_needs_server() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--upload"], stdout=io.StringIO(), stderr=io.StringIO())
    assert exc.value.code == 2
