"""The `agent-desktop` command as a user runs it: a subprocess, its output and its exit code."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from agent_desktop.cli import PROJECT, build_parser, find_config
from agent_desktop.config import ENV_CONFIG
from agent_desktop.web import keys
from tests.helpers.net import free_udp_tcp_port

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


# -- demo-call without a desk, config lookup, help (issue 10 item 7) ---------------------------------------------


def _timed(
    *args: str, cwd: Path | None = None, env: dict | None = None
) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    result = subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        env=env,
    )
    return result, time.monotonic() - start


@pytest.mark.parametrize("extra", [(), ("--seconds", "3")])
def test_demo_call_with_no_desk_running_fails_within_seconds(extra):
    port = free_udp_tcp_port()  # nothing listens there: the kernel answers ICMP port unreachable
    result, took = _timed("demo-call", "--to", f"sip:1700@127.0.0.1:{port}", *extra)
    assert result.returncode == 2, result
    assert f"no SIP service at 127.0.0.1:{port} (UDP)" in result.stderr
    assert "make run" in result.stderr and "Traceback" not in result.stderr
    assert took < 5, took


def test_demo_call_to_a_silent_address_gives_up_after_the_probe_timeout():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        result, took = _timed("demo-call", "--to", f"sip:1700@127.0.0.1:{port}", "--probe-timeout", "1.5")
        assert silent.recv(4096).startswith(b"OPTIONS sip:1700@127.0.0.1:")
    assert result.returncode == 2, result
    assert f"no answer from 127.0.0.1:{port} (UDP) within 1.5 s" in result.stderr
    assert 1.4 < took < 5, took


def test_demo_call_from_another_folder_says_where_it_looked(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != ENV_CONFIG}
    result, _ = _timed("demo-call", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert str(tmp_path / "var" / "demo" / "desk.toml") in result.stderr
    assert str(PROJECT / "var" / "demo" / "desk.toml") in result.stderr


def test_the_demo_config_is_found_from_the_project_when_not_here(tmp_path):
    project, elsewhere = tmp_path / "clone", tmp_path / "elsewhere"
    (project / "var" / "demo").mkdir(parents=True)
    elsewhere.mkdir()
    demo = project / "var" / "demo" / "desk.toml"
    demo.write_text("")
    assert find_config(None, {}, cwd=elsewhere, project=project) == demo
    local = elsewhere / "var" / "demo" / "desk.toml"
    local.parent.mkdir(parents=True)
    local.write_text("")
    assert find_config(None, {}, cwd=elsewhere, project=project) == local  # this folder's demo first
    assert find_config(None, {ENV_CONFIG: "/etc/desk.toml"}, cwd=elsewhere, project=project) == Path(
        "/etc/desk.toml"
    )
    assert find_config("mine.toml", {ENV_CONFIG: "/etc/desk.toml"}) == Path("mine.toml")


def _actions(parser: argparse.ArgumentParser, path: str = "agent-desktop"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield path, action


def test_every_command_and_option_has_help_text():
    parser = build_parser()
    missing = [
        f"{path} {action.option_strings or action.dest}"
        for path, action in _actions(parser)
        if not action.help
    ]
    assert missing == []
    for sub in (a for a in parser._actions if isinstance(a, argparse._SubParsersAction)):
        unexplained = [c.dest for c in sub._choices_actions if not c.help]
        assert unexplained == []
    top = run("--help")
    assert top.returncode == 0 and "demo-call" in top.stdout
    assert "DESIGN.md" not in top.stdout and "docs/ARCHITECTURE.md" in top.stdout
    assert (PROJECT / "docs" / "ARCHITECTURE.md").is_file()
    for command in (["agents"], ["agents", "list"], ["agents", "disable"], ["kb", "import"], ["serve"]):
        shown = run(*command, "--help")
        assert shown.returncode == 0 and "DESIGN.md" not in shown.stdout
