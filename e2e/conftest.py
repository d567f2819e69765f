"""A running desk for end-to-end tests, one of two kinds:

- by default the demo itself (`python -m agent_desktop.demo`, what `make run` runs), in a temporary folder on free
  ports, so QA drives exactly what a new user gets;
- with `E2E_URL` set (`make e2e URL=https://desk.example.be`), a desk someone else runs: QA's test or acceptance
  desk, with their own test card. Only tests marked `e2e_remote` run then; the others are skipped, and a test
  that reaches for the demo's files (`desk.directory`, `desk.database`, …) is skipped rather than broken.

Settings for a desk of your own (environment; `make e2e` passes them through):
  E2E_URL              the desk's address
  E2E_PIN              the test card's PIN
  E2E_SIP              the desk's SIP address for the test caller, e.g. sip:1700@desk.example.be:5060; this
                       machine's address must be in that desk's `[sip] allowed_sources`. Without it the call
                       journeys are skipped.
  E2E_PKCS11_MODULE    the test card's PKCS#11 module (default: the Belgian eID middleware's); with
  E2E_TOKEN_LABEL      its token label (default BELPIC) the suite starts `agent-desktop eid-bridge` for the desk,
                       unless a bridge already answers on the port the desk's page uses
  E2E_ARTIFACTS        the folder for this run's Playwright traces (one per test) and screenshots of failures

Every browser context a test opens is traced when E2E_ARTIFACTS is set, and every failing test leaves a
screenshot of each page open when it failed, and of each it closed itself meanwhile (`finally`), there (default
folder: test-artifacts/e2e). e2e/test_failure_artifacts_e2e.py checks this with a test file that fails on purpose.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent_desktop.demo import QUEUE_NUMBERS
from tests.helpers.loop_thread import LoopThread
from tests.helpers.net import free_port, free_udp_tcp_port
from tests.helpers.procs import stop_process

ROOT = Path(__file__).resolve().parent.parent
REMOTE_MARK = "e2e_remote"

# The demo queue the e2e callers ring: a queue number, never the menu on 1700 (its prompt and time-outs).
DEMO_QUEUE_NUMBER = QUEUE_NUMBERS["algemeen"]


@dataclass(frozen=True)
class RunningDesk:
    url: str
    bridge_port: int
    sip_port: int
    pin: str
    local_directory: Path | None = None
    local_config: Path | None = None
    local_cert: Path | None = None
    local_log: Path | None = None
    # Where a test caller dials the desk's queue; empty for a desk of one's own without E2E_SIP.
    caller_uri: str = ""

    @property
    def remote(self) -> bool:
        return self.local_directory is None

    def _local(self, value: Path | None, what: str) -> Path:
        if value is None:
            pytest.skip(f"needs the suite's own demo desk ({what}); E2E_URL points at {self.url}")
        return value

    @property
    def directory(self) -> Path:
        return self._local(self.local_directory, "its folder")

    @property
    def config(self) -> Path:
        return self._local(self.local_config, "its config")

    @property
    def cert(self) -> Path:
        return self._local(self.local_cert, "its card's certificate")

    @property
    def log(self) -> Path:
        return self._local(self.local_log, "its log")

    @property
    def database(self) -> Path:
        return self.directory.parent / "desk.db"

    @property
    def sip_uri(self) -> str:
        """The queue a test caller dials."""
        if not self.caller_uri:
            pytest.skip(f"set E2E_SIP to the SIP address of {self.url} for the call journeys")
        return self.caller_uri


def remote_url() -> str:
    return os.environ.get("E2E_URL", "").strip().rstrip("/")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{REMOTE_MARK}: the test also runs against a desk of one's own (`make e2e URL=…`)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    url = remote_url()
    if not url:
        return
    skip = pytest.mark.skip(reason=f"not marked {REMOTE_MARK}: runs only against the suite's own demo")
    for item in items:
        if item.path.is_relative_to(Path(__file__).parent) and not item.get_closest_marker(REMOTE_MARK):
            item.add_marker(skip)


@pytest.fixture(scope="module")
def demo_trunk_uri() -> str:
    """Where the demo desk sends outbound calls; a module may override this fixture (e.g. with its baresip)."""
    return ""


@pytest.fixture(scope="module")
def demo_smtp_port() -> int:
    """The SMTP port on 127.0.0.1 the demo desk mails to; 0 keeps the demo's default. A module may override it."""
    return 0


@pytest.fixture(scope="module")
def demo_extra_config() -> str:
    """TOML appended to the demo's config (tables it does not write, e.g. `[webrtc]`); a module may override it."""
    return ""


@pytest.fixture(scope="module")
def demo_env() -> dict[str, str]:
    """Extra environment of the demo (and so of its desk), e.g. a secret named by the config."""
    return {}


@pytest.fixture(scope="module")
def demo_desk(
    tmp_path_factory: pytest.TempPathFactory,
    demo_trunk_uri: str,
    demo_smtp_port: int,
    demo_extra_config: str,
    demo_env: dict[str, str],
) -> Iterator[RunningDesk]:
    base = tmp_path_factory.mktemp("demo")
    desk_port, bridge_port, ocsp_port = free_port(), free_port(), free_port()
    sip_port, callee_port = free_udp_tcp_port(), free_udp_tcp_port()
    if remote_url():
        yield from _desk_of_ones_own(remote_url(), base)
        return
    log = base / "demo.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agent_desktop.demo",
                "--dir",
                str(base / "demo"),
                "--json",
                "--desk-port",
                str(desk_port),
                "--bridge-port",
                str(bridge_port),
                "--ocsp-port",
                str(ocsp_port),
                "--sip-port",
                str(sip_port),
                "--trunk-uri",
                demo_trunk_uri,
                "--callee-port",
                str(callee_port),
                *(["--smtp-port", str(demo_smtp_port)] if demo_smtp_port else []),
                *(["--extra-config", demo_extra_config] if demo_extra_config else []),
            ],
            env={**os.environ, **demo_env},
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its children (desk, bridge, PKCS#11 worker) go with it
        )
    try:
        deadline = time.monotonic() + 120
        info = None
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            if info is None:
                line = next((s for s in text.splitlines() if s.startswith('{"config"')), None)
                info = json.loads(line) if line else None
            if "READY" in text.splitlines():
                break
            if proc.poll() is not None:
                pytest.fail(f"demo exited with {proc.returncode}:\n{text[-3000:]}")
            time.sleep(0.2)
        else:
            pytest.fail(f"demo not ready in 120 s:\n{log.read_text(errors='replace')[-3000:]}")
        yield RunningDesk(
            f"http://127.0.0.1:{desk_port}",
            bridge_port,
            sip_port,
            info["pin"],
            base / "demo",
            Path(info["config"]),
            Path(info["cert"]),
            log,
            caller_uri=f"sip:{DEMO_QUEUE_NUMBER}@127.0.0.1:{sip_port}",
        )
    finally:
        stop_process(proc, 15)


def login(page, desk: RunningDesk):
    """Log the test agent in through the page, the running bridge and the card; returns the DeskPage."""
    from e2e.pages import LoginPage

    return LoginPage(page, desk.url).log_in(desk.pin)


# -- the call journeys' parts: an event loop for SIP peers, the citizen (baresip), the agent's page ---------------


@pytest.fixture(scope="module")
def loop() -> Iterator[LoopThread]:
    """An asyncio loop on a thread of its own, for the SIP peers of a sync (Playwright) test."""
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture(scope="module")
def citizen(tmp_path_factory: pytest.TempPathFactory, loop: LoopThread) -> Iterator[Any]:
    """baresip as the citizen (e2e/citizen.py), answering by itself; skips the module without baresip."""
    from e2e.citizen import Citizen
    from tests.sip.peers import BARESIP

    if BARESIP is None:
        pytest.skip("baresip is not installed (make test installs it)")
    peer = Citizen(tmp_path_factory.mktemp("citizen"), loop).start()
    try:
        yield peer
    finally:
        peer.stop()


@pytest.fixture(scope="module")
def agent_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The agent's fake microphone: 20 s of the agent's tone, 48 kHz (what Chromium captures at)."""
    from e2e.citizen import AGENT_TONE
    from tests.sip.audio import tone_pcm, write_wav

    return write_wav(
        tmp_path_factory.mktemp("mic") / "agent.wav", tone_pcm(AGENT_TONE, 20, rate=48000), 48000
    )


def agent_page(chromium: Callable[..., Any], agent_wav: Path, locale: str = "nl-BE") -> Any:
    """A fresh context's page at 1280×720, in Brussels, with the agent's microphone (the caller closes its
    context)."""
    context = chromium(audio_wav=str(agent_wav)).new_context(
        viewport={"width": 1280, "height": 720}, locale=locale, timezone_id="Europe/Brussels"
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


LAYOUT_WINDOW = {"width": 1280, "height": 720}


@contextlib.contextmanager
def window_page(
    chromium: Callable[..., Any], size: dict = LAYOUT_WINDOW, locale: str = "nl-BE"
) -> Iterator[Any]:
    """A fresh context's page whose window and screen are `size` (what the layout checks measure against), no
    microphone; its context closes when the block ends."""
    context = chromium().new_context(viewport=size, screen=size, locale=locale)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page(chromium: Callable[..., Any], demo_desk: RunningDesk, agent_wav: Path) -> Iterator[Any]:
    """The agent's page (`agent_page`), after the desk is up; a module may override it."""
    page = agent_page(chromium, agent_wav)
    yield page
    page.context.close()


def enrol_agent(desk: RunningDesk, given_name: str, sequence: int, skills: list[str]) -> tuple[Any, Any]:
    """A second card holder on the demo desk (role agent, these skills): the certificate and key to log in with
    through `log_in_with_card`; the demo's own card stays in its SoftHSM token."""
    from datetime import date

    from agent_desktop.cli import enrol_certificate
    from agent_desktop.config import load_config
    from agent_desktop.eid.nrn import make_test_nrn
    from agent_desktop.eid.pki import issue_auth_cert, load_pki

    pki = load_pki(desk.directory / "pki")
    cert, key = issue_auth_cert(
        pki,
        given_name=given_name,
        surname="Test",
        nrn=make_test_nrn(date(1985, 5, 5), sequence),
        key_type="rsa",
    )
    enrol_certificate(load_config(desk.config), cert, ["agent"], skills)
    return cert, key


def log_in_with_card(page: Any, desk: RunningDesk, cert: Any, key: Any) -> Any:
    """Log in as the holder of `cert` the way the page's Web eID does (challenge, signed token), then open the
    desk; returns the DeskPage, its WebSocket connected."""
    from e2e.pages import DeskPage
    from tests.helpers.webeid import make_token

    challenge = page.context.request.post(f"{desk.url}/api/login/challenge", data={})
    token = make_token(cert, key, challenge.json()["nonce"], desk.url)
    answer = page.context.request.post(f"{desk.url}/api/login", data=token)
    assert answer.ok, answer.text()
    page.goto(desk.url)
    agent = DeskPage(page, desk.url)
    agent.expect_connected()
    return agent


def call_rows(desk: RunningDesk, within_s: float = 3.0) -> list[dict]:
    """The demo's calls table once the newest call's end has landed: the desk writes it off the event loop, a
    moment after the page hears of it."""
    deadline = time.monotonic() + within_s
    while True:
        with contextlib.closing(sqlite3.connect(desk.database)) as db:
            db.row_factory = sqlite3.Row
            rows = [dict(r) for r in db.execute("SELECT * FROM calls ORDER BY created")]
        if (rows and rows[-1]["ended"]) or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


# -- a desk of one's own (E2E_URL) -------------------------------------------------------------------------------


def _bridge_port_of(url: str) -> int:
    """The port the desk's login page asks the eID bridge on (`[eid] bridge_port` of that desk)."""
    with urllib.request.urlopen(url + "/", timeout=15) as response:
        html = response.read().decode("utf-8", "replace")
    found = re.search(r'data-bridge-port="(\d+)"', html)
    if not found:
        pytest.fail(f"{url}/ does not look like an Agent Desktop login page (no data-bridge-port)")
    return int(found.group(1))


def _bridge_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=3):
            return True
    except OSError:
        return False


def _desk_of_ones_own(url: str, base: Path) -> Iterator[RunningDesk]:
    pin = os.environ.get("E2E_PIN", "")
    if not pin:
        pytest.fail("E2E_URL is set: set E2E_PIN to the test card's PIN as well")
    sip = os.environ.get("E2E_SIP", "").strip()
    sip_port = int(m.group(1)) if (m := re.search(r":(\d+)(?:;|$)", sip)) else 5060
    bridge_port = _bridge_port_of(url)
    bridge = None
    if not _bridge_answers(bridge_port):
        module = os.environ.get("E2E_PKCS11_MODULE", "libbeidpkcs11.so.0")
        label = os.environ.get("E2E_TOKEN_LABEL", "BELPIC")
        bridge_log = base / "eid-bridge.log"
        with open(bridge_log, "wb") as out:
            bridge = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "agent_desktop.cli",
                    "eid-bridge",
                    "--origin",
                    url,
                    "--port",
                    str(bridge_port),
                    "--module",
                    module,
                    "--token-label",
                    label,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while not _bridge_answers(bridge_port):
            if bridge.poll() is not None or time.monotonic() > deadline:
                bridge.kill()
                pytest.fail(
                    f"the eID bridge did not start:\n{bridge_log.read_text(errors='replace')[-2000:]}"
                )
            time.sleep(0.2)
    try:
        yield RunningDesk(url, bridge_port, sip_port, pin, caller_uri=sip)
    finally:
        if bridge is not None:
            stop_process(bridge, 10)


# -- traces and screenshots of failures ----------------------------------------------------------------------------


def artifacts_dir() -> Path:
    return Path(os.environ.get("E2E_ARTIFACTS") or ROOT / "test-artifacts" / "e2e").resolve()


# Screenshots of a failing test are taken while its pages are open. Pages still open when the test's outcome is
# known are shot in the report hook (before fixtures close them); a context the test closes itself (`finally`,
# before the outcome is known) is shot into memory as it closes, and the shots are written only if the test failed.


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    item.stash[_IN_CALL] = True
    try:
        yield
    finally:
        item.stash[_IN_CALL] = False


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when not in ("setup", "call"):
        return
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    kept = item.stash.get(_CLOSED_SHOTS, [])
    traces = item.stash.get(_CLOSED_TRACES, [])
    item.stash[_CLOSED_SHOTS] = []
    item.stash[_CLOSED_TRACES] = []
    if not report.failed:
        return
    folder = artifacts_dir()
    for trace in traces:
        if trace.exists():
            trace.replace(trace.with_name(f"FAILED-{trace.name}"))
    folder.mkdir(parents=True, exist_ok=True)
    shots = list(kept)
    for context in list(_OPEN_CONTEXTS):
        shots += _screenshots(context)
    for n, png in enumerate(shots):
        (folder / f"FAILED-{_slug(item)}-{n}.png").write_bytes(png)


_FAILED = pytest.StashKey[bool]()
_IN_CALL = pytest.StashKey[bool]()
_CLOSED_SHOTS = pytest.StashKey[list[bytes]]()
_CLOSED_TRACES = pytest.StashKey[list[Path]]()
_CURRENT: list[pytest.Item] = []  # the test running now (one at a time per process)
_OPEN_CONTEXTS: list[Any] = []  # contexts opened through `_TracedBrowser` and not closed yet


@pytest.fixture(autouse=True)
def _current_test(request: pytest.FixtureRequest) -> Iterator[None]:
    _CURRENT.append(request.node)
    try:
        yield
    finally:
        _CURRENT.remove(request.node)


def _slug(item: pytest.Item) -> str:
    return re.sub(r"[^\w.-]+", "_", item.nodeid.split("::", 1)[-1]).strip("_")[:120]


def _screenshots(context: Any) -> list[bytes]:
    shots = []
    for page in context.pages:
        try:
            shots.append(page.screenshot(timeout=5000))
        except Exception:  # noqa: BLE001 - a crashed page has no screenshot; the trace still has it
            pass
    return shots


class _TracedBrowser:
    """A Browser whose contexts (also the one behind `new_page()`) are traced (with E2E_ARTIFACTS) and leave
    screenshots when their test failed.

    Wraps the root conftest's Chromium, the suite's one launch: nothing else starts a browser."""

    def __init__(self, browser: Any, trace: bool) -> None:
        self._browser = browser
        self._trace = trace

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)

    def new_context(self, **options: Any) -> Any:
        context = self._browser.new_context(**options)
        if self._trace:
            context.tracing.start(screenshots=True, snapshots=True, sources=False)
        _OPEN_CONTEXTS.append(context)
        close = context.close
        done = []

        def close_and_keep(*args: Any, **kwargs: Any) -> None:
            if not done:
                done.append(True)
                _OPEN_CONTEXTS.remove(context)
                item = _CURRENT[-1] if _CURRENT else None
                # closed by the test itself, its outcome not known yet: the report hook keeps or drops these
                in_call = item is not None and item.stash.get(_IN_CALL, False)
                if in_call:
                    item.stash.setdefault(_CLOSED_SHOTS, []).extend(_screenshots(context))
                if self._trace:
                    name = _slug(item) if item else "outside-a-test"
                    failed = bool(item and item.stash.get(_FAILED, False))
                    folder = artifacts_dir()
                    folder.mkdir(parents=True, exist_ok=True)
                    trace = folder / f"{'FAILED-' if failed else ''}{name}.zip"
                    context.tracing.stop(path=str(trace))
                    if in_call:
                        item.stash.setdefault(_CLOSED_TRACES, []).append(trace)
            return close(*args, **kwargs)

        context.close = close_and_keep
        return context

    def new_page(self, **options: Any) -> Any:
        return self.new_context(**options).new_page()


@pytest.fixture(scope="module")
def chromium(chromium: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """The root conftest's `chromium(audio_wav=None)`, its browsers wrapped by `_TracedBrowser`."""
    trace = bool(os.environ.get("E2E_ARTIFACTS"))
    wrapped: dict[int, _TracedBrowser] = {}

    def launch(*args: Any, **kwargs: Any) -> _TracedBrowser:
        browser = chromium(*args, **kwargs)
        return wrapped.setdefault(id(browser), _TracedBrowser(browser, trace))

    yield launch
    # contexts left open go with their browser at the end of the module
    _OPEN_CONTEXTS[:] = [c for c in _OPEN_CONTEXTS if id(c.browser) not in wrapped]
