"""The `agent-desktop` command as a user runs it: a subprocess, its output and its exit code."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from cryptography.hazmat.primitives.serialization import Encoding

from agent_desktop.web import keys

CLI = [sys.executable, "-m", "agent_desktop.cli"]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def test_agents_add_list_disable(tmp_path, desk):
    config = str(desk.config.path("desk.toml"))
    pem = tmp_path / "stranger.pem"
    pem.write_bytes(desk.cards["stranger"].cert.public_bytes(Encoding.PEM))
    added = run(
        "agents",
        "add",
        "--cert",
        str(pem),
        "--roles",
        "agent,helpdesk",
        "--skills",
        "info",
        "--config",
        config,
    )
    assert added.returncode == 0, added.stderr
    assert "enrolled agent 3: Noor Claes roles=agent,helpdesk" in added.stdout
    again = run("agents", "add", "--cert", str(pem), "--roles", "agent", "--config", config)
    assert "updated agent 3" in again.stdout
    listed = run("agents", "list", "--config", config)
    assert "Noor Claes" in listed.stdout and desk.cards["stranger"].nrn not in listed.stdout
    disabled = run("agents", "disable", "3", "--config", config)
    assert disabled.returncode == 0 and "agent 3 disabled" in disabled.stdout
    missing = run("agents", "disable", "99", "--config", config)
    assert missing.returncode == 2 and "no agent with id 99" in missing.stderr


def test_bad_input_is_one_clear_line(tmp_path, desk):
    config = str(desk.config.path("desk.toml"))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    result = run("agents", "add", "--cert", str(junk), "--config", config)
    assert result.returncode == 2 and "not a PEM or DER certificate" in result.stderr
    assert "Traceback" not in result.stderr
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text("[server]\nprot = 1\n")
    result = run("agents", "list", "--config", str(bad_config))
    assert result.returncode == 2 and "[server] prot: unknown key" in result.stderr


def test_kb_import_reports_bad_files_and_exits_1(tmp_path, desk):
    config = str(desk.config.path("desk.toml"))
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "good.md").write_text("---\ntitle: Afspraak maken\nkeywords: [afspraak]\n---\nBel ons.\n")
    (folder / "bad.md").write_text("---\ntitle: [unclosed\n---\nx\n")
    result = run("kb", "import", str(folder), "--config", config)
    assert result.returncode == 1
    assert f"{folder / 'bad.md'}:" in result.stdout
    assert "imported 1" in result.stdout


async def test_demo_call_without_an_agent_is_refused(desk):
    """Nobody is available: the desk answers 480 and the demo caller says so."""
    port = desk.server.app[keys.CALLS].endpoint.port
    config = str(desk.config.path("desk.toml"))
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "demo-call",
        "--config",
        config,
        "--to",
        f"sip:1700@127.0.0.1:{port}",
        "--seconds",
        "5",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    text = out.decode()
    assert proc.returncode == 1, text
    assert "call ended: rejected" in text or "call ended: failed" in text, text
