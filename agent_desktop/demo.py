"""The embedded demo (`make run`): a development PKI, a SoftHSM2 "eID card" for a demo agent, the demo config,
the demo knowledge base, and the desk, the eID bridge and a local OCSP responder running together.

The demo is configuration, not a code path: the desk and the bridge run as the real `agent-desktop serve` and
`agent-desktop eid-bridge` commands with the config written here, and the login runs the production checks
(chain to the configured anchor, OCSP required). The e2e tests run this same module with other ports and folders.

    python -m agent_desktop.demo [--dir var/demo] [--desk-port 8080] [--bridge-port 35963] [--ocsp-port 8088]
                                 [--callee-port 5070 | --trunk-uri sip:…]

Without `--trunk-uri` the desk's outbound calls (call orders, callbacks, a dialled number) go to the demo's own
citizens (`sip/demo_callee.py`, served here like the OCSP responder), so the outbound side can be tried too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import aiohttp
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from .config import load_config
from .demo_prompts import PromptError, speak_prompts
from .eid.nrn import make_test_nrn
from .eid.ocsp_responder import make_ocsp_app, revocations_from_file
from .eid.pki import Pki, create_pki, issue_auth_cert, load_pki, save_pki
from .eid.softhsm import SoftToken, provision_token
from .sip.demo_callee import DemoCallee

KB_DEMO = Path(__file__).resolve().parent.parent / "kb_client" / "demo"


@dataclass(frozen=True)
class DemoPorts:
    desk: int = 8080
    bridge: int = 35963
    sip: int = 5060
    ocsp: int = 8088
    callee: int = 5070  # the demo's citizens: where outbound calls go when no trunk is given


@dataclass(frozen=True)
class DemoIdentity:
    """A demo card holder. `slug` names their token folder and certificate file."""

    slug: str
    given_name: str
    surname: str
    birth: date
    sequence: int
    roles: tuple[str, ...]
    key_type: str = "rsa"
    lang: str = "nl"


DEMO_AGENT = DemoIdentity("agent", "An", "Peeters", date(1990, 1, 1), 1, ("agent", "supervisor", "helpdesk"))

# The demo centre's numbers (DESIGN.md §9, embedded default). 1700 is the menu a citizen dials; each queue also
# has a number of its own, so a test or a colleague can ring one queue without the menu (the e2e calls do).
MENU_NUMBER = "1700"
CLOSED_NUMBER = "1709"
QUEUE_NUMBERS = {"algemeen": "1702", "vaccinatie": "1701"}
# The demo agent serves both open queues; nobody in the demo has `crisis`, the closed line's skill.
DEMO_SKILLS = ("vaccination", "info")  # in this order: the scripts panel opens on the first skill
PROMPTS_DIR = "../prompts"  # relative to the config's folder: var/prompts beside var/demo


@dataclass(frozen=True)
class Demo:
    directory: Path
    config_path: Path
    ports: DemoPorts
    pki: Pki
    token: SoftToken
    pin: str
    agent_cert: Path
    revocations: Path
    callee: bool = False  # serve the demo's citizens on ports.callee (the config's trunk points there)


def _write_secret(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _read_or_create_secret(path: Path, make) -> str:
    if path.exists():
        return path.read_text().strip()
    value = make()
    _write_secret(path, value + "\n")
    return value


def demo_config(ports: DemoPorts, trunk_uri: str = "", smtp_port: int = 0, extra_config: str = "") -> str:
    """The demo's config file. Relative paths are from the config's folder (var/demo); `extra_config` (TOML
    tables the demo does not write itself, e.g. `[webrtc]`) is appended (tests)."""
    return (
        f"""# Written by `make run` (agent_desktop/demo.py). The demo's values, not the code's defaults.
[server]
host = "127.0.0.1"
port = {ports.desk}
public_url = "http://127.0.0.1:{ports.desk}"

[database]
path = "../desk.db"

[sip]
listen = "127.0.0.1:{ports.sip}"
caller_id = "+3225550000"
allowed_sources = ["127.0.0.1"]
{f'trunk_uri = "{trunk_uri}"' if trunk_uri else f'trunk_uri = "sip:127.0.0.1:{ports.callee}"  # the demo citizens (demo_callee.py)'}

[eid]
trust_anchors = "pki/trust"
ocsp = "required"
ocsp_responders = ["http://127.0.0.1:{ports.ocsp}/"]
bridge_port = {ports.bridge}
nrn_key_file = "../secrets/nrn.key"

[kb]
backend = "sqlite"
path = "../kb.db"

# The demo's mail sink runs on this host without TLS; a real relay keeps the default, tls = "require".
[mail]
tls = "none"
"""
        + (f'smtp_host = "127.0.0.1"\nsmtp_port = {smtp_port}\n' if smtp_port else "")
        + DEMO_QUEUES
        + (f"\n{extra_config}\n" if extra_config else "")
    )


# The inbound side of the demo (§9): a menu on 1700 in front of two queues that are open at any hour (so the demo
# works at night and on holidays) and a line on 1709 that is closed, to hear the closing message. The prompts are
# spoken by espeak-ng into var/prompts the first time (demo_prompts.py); a recording put there replaces one.
# The waits are shorter than a centre's (60 s, 150 s) so that a demo caller hears every step within a minute.
_ALGEMEEN, _VACCINATIE = QUEUE_NUMBERS["algemeen"], QUEUE_NUMBERS["vaccinatie"]
DEMO_QUEUES = f"""
[prompts]
dir = "{PROMPTS_DIR}"

# The satisfaction survey an agent hands a caller to (wrap-up's survey box): four questions, 1-9, 0 = 10.
[survey]
questions = ["survey_wait.wav", "survey_polite.wav", "survey_info.wav", "survey_recommend.wav"]
thanks = "survey_thanks.wav"

# Calls to the vaccinatie queue (menu choice 1, or 1701) are recorded, for the reports page's listening sessions.
[recordings]
dir = "../recordings"

[[menus]]
number = "{MENU_NUMBER}"
prompt = "menu.wav"
options = {{ "1" = "vaccinatie", "2" = "algemeen" }}
timeout_s = 8
repeat = 2
default = "algemeen"

# First: `agent-desktop demo-call` without --to rings this queue's number.
[[queues]]
name = "algemeen"
number = "{_ALGEMEEN}"
skills = ["info"]
open = []            # always open
holidays = "none"    # also on Belgian public holidays: it is a demo
no_agents = "queue"  # callers wait even before the demo agent logs in
# No welcome of its own: the menu on 1700 has welcomed its callers already, and a caller (or an e2e test) who
# dials this queue straight away reaches a free agent at once.
wait_message = "wait.wav"
wait_message_every_s = 30
callback_offer = "callback_offer.wav"
callback_confirmed = "callback_confirmed.wav"
callback_offer_after_s = 60
closed = "closed.wav"

[[queues]]
name = "vaccinatie"
number = "{_VACCINATIE}"
skills = ["vaccination"]
priority = 1         # vaccination questions first when both queues wait
open = []
holidays = "none"
no_agents = "queue"
welcome = "welcome.wav"
record = true
recording_notice = "recording_notice.wav"
wait_message = "wait.wav"
wait_message_every_s = 30
callback_offer = "callback_offer.wav"
callback_confirmed = "callback_confirmed.wav"
callback_offer_after_s = 60
closed = "closed.wav"

# Closed at any hour: outside its opening hours by the clock, inside them because no demo agent has the skill
# `crisis` (no_agents = "closed"). The caller hears the closing message and the desk hangs up.
[[queues]]
name = "crisis"
number = "{CLOSED_NUMBER}"
skills = ["crisis"]
open = ["mon-fri 09:00-16:00"]
no_agents = "closed"
closed = "closed.wav"
"""


def prepare(
    directory: Path,
    ports: DemoPorts = DemoPorts(),
    identity: DemoIdentity = DEMO_AGENT,
    trunk_uri: str = "",
    smtp_port: int = 0,
    extra_config: str = "",
) -> Demo:
    """Create (once) everything the demo needs under `directory`; running it again reuses what is there."""
    from .cli import enrol_certificate

    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    pki_dir = directory / "pki"
    ocsp_url = f"http://127.0.0.1:{ports.ocsp}/"
    if (pki_dir / "pki.json").exists() or (pki_dir / "root.pem").exists():
        pki = load_pki(pki_dir)
        if pki.ocsp_url != ocsp_url:
            raise SystemExit(
                f"{directory} was made for the OCSP responder {pki.ocsp_url}, not {ocsp_url}: "
                "remove the folder (make clean-demo) to change the demo's ports"
            )
    else:
        pki = create_pki(ocsp_url)
        save_pki(pki, pki_dir)
    trust = pki_dir / "trust"
    trust.mkdir(exist_ok=True)
    (trust / "root.pem").write_bytes(pki.root_cert.public_bytes(Encoding.PEM))
    (trust / "citizen-ca.pem").write_bytes(pki.ca_cert.public_bytes(Encoding.PEM))

    pin = _read_or_create_secret(directory / "pin", lambda: f"{secrets.randbelow(10_000):04d}")
    so_pin = _read_or_create_secret(directory / "so-pin", lambda: secrets.token_hex(8))
    cert_path = directory / f"{identity.slug}-auth.pem"
    token_dir = directory / "tokens" / identity.slug
    if cert_path.exists() and token_dir.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        token = provision_token(token_dir, pin=pin, so_pin=so_pin, auth_key=None, auth_cert=cert)  # type: ignore[arg-type]
    else:
        nrn = make_test_nrn(identity.birth, identity.sequence)
        cert, key = issue_auth_cert(
            pki,
            given_name=identity.given_name,
            surname=identity.surname,
            nrn=nrn,
            key_type=identity.key_type,  # type: ignore[arg-type]
        )
        token = provision_token(
            token_dir,
            pin=pin,
            so_pin=so_pin,
            auth_key=key,
            auth_cert=cert,
            ca_certs=(pki.ca_cert, pki.root_cert),
        )
        cert_path.write_bytes(cert.public_bytes(Encoding.PEM))
    revocations = directory / "revoked.txt"
    if not revocations.exists():
        revocations.write_text("# Serial numbers of revoked demo cards, one per line (decimal or hex).\n")

    config_path = directory / "desk.toml"
    config_path.write_text(demo_config(ports, trunk_uri, smtp_port, extra_config))
    config = load_config(config_path)
    try:
        # Before the desk starts: it decodes every prompt the config names and stops when one is missing.
        spoken = speak_prompts(config.path(config.prompts.dir))
    except PromptError as e:
        raise SystemExit(f"demo: {e}") from None
    if spoken:
        print(f"spoke {len(spoken)} demo prompts into {spoken[0].parent.resolve()}", flush=True)
    enrol_certificate(config, cert, list(identity.roles), list(DEMO_SKILLS), identity.lang)
    if KB_DEMO.is_dir():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "agent_desktop.cli",
                "kb",
                "import",
                str(KB_DEMO),
                "--config",
                str(config_path),
            ],
            check=False,
            timeout=120,
        )
    return Demo(directory, config_path, ports, pki, token, pin, cert_path, revocations, callee=not trunk_uri)


async def _wait_http(url: str, timeout_s: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while True:
            try:
                async with http.get(url) as response:
                    if response.status < 500:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            if loop.time() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout_s}s")
            await asyncio.sleep(0.2)


async def run(demo: Demo) -> int:
    """Serve the OCSP responder here and the desk and the bridge as child processes, until a signal."""
    runner = web.AppRunner(make_ocsp_app(demo.pki, revocations_from_file(demo.revocations)), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", demo.ports.ocsp).start()
    async with contextlib.AsyncExitStack() as stack:
        if demo.callee:
            await stack.enter_async_context(DemoCallee(demo.ports.callee))
        return await _serve(demo, runner)


async def _serve(demo: Demo, runner: web.AppRunner) -> int:
    env = {**os.environ, **demo.token.env()}
    cli = [sys.executable, "-m", "agent_desktop.cli"]
    desk = await asyncio.create_subprocess_exec(*cli, "serve", "--config", str(demo.config_path), env=env)
    bridge = await asyncio.create_subprocess_exec(
        *cli,
        "eid-bridge",
        "--config",
        str(demo.config_path),
        "--module",
        demo.token.module_path,
        "--token-label",
        demo.token.label,
        env=env,
    )
    children = [desk, bridge]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await _wait_http(f"http://127.0.0.1:{demo.ports.desk}/api/me")
        await _wait_http(f"http://127.0.0.1:{demo.ports.bridge}/status")
        citizens = (
            f"  Outbound calls (call orders, callbacks) reach the demo citizens on 127.0.0.1:{demo.ports.callee}\n"
            if demo.callee
            else ""
        )
        print(
            "\n"
            f"  Agent Desktop demo is up:  http://127.0.0.1:{demo.ports.desk}\n"
            f"  Demo eID card PIN:         {demo.pin}   (also in {demo.directory / 'pin'})\n"
            f"  Revoke a card: add its serial number to {demo.revocations}\n"
            f"{citizens}"
            "READY",
            flush=True,
        )
        waits = [asyncio.ensure_future(c.wait()) for c in children] + [asyncio.ensure_future(stop.wait())]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
    finally:
        for child in children:
            if child.returncode is None:
                child.terminate()
        for child in children:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(child.wait(), 10)
            if child.returncode is None:
                child.kill()
        await runner.cleanup()
    return 0 if stop.is_set() else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent_desktop.demo", description="run the embedded demo")
    parser.add_argument("--dir", default="var/demo")
    parser.add_argument("--desk-port", type=int, default=DemoPorts.desk)
    parser.add_argument("--bridge-port", type=int, default=DemoPorts.bridge)
    parser.add_argument("--sip-port", type=int, default=DemoPorts.sip)
    parser.add_argument("--ocsp-port", type=int, default=DemoPorts.ocsp)
    parser.add_argument(
        "--trunk-uri",
        default="",
        help="where outbound calls go (default: the demo's citizens, --callee-port)",
    )
    parser.add_argument(
        "--callee-port",
        type=int,
        default=DemoPorts.callee,
        help="port of the demo's citizens (without --trunk-uri)",
    )
    parser.add_argument("--smtp-port", type=int, default=0, help="SMTP port on 127.0.0.1 (default 25)")
    parser.add_argument(
        "--extra-config", default="", help="TOML tables appended to the demo config, e.g. [webrtc] (tests)"
    )
    parser.add_argument("--prepare-only", action="store_true", help="create the demo files and exit")
    parser.add_argument("--json", action="store_true", help="print the demo's paths and PIN as JSON (tests)")
    args = parser.parse_args(argv)
    ports = DemoPorts(args.desk_port, args.bridge_port, args.sip_port, args.ocsp_port, args.callee_port)
    demo = prepare(
        Path(args.dir),
        ports,
        trunk_uri=args.trunk_uri,
        smtp_port=args.smtp_port,
        extra_config=args.extra_config,
    )
    if args.json:
        print(
            json.dumps(
                {
                    "config": str(demo.config_path),
                    "pin": demo.pin,
                    "cert": str(demo.agent_cert),
                    "softhsm2_conf": str(demo.token.conf_path),
                    "module": demo.token.module_path,
                }
            ),
            flush=True,
        )
    if args.prepare_only:
        return 0
    return asyncio.run(run(demo))


if __name__ == "__main__":
    sys.exit(main())
